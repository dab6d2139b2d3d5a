// Quantised model files: INT8 / FLOAT16 fully-connected weights and embedding
// tables load, score like naive loops over the schema's formulas, and every
// malformed quantisation is refused with a message naming it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/format/model.h"
#include "runtime/test_util/model_builder.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpOptions;
using schema::OpType;
using test::ModelBuilder;
using test::ModelBytes;
using test::load_status;

constexpr float kInScale = 0.02f, kOutScale = 0.05f;
constexpr int64_t kInZero = -10, kOutZero = 3;

// item feature x [-1, 3] -> FC(INT8 w [2, 3], INT32 b [2]) -> y [-1, 2]; task on column 1.
struct Int8Fc {
  ModelBuilder m;
  int x, w, b, y;
  std::vector<int8_t> weight{10, -20, 30, 127, 0, -127};
  std::vector<float> scales{0.01f, 0.002f};
  std::vector<int32_t> bias{500, -1000};
  Int8Fc() {
    x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
    w = m.add_constant("w", DType::INT8, {2, 3}, weight.data(), weight.size());
    b = m.add_constant("b", DType::INT32, {2}, bias.data(), bias.size() * 4);
    y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  }
  ModelBytes finish(ModelBuilder::OptionsFn options = test::quantized_fc_options(schema::Activation::NONE, kInScale,
                                                                                  kInZero, kOutScale, kOutZero)) {
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w, b}, {y},
             options ? OpOptions::FullyConnectedOptions : OpOptions::NONE, options, "Gemm_q");
    m.add_task("a", schema::TaskKind::VALUE, y, 0);
    m.add_task("b", schema::TaskKind::VALUE, y, 1);
    return m.finish();
  }
};


bool refused_with(const ModelBytes& bytes, const char* text) {
  const Status status = load_status(bytes);
  const bool found = !status.is_ok() && std::strstr(status.message(), text) != nullptr;
  if (!found) MESSAGE("message: ", std::string(status.is_ok() ? "(loaded)" : status.message()));
  return found;
}

// Scores `rows` rows of the dense feature "x" (width 3) with a one-feature model.
std::vector<float> score_dense(const ModelBytes& bytes, const std::vector<float>& x, size_t rows) {
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE(model.ok());
  auto session = Session::create(**model, {});
  REQUIRE(session.ok());
  const FeatureInput input{(*model)->find_feature("x"), nullptr, x.data(), x.size()};
  auto scores = (*session)->score(Span<const FeatureInput>(&input, 1), rows);
  REQUIRE(scores.ok());
  return std::vector<float>(scores->begin(), scores->end());
}

TEST_CASE("an INT8 fully-connected layer loads and scores like the schema's formula") {
  Int8Fc fc;
  fc.m.set_quantization(fc.w, fc.scales, {0, 0}, 0);
  const ModelBytes bytes = fc.finish();
  const std::vector<float> x = {0.5f, -0.3f, 1.2f, -2.0f, 0.0f, 0.7f};
  const std::vector<float> scores = score_dense(bytes, x, 2);
  REQUIRE(scores.size() == 4);
  for (size_t r = 0; r < 2; ++r)
    for (size_t c = 0; c < 2; ++c) {
      int64_t acc = fc.bias[c];
      for (size_t k = 0; k < 3; ++k) {
        const double xq = std::min(127.0, std::max(-128.0, std::nearbyint(double(x[r * 3 + k]) / kInScale) + double(kInZero)));
        acc += static_cast<int64_t>(xq - kInZero) * fc.weight[c * 3 + k];
      }
      const double yq =
          std::min(127.0, std::max(-128.0, std::nearbyint(double(acc) * kInScale * fc.scales[c] / kOutScale) + double(kOutZero)));
      CHECK(std::fabs(scores[r * 2 + c] - kOutScale * (yq - kOutZero)) <= kOutScale * 1.001);
    }
}

// item feature x [-1, 3] -> dynamic int8 FC(INT8 w [2, 3], bias of `bias_dtype` [2]) -> y [-1, 2].
ModelBytes dynamic_fc(DType weight_dtype, DType bias_dtype, ModelBuilder::OptionsFn options) {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
  const int8_t weight[6] = {10, -20, 30, 127, 0, -127};
  const float weight_f32[6] = {0.1f, -0.2f, 0.3f, 0.25f, 0.0f, -0.25f};
  const int w = weight_dtype == DType::INT8 ? m.add_constant("w", DType::INT8, {2, 3}, weight, sizeof(weight))
                                            : m.add_constant("w", DType::FLOAT32, {2, 3}, weight_f32, sizeof(weight_f32));
  if (weight_dtype == DType::INT8) m.set_quantization(w, {0.01f, 0.002f}, {}, 0);
  const float bias_f32[2] = {0.5f, -1.5f};
  const int32_t bias_i32[2] = {50, -150};
  const int b = bias_dtype == DType::FLOAT32 ? m.add_constant("b", DType::FLOAT32, {2}, bias_f32, sizeof(bias_f32))
                                             : m.add_constant("b", DType::INT32, {2}, bias_i32, sizeof(bias_i32));
  const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w, b}, {y}, OpOptions::FullyConnectedOptions, options,
           "Gemm_dynamic");
  m.add_task("a", schema::TaskKind::VALUE, y, 0);
  m.add_task("b", schema::TaskKind::VALUE, y, 1);
  return m.finish();
}

TEST_CASE("a dynamic INT8 fully-connected layer loads and scores like the schema's formula") {
  const ModelBytes bytes = dynamic_fc(DType::INT8, DType::FLOAT32, test::dynamic_fc_options(schema::Activation::NONE));
  const std::vector<float> x = {0.5f, -0.3f, 1.2f, -2.0f, 0.0f, 0.7f};
  const std::vector<float> scores = score_dense(bytes, x, 2);
  REQUIRE(scores.size() == 4);
  const int8_t weight[6] = {10, -20, 30, 127, 0, -127};
  const double scales[2] = {0.01, 0.002}, bias[2] = {0.5, -1.5};
  for (size_t r = 0; r < 2; ++r) {
    // the row's own range, with 0: [-0.3, 1.2] and [-2.0, 0.7]
    const float lo = std::min(0.0f, std::min({x[r * 3], x[r * 3 + 1], x[r * 3 + 2]}));
    const float hi = std::max(0.0f, std::max({x[r * 3], x[r * 3 + 1], x[r * 3 + 2]}));
    const float s = (hi - lo) / 255.0f;
    for (size_t c = 0; c < 2; ++c) {
      int64_t acc = 0;  // sum of (xq - z) w with xq - z = round(x / s): no value reaches the clamp here
      for (size_t k = 0; k < 3; ++k) acc += static_cast<int64_t>(std::nearbyint(x[r * 3 + k] / s)) * weight[c * 3 + k];
      CHECK(scores[r * 2 + c] == doctest::Approx(double(acc) * s * scales[c] + bias[c]).epsilon(1e-6));
    }
  }
}

TEST_CASE("dynamic INT8 fully-connected layers: malformed files are refused, and what an older runtime sees") {
  using schema::Activation;
  // Accepted: INT8 weight, FLOAT32 bias, input_mode DYNAMIC_ROW, no activation quantisation.
  CHECK(load_status(dynamic_fc(DType::INT8, DType::FLOAT32, test::dynamic_fc_options(Activation::RELU))).is_ok());
  // The INT32 bias belongs to static int8.
  CHECK(refused_with(dynamic_fc(DType::INT8, DType::INT32, test::dynamic_fc_options(Activation::NONE)),
                     "is INT32, expected FLOAT32"));
  // Activation quantisation beside DYNAMIC_ROW.
  auto both = [](flatbuffers::FlatBufferBuilder& fbb) {
    std::vector<float> scale{0.1f};
    std::vector<int64_t> zero{0};
    auto q = schema::CreateQuantizationDirect(fbb, &scale, &zero, -1);
    return schema::CreateFullyConnectedOptions(fbb, Activation::NONE, 0.01f, q, q,
                                               schema::InputQuantizationMode::DYNAMIC_ROW)
        .Union();
  };
  CHECK(refused_with(dynamic_fc(DType::INT8, DType::FLOAT32, both), "takes no input_quantization"));
  // DYNAMIC_ROW on an f32 weight.
  CHECK(refused_with(dynamic_fc(DType::FLOAT32, DType::FLOAT32, test::dynamic_fc_options(Activation::NONE)),
                     "quantisation parameters on a FLOAT32 weight"));
  // An input_mode from a newer format.
  auto future = [](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateFullyConnectedOptions(fbb, Activation::NONE, 0.01f, 0, 0,
                                               static_cast<schema::InputQuantizationMode>(7))
        .Union();
  };
  const Status status = load_status(dynamic_fc(DType::INT8, DType::FLOAT32, future));
  CHECK(status.code() == Error::kUnsupported);
  // A runtime from before input_mode ignores the field: it sees exactly this file without it,
  // an INT8 weight without input_quantization (and an f32 bias), and refuses it.
  CHECK(refused_with(dynamic_fc(DType::INT8, DType::FLOAT32, test::fc_options(Activation::NONE)),
                     "input_quantization must have"));
}

TEST_CASE("a FLOAT16 fully-connected weight computes like its f32 value") {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
  const uint16_t halves[6] = {0x3C00, 0xC000, 0x3800, 0x3400, 0x0000, 0xBC00};  // 1 -2 0.5 / 0.25 0 -1
  const int w = m.add_constant("w", DType::FLOAT16, {2, 3}, halves, sizeof(halves));
  const int b = m.add_constant_f32("b", {2}, {0.5f, -0.5f});
  const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w, b}, {y});
  m.add_task("a", schema::TaskKind::VALUE, y, 0);
  m.add_task("b", schema::TaskKind::VALUE, y, 1);
  const std::vector<float> scores = score_dense(m.finish(), {1.0f, 2.0f, 4.0f}, 1);
  CHECK(scores[0] == doctest::Approx(1.0 - 4.0 + 2.0 + 0.5));
  CHECK(scores[1] == doctest::Approx(0.25 - 4.0 - 0.5));
}

TEST_CASE("INT8 and FLOAT16 embedding tables dequantise on lookup") {
  for (DType dtype : {DType::INT8, DType::FLOAT16}) {
    ModelBuilder m;
    const int ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, 3));
    const int8_t q[6] = {1, -2, 127, 0, -127, 64};
    const uint16_t halves[6] = {0x3C00, 0xC000, 0x3800, 0x0000, 0xBC00, 0x3400};
    const int table = dtype == DType::INT8 ? m.add_constant("t", dtype, {3, 2}, q, sizeof(q))
                                           : m.add_constant("t", dtype, {3, 2}, halves, sizeof(halves));
    if (dtype == DType::INT8) m.set_quantization(table, {0.5f, 0.01f, 0.25f}, {}, 0);
    const int out = m.add_activation("e", DType::FLOAT32, {-1, 2});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {table, ids}, {out});
    m.add_task("first", schema::TaskKind::VALUE, out, 0);
    m.add_task("second", schema::TaskKind::VALUE, out, 1);
    const ModelBytes bytes = m.finish();
    auto model = Model::load_buffer(bytes.get(), bytes.size);
    REQUIRE(model.ok());
    auto session = Session::create(**model, {});
    REQUIRE(session.ok());
    const int64_t id_values[3] = {2, 0, 1};
    const FeatureInput input{0, id_values, nullptr, 3};
    auto scores = (*session)->score(Span<const FeatureInput>(&input, 1), 3);
    REQUIRE(scores.ok());
    const std::vector<float> want = dtype == DType::INT8
                                        ? std::vector<float>{-31.75f, 16.0f, 0.5f, -1.0f, 1.27f, 0.0f}
                                        : std::vector<float>{-1.0f, 0.25f, 1.0f, -2.0f, 0.5f, 0.0f};
    for (size_t i = 0; i < 6; ++i) CHECK((*scores)[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

TEST_CASE("malformed quantisation is refused, naming what is wrong") {
  {
    Int8Fc fc;  // no scales at all
    CHECK(refused_with(fc.finish(), "has no Quantization scales"));
  }
  {
    Int8Fc fc;  // per channel with the wrong count
    fc.m.set_quantization(fc.w, {0.1f, 0.1f, 0.1f}, {}, 0);
    CHECK(refused_with(fc.finish(), "needs 2 scale(s) on axis 0, has 3"));
  }
  {
    Int8Fc fc;  // a zero scale
    fc.m.set_quantization(fc.w, {0.1f, 0.0f}, {}, 0);
    CHECK(refused_with(fc.finish(), "must be finite and > 0"));
  }
  {
    Int8Fc fc;  // NaN scale
    fc.m.set_quantization(fc.w, {std::nanf("")}, {}, -1);
    CHECK(refused_with(fc.finish(), "must be finite and > 0"));
  }
  {
    Int8Fc fc;  // asymmetric weights
    fc.m.set_quantization(fc.w, {0.1f, 0.1f}, {0, 4}, 0);
    CHECK(refused_with(fc.finish(), "must be symmetric"));
  }
  {
    Int8Fc fc;  // zero points and scales of different counts
    fc.m.set_quantization(fc.w, {0.1f, 0.1f}, {0}, 0);
    CHECK(refused_with(fc.finish(), "1 zero points for 2 scales"));
  }
  {
    Int8Fc fc;  // no activation quantisation
    fc.m.set_quantization(fc.w, {0.1f}, {}, -1);
    CHECK(refused_with(fc.finish(test::fc_options(schema::Activation::NONE)), "input_quantization must have"));
  }
  {
    Int8Fc fc;  // no options at all
    fc.m.set_quantization(fc.w, {0.1f}, {}, -1);
    CHECK(refused_with(fc.finish(nullptr), "INT8 weight without FullyConnectedOptions"));
  }
  {
    Int8Fc fc;  // output zero point out of int8
    fc.m.set_quantization(fc.w, {0.1f}, {}, -1);
    CHECK(refused_with(fc.finish(test::quantized_fc_options(schema::Activation::NONE, 0.1f, 0, 0.1f, 200)),
                       "zero point in [-128, 127]"));
  }
  {
    Int8Fc fc;  // a quantised bias carries its own scale: not allowed (it is implied)
    fc.m.set_quantization(fc.w, {0.1f}, {}, -1);
    fc.m.set_quantization(fc.b, {0.1f}, {}, -1);
    CHECK(refused_with(fc.finish(), "implied scale"));
  }
  {
    ModelBuilder m;  // an f32 bias beside an INT8 weight
    const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
    const int8_t q[6] = {0};
    const int w = m.add_constant("w", DType::INT8, {2, 3}, q, sizeof(q));
    m.set_quantization(w, {0.1f}, {}, -1);
    const int b = m.add_constant_f32("b", {2}, {0.0f, 0.0f});
    const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w, b}, {y}, OpOptions::FullyConnectedOptions,
             test::quantized_fc_options(schema::Activation::NONE, 0.1f, 0, 0.1f, 0));
    m.add_task("a", schema::TaskKind::VALUE, y, 0);
    CHECK(refused_with(m.finish(), "bias (tensor 2 'b') is FLOAT32, expected INT32"));
  }
  {
    ModelBuilder m;  // quantisation on a FLOAT16 weight, and an INT8 table with too few row scales
    const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
    const uint16_t halves[6] = {0};
    const int w = m.add_constant("w", DType::FLOAT16, {2, 3}, halves, sizeof(halves));
    m.set_quantization(w, {0.1f}, {}, -1);
    const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w}, {y});
    m.add_task("a", schema::TaskKind::VALUE, y, 0);
    CHECK(refused_with(m.finish(), "quantisation parameters on a FLOAT16 weight"));
  }
  {
    ModelBuilder m;
    const int ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, 3));
    const int8_t q[6] = {0};
    const int table = m.add_constant("t", DType::INT8, {3, 2}, q, sizeof(q));
    m.set_quantization(table, {0.5f, 0.5f}, {}, 0);
    const int out = m.add_activation("e", DType::FLOAT32, {-1, 2});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {table, ids}, {out});
    m.add_task("first", schema::TaskKind::VALUE, out, 0);
    CHECK(refused_with(m.finish(), "INT8 table (tensor 1) needs 3 scale(s) on axis 0, has 2"));
  }
}

}  // namespace
}  // namespace edgemtl
