// Sessions on small hand-built models, compared with a naive reference
// computed here from the same weights.
#include "runtime/executor/session.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "runtime/format/checksum.h"
#include "runtime/kernels/f32_gemm.h"
#include "runtime/kernels/gemm_panels.h"
#include "runtime/test_util/model_builder.h"

// Counts C++ heap allocations, to check that a warm Session does not allocate.
static std::atomic<long> g_allocations{0};
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  std::abort();  // a test binary out of memory; the runtime itself never throws
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace edgemtl {
namespace {

using schema::Activation;
using schema::DType;
using schema::FeatureKind;
using schema::OpOptions;
using schema::OpType;
using test::ModelBuilder;

std::vector<float> random_floats(size_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(random);
  return values;
}

// y[n] = b[n] + sum_k x[k] * w[n][k]
std::vector<double> dense(const std::vector<double>& x, const std::vector<float>& w, const std::vector<float>& b) {
  std::vector<double> y(b.size());
  for (size_t n = 0; n < b.size(); ++n) {
    double acc = b[n];
    for (size_t k = 0; k < x.size(); ++k) acc += x[k] * w[n * x.size() + k];
    y[n] = acc;
  }
  return y;
}

// A SharedBottom/ESMM-like model:
//   user:  u_emb = EMB(user_id) [-1,4];  u_age = RESHAPE(user age [-1]) [-1,1]
//          u_proj = FC(u_emb) [-1,8]
//   item:  i_emb = EMB(item_id) [-1,4];  tags = MEAN(EMB(tags [-1,3]), axis 1) [-1,4]
//          x = CONCAT(u_emb, u_age, i_emb, tags, price [-1,2]) [-1,15]
//          h = ADD(FC_relu(x) [-1,8], u_proj)  (1-row broadcast)
//          probs = SIGMOID(FC(h)) [-1,2]
//          ctcvr = MUL(TAKE(probs,[0]) [-1,1], RESHAPE(TAKE(probs,[1]) [-1]) [-1,1])
//   tasks: ctr = probs[:,0], ctcvr = ctcvr[:,0], user_bias = u_emb[:,2] (user-stage task)
struct DemoModel {
  std::vector<float> user_table = random_floats(10 * 4, 1), item_table = random_floats(20 * 4, 2),
                     tag_table = random_floats(8 * 4, 3), wu = random_floats(8 * 4, 4), bu = random_floats(8, 5),
                     w1 = random_floats(8 * 15, 6), b1 = random_floats(8, 7), w2 = random_floats(2 * 8, 8),
                     b2 = random_floats(2, 9);
  test::ModelBytes bytes;

  explicit DemoModel(int64_t item_default_row = -1) {
    ModelBuilder m;
    const int user_id = m.add_feature("user_id", schema::Side::USER, FeatureKind::ID, 1, 10);
    const int age = m.add_feature("user age", schema::Side::USER, FeatureKind::DENSE, 1);
    const int item_id = m.add_feature("item_id", schema::Side::ITEM, FeatureKind::ID, 1, 20);
    const int tags = m.add_feature("tags", schema::Side::ITEM, FeatureKind::ID_LIST, 3, 8);
    const int price = m.add_feature("price", schema::Side::ITEM, FeatureKind::DENSE, 2);
    const int t_user = m.add_constant_f32("user_table", {10, 4}, user_table);
    const int t_item = m.add_constant_f32("item_table", {20, 4}, item_table);
    const int t_tag = m.add_constant_f32("tag_table", {8, 4}, tag_table);
    const int c_wu = m.add_constant_f32("wu", {8, 4}, wu), c_bu = m.add_constant_f32("bu", {8}, bu);
    const int c_w1 = m.add_constant_f32("w1", {8, 15}, w1), c_b1 = m.add_constant_f32("b1", {8}, b1);
    const int c_w2 = m.add_constant_f32("w2", {2, 8}, w2), c_b2 = m.add_constant_f32("b2", {2}, b2);
    const int u_emb = m.add_activation("u_emb", DType::FLOAT32, {-1, 4});
    const int u_age = m.add_activation("u_age", DType::FLOAT32, {-1, 1});
    const int u_proj = m.add_activation("u_proj", DType::FLOAT32, {-1, 8});
    m.add_op(ModelBuilder::kUser, OpType::EMBEDDING, {t_user, m.feature_tensor(user_id)}, {u_emb});
    m.add_op(ModelBuilder::kUser, OpType::RESHAPE, {m.feature_tensor(age)}, {u_age});
    m.add_op(ModelBuilder::kUser, OpType::FULLY_CONNECTED, {u_emb, c_wu, c_bu}, {u_proj},
             OpOptions::FullyConnectedOptions, test::fc_options(Activation::NONE), "Gemm_user");
    m.add_user_to_item(u_emb);
    m.add_user_to_item(u_age);
    m.add_user_to_item(u_proj);
    const int i_emb = m.add_activation("i_emb", DType::FLOAT32, {-1, 4});
    const int tag_emb = m.add_activation("tag_emb", DType::FLOAT32, {-1, 3, 4});
    const int tag_mean = m.add_activation("tag_mean", DType::FLOAT32, {-1, 4});
    const int x = m.add_activation("x", DType::FLOAT32, {-1, 15});
    const int h0 = m.add_activation("h0", DType::FLOAT32, {-1, 8});
    const int h = m.add_activation("h", DType::FLOAT32, {-1, 8});
    const int logits = m.add_activation("logits", DType::FLOAT32, {-1, 2});
    const int probs = m.add_activation("probs", DType::FLOAT32, {-1, 2});
    const int p0 = m.add_activation("p0", DType::FLOAT32, {-1, 1});
    const int p1 = m.add_activation("p1", DType::FLOAT32, {-1});
    const int p1r = m.add_activation("p1r", DType::FLOAT32, {-1, 1});
    const int ctcvr = m.add_activation("ctcvr", DType::FLOAT32, {-1, 1});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {t_item, m.feature_tensor(item_id)}, {i_emb},
             OpOptions::GatherOptions, test::gather_options(item_default_row), "Gather_item");
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {t_tag, m.feature_tensor(tags)}, {tag_emb});
    m.add_op(ModelBuilder::kItem, OpType::REDUCE_MEAN, {tag_emb}, {tag_mean}, OpOptions::ReduceOptions,
             test::reduce_options({1}, false));
    m.add_op(ModelBuilder::kItem, OpType::CONCAT, {u_emb, u_age, i_emb, tag_mean, m.feature_tensor(price)}, {x},
             OpOptions::AxisOptions, test::axis_options(1));
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, c_w1, c_b1}, {h0}, OpOptions::FullyConnectedOptions,
             test::fc_options(Activation::RELU));
    m.add_op(ModelBuilder::kItem, OpType::ADD, {h0, u_proj}, {h});
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {h, c_w2, c_b2}, {logits});
    m.add_op(ModelBuilder::kItem, OpType::SIGMOID, {logits}, {probs});
    m.add_op(ModelBuilder::kItem, OpType::TAKE, {probs}, {p0}, OpOptions::TakeOptions, test::take_options(1, {0}));
    m.add_op(ModelBuilder::kItem, OpType::TAKE, {probs}, {p1}, OpOptions::TakeOptions, test::take_options(1, {-1}));
    m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {p1}, {p1r});
    m.add_op(ModelBuilder::kItem, OpType::MUL, {p0, p1r}, {ctcvr});
    m.add_task("ctr", schema::TaskKind::PROBABILITY, probs, 0);
    m.add_task("ctcvr", schema::TaskKind::PROBABILITY, ctcvr, 0);
    m.add_task("user_bias", schema::TaskKind::VALUE, u_emb, 2);
    bytes = m.finish();
  }

  // Reference scores (ctr, ctcvr, user_bias) per item.
  std::vector<double> reference(int64_t user, float user_age, const std::vector<int64_t>& items,
                                const std::vector<int64_t>& tags, const std::vector<float>& prices,
                                int64_t default_row = -1) const {
    std::vector<double> out;
    std::vector<double> ue(4);
    for (int d = 0; d < 4; ++d) ue[static_cast<size_t>(d)] = user_table[static_cast<size_t>(user * 4 + d)];
    const std::vector<double> up = dense(ue, wu, bu);
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<double> x(ue);
      x.push_back(user_age);
      const int64_t item = items[i] >= 0 && items[i] < 20 ? items[i] : default_row;
      for (int d = 0; d < 4; ++d) x.push_back(item_table[static_cast<size_t>(item * 4 + d)]);
      for (int d = 0; d < 4; ++d) {
        double sum = 0;
        for (int j = 0; j < 3; ++j) sum += tag_table[static_cast<size_t>(tags[i * 3 + static_cast<size_t>(j)] * 4 + d)];
        x.push_back(sum / 3);
      }
      x.push_back(prices[i * 2]);
      x.push_back(prices[i * 2 + 1]);
      std::vector<double> h = dense(x, w1, b1);
      for (size_t k = 0; k < h.size(); ++k) h[k] = (h[k] > 0 ? h[k] : 0) + up[k];
      const std::vector<double> logits = dense(h, w2, b2);
      const double p0 = 1 / (1 + std::exp(-logits[0])), p1 = 1 / (1 + std::exp(-logits[1]));
      out.push_back(p0);
      out.push_back(p0 * p1);
      out.push_back(ue[2]);
    }
    return out;
  }
};

struct Request {
  std::vector<int64_t> items, tags;
  std::vector<float> prices;
  std::vector<FeatureInput> inputs(const Model& model) const {
    std::vector<FeatureInput> in(3);
    in[0].feature = model.find_feature("item_id");
    in[0].ids = items.data();
    in[0].count = items.size();
    in[1].feature = model.find_feature("tags");
    in[1].ids = tags.data();
    in[1].count = tags.size();
    in[2].feature = model.find_feature("price");
    in[2].values = prices.data();
    in[2].count = prices.size();
    return in;
  }
};

Request make_request(size_t n, unsigned seed) {
  std::mt19937 random(seed);
  Request r;
  for (size_t i = 0; i < n; ++i) {
    r.items.push_back(static_cast<int64_t>(random() % 20));
    for (int j = 0; j < 3; ++j) r.tags.push_back(static_cast<int64_t>(random() % 8));
    r.prices.push_back(static_cast<float>(random() % 100) / 50.0f);
    r.prices.push_back(static_cast<float>(random() % 100) / 25.0f - 2.0f);
  }
  return r;
}

Status set_user(Session& session, const Model& model, const int64_t* user, const float* age) {
  FeatureInput in[2];
  in[0].feature = model.find_feature("user_id");
  in[0].ids = user;
  in[0].count = 1;
  in[1].feature = model.find_feature("user age");
  in[1].values = age;
  in[1].count = 1;
  return session.set_user(Span<const FeatureInput>(in, 2));
}

void check_scores(Span<const float> scores, const std::vector<double>& want) {
  REQUIRE(scores.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(scores[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
}

TEST_CASE("session scores a SharedBottom-like model like the reference") {
  DemoModel demo;
  auto loaded = Model::load_buffer(demo.bytes.get(), demo.bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  const Model& m = *loaded.value();
  CHECK(m.num_tasks() == 3);
  CHECK(m.find_task("ctcvr") == 1);
  SessionOptions options;
  options.max_items = 16;
  for (int threads : {1, 2}) {
    options.threads = threads;
    auto created = Session::create(m, options);
    REQUIRE_MESSAGE(created.ok(), created.status().message());
    Session& session = *created.value();
    const int64_t user = 7;
    const float age = 0.25f;
    REQUIRE(set_user(session, m, &user, &age).is_ok());
    for (size_t n : {size_t{5}, size_t{1}, size_t{16}, size_t{3}}) {
      CAPTURE(n);
      const Request r = make_request(n, static_cast<unsigned>(n));
      const auto inputs = r.inputs(m);
      auto scores = session.score(Span<const FeatureInput>(inputs.data(), inputs.size()), n);
      REQUIRE_MESSAGE(scores.ok(), scores.status().message());
      check_scores(scores.value(), demo.reference(user, age, r.items, r.tags, r.prices));
    }
    // A new user replaces the cache.
    const int64_t other = 2;
    const float other_age = -1.5f;
    REQUIRE(set_user(session, m, &other, &other_age).is_ok());
    const Request r = make_request(4, 99);
    const auto inputs = r.inputs(m);
    auto scores = session.score(Span<const FeatureInput>(inputs.data(), inputs.size()), 4);
    REQUIRE(scores.ok());
    check_scores(scores.value(), demo.reference(other, other_age, r.items, r.tags, r.prices));

    // Warm: no C++ heap allocation while scoring.
    const long before = g_allocations.load();
    for (int repeat = 0; repeat < 3; ++repeat) {
      REQUIRE(set_user(session, m, &other, &other_age).is_ok());
      REQUIRE(session.score(Span<const FeatureInput>(inputs.data(), inputs.size()), 4).ok());
    }
    CHECK(g_allocations.load() == before);

    CHECK(session.arena_bytes() > 0);
    // N x (K + 1) floats per layer, N padded to the own f32 kernel's panels where it runs.
    const size_t panel = F32Gemm::panel_columns(F32Gemm::best_isa());
    auto columns = [&](size_t n) { return panel == 0 ? n : padded_panel_columns(n, panel); };
    CHECK(session.packed_weight_bytes() == (columns(8) * 5 + columns(8) * 16 + columns(2) * 9) * sizeof(float));
    char text[8192] = {0};
    FILE* out = fmemopen(text, sizeof(text) - 1, "w");
    session.print_plan(out);
    std::fclose(out);
    CHECK(std::string(text).find("u_proj") != std::string::npos);
    CHECK(std::string(text).find("alias of tensor") != std::string::npos);
  }
}

TEST_CASE("session reports bad requests by feature name") {
  DemoModel demo;
  auto loaded = Model::load_buffer(demo.bytes.get(), demo.bytes.size);
  REQUIRE(loaded.ok());
  const Model& m = *loaded.value();
  SessionOptions options;
  options.max_items = 8;
  auto created = Session::create(m, options);
  REQUIRE(created.ok());
  Session& session = *created.value();
  Request r = make_request(4, 5);
  auto inputs = r.inputs(m);
  Span<const FeatureInput> span(inputs.data(), inputs.size());

  auto early = session.score(span, 4);
  CHECK(early.error() == Error::kInvalidState);

  const int64_t user = 3;
  const float age = 1.0f;
  REQUIRE(set_user(session, m, &user, &age).is_ok());
  CHECK(session.score(span, 0).error() == Error::kInvalidArgument);
  CHECK(session.score(span, 9).error() == Error::kInvalidArgument);
  // Counts follow n: 4 rows given, 3 announced.
  auto count = session.score(span, 3);
  CHECK(count.error() == Error::kInvalidArgument);
  CHECK(std::string(count.status().message()).find("item_id") != std::string::npos);

  auto missing = session.score(Span<const FeatureInput>(inputs.data(), 2), 4);
  CHECK(missing.error() == Error::kMissingFeature);
  CHECK(std::string(missing.status().message()).find("'price'") != std::string::npos);

  std::vector<FeatureInput> twice = inputs;
  twice.push_back(inputs[0]);
  CHECK(session.score(Span<const FeatureInput>(twice.data(), twice.size()), 4).error() == Error::kInvalidArgument);

  r.prices[5] = NAN;
  auto nan = session.score(span, 4);
  CHECK(nan.error() == Error::kInvalidValue);
  CHECK(std::string(nan.status().message()).find("row 2") != std::string::npos);
  r.prices[5] = 0.5f;

  r.items[2] = 20;
  auto oov = session.score(span, 4);
  CHECK(oov.error() == Error::kIdOutOfRange);
  CHECK(std::string(oov.status().message()).find("feature 'item_id'") != std::string::npos);
  CHECK(std::string(oov.status().message()).find("row 2") != std::string::npos);
  r.items[2] = 1;

  // A user feature passed to score, an item feature passed to set_user.
  FeatureInput user_input;
  user_input.feature = m.find_feature("user_id");
  user_input.ids = &user;
  user_input.count = 1;
  CHECK(session.score(Span<const FeatureInput>(&user_input, 1), 1).error() == Error::kInvalidArgument);
  CHECK(session.set_user(Span<const FeatureInput>(inputs.data(), 1)).code() == Error::kInvalidArgument);
  // A failed set_user drops the cache.
  CHECK(session.score(span, 4).error() == Error::kInvalidState);
  const int64_t bad_user = -1;
  auto bad = set_user(session, m, &bad_user, &age);
  CHECK(bad.code() == Error::kIdOutOfRange);
  CHECK(std::string(bad.message()).find("user_id") != std::string::npos);
  REQUIRE(set_user(session, m, &user, &age).is_ok());
  CHECK(session.score(span, 4).ok());
}

TEST_CASE("out-of-range ids read the default row only when the session asks") {
  DemoModel demo(/*item_default_row=*/0);
  auto loaded = Model::load_buffer(demo.bytes.get(), demo.bytes.size);
  REQUIRE(loaded.ok());
  const Model& m = *loaded.value();
  Request r = make_request(3, 11);
  r.items[1] = 1000;
  const auto inputs = r.inputs(m);
  const int64_t user = 1;
  const float age = 0.0f;
  for (bool map : {false, true}) {
    SessionOptions options;
    options.max_items = 4;
    options.map_out_of_range_ids = map;
    auto created = Session::create(m, options);
    REQUIRE(created.ok());
    REQUIRE(set_user(*created.value(), m, &user, &age).is_ok());
    auto scores = created.value()->score(Span<const FeatureInput>(inputs.data(), inputs.size()), 3);
    if (!map) {
      CHECK(scores.error() == Error::kIdOutOfRange);
    } else {
      REQUIRE(scores.ok());
      check_scores(scores.value(), demo.reference(user, age, r.items, r.tags, r.prices, 0));
    }
  }
}

TEST_CASE("a model without user features scores without set_user") {
  ModelBuilder m;
  const int f = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3);
  const std::vector<float> w = random_floats(2 * 3, 21), b = random_floats(2, 22);
  const int cw = m.add_constant_f32("w", {2, 3}, w), cb = m.add_constant_f32("b", {2}, b);
  const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  const int s = m.add_activation("s", DType::FLOAT32, {-1, 2});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {m.feature_tensor(f), cw, cb}, {y});
  m.add_op(ModelBuilder::kItem, OpType::SOFTMAX, {y}, {s}, OpOptions::AxisOptions, test::axis_options(1));
  m.add_task("a", schema::TaskKind::PROBABILITY, s, 0);
  m.add_task("b", schema::TaskKind::PROBABILITY, s, 1);
  const test::ModelBytes bytes = m.finish();
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  auto created = Session::create(*loaded.value());
  REQUIRE(created.ok());
  const std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.75f};
  FeatureInput in;
  in.feature = 0;
  in.values = x.data();
  in.count = x.size();
  auto scores = created.value()->score(Span<const FeatureInput>(&in, 1), 2);
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  for (size_t row = 0; row < 2; ++row) {
    double z[2];
    for (size_t j = 0; j < 2; ++j) {
      z[j] = b[j];
      for (size_t k = 0; k < 3; ++k) z[j] += double(x[row * 3 + k]) * w[j * 3 + k];
    }
    const double e0 = std::exp(z[0]), e1 = std::exp(z[1]);
    CHECK(scores.value()[row * 2] == doctest::Approx(e0 / (e0 + e1)).epsilon(1e-5));
    CHECK(scores.value()[row * 2 + 1] == doctest::Approx(e1 / (e0 + e1)).epsilon(1e-5));
  }
}

// wide = FC_relu(x) [-1, 7]; shifted = ADD(wide, row [1, 7]) in place (wide dies there);
// a = FC(TAKE(shifted, cols 1..4)), b = FC(TAKE(shifted, cols 3..6)) read column views (row stride 7);
// c = SIGMOID(TAKE(shifted, cols 0..1)) is a copy (a non-FC reader).
TEST_CASE("an ADD runs in place; TAKEs of columns read only by FULLY_CONNECTEDs are views; results as naive") {
  ModelBuilder m;
  const int f = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 5);
  const std::vector<float> w = random_floats(7 * 5, 31), b = random_floats(7, 32), wa = random_floats(2 * 4, 33),
                           wb = random_floats(3 * 4, 34), bb = random_floats(3, 35);
  const std::vector<float> shift = random_floats(7, 37);
  const int cw = m.add_constant_f32("w", {7, 5}, w), cb = m.add_constant_f32("b", {7}, b);
  const int crow = m.add_constant_f32("shift", {1, 7}, shift);
  const int cwa = m.add_constant_f32("wa", {2, 4}, wa);
  const int cwb = m.add_constant_f32("wb", {3, 4}, wb), cbb = m.add_constant_f32("bb", {3}, bb);
  const int wide = m.add_activation("wide", DType::FLOAT32, {-1, 7});
  const int shifted = m.add_activation("shifted", DType::FLOAT32, {-1, 7});
  const int sa = m.add_activation("sa", DType::FLOAT32, {-1, 4}), sb = m.add_activation("sb", DType::FLOAT32, {-1, 4});
  const int sc = m.add_activation("sc", DType::FLOAT32, {-1, 2});
  const int a = m.add_activation("a", DType::FLOAT32, {-1, 2}), bo = m.add_activation("bo", DType::FLOAT32, {-1, 3});
  const int c = m.add_activation("c", DType::FLOAT32, {-1, 2});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {m.feature_tensor(f), cw, cb}, {wide},
           OpOptions::FullyConnectedOptions, test::fc_options(Activation::RELU));
  m.add_op(ModelBuilder::kItem, OpType::ADD, {wide, crow}, {shifted});
  m.add_op(ModelBuilder::kItem, OpType::TAKE, {shifted}, {sa}, OpOptions::TakeOptions, test::take_range_options(1, 1, 4));
  m.add_op(ModelBuilder::kItem, OpType::TAKE, {shifted}, {sb}, OpOptions::TakeOptions, test::take_range_options(1, 3, 4));
  m.add_op(ModelBuilder::kItem, OpType::TAKE, {shifted}, {sc}, OpOptions::TakeOptions, test::take_range_options(1, 0, 2));
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {sa, cwa}, {a});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {sb, cwb, cbb}, {bo});
  m.add_op(ModelBuilder::kItem, OpType::SIGMOID, {sc}, {c});
  m.add_task("a1", schema::TaskKind::VALUE, a, 1);
  m.add_task("b2", schema::TaskKind::VALUE, bo, 2);
  m.add_task("c0", schema::TaskKind::PROBABILITY, c, 0);
  const test::ModelBytes bytes = m.finish();
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  for (size_t tile : {size_t{0}, size_t{2}}) {
    CAPTURE(tile);
    SessionOptions options;
    options.max_items = 5;
    options.item_tile_rows = tile;
    auto created = Session::create(*loaded.value(), options);
    REQUIRE(created.ok());
    std::vector<float> x = random_floats(5 * 5, 36);
    FeatureInput in;
    in.feature = 0;
    in.values = x.data();
    in.count = x.size();
    auto scores = created.value()->score(Span<const FeatureInput>(&in, 1), 5);
    REQUIRE_MESSAGE(scores.ok(), scores.status().message());
    for (size_t row = 0; row < 5; ++row) {
      std::vector<double> xr(x.begin() + static_cast<long>(row * 5), x.begin() + static_cast<long>(row * 5 + 5));
      std::vector<double> h = dense(xr, w, b);
      for (size_t j = 0; j < h.size(); ++j) h[j] = (h[j] > 0 ? h[j] : 0) + shift[j];
      const std::vector<double> ya = dense({h[1], h[2], h[3], h[4]}, wa, {0.0f, 0.0f});
      const std::vector<double> yb = dense({h[3], h[4], h[5], h[6]}, wb, bb);
      CHECK(scores.value()[row * 3] == doctest::Approx(ya[1]).epsilon(1e-5));
      CHECK(scores.value()[row * 3 + 1] == doctest::Approx(yb[2]).epsilon(1e-5));
      CHECK(scores.value()[row * 3 + 2] == doctest::Approx(1 / (1 + std::exp(-h[0]))).epsilon(1e-5));
    }
    // The plan shows the ADD's output and the two views as aliases of `wide`, the copy with bytes of its own.
    char* text = nullptr;
    size_t size = 0;
    FILE* out = open_memstream(&text, &size);
    created.value()->print_plan(out);
    std::fclose(out);
    const std::string plan(text, size);
    std::free(text);
    CHECK(plan.find("sa") != std::string::npos);
    size_t aliases = 0;
    for (size_t at = plan.find("alias of tensor"); at != std::string::npos; at = plan.find("alias of tensor", at + 1))
      ++aliases;
    CHECK(aliases == 3);
  }
}

// An f32 layer with an addend (FULLY_CONNECTED's 4th input; edgemtl-convert gives it to static int8
// layers only, but the file format allows it): x a column view of wide = FC_relu(x0), the addend d's
// columns 3..6, RELU of the sum; the run stages x + addend. Own kernel and XNNPACK, as a naive loop.
TEST_CASE("an f32 FULLY_CONNECTED with an addend reads relu(x + addend columns) of a column view, as naive") {
  ModelBuilder m;
  const int fx = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 5);
  const int fd = m.add_feature("d", schema::Side::ITEM, FeatureKind::DENSE, 7);
  const std::vector<float> w = random_floats(7 * 5, 41), b = random_floats(7, 42), wa = random_floats(2 * 4, 43),
                           ba = random_floats(2, 44);
  const int cw = m.add_constant_f32("w", {7, 5}, w), cb = m.add_constant_f32("b", {7}, b);
  const int cwa = m.add_constant_f32("wa", {2, 4}, wa), cba = m.add_constant_f32("ba", {2}, ba);
  const int wide = m.add_activation("wide", DType::FLOAT32, {-1, 7});
  const int slice = m.add_activation("slice", DType::FLOAT32, {-1, 4});
  const int a = m.add_activation("a", DType::FLOAT32, {-1, 2});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {m.feature_tensor(fx), cw, cb}, {wide},
           OpOptions::FullyConnectedOptions, test::fc_options(Activation::RELU));
  m.add_op(ModelBuilder::kItem, OpType::TAKE, {wide}, {slice}, OpOptions::TakeOptions,
           test::take_range_options(1, 1, 4));
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {slice, cwa, cba, m.feature_tensor(fd)}, {a},
           OpOptions::FullyConnectedOptions, test::fc_addend_options(Activation::NONE, Activation::RELU, 3));
  m.add_task("a0", schema::TaskKind::VALUE, a, 0);
  m.add_task("a1", schema::TaskKind::VALUE, a, 1);
  const test::ModelBytes bytes = m.finish();
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  const size_t rows = 6;
  std::vector<float> x = random_floats(rows * 5, 45), d = random_floats(rows * 7, 46);
  FeatureInput in[2];
  in[0].feature = 0;
  in[0].values = x.data();
  in[0].count = x.size();
  in[1].feature = 1;
  in[1].values = d.data();
  in[1].count = d.size();
  for (F32Kernel kernel : {F32Kernel::kAuto, F32Kernel::kXnnpack}) {
    CAPTURE(static_cast<int>(kernel));
    SessionOptions options;
    options.max_items = rows;
    options.f32_kernel = kernel;
    auto created = Session::create(*loaded.value(), options);
    REQUIRE_MESSAGE(created.ok(), created.status().message());
    auto scores = created.value()->score(Span<const FeatureInput>(in, 2), rows);
    REQUIRE_MESSAGE(scores.ok(), scores.status().message());
    for (size_t row = 0; row < rows; ++row) {
      std::vector<double> xr(x.begin() + static_cast<long>(row * 5), x.begin() + static_cast<long>(row * 5 + 5));
      std::vector<double> h = dense(xr, w, b);
      std::vector<double> sum(4);
      for (size_t k = 0; k < 4; ++k) {
        const double v = (h[1 + k] > 0 ? h[1 + k] : 0) + d[row * 7 + 3 + k];
        sum[k] = v > 0 ? v : 0;
      }
      const std::vector<double> y = dense(sum, wa, ba);
      CHECK(scores.value()[row * 2] == doctest::Approx(y[0]).epsilon(1e-5));
      CHECK(scores.value()[row * 2 + 1] == doctest::Approx(y[1]).epsilon(1e-5));
    }
  }
}

TEST_CASE("MMoE-style gate: softmax, take with a removed dim, transpose, matmul, broadcast_rows") {
  // experts E [-1, 2, 3] = RESHAPE(FC(x) [-1, 6]); gate g [-1, 2] = SOFTMAX(FC(x));
  // mixed [-1, 1, 3] = MATMUL(RESHAPE(g) [-1, 1, 2], E); out = TAKE(mixed, axis 1, [0]) -> [-1, 3] (dim removed)
  // t = TRANSPOSE(E, [0, 2, 1]) [-1, 3, 2]; s = REDUCE_SUM(t, axes [2], keepdims) [-1, 3, 1]
  // bias = BROADCAST_ROWS(user u [-1, 3]); final = ADD(out, bias) + WHERE/EQUAL/CAST path unused
  ModelBuilder m;
  const int f = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 4);
  const int uf = m.add_feature("u", schema::Side::USER, FeatureKind::DENSE, 3);
  const std::vector<float> we = random_floats(6 * 4, 31), be = random_floats(6, 32), wg = random_floats(2 * 4, 33),
                           bg = random_floats(2, 34);
  const int cwe = m.add_constant_f32("we", {6, 4}, we), cbe = m.add_constant_f32("be", {6}, be);
  const int cwg = m.add_constant_f32("wg", {2, 4}, wg), cbg = m.add_constant_f32("bg", {2}, bg);
  const int e_flat = m.add_activation("e_flat", DType::FLOAT32, {-1, 6});
  const int e = m.add_activation("e", DType::FLOAT32, {-1, 2, 3});
  const int g_logits = m.add_activation("g_logits", DType::FLOAT32, {-1, 2});
  const int g = m.add_activation("g", DType::FLOAT32, {-1, 2});
  const int g3 = m.add_activation("g3", DType::FLOAT32, {-1, 1, 2});
  const int mixed = m.add_activation("mixed", DType::FLOAT32, {-1, 1, 3});
  const int out = m.add_activation("out", DType::FLOAT32, {-1, 3});
  const int t = m.add_activation("t", DType::FLOAT32, {-1, 3, 2});
  const int s = m.add_activation("s", DType::FLOAT32, {-1, 3, 1});
  const int bias = m.add_activation("bias", DType::FLOAT32, {-1, 3});
  const int final_out = m.add_activation("final", DType::FLOAT32, {-1, 3});
  m.add_user_to_item(m.feature_tensor(uf));
  const auto I = ModelBuilder::kItem;
  m.add_op(I, OpType::FULLY_CONNECTED, {m.feature_tensor(f), cwe, cbe}, {e_flat});
  m.add_op(I, OpType::RESHAPE, {e_flat}, {e});
  m.add_op(I, OpType::FULLY_CONNECTED, {m.feature_tensor(f), cwg, cbg}, {g_logits});
  m.add_op(I, OpType::SOFTMAX, {g_logits}, {g}, OpOptions::AxisOptions, test::axis_options(1));
  m.add_op(I, OpType::RESHAPE, {g}, {g3});
  m.add_op(I, OpType::MATMUL, {g3, e}, {mixed});
  m.add_op(I, OpType::TAKE, {mixed}, {out}, OpOptions::TakeOptions, test::take_options(1, {0}));
  m.add_op(I, OpType::TRANSPOSE, {e}, {t}, OpOptions::TransposeOptions, test::transpose_options({0, 2, 1}));
  m.add_op(I, OpType::REDUCE_SUM, {t}, {s}, OpOptions::ReduceOptions, test::reduce_options({2}, true));
  m.add_op(I, OpType::BROADCAST_ROWS, {m.feature_tensor(uf)}, {bias});
  m.add_op(I, OpType::ADD, {out, bias}, {final_out});
  for (int c = 0; c < 3; ++c) m.add_task("mix" + std::to_string(c), schema::TaskKind::VALUE, final_out, c);
  for (int c = 0; c < 3; ++c) m.add_task("sum" + std::to_string(c), schema::TaskKind::VALUE, s, c);
  const test::ModelBytes bytes = m.finish();
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  auto created = Session::create(*loaded.value());
  REQUIRE_MESSAGE(created.ok(), created.status().message());
  Session& session = *created.value();
  const std::vector<float> u = {0.1f, -0.2f, 0.3f};
  FeatureInput user_in;
  user_in.feature = 1;
  user_in.values = u.data();
  user_in.count = 3;
  REQUIRE(session.set_user(Span<const FeatureInput>(&user_in, 1)).is_ok());
  const size_t n = 5;
  const std::vector<float> x = random_floats(n * 4, 35);
  FeatureInput in;
  in.feature = 0;
  in.values = x.data();
  in.count = x.size();
  auto scores = session.score(Span<const FeatureInput>(&in, 1), n);
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  for (size_t row = 0; row < n; ++row) {
    const std::vector<double> xr(x.begin() + static_cast<long>(row * 4), x.begin() + static_cast<long>(row * 4 + 4));
    const std::vector<double> experts = dense(xr, we, be), logits = dense(xr, wg, bg);
    const double e0 = std::exp(logits[0]), e1 = std::exp(logits[1]);
    const double g0 = e0 / (e0 + e1), g1 = e1 / (e0 + e1);
    for (size_t c = 0; c < 3; ++c) {
      const double mix = g0 * experts[c] + g1 * experts[3 + c] + u[c];
      CHECK(scores.value()[row * 6 + c] == doctest::Approx(mix).epsilon(1e-5));
      CHECK(scores.value()[row * 6 + 3 + c] == doctest::Approx(experts[c] + experts[3 + c]).epsilon(1e-5));
    }
  }
}

TEST_CASE("corrupted models either fail to load or score without crashing") {
  DemoModel demo;
  std::mt19937 random(123);
  const Request r = make_request(3, 4);
  const int64_t user = 1;
  const float age = 0.5f;
  int loaded_count = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const test::ModelBytes copy = test::ModelBytes::copy_of(demo.bytes.get(), demo.bytes.size);
    // Corrupt the FlatBuffer part (the weights are just numbers).
    const size_t span = std::min<size_t>(copy.size, 2048);
    for (int f = 0; f < 2; ++f) copy.get()[random() % span] ^= static_cast<uint8_t>(1 + random() % 255);
    // Re-sealed (when it still can be): the checksum would refuse every such
    // file; this test is about what the verifier and the Session do behind it.
    (void)seal_checksums(copy.get(), copy.size);
    auto loaded = Model::load_buffer(copy.get(), copy.size);
    if (!loaded.ok()) continue;
    ++loaded_count;
    const Model& m = *loaded.value();
    SessionOptions options;
    options.max_items = 4;
    auto created = Session::create(m, options);
    if (!created.ok()) continue;
    // Feature lookups may now fail (renamed): the calls must still be safe.
    set_user(*created.value(), m, &user, &age);
    const auto inputs = r.inputs(m);
    created.value()->score(Span<const FeatureInput>(inputs.data(), inputs.size()), 3);
  }
  CHECK(loaded_count > 0);
}

}  // namespace
}  // namespace edgemtl
