// Quantisation in the converter: the encoders against naive expectations, the
// AUC against a pair count, and whole models: an embedding-heavy model with a
// user/item split quantised to int8 and fp16 (sizes, scores against f32, split
// against unsplit), and the per-layer decision falling back to f32.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "converter/onnx_import.h"
#include "converter/pipeline.h"
#include "converter/quantize.h"
#include "converter/quantize/ranking.h"
#include "converter/quantize/report.h"
#include "converter/test/onnx_builder.h"
#include "converter/writer.h"
#include "runtime/executor/session.h"
#include "runtime/kernels/half.h"
#include "schema/edgemtl_generated.h"
#include "tests/ranking_reference.h"

namespace edgemtl::converter::test {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;
constexpr int64_t kUsers = 2000, kItems = 1000, kDim = 32, kHidden = 16;

// The file edgemtl-convert writes: plan, write, report.
std::vector<uint8_t> quantized(const Graph& g, const QuantizeOptions& options, FILE* log) {
  const QuantizationPlan plan = plan_quantization(g, options, log);
  std::vector<uint8_t> file = write_model(g, &plan, options.write);
  report_quantization(g, plan, file, options, log);
  return file;
}

std::vector<float> random_floats(size_t n, unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// user_id, item_id -> two tables [*, 32] -> concat [B, 64] -> Gemm 16 + Relu -> Gemm 1 -> Sigmoid.
// The tables are 99.5% of the weights.
std::string embedding_heavy_onnx() {
  OnnxBuilder b;
  b.input("user_id", kInt64, {-1});
  b.input("item_id", kInt64, {-1});
  b.floats("user_table", {kUsers, kDim}, random_floats(kUsers * kDim, 1, 0.5f));
  b.floats("item_table", {kItems, kDim}, random_floats(kItems * kDim, 2, 0.5f));
  b.floats("W1", {kHidden, 2 * kDim}, random_floats(kHidden * 2 * kDim, 3, 0.4f));
  b.floats("b1", {kHidden}, random_floats(kHidden, 4, 0.1f));
  b.floats("W2", {1, kHidden}, random_floats(kHidden, 5, 0.6f));
  b.floats("b2", {1}, {-0.2f});
  OnnxBuilder::attr(b.node("Gather", {"user_table", "user_id"}, {"u"}, "Gather_user"), "axis", int64_t{0});
  OnnxBuilder::attr(b.node("Gather", {"item_table", "item_id"}, {"i"}, "Gather_item"), "axis", int64_t{0});
  OnnxBuilder::attr(b.node("Concat", {"u", "i"}, {"ui"}, "Concat_0"), "axis", int64_t{1});
  OnnxBuilder::attr(b.node("Gemm", {"ui", "W1", "b1"}, {"h_pre"}, "Gemm_1"), "transB", int64_t{1});
  b.node("Relu", {"h_pre"}, {"h"}, "Relu_2");
  OnnxBuilder::attr(b.node("Gemm", {"h", "W2", "b2"}, {"logit"}, "Gemm_3"), "transB", int64_t{1});
  b.node("Sigmoid", {"logit"}, {"ctr"}, "Sigmoid_4");
  b.output("ctr");
  return b.bytes();
}

Graph convert(bool split) {
  ImportOptions import;
  import.user_inputs = {"user_id"};
  Graph g = import_onnx_bytes(embedding_heavy_onnx(), import);
  ConvertOptions options;
  options.split_user_item_fc = split;
  run_pipeline(g, options);
  return g;
}

std::string temp_path(const char* name) {
  return "/tmp/edgemtl_quantize_test_" + std::to_string(getpid()) + "_" + name;
}

// `count` rows {"user_id": u, "item_id": i} with a label, written as JSONL.
std::string write_rows(const char* name, size_t count, unsigned seed) {
  const std::string path = temp_path(name);
  std::ofstream out(path);
  std::mt19937 rng(seed);
  for (size_t r = 0; r < count; ++r)
    out << "{\"user_id\": " << rng() % kUsers << ", \"item_id\": " << rng() % kItems
        << ", \"labels\": {\"ctr\": " << rng() % 2 << "}}\n";
  return path;
}

// `count` requests {"user": {"user_id": u}, "items": [{"item_id": i}, ...]} of `items` items each.
std::string write_requests(const char* name, size_t count, size_t items, unsigned seed) {
  const std::string path = temp_path(name);
  std::ofstream out(path);
  std::mt19937 rng(seed);
  for (size_t r = 0; r < count; ++r) {
    out << "{\"user\": {\"user_id\": " << rng() % kUsers << "}, \"items\": [";
    for (size_t i = 0; i < items; ++i) out << (i ? ", " : "") << "{\"item_id\": " << rng() % kItems << "}";
    out << "]}\n";
  }
  return path;
}

// Scores the same rows with a model file through the public runtime API.
std::vector<float> score(const std::vector<uint8_t>& file, size_t count, unsigned seed) {
  void* memory = std::aligned_alloc(64, (file.size() + 63) / 64 * 64);
  std::memcpy(memory, file.data(), file.size());
  std::vector<float> scores;
  {
    auto model = Model::load_buffer(memory, file.size());
    REQUIRE(model.ok());
    auto session = Session::create(**model, {});
    REQUIRE(session.ok());
    std::mt19937 rng(seed);
    const int user_feature = (*model)->find_feature("user_id"), item_feature = (*model)->find_feature("item_id");
    for (size_t r = 0; r < count; ++r) {
      const int64_t user = rng() % kUsers, item = rng() % kItems;
      rng();  // the label
      const FeatureInput user_input{user_feature, &user, nullptr, 1};
      REQUIRE((*session)->set_user(Span<const FeatureInput>(&user_input, 1)).is_ok());
      const FeatureInput item_input{item_feature, &item, nullptr, 1};
      auto result = (*session)->score(Span<const FeatureInput>(&item_input, 1), 1);
      REQUIRE(result.ok());
      scores.push_back((*result)[0]);
    }
  }
  std::free(memory);
  return scores;
}

double mean_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::fabs(double(a[i]) - b[i]);
  return sum / double(a.size());
}

// dtype of every FULLY_CONNECTED weight and EMBEDDING table in a file.
std::vector<schema::DType> weight_dtypes(const std::vector<uint8_t>& file, schema::OpType type) {
  const schema::Model* model = schema::GetModel(file.data());
  std::vector<schema::DType> dtypes;
  for (const schema::Stage* stage : {model->user_stage(), model->item_stage(), model->cross_stage()})
    if (stage && stage->operators())
      for (const schema::Operator* op : *stage->operators())
        if (op->type() == type)
          dtypes.push_back(model->tensors()->Get(op->inputs()->Get(type == schema::OpType::EMBEDDING ? 0 : 1))->dtype());
  return dtypes;
}

TEST_CASE("float_to_half rounds to nearest even and inverts half_to_float") {
  CHECK(float_to_half(1.0f) == 0x3C00);
  CHECK(float_to_half(-2.0f) == 0xC000);
  CHECK(float_to_half(65504.0f) == 0x7BFF);
  CHECK(float_to_half(65520.0f) == 0x7C00);              // halfway to the next (2^16): rounds to even = inf
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // exactly halfway: to even
  CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(float_to_half(std::ldexp(1.0f, -26)) == 0x0000);  // below half of it
  CHECK(float_to_half(-0.0f) == 0x8000);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    if ((half & 0x7C00) == 0x7C00 && (half & 0x03FF)) continue;  // NaN payloads
    REQUIRE(float_to_half(half_to_float(half)) == half);
  }
}

TEST_CASE("int8 encoders: symmetric scales, exact zero, bounded error") {
  const std::vector<float> values = {0.5f, -1.27f, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, 2.0f, -1.0f};
  const EncodedConstant rows = encode_int8_per_row(values, 3, 3);
  REQUIRE(rows.scales.size() == 3);
  CHECK(rows.scales[0] == doctest::Approx(1.27f / 127));
  CHECK(rows.scales[1] == doctest::Approx(3.0f / 127));  // the zero row borrows the largest scale
  for (size_t i = 0; i < values.size(); ++i) {
    const float dequantised = rows.scales[i / 3] * static_cast<int8_t>(rows.bytes[i]);
    CHECK(std::fabs(dequantised - values[i]) <= rows.scales[i / 3] / 2 + 1e-7f);
  }
  CHECK(static_cast<int8_t>(rows.bytes[1]) == -127);
  CHECK(static_cast<int8_t>(rows.bytes[6]) == 127);
  const EncodedConstant tensor = encode_int8_per_tensor(values);
  CHECK(tensor.axis == -1);
  CHECK(tensor.scales == std::vector<float>{3.0f / 127});

  const ActivationQuantization q = quantize_range(-1.0f, 3.0f);
  CHECK(q.scale == doctest::Approx(4.0f / 255));
  CHECK(q.scale * (-128 - q.zero_point) <= -1.0f + q.scale);  // the range is covered
  CHECK(q.scale * (127 - q.zero_point) >= 3.0f - q.scale);
  const ActivationQuantization relu = quantize_range(0.5f, 2.0f);  // widened to include 0
  CHECK(relu.zero_point == -128);

  const EncodedConstant bias = encode_int32_bias({0.3f, -0.7f}, 0.01f, {0.002f, 0.05f});
  int32_t q0, q1;
  std::memcpy(&q0, bias.bytes.data(), 4);
  std::memcpy(&q1, bias.bytes.data() + 4, 4);
  CHECK(q0 == 15000);
  CHECK(q1 == -1400);

  std::vector<float> spread(100001);
  for (size_t i = 0; i < spread.size(); ++i) spread[i] = static_cast<float>(i);
  spread[0] = -1e6f;  // one outlier
  const auto [low, high] = estimate_range(spread, RangeEstimator::kPercentile);
  CHECK(low == 10.0f);
  CHECK(high == 99990.0f);
  const auto [min, max] = estimate_range(spread, RangeEstimator::kMinMax);
  CHECK(min == -1e6f);
  CHECK(max == 100000.0f);
}

// The half at bytes[2 i] (little-endian), widened.
float half_at(const std::vector<uint8_t>& bytes, size_t i) {
  return half_to_float(static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
}

TEST_CASE("table encoders: int8 rows with a half scale, 4-bit rows with a half scale and offset") {
  // 3 rows of 5 (odd: the last byte of a 4-bit row holds one value), a zero row, a constant row.
  const std::vector<float> values = {0.5f, -1.27f, 0.25f, 0.0f, 1.0f,  0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
                                     -0.3f, -0.3f, -0.3f, -0.3f, -0.3f};
  EncodedConstant int8;
  REQUIRE(encode_int8_rows_f16(values, 3, 5, &int8));
  CHECK(int8.type == StoredType::kInt8RowF16);
  REQUIRE(int8.bytes.size() == 15);
  REQUIRE(int8.row_params.size() == 3 * 2);
  CHECK(half_at(int8.row_params, 0) == half_to_float(float_to_half(1.27f / 127)));
  for (size_t i = 0; i < values.size(); ++i) {
    const float scale = half_at(int8.row_params, i / 5);
    CHECK(std::fabs(scale * static_cast<int8_t>(int8.bytes[i]) - values[i]) <= scale / 2 + 1e-7f);
  }
  EncodedConstant int4;
  REQUIRE(encode_uint4_rows_f16(values, 3, 5, &int4));
  CHECK(int4.type == StoredType::kUint4RowF16);
  REQUIRE(int4.bytes.size() == 3 * 3);
  REQUIRE(int4.row_params.size() == 3 * 4);
  for (size_t r = 0; r < 3; ++r) {
    const float scale = half_at(int4.row_params, 2 * r), offset = half_at(int4.row_params, 2 * r + 1);
    CHECK((int4.bytes[r * 3 + 2] >> 4) == 0);  // the unused high nibble of an odd row
    for (size_t c = 0; c < 5; ++c) {
      const uint8_t byte = int4.bytes[r * 3 + c / 2];
      const int q = c % 2 ? byte >> 4 : byte & 0x0F;
      const float x = values[r * 5 + c];
      // The offset is the row's minimum rounded to a half: within a half's rounding of it.
      CHECK(std::fabs(scale * q + offset - x) <= scale / 2 + std::fabs(x) * 1e-3f + 1e-7f);
    }
  }
  CHECK(half_at(int4.row_params, 1) == half_to_float(float_to_half(-1.27f)));  // row 0: offset = min
  EncodedConstant too_large;
  CHECK_FALSE(encode_int8_rows_f16({1e8f, 0.0f}, 1, 2, &too_large));  // scale beyond a half
  CHECK_FALSE(encode_uint4_rows_f16({1e5f, 0.0f}, 1, 2, &too_large));
}

// UINT4_ROW_CODEBOOK decoded by the schema's formula: codebook[index[r]] * (q - 7.5).
struct CodebookTable {
  std::vector<float> codebook;
  const EncodedConstant& e;
  int64_t cols;
  explicit CodebookTable(const EncodedConstant& encoded, int64_t columns) : codebook(256), e(encoded), cols(columns) {
    REQUIRE(e.row_params.size() >= 1024);
    std::memcpy(codebook.data(), e.row_params.data(), 1024);
  }
  uint8_t index(int64_t r) const { return e.row_params[1024 + static_cast<size_t>(r)]; }
  float scale(int64_t r) const { return codebook[index(r)]; }
  float value(int64_t r, int64_t c) const {
    const uint8_t byte = e.bytes[static_cast<size_t>(r * ((cols + 1) / 2) + c / 2)];
    const int q = c % 2 ? byte >> 4 : byte & 0x0F;
    return static_cast<float>(double(scale(r)) * (q - 7.5));
  }
};

// Every row within half a step of its values, its entry the smallest >= max|row| / 7.5; returns
// the mean |error|.
double check_codebook_rows(const std::vector<float>& values, int64_t rows, int64_t cols, const EncodedConstant& e) {
  REQUIRE(e.type == StoredType::kUint4Codebook);
  REQUIRE(e.bytes.size() == static_cast<size_t>(rows * ((cols + 1) / 2)));
  REQUIRE(e.row_params.size() == static_cast<size_t>(1024 + rows));
  const CodebookTable t(e, cols);
  size_t bad_entries = 0, not_smallest = 0, too_far = 0;
  for (float c : t.codebook) bad_entries += !(c >= 0.0f && std::isfinite(c));
  double error = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(values[r * cols + c]));
    const float needed = m / 7.5f, scale = t.scale(r);
    if (scale < needed) ++not_smallest;
    for (int k = 0; k < 256; ++k)  // no smaller entry would do
      if (t.codebook[k] >= needed && t.codebook[k] < scale) ++not_smallest;
    for (int64_t c = 0; c < cols; ++c) {
      const double diff = std::fabs(double(t.value(r, c)) - values[r * cols + c]);
      error += diff;
      if (diff > scale / 2 * (1 + 1e-6)) ++too_far;
    }
  }
  CHECK(bad_entries == 0);
  CHECK(not_smallest == 0);
  CHECK(too_far == 0);
  return error / double(rows * cols);
}

TEST_CASE("table encoder: 4-bit rows with a codebook scale index (UINT4_ROW_CODEBOOK)") {
  SUBCASE("few distinct scales: the codebook holds them exactly, a zero row decodes to +0") {
    // 4 rows of 5: a zero row first, two rows of the same max|x|, one larger.
    const std::vector<float> values = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f,  0.5f, -1.5f, 0.25f, 0.0f, 1.0f,
                                       -1.5f, 1.5f, 0.1f, 0.2f, 0.3f,  3.0f, -0.7f, 2.2f, -3.0f, 0.01f};
    EncodedConstant e;
    REQUIRE(encode_uint4_codebook(values, 4, 5, &e));
    check_codebook_rows(values, 4, 5, e);
    const CodebookTable t(e, 5);
    CHECK(t.codebook[0] == 0.0f);
    CHECK(t.codebook[1] == 1.5f / 7.5f);
    CHECK(t.codebook[2] == 3.0f / 7.5f);
    for (int k = 3; k < 256; ++k) CHECK(t.codebook[k] == 0.0f);  // unused
    CHECK(t.index(0) == 0);
    CHECK(t.index(1) == 1);
    CHECK(t.index(2) == 1);
    CHECK(t.index(3) == 2);
    for (int64_t c = 0; c < 5; ++c) {
      const float zero = t.value(0, c);
      uint32_t bits;
      std::memcpy(&bits, &zero, 4);
      CHECK(bits == 0u);  // +0, not -0
    }
    CHECK((e.bytes[2] >> 4) == 0);  // the unused high nibble of an odd row
    CHECK(t.value(3, 0) == 3.0f);    // max|row| is a level: +-7.5 steps
    CHECK(t.value(3, 3) == -3.0f);
  }
  SUBCASE("many rows: a built codebook, within half a step everywhere, deterministic") {
    const int64_t rows = 4000, cols = 16;
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> values(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      const float spread = std::exp(1.5f * normal(rng));  // row scales over a few decades
      for (int64_t c = 0; c < cols; ++c) values[r * cols + c] = r == 7 ? 0.0f : spread * normal(rng);
    }
    EncodedConstant e, again, int4;
    REQUIRE(encode_uint4_codebook(values, rows, cols, &e));
    const double error = check_codebook_rows(values, rows, cols, e);
    REQUIRE(encode_uint4_codebook(values, rows, cols, &again));
    CHECK(again.bytes == e.bytes);
    CHECK(again.row_params == e.row_params);
    const CodebookTable t(e, cols);
    CHECK(t.codebook[0] == 0.0f);  // the zero row's entry
    CHECK(t.index(7) == 0);
    for (int k = 2; k < 256; ++k) CHECK(t.codebook[k] > t.codebook[k - 1]);  // 255 distinct scales after 0
    // The entries fit the rows: on average a row's entry exceeds its needed scale by little.
    double overshoot = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      if (r == 7) continue;
      float m = 0.0f;
      for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(values[r * cols + c]));
      overshoot += t.scale(r) / (m / 7.5f);
    }
    overshoot /= double(rows - 1);
    CHECK(overshoot < 1.03);
    REQUIRE(encode_uint4_rows_f16(values, rows, cols, &int4));
    double int4_error = 0.0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float scale = half_at(int4.row_params, 2 * r), offset = half_at(int4.row_params, 2 * r + 1);
        const uint8_t byte = int4.bytes[r * 8 + c / 2];
        int4_error += std::fabs(scale * (c % 2 ? byte >> 4 : byte & 0x0F) + offset - values[r * cols + c]);
      }
    int4_error /= double(rows * cols);
    MESSAGE("mean |error|: codebook ", error, ", int4 ", int4_error, "; mean entry / needed scale ", overshoot);
    CHECK(error < 1.5 * int4_error);  // symmetric levels and the codebook's rounding cost a little
  }
  SUBCASE("a non-finite value is not encoded") {
    EncodedConstant e;
    CHECK_FALSE(encode_uint4_codebook({1.0f, NAN}, 1, 2, &e));
    CHECK_FALSE(encode_uint4_codebook({INFINITY, 0.0f}, 2, 1, &e));
  }
}

TEST_CASE("roc_auc equals the fraction of correctly ordered positive/negative pairs") {
  std::mt19937 rng(3);
  std::vector<float> scores(300);
  std::vector<int> labels(300);
  for (size_t i = 0; i < scores.size(); ++i) {
    labels[i] = static_cast<int>(rng() % 3 == 0);
    scores[i] = static_cast<float>(rng() % 40) + (labels[i] ? 5.0f : 0.0f);  // many ties
  }
  double pairs = 0, good = 0;
  for (size_t i = 0; i < scores.size(); ++i)
    for (size_t j = 0; j < scores.size(); ++j)
      if (labels[i] && !labels[j]) {
        pairs += 1;
        good += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
  CHECK(roc_auc(scores, labels) == doctest::Approx(good / pairs).epsilon(1e-12));
  CHECK(std::isnan(roc_auc({1.0f, 2.0f}, {1, 1})));
}

TEST_CASE("spearman: the naive definition with ties, and its extremes") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 2 + rng() % 60;
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = static_cast<float>(rng() % 7);  // many ties
      b[i] = a[i] + static_cast<float>(rng() % 5) - 2.0f;
    }
    if (edgemtl::test::naive_spearman(a, b) != edgemtl::test::naive_spearman(a, b)) continue;  // a constant side
    CHECK(spearman(a.data(), b.data(), n) == doctest::Approx(edgemtl::test::naive_spearman(a, b)).epsilon(1e-12));
  }
  const std::vector<float> up = {1, 2, 3, 4, 5}, down = {9, 7, 5, 3, 1}, flat = {2, 2, 2, 2, 2};
  CHECK(spearman(up.data(), up.data(), 5) == doctest::Approx(1.0));
  CHECK(spearman(up.data(), down.data(), 5) == doctest::Approx(-1.0));
  CHECK(std::isnan(spearman(up.data(), flat.data(), 5)));
  CHECK(std::isnan(spearman(up.data(), up.data(), 1)));
}

TEST_CASE("top_k_overlap counts the candidates both put in their top k") {
  std::mt19937 rng(6);
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 1 + rng() % 60, k = 1 + rng() % n;
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(rng() % 9), b[i] = static_cast<float>(rng() % 9);
    CHECK(top_k_overlap(a.data(), b.data(), n, k) == edgemtl::test::naive_top_k_overlap(a, b, k));
  }
  const std::vector<float> reference = {5, 4, 3, 2, 1};
  const std::vector<float> reversed = {1, 2, 3, 4, 5}, swapped = {5, 3, 4, 1, 2};
  CHECK(top_k_overlap(reference.data(), reversed.data(), 5, 2) == 0.0);
  CHECK(top_k_overlap(reference.data(), swapped.data(), 5, 2) == 0.5);  // {0, 1} against {0, 2}
  CHECK(top_k_overlap(reference.data(), swapped.data(), 5, 3) == 1.0);
  const std::vector<float> tied = {1, 1, 1, 1, 0};  // the earlier candidates win the ties
  CHECK(top_k_overlap(reference.data(), tied.data(), 5, 2) == 1.0);
  CHECK(std::isnan(top_k_overlap(reference.data(), reversed.data(), 5, 6)));
}

TEST_CASE("spread_of: median and 10th percentile of the values that are numbers") {
  std::vector<double> values = {std::nan("")};
  for (int v = 20; v >= 1; --v) values.push_back(v);
  const Spread s = spread_of(values);
  CHECK(s.count == 20);
  CHECK(s.median == 10.0);  // the lower of the two middle values
  CHECK(s.p10 == 2.0);
  CHECK(spread_of({}).count == 0);
}

TEST_CASE("int8: the ranking target sends layers back to f32 by measurement, and --validate reports it") {
  const Graph g = convert(false);
  const std::string calibration = write_requests("calibration_ranking.jsonl", 12, 40, 51);
  QuantizeOptions options;
  options.mode = QuantizeMode::kInt8;
  options.calibration_path = calibration;
  options.validation_path = calibration;
  options.max_mean_delta = 1.0;        // the score budget takes anything
  options.ranking.min_spearman = -1.0;  // and so does the ranking target
  options.ranking.min_top10_overlap = 0.0;
  CHECK(weight_dtypes(quantized(g, options, nullptr), schema::OpType::FULLY_CONNECTED) ==
        std::vector<schema::DType>{schema::DType::INT8, schema::DType::INT8});
  options.ranking.min_spearman = 1.0;  // only f32's own order: no int8 layer can keep it exactly
  char* text = nullptr;
  size_t size = 0;
  FILE* log = open_memstream(&text, &size);
  CHECK(weight_dtypes(quantized(g, options, log), schema::OpType::FULLY_CONNECTED) ==
        std::vector<schema::DType>{schema::DType::FLOAT32, schema::DType::FLOAT32});
  std::fclose(log);
  const std::string printed(text, size);
  std::free(text);
  CHECK(printed.find("ranking, ctr: Spearman") != std::string::npos);
  CHECK(printed.find("ranking against f32, per request") != std::string::npos);
  CHECK(printed.find("(  12)") != std::string::npos);  // 12 requests of 40 items: Spearman, top-5 and top-10
  std::remove(calibration.c_str());
}

TEST_CASE("an embedding-heavy model: int8 <= 0.30x and fp16 <= 0.52x of f32, scores close to f32") {
  const Graph g = convert(/*split=*/true);
  const std::string calibration = write_rows("calibration.jsonl", 300, 11);
  const std::vector<uint8_t> f32 = write_model(g);
  QuantizeOptions int8_options;
  int8_options.mode = QuantizeMode::kInt8;
  int8_options.calibration_path = calibration;
  int8_options.validation_path = calibration;  // exercises the report
  const std::vector<uint8_t> int8 = quantized(g, int8_options, nullptr);
  QuantizeOptions fp16_options;
  fp16_options.mode = QuantizeMode::kFloat16;
  const std::vector<uint8_t> fp16 = quantized(g, fp16_options, nullptr);
  MESSAGE("f32 ", f32.size(), " bytes, int8 x", double(int8.size()) / f32.size(), ", fp16 x",
          double(fp16.size()) / f32.size());
  CHECK(int8.size() <= 0.30 * f32.size());
  CHECK(fp16.size() <= 0.52 * f32.size());
  CHECK(weight_dtypes(int8, schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::INT8_ROW_F16, schema::DType::INT8_ROW_F16});
  CHECK(weight_dtypes(fp16, schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::FLOAT16, schema::DType::FLOAT16});

  const std::vector<float> reference = score(f32, 500, 12);
  const double int8_difference = mean_abs_difference(reference, score(int8, 500, 12));
  const double fp16_difference = mean_abs_difference(reference, score(fp16, 500, 12));
  MESSAGE("mean |score difference| to f32: int8 ", int8_difference, ", fp16 ", fp16_difference);
  CHECK(int8_difference <= 0.01);
  CHECK(fp16_difference <= 0.001);
  std::remove(calibration.c_str());
}

TEST_CASE("int8 with 4-bit tables <= 0.18x of f32; auto chooses per table by measurement and reports it") {
  const Graph g = convert(/*split=*/true);
  const std::string calibration = write_requests("calibration_tables.jsonl", 12, 40, 53);
  const std::vector<uint8_t> f32 = write_model(g);
  QuantizeOptions options;
  options.mode = QuantizeMode::kInt8;
  options.calibration_path = calibration;
  options.int8_tables = TableEncoding::kInt4;
  const std::vector<uint8_t> int4 = quantized(g, options, nullptr);
  MESSAGE("f32 ", f32.size(), " bytes, int8 with int4 tables x", double(int4.size()) / f32.size());
  CHECK(int4.size() <= 0.18 * f32.size());
  CHECK(weight_dtypes(int4, schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::UINT4_ROW_F16, schema::DType::UINT4_ROW_F16});
  const std::vector<float> reference = score(f32, 500, 12);
  const double int4_difference = mean_abs_difference(reference, score(int4, 500, 12));
  MESSAGE("mean |score difference| to f32, int4 tables: ", int4_difference);
  CHECK(int4_difference <= 0.03);
  // int4-codebook: one byte of parameters a row instead of four.
  options.int8_tables = TableEncoding::kInt4Codebook;
  const std::vector<uint8_t> codebook = quantized(g, options, nullptr);
  MESSAGE("int8 with int4-codebook tables x", double(codebook.size()) / f32.size());
  CHECK(codebook.size() < int4.size());
  CHECK(weight_dtypes(codebook, schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::UINT4_ROW_CODEBOOK, schema::DType::UINT4_ROW_CODEBOOK});
  const double codebook_difference = mean_abs_difference(reference, score(codebook, 500, 12));
  MESSAGE("mean |score difference| to f32, int4-codebook tables: ", codebook_difference);
  CHECK(codebook_difference <= 0.03);

  // auto: a loose target takes the smallest form (int4-codebook) for both tables, an exact
  // one (Spearman 1 on every request: no 4-bit table keeps it) steps both up to int8; the
  // log names each form measured and the choice.
  options.int8_tables = TableEncoding::kAuto;
  options.max_mean_delta = 1.0;
  options.ranking.min_spearman = -1.0;
  options.ranking.min_top10_overlap = 0.0;
  CHECK(weight_dtypes(quantized(g, options, nullptr), schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::UINT4_ROW_CODEBOOK, schema::DType::UINT4_ROW_CODEBOOK});
  options.ranking.min_spearman = 1.0;
  char* text = nullptr;
  size_t size = 0;
  FILE* log = open_memstream(&text, &size);
  CHECK(weight_dtypes(quantized(g, options, log), schema::OpType::EMBEDDING) ==
        std::vector<schema::DType>{schema::DType::INT8_ROW_F16, schema::DType::INT8_ROW_F16});
  std::fclose(log);
  const std::string printed(text, size);
  std::free(text);
  CHECK(printed.find("int8 tables auto: per table alone in each smaller form") != std::string::npos);
  CHECK(printed.find("UINT4_ROW_CODEBOOK") != std::string::npos);  // each form measured alone
  CHECK(printed.find("UINT4_ROW_F16") != std::string::npos);
  CHECK(printed.find("tables chosen: 0 int4-codebook, 0 int4, 2 int8 of 2") != std::string::npos);
  CHECK(printed.find("INT8_ROW_F16") != std::string::npos);  // the report's dtype column
  std::remove(calibration.c_str());
}

TEST_CASE("int8: the split model's user part W_u.u stays exact enough to agree with the unsplit model") {
  const Graph split = convert(true), unsplit = convert(false);
  size_t user_fcs = 0;
  for (const Node& n : split.nodes)
    if (!n.dead && n.op == Op::kFullyConnected && n.stage == Side::kUser) ++user_fcs;
  REQUIRE(user_fcs == 1);  // the split happened
  const std::string calibration = write_rows("calibration_split.jsonl", 300, 21);
  QuantizeOptions options;
  options.mode = QuantizeMode::kInt8;
  options.calibration_path = calibration;
  const std::vector<float> f32 = score(write_model(unsplit), 500, 22);
  options.max_mean_delta = 0.01;  // this random model's layers cost ~0.003 each: keep them int8
  const std::vector<uint8_t> split_file = quantized(split, options, nullptr);
  CHECK(weight_dtypes(split_file, schema::OpType::FULLY_CONNECTED) ==
        std::vector<schema::DType>{schema::DType::INT8, schema::DType::INT8, schema::DType::INT8});
  const std::vector<float> split_int8 = score(split_file, 500, 22);
  const std::vector<float> unsplit_int8 = score(quantized(unsplit, options, nullptr), 500, 22);
  const double split_vs_unsplit = mean_abs_difference(split_int8, unsplit_int8);
  const double unsplit_vs_f32 = mean_abs_difference(unsplit_int8, f32);
  MESSAGE("mean |difference|: split vs unsplit int8 ", split_vs_unsplit, ", unsplit int8 vs f32 ", unsplit_vs_f32);
  CHECK(split_vs_unsplit <= options.max_mean_delta);
  CHECK(unsplit_vs_f32 <= options.max_mean_delta);
  CHECK(mean_abs_difference(split_int8, f32) <= options.max_mean_delta);
  std::remove(calibration.c_str());
}

TEST_CASE("int8: a calibration file of few items gets a warning, a large one none") {
  const Graph g = convert(false);
  for (const size_t rows : {size_t{20}, size_t{300}}) {
    CAPTURE(rows);
    const std::string calibration = write_rows("calibration_size.jsonl", rows, 41);
    QuantizeOptions options;
    options.mode = QuantizeMode::kInt8;
    options.calibration_path = calibration;
    char* text = nullptr;
    size_t size = 0;
    FILE* log = open_memstream(&text, &size);
    quantized(g, options, log);
    std::fclose(log);
    const std::string printed(text, size);
    std::free(text);
    CHECK((printed.find("warning: the calibration file has") != std::string::npos) == (rows < 200));
    std::remove(calibration.c_str());
  }
}

TEST_CASE("int8: a zero budget sends every fully-connected layer back to f32, by measurement") {
  const Graph g = convert(false);
  const std::string calibration = write_rows("calibration_budget.jsonl", 100, 31);
  QuantizeOptions options;
  options.mode = QuantizeMode::kInt8;
  options.calibration_path = calibration;
  options.max_mean_delta = 1.0;  // anything goes: every layer int8
  CHECK(weight_dtypes(quantized(g, options, nullptr), schema::OpType::FULLY_CONNECTED) ==
        std::vector<schema::DType>{schema::DType::INT8, schema::DType::INT8});
  options.max_mean_delta = 0.0;
  CHECK(weight_dtypes(quantized(g, options, nullptr), schema::OpType::FULLY_CONNECTED) ==
        std::vector<schema::DType>{schema::DType::FLOAT32, schema::DType::FLOAT32});
  std::remove(calibration.c_str());
}

TEST_CASE("bad calibration input is a ConversionError naming the problem") {
  const Graph g = convert(false);
  QuantizeOptions options;
  options.mode = QuantizeMode::kInt8;
  options.calibration_path = temp_path("missing.jsonl");
  CHECK_THROWS_WITH_AS(quantized(g, options, nullptr), doctest::Contains("cannot read"), ConversionError);
  const std::string bad = temp_path("bad.jsonl");
  std::ofstream(bad) << "{\"user_id\": 1}\n";
  options.calibration_path = bad;
  CHECK_THROWS_WITH_AS(quantized(g, options, nullptr), doctest::Contains("missing feature 'item_id'"),
                       ConversionError);
  std::ofstream(bad) << "not json\n";
  CHECK_THROWS_WITH_AS(quantized(g, options, nullptr), doctest::Contains("bad.jsonl:1: not valid JSON"), ConversionError);
  std::ofstream(bad) << "[1, 2]\n";
  CHECK_THROWS_WITH_AS(quantized(g, options, nullptr), doctest::Contains("bad.jsonl:1: expected a JSON object"),
                       ConversionError);
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace edgemtl::converter::test
