// Model loading and verification: good files load, every kind of bad file
// gives its documented error with a useful message, and nothing crashes.
#include "runtime/format/model.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/format/checksum.h"
#include "runtime/test_util/model_builder.h"
#include "runtime/test_util/status_checks.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpOptions;
using schema::OpType;
using test::ModelBuilder;
using test::ModelBytes;
using test::contains;
using test::load_status;

// item feature x [-1, 3] -> FC(w [2, 3], b [2]) -> y [-1, 2]; task on y.
struct Tiny {
  ModelBuilder m;
  int x, w, b, y;
  Tiny() {
    const int f = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3);
    x = m.feature_tensor(f);
    w = m.add_constant_f32("w", {2, 3}, {1, 2, 3, 4, 5, 6});
    b = m.add_constant_f32("b", {2}, {0.5f, -0.5f});
    y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  }
  ModelBytes finish_with_fc(const std::string& node = "Gemm_12") {
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w, b}, {y}, OpOptions::NONE, nullptr, node);
    m.add_task("score", schema::TaskKind::PROBABILITY, y, 1);
    return m.finish();
  }
};

std::string temp_path(const char* name) {
  return std::string("/tmp/edgemtl_model_test_") + std::to_string(getpid()) + "_" + name;
}

TEST_CASE("a valid model loads from a buffer and from a file") {
  Tiny tiny;
  const ModelBytes bytes = tiny.finish_with_fc();
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  const Model& model = *loaded.value();
  CHECK(model.num_features() == 1);
  CHECK(std::string(model.feature(0).name) == "x");
  CHECK(model.feature(0).kind == edgemtl::FeatureKind::kDense);
  CHECK(model.feature(0).width == 3);
  CHECK(model.find_feature("x") == 0);
  CHECK(model.find_feature("nope") == -1);
  CHECK(model.find_task("score") == 0);
  CHECK(model.task(0).kind == TaskKind::kProbability);

  const std::string path = temp_path("good.emtl");
  REQUIRE(bytes.write_file(path));
  auto from_file = Model::load_file(path.c_str());
  REQUIRE_MESSAGE(from_file.ok(), from_file.status().message());
  CHECK(from_file.value()->size() == bytes.size);
  std::remove(path.c_str());
}

TEST_CASE("file errors: missing, empty, too small") {
  auto missing = Model::load_file("/nonexistent/model.emtl");
  CHECK(missing.error() == Error::kIoError);
  CHECK(contains(missing.status(), "/nonexistent/model.emtl"));

  const std::string empty = temp_path("empty.emtl");
  REQUIRE(ModelBytes::copy_of(nullptr, 0).write_file(empty));
  auto empty_result = Model::load_file(empty.c_str());
  CHECK(empty_result.error() == Error::kInvalidModel);
  CHECK(contains(empty_result.status(), "empty"));
  std::remove(empty.c_str());

  const uint8_t four[4] = {1, 2, 3, 4};
  const std::string small = temp_path("small.emtl");
  REQUIRE(ModelBytes::copy_of(four, 4).write_file(small));
  auto small_result = Model::load_file(small.c_str());
  CHECK(small_result.error() == Error::kInvalidModel);
  CHECK(contains(small_result.status(), "too small"));
  std::remove(small.c_str());

  CHECK(Model::load_file(nullptr).error() == Error::kInvalidArgument);
  CHECK(Model::load_file("/tmp").error() == Error::kIoError);
}

TEST_CASE("load_buffer needs 64-byte aligned data") {
  Tiny tiny;
  const ModelBytes bytes = tiny.finish_with_fc();
  std::vector<uint8_t> shifted(bytes.size + 64);
  uint8_t* misaligned = shifted.data();
  while (reinterpret_cast<uintptr_t>(misaligned) % 64 != 8) ++misaligned;
  std::memcpy(misaligned, bytes.get(), bytes.size);
  CHECK(Model::load_buffer(misaligned, bytes.size).error() == Error::kInvalidArgument);
  CHECK(Model::load_buffer(nullptr, 100).error() == Error::kInvalidArgument);
}

TEST_CASE("truncated files are rejected at every length") {
  Tiny tiny;
  const ModelBytes bytes = tiny.finish_with_fc();
  for (size_t size = 0; size < bytes.size; size += 7) {
    CAPTURE(size);
    const ModelBytes cut = ModelBytes::copy_of(bytes.get(), size);
    auto loaded = Model::load_buffer(cut.get(), cut.size);
    CHECK_FALSE(loaded.ok());
    CHECK(loaded.error() == Error::kInvalidModel);
  }
  const ModelBytes one_short = ModelBytes::copy_of(bytes.get(), bytes.size - 1);
  CHECK(contains(load_status(one_short), "not a multiple of 64: truncated?"));
}

TEST_CASE("wrong identifier and wrong version") {
  Tiny tiny;
  ModelBytes bytes = tiny.finish_with_fc();
  const ModelBytes copy = ModelBytes::copy_of(bytes.get(), bytes.size);
  std::memcpy(copy.get() + 4, "NOPE", 4);
  const Status identifier = load_status(copy);
  CHECK(identifier.code() == Error::kInvalidModel);
  CHECK(contains(identifier, "EMTL"));

  Tiny other;
  other.m.format_version = 2;
  const Status version = load_status(other.finish_with_fc());
  CHECK(version.code() == Error::kUnsupported);
  CHECK(contains(version, "format_version 2"));
}

TEST_CASE("buffer offsets: out of range, overflowing, misaligned, wrong size") {
  {
    Tiny tiny;
    const int buffer = tiny.m.add_raw_buffer(1 << 20, 8);
    tiny.m.add_constant_on_buffer("far", DType::FLOAT32, {2}, buffer);
    const Status status = load_status(tiny.finish_with_fc());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "outside the file"));
  }
  {
    Tiny tiny;
    const int buffer = tiny.m.add_raw_buffer(64, UINT64_MAX - 32);  // offset + size overflows
    tiny.m.add_constant_on_buffer("huge", DType::FLOAT32, {2}, buffer);
    CHECK(load_status(tiny.finish_with_fc()).code() == Error::kInvalidModel);
  }
  {
    Tiny tiny;
    const int buffer = tiny.m.add_raw_buffer(65, 8);
    tiny.m.add_constant_on_buffer("misaligned", DType::FLOAT32, {2}, buffer);
    const Status status = load_status(tiny.finish_with_fc());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "not a multiple of 64"));
  }
  {
    Tiny tiny;
    const int buffer = tiny.m.add_raw_buffer(0, 12);
    tiny.m.add_constant_on_buffer("short", DType::FLOAT32, {2, 2}, buffer);
    const Status status = load_status(tiny.finish_with_fc());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "need 16 bytes but buffer"));
  }
  {
    Tiny tiny;
    tiny.m.add_constant_on_buffer("no buffer", DType::FLOAT32, {2}, 57);
    CHECK(contains(load_status(tiny.finish_with_fc()), "buffer 57 but the model has"));
  }
}

TEST_CASE("operator errors name the operator, node and stage") {
  {
    Tiny tiny;
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, 99}, {tiny.y}, OpOptions::NONE, nullptr,
                  "Gemm_12");
    const Status status = load_status(tiny.m.finish());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "operator 0 (node 'Gemm_12') of the item stage: input 1 is tensor 99 but the model has 4 tensors"));
  }
  {
    Tiny tiny;  // reads a tensor nobody wrote
    const int z = tiny.m.add_activation("z", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {z, tiny.w, tiny.b}, {tiny.y});
    CHECK(contains(load_status(tiny.m.finish()), "not a constant, a item feature, a tensor written earlier"));
  }
  {
    Tiny tiny;  // the user stage may not read an item feature
    tiny.m.add_op(ModelBuilder::kUser, OpType::FULLY_CONNECTED, {tiny.x, tiny.w, tiny.b}, {tiny.y});
    CHECK(contains(load_status(tiny.m.finish()), "of the user stage: input 0"));
  }
  {
    Tiny tiny;  // written twice
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, tiny.w, tiny.b}, {tiny.y});
    tiny.m.add_op(ModelBuilder::kItem, OpType::RELU, {tiny.y}, {tiny.y});
    CHECK(contains(load_status(tiny.m.finish()), "already written"));
  }
  {
    Tiny tiny;  // weight shape does not match the input
    const int w = tiny.m.add_constant_f32("w4", {2, 4}, std::vector<float>(8, 0.0f));
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, w}, {tiny.y});
    CHECK(load_status(tiny.m.finish()).code() == Error::kInvalidModel);
  }
  {
    Tiny tiny;  // output shape disagrees
    const int y3 = tiny.m.add_activation("y3", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, tiny.w}, {y3});
    CHECK(contains(load_status(tiny.m.finish()), "has shape [-1, 3], expected [-1, 2]"));
  }
  {
    Tiny tiny;  // arity
    tiny.m.add_op(ModelBuilder::kItem, OpType::ADD, {tiny.x}, {tiny.y});
    CHECK(contains(load_status(tiny.m.finish()), "takes 2 inputs, has 1"));
  }
  {
    Tiny tiny;  // missing required options
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::SOFTMAX, {tiny.x}, {s});
    CHECK(contains(load_status(tiny.m.finish()), "options AxisOptions are missing"));
  }
  {
    Tiny tiny;  // options of the wrong type
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::SOFTMAX, {tiny.x}, {s}, OpOptions::CastOptions,
                  test::cast_options(DType::INT64));
    CHECK(contains(load_status(tiny.m.finish()), "options are CastOptions, expected AxisOptions"));
  }
  {
    Tiny tiny;  // softmax over the rows
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::SOFTMAX, {tiny.x}, {s}, OpOptions::AxisOptions, test::axis_options(0));
    CHECK(contains(load_status(tiny.m.finish()), "axis 0 outside [1, 2)"));
  }
  {
    Tiny tiny;  // wrong dtype
    const int s = tiny.m.add_activation("s", DType::INT64, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, OpType::RELU, {tiny.x}, {s});
    CHECK(contains(load_status(tiny.m.finish()), "is INT64, expected FLOAT32"));
  }
  {
    Tiny tiny;  // unknown operator type
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, 3});
    tiny.m.add_op(ModelBuilder::kItem, static_cast<OpType>(200), {tiny.x}, {s});
    CHECK(load_status(tiny.m.finish()).code() == Error::kUnsupported);
  }
  {
    Tiny tiny;  // INT32 weights: no fully-connected form computes them
    const int32_t ints[6] = {0};
    const int w = tiny.m.add_constant("w32", DType::INT32, {2, 3}, ints, sizeof(ints));
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, w}, {tiny.y});
    CHECK(load_status(tiny.m.finish()).code() == Error::kUnsupported);
  }
  {
    Tiny tiny;  // take index out of range
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, 1});
    tiny.m.add_op(ModelBuilder::kItem, OpType::TAKE, {tiny.x}, {s}, OpOptions::TakeOptions, test::take_options(1, {3}));
    CHECK(contains(load_status(tiny.m.finish()), "index 3 outside [-3, 3)"));
  }
  // take as a range start .. start + count - 1 of x [-1, 3]
  auto take_range = [](int64_t start, int64_t count, std::vector<int64_t> indices, int64_t width) {
    Tiny tiny;
    const int s = tiny.m.add_activation("s", DType::FLOAT32, {-1, width});
    tiny.m.add_op(ModelBuilder::kItem, OpType::TAKE, {tiny.x}, {s}, OpOptions::TakeOptions,
                  test::take_range_options(1, start, count, indices));
    tiny.m.add_task("score", schema::TaskKind::VALUE, s, 0);
    return load_status(tiny.m.finish());
  };
  CHECK(take_range(1, 2, {}, 2).is_ok());
  CHECK(take_range(0, 3, {}, 3).is_ok());
  CHECK(contains(take_range(0, 0, {}, 1), "no indices and range count 0"));
  CHECK(contains(take_range(2, 2, {}, 2), "range start 2, count 2 outside [0, 3)"));
  CHECK(contains(take_range(-1, 2, {}, 2), "range start -1, count 2 outside [0, 3)"));
  CHECK(contains(take_range(3, 1, {}, 1), "range start 3, count 1 outside [0, 3)"));
  CHECK(contains(take_range(0, INT64_MAX, {}, 2), "outside [0, 3)"));
  CHECK(contains(take_range(1, 2, {1, 2}, 2), "both indices and a range"));
  CHECK(contains(take_range(1, 2, {0}, 2), "both indices and a range"));
  CHECK(contains(take_range(0, 2, {}, 3), "shape"));  // the output must have count columns
}

// Two ID features a (table rows 0..3) and b (rows 4..5) looked up by one
// EMBEDDING_MULTI in a stacked table [6, 2] -> y [-1, 4]; task on y.
struct Merged {
  ModelBuilder m;
  int a, b, table, y;
  Merged() {
    a = m.feature_tensor(m.add_feature("a", schema::Side::ITEM, FeatureKind::ID, 1, 4));
    b = m.feature_tensor(m.add_feature("b", schema::Side::ITEM, FeatureKind::ID, 1, 2));
    table = m.add_constant_f32("table", {6, 2}, std::vector<float>(12, 0.5f));
    y = m.add_activation("y", DType::FLOAT32, {-1, 4});
  }
  static ModelBuilder::OptionsFn options(std::vector<int64_t> offsets, std::vector<int64_t> counts,
                                         std::vector<int64_t> defaults = {}) {
    return [=](flatbuffers::FlatBufferBuilder& fbb) {
      return schema::CreateEmbeddingMultiOptionsDirect(fbb, &offsets, &counts, defaults.empty() ? nullptr : &defaults)
          .Union();
    };
  }
  Status load_with(std::vector<int> inputs, ModelBuilder::OptionsFn opts, int output = -1,
                   OpOptions type = OpOptions::EmbeddingMultiOptions) {
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING_MULTI, std::move(inputs), {output < 0 ? y : output}, type, opts,
             "Gather_merged");
    m.add_task("score", schema::TaskKind::VALUE, output < 0 ? y : output, 0);
    return load_status(m.finish());
  }
};

TEST_CASE("EMBEDDING_MULTI: a valid merged lookup loads; the verifier rejects bad rows, widths, dtypes and arity") {
  {
    Merged t;
    CHECK(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 2}, {1, -1})).is_ok());
  }
  {
    Merged t;  // offset + count past the table
    CHECK(contains(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 3})), "outside the table of 6 rows"));
  }
  {
    Merged t;  // negative offset
    CHECK(t.load_with({t.table, t.a, t.b}, Merged::options({-1, 4}, {4, 2})).code() == Error::kInvalidModel);
  }
  {
    Merged t;  // empty sub-table
    CHECK(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 0})).code() == Error::kInvalidModel);
  }
  {
    Merged t;  // a default row outside the input's own rows (but inside the table)
    CHECK(contains(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 2}, {-1, 2})), "default row 2"));
  }
  {
    Merged t;  // one offset for two inputs
    CHECK(contains(t.load_with({t.table, t.a, t.b}, Merged::options({0}, {4, 2})), "need 2 entries"));
  }
  {
    Merged t;  // default_rows of the wrong length
    CHECK(contains(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 2}, {0})), "need 2 entries"));
  }
  {
    Merged t;  // options missing
    CHECK(contains(t.load_with({t.table, t.a, t.b}, nullptr, -1, OpOptions::NONE), "options EmbeddingMultiOptions are missing"));
  }
  {
    Merged t;  // no ids (the generic check sees an operator on constants only)
    CHECK(t.load_with({t.table}, Merged::options({}, {})).code() == Error::kInvalidModel);
  }
  {
    Merged t;  // output width is not k * D
    const int y6 = t.m.add_activation("y6", DType::FLOAT32, {-1, 6});
    CHECK(contains(t.load_with({t.table, t.a, t.b}, Merged::options({0, 4}, {4, 2}), y6), "expected [-1, 4]"));
  }
  {
    Merged t;  // ids must be INT64
    const int f = t.m.feature_tensor(t.m.add_feature("dense", schema::Side::ITEM, FeatureKind::DENSE, 1));
    CHECK(t.load_with({t.table, t.a, f}, Merged::options({0, 4}, {4, 2})).code() == Error::kInvalidModel);
  }
  {
    Merged t;  // ids must be [-1] (one id per row), not an ID_LIST
    const int list = t.m.feature_tensor(t.m.add_feature("list", schema::Side::ITEM, FeatureKind::ID_LIST, 3, 4));
    CHECK(contains(t.load_with({t.table, t.a, list}, Merged::options({0, 4}, {4, 2})), "must have shape [-1]"));
  }
  {
    Merged t;  // the table must be a constant
    const int x = t.m.feature_tensor(t.m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 2));
    CHECK(contains(t.load_with({x, t.a, t.b}, Merged::options({0, 4}, {4, 2})), "must be a constant"));
  }
  {
    Merged t;  // table dtype
    const int64_t ints[12] = {0};
    const int table = t.m.add_constant("ints", DType::INT64, {6, 2}, ints, sizeof(ints));
    CHECK(t.load_with({table, t.a, t.b}, Merged::options({0, 4}, {4, 2})).code() == Error::kInvalidModel);
  }
  {
    Merged t;  // an INT8 table needs one scale per row of the stacked table
    const int8_t q[12] = {0};
    const int table = t.m.add_constant("q", DType::INT8, {6, 2}, q, sizeof(q));
    t.m.set_quantization(table, {1.0f, 1.0f}, {}, 0);
    CHECK(contains(t.load_with({table, t.a, t.b}, Merged::options({0, 4}, {4, 2})), "needs 6 scale(s)"));
  }
}

// MIX of two item experts h0, h1 [-1, 3] by a gate g [-1, 2] -> y [-1, 3]; task on y.
struct Mixture {
  ModelBuilder m;
  int g, h0, h1, y;
  Mixture() {
    g = m.feature_tensor(m.add_feature("g", schema::Side::ITEM, FeatureKind::DENSE, 2));
    h0 = m.feature_tensor(m.add_feature("h0", schema::Side::ITEM, FeatureKind::DENSE, 3));
    h1 = m.feature_tensor(m.add_feature("h1", schema::Side::ITEM, FeatureKind::DENSE, 3));
    y = m.add_activation("y", DType::FLOAT32, {-1, 3});
  }
  Status load_with(std::vector<int> inputs, int output = -1, OpOptions type = OpOptions::NONE,
                   ModelBuilder::OptionsFn opts = nullptr) {
    m.add_op(ModelBuilder::kItem, OpType::MIX, std::move(inputs), {output < 0 ? y : output}, type, opts, "ReduceSum_3");
    m.add_task("score", schema::TaskKind::VALUE, output < 0 ? y : output, 0);
    return load_status(m.finish());
  }
};

TEST_CASE("MIX: a valid mixture loads; the verifier rejects bad gates, experts, dtypes, options and arity") {
  {
    Mixture t;
    CHECK(t.load_with({t.g, t.h0, t.h1}).is_ok());
  }
  {
    Mixture t;  // a 1-row constant expert is broadcast like a CONCAT input
    const int c = t.m.add_constant_f32("c", {1, 3}, {1, 2, 3});
    CHECK(t.load_with({t.g, t.h0, c}).is_ok());
  }
  {
    Mixture t;  // a user-stage expert read through user_to_item (1 row at run time)
    const int u = t.m.feature_tensor(t.m.add_feature("u", schema::Side::USER, FeatureKind::DENSE, 3));
    const int hu = t.m.add_activation("hu", DType::FLOAT32, {-1, 3});
    t.m.add_op(ModelBuilder::kUser, OpType::RELU, {u}, {hu});
    t.m.add_user_to_item(hu);
    CHECK(t.load_with({t.g, hu, t.h1}).is_ok());
  }
  {
    Mixture t;  // two mixtures of the same experts: gates [-1, 2 * 2], outputs [-1, 2 * 3] side by side
    const int g2 = t.m.feature_tensor(t.m.add_feature("g2", schema::Side::ITEM, FeatureKind::DENSE, 4));
    const int y2 = t.m.add_activation("y2", DType::FLOAT32, {-1, 6});
    CHECK(t.load_with({g2, t.h0, t.h1}, y2).is_ok());
  }
  {
    Mixture t;  // G * D past 2^40 columns: refused before the output shape is computed (no overflow)
    const int64_t wide = int64_t{1} << 40;
    const int w0 = t.m.feature_tensor(t.m.add_feature("w0", schema::Side::ITEM, FeatureKind::DENSE, wide));
    const int w1 = t.m.feature_tensor(t.m.add_feature("w1", schema::Side::ITEM, FeatureKind::DENSE, wide));
    const int g4 = t.m.feature_tensor(t.m.add_feature("g4", schema::Side::ITEM, FeatureKind::DENSE, 4));
    const Status status = t.load_with({g4, w0, w1});
    INFO(status.message());
    CHECK(contains(status, "(MIX): 2 mixtures of width 1099511627776 are too wide"));
  }
  {
    Mixture t;  // gate only
    CHECK(contains(t.load_with({t.g}), "(MIX): takes a gate and at least one expert, has 1 inputs"));
  }
  {
    Mixture t;  // 3 experts for a gate of 2
    CHECK(contains(t.load_with({t.g, t.h0, t.h1, t.h0}), "(MIX): gate (tensor 0) must have shape [-1, G * 3]"));
  }
  {
    Mixture t;  // the gate is not 2-D
    const int g3 = t.m.add_activation("g3", DType::FLOAT32, {-1, 2, 1});
    t.m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {t.g}, {g3});
    CHECK(contains(t.load_with({g3, t.h0, t.h1}), "must have shape [-1, G * 2]"));
  }
  {
    Mixture t;  // experts of different widths
    const int h4 = t.m.feature_tensor(t.m.add_feature("h4", schema::Side::ITEM, FeatureKind::DENSE, 4));
    CHECK(contains(t.load_with({t.g, t.h0, h4}), "(MIX): expert input 2 (tensor 4) must have shape [-1, 3]"));
  }
  {
    Mixture t;  // an expert of rank 1
    const int s = t.m.feature_tensor(t.m.add_feature("s", schema::Side::ITEM, FeatureKind::DENSE, 1));
    CHECK(contains(t.load_with({t.g, s, t.h1}), "(MIX): expert input 1"));
  }
  {
    Mixture t;  // output width is not D
    const int y2 = t.m.add_activation("y2", DType::FLOAT32, {-1, 2});
    CHECK(contains(t.load_with({t.g, t.h0, t.h1}, y2), "expected [-1, 3]"));
  }
  {
    Mixture t;  // an expert must be FLOAT32
    const int ids = t.m.feature_tensor(t.m.add_feature("ids", schema::Side::ITEM, FeatureKind::ID_LIST, 3, 10));
    CHECK(contains(t.load_with({t.g, t.h0, ids}), "expert (tensor"));
  }
  {
    Mixture t;  // the gate must be FLOAT32
    const int ids = t.m.feature_tensor(t.m.add_feature("ids", schema::Side::ITEM, FeatureKind::ID_LIST, 2, 10));
    CHECK(contains(t.load_with({ids, t.h0, t.h1}), "gate (tensor"));
  }
  {
    Mixture t;  // a constant expert with more than one row would need rows of its own
    const int c = t.m.add_constant_f32("c2", {2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(contains(t.load_with({t.g, t.h0, c}), "must be an activation or a constant with 1 row"));
  }
  {
    Mixture t;  // MIX takes no options
    CHECK(contains(t.load_with({t.g, t.h0, t.h1}, -1, OpOptions::AxisOptions,
                               [](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateAxisOptions(fbb, 1).Union(); }),
                   "takes no options but has AxisOptions"));
  }
}

TEST_CASE("tensor, feature, task and user_to_item errors") {
  {
    Tiny tiny;  // an activation without the row dimension
    tiny.m.add_activation("bad", DType::FLOAT32, {3});
    CHECK(contains(load_status(tiny.finish_with_fc()), "activation without leading row dimension"));
  }
  {
    Tiny tiny;  // a constant with a dynamic dimension
    const int buffer = tiny.m.add_raw_buffer(0, 8);
    tiny.m.add_constant_on_buffer("dyn", DType::FLOAT32, {-1, 2}, buffer);
    CHECK(contains(load_status(tiny.finish_with_fc()), "constant with dimension 0 = -1"));
  }
  {
    Tiny tiny;  // task column out of range
    tiny.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {tiny.x, tiny.w, tiny.b}, {tiny.y});
    tiny.m.add_task("cvr", schema::TaskKind::PROBABILITY, tiny.y, 2);
    const Status status = load_status(tiny.m.finish());
    CHECK(contains(status, "task 'cvr': column 2"));
  }
  {
    Tiny tiny;  // task on a tensor nobody writes
    tiny.m.add_task("orphan", schema::TaskKind::VALUE, tiny.y, 0);
    CHECK(contains(load_status(tiny.m.finish()), "task 'orphan'"));
  }
  {
    Tiny tiny;  // ID feature with a table size of 0
    tiny.m.add_feature("id", schema::Side::USER, FeatureKind::ID, 1, 0);
    CHECK(contains(load_status(tiny.finish_with_fc()), "feature 'id': table_size 0"));
  }
  {
    Tiny tiny;  // user_to_item naming an item tensor
    tiny.m.add_user_to_item(tiny.x);
    CHECK(contains(load_status(tiny.finish_with_fc()), "user_to_item[0]"));
  }
  {
    Tiny tiny;  // duplicate feature names
    tiny.m.add_feature("x", schema::Side::USER, FeatureKind::DENSE, 1);
    CHECK(contains(load_status(tiny.finish_with_fc()), "both named 'x'"));
  }
}

TEST_CASE("random corruption never crashes") {
  Tiny tiny;
  const ModelBytes bytes = tiny.finish_with_fc();
  std::mt19937 random(7);
  int rejected = 0, loaded_count = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const ModelBytes copy = ModelBytes::copy_of(bytes.get(), bytes.size);
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int f = 0; f < flips; ++f) copy.get()[random() % copy.size] ^= static_cast<uint8_t>(1 + random() % 255);
    // Re-sealed: what lies behind the checksum must be safe on its own.
    (void)seal_checksums(copy.get(), copy.size);
    auto loaded = Model::load_buffer(copy.get(), copy.size);
    if (!loaded.ok()) ++rejected;
    else ++loaded_count;
  }
  CHECK(rejected > 0);
  CHECK(loaded_count > 0);
}

}  // namespace
}  // namespace edgemtl
