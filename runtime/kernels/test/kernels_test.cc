// Each kernel against a naive reference loop written here (in double where it matters).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/activation.h"
#include "runtime/kernels/binary.h"
#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/elementwise.h"
#include "runtime/kernels/embedding.h"
#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/layer_norm.h"
#include "runtime/kernels/layout.h"
#include "runtime/kernels/matmul.h"
#include "runtime/kernels/mix.h"
#include "runtime/kernels/reduce.h"
#include "runtime/kernels/softmax.h"
#include "runtime/kernels/unary.h"

namespace edgemtl {
namespace {

std::vector<float> random_floats(size_t count, unsigned seed, float low = -2.0f, float high = 2.0f) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(count + 8);  // slack: XNNPACK may read past the end
  for (float& v : values) v = dist(random);
  values.resize(count);
  values.reserve(count + 8);
  return values;
}

Shape make_shape(std::initializer_list<int64_t> dims) {
  Shape shape;
  for (int64_t d : dims) shape[shape.rank++] = d;
  return shape;
}

TensorView make_view(void* data, schema::DType dtype, const Shape& shape) {
  TensorView view;
  view.data = data;
  view.dtype = dtype;
  view.shape = shape;
  return view;
}

TensorView f32(std::vector<float>& data, const Shape& shape) {
  return make_view(data.data(), schema::DType::FLOAT32, shape);
}

// Naive broadcast index: element of `shape` seen from output multi-index.
int64_t source_offset(const Shape& shape, const Shape& out, const int64_t* index) {
  int64_t offset = 0;
  for (int d = 0; d < shape.rank; ++d) {
    const int od = out.rank - shape.rank + d;
    const int64_t i = shape[d] == 1 ? 0 : index[od];
    offset = offset * shape[d] + i;
  }
  return offset;
}

void unravel(int64_t linear, const Shape& shape, int64_t* index) {
  for (int d = shape.rank - 1; d >= 0; --d) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
}

TEST_CASE("fully connected matches a naive GEMM, for every activation, on dense rows and on a column window") {
  const size_t rows = 7, k = 13, n = 5;
  std::vector<float> w = random_floats(n * k, 2), b = random_floats(n, 3);
  // stride k: dense rows; stride k + 9 from column 4: columns 4 .. 16 of [rows, 22].
  for (const size_t stride : {k, k + 9})
  for (auto activation : {schema::Activation::NONE, schema::Activation::RELU, schema::Activation::SIGMOID,
                          schema::Activation::TANH, schema::Activation::LEAKY_RELU}) {
    CAPTURE(stride);
    const size_t first_column = stride == k ? 0 : 4;
    std::vector<float> x = random_floats(rows * stride + 16, 1);
    FullyConnected fc;
    REQUIRE(fc.create(k, stride, n, w.data(), b.data(), activation, 0.2f).is_ok());
    std::vector<float> y(rows * n);
    REQUIRE(fc.run(x.data() + first_column, rows, y.data(), {}).is_ok());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < n; ++j) {
        double acc = b[j];
        for (size_t p = 0; p < k; ++p) acc += static_cast<double>(x[r * stride + first_column + p]) * w[j * k + p];
        double want = acc;
        if (activation == schema::Activation::RELU) want = acc > 0 ? acc : 0;
        if (activation == schema::Activation::SIGMOID) want = 1 / (1 + std::exp(-acc));
        if (activation == schema::Activation::TANH) want = std::tanh(acc);
        if (activation == schema::Activation::LEAKY_RELU) want = acc >= 0 ? acc : 0.2 * acc;
        CHECK(y[r * n + j] == doctest::Approx(want).epsilon(1e-5));
      }
    }
    // Fewer rows on a later call reuse the same operator.
    REQUIRE(fc.run(x.data(), 1, y.data(), {}).is_ok());
  }
}

TEST_CASE("fully connected without bias") {
  std::vector<float> x = random_floats(3 * 4, 4), w = random_floats(2 * 4, 5);
  FullyConnected fc;
  REQUIRE(fc.create(4, 4, 2, w.data(), nullptr, schema::Activation::NONE, 0).is_ok());
  std::vector<float> y(3 * 2);
  REQUIRE(fc.run(x.data(), 3, y.data(), {}).is_ok());
  for (size_t r = 0; r < 3; ++r)
    for (size_t j = 0; j < 2; ++j) {
      double acc = 0;
      for (size_t p = 0; p < 4; ++p) acc += static_cast<double>(x[r * 4 + p]) * w[j * 4 + p];
      CHECK(y[r * 2 + j] == doctest::Approx(acc).epsilon(1e-5));
    }
}

void check_binary(schema::OpType type, const Shape& a_shape, const Shape& b_shape, schema::Activation activation) {
  Shape out_shape;
  REQUIRE(broadcast_shapes(a_shape, b_shape, &out_shape));
  std::vector<float> a = random_floats(static_cast<size_t>(a_shape.num_elements()), 11);
  std::vector<float> b = random_floats(static_cast<size_t>(b_shape.num_elements()), 12, 0.5f, 2.0f);
  std::vector<float> out(static_cast<size_t>(out_shape.num_elements()));
  BinaryElementwise op;
  REQUIRE(op.create(type, activation, 0.01f).is_ok());
  REQUIRE(op.run(f32(a, a_shape), f32(b, b_shape), f32(out, out_shape)).is_ok());
  int64_t index[kMaxRank];
  for (int64_t i = 0; i < out_shape.num_elements(); ++i) {
    unravel(i, out_shape, index);
    const float x = a[static_cast<size_t>(source_offset(a_shape, out_shape, index))];
    const float y = b[static_cast<size_t>(source_offset(b_shape, out_shape, index))];
    float want = 0;
    switch (type) {
      case schema::OpType::ADD: want = x + y; break;
      case schema::OpType::SUB: want = x - y; break;
      case schema::OpType::MUL: want = x * y; break;
      case schema::OpType::DIV: want = x / y; break;
      case schema::OpType::MAXIMUM: want = x > y ? x : y; break;
      case schema::OpType::MINIMUM: want = x < y ? x : y; break;
      default: break;
    }
    if (activation == schema::Activation::RELU && want < 0) want = 0;
    CHECK(out[static_cast<size_t>(i)] == doctest::Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("binary operators broadcast like numpy") {
  const schema::OpType types[] = {schema::OpType::ADD, schema::OpType::SUB, schema::OpType::MUL,
                                  schema::OpType::DIV, schema::OpType::MAXIMUM, schema::OpType::MINIMUM};
  for (schema::OpType type : types) {
    CAPTURE(schema::EnumNameOpType(type));
    check_binary(type, make_shape({5, 8}), make_shape({5, 8}), schema::Activation::NONE);
    // A 1-row user-stage tensor against n item rows, both ways round.
    check_binary(type, make_shape({1, 8}), make_shape({6, 8}), schema::Activation::NONE);
    check_binary(type, make_shape({6, 8}), make_shape({1, 8}), schema::Activation::RELU);
    // A constant vector, a column, a scalar, higher ranks.
    check_binary(type, make_shape({4, 3, 8}), make_shape({8}), schema::Activation::NONE);
    check_binary(type, make_shape({4, 3, 1}), make_shape({1, 3, 8}), schema::Activation::RELU);
    check_binary(type, make_shape({2, 3, 4, 5, 2, 3}), make_shape({3, 1, 5, 1, 3}), schema::Activation::NONE);
    Shape scalar;  // rank 0
    check_binary(type, make_shape({3, 4}), scalar, schema::Activation::NONE);
  }
}

TEST_CASE("softmax over the last and an inner axis") {
  for (int axis : {1, 2}) {
    const Shape shape = make_shape({3, 4, 5});
    std::vector<float> x = random_floats(60, 21, -5, 5), y(60);
    Softmax softmax;
    REQUIRE(softmax.create(make_shape({-1, 4, 5}), axis).is_ok());
    REQUIRE(softmax.run(f32(x, shape), f32(y, shape)).is_ok());
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t i = 0; i < (axis == 1 ? 5 : 4); ++i) {
        auto at = [&](int64_t a) { return axis == 1 ? (r * 4 + a) * 5 + i : (r * 4 + i) * 5 + a; };
        const int64_t size = axis == 1 ? 4 : 5;
        double sum = 0;
        for (int64_t a = 0; a < size; ++a) sum += std::exp(static_cast<double>(x[static_cast<size_t>(at(a))]));
        for (int64_t a = 0; a < size; ++a)
          CHECK(y[static_cast<size_t>(at(a))] ==
                doctest::Approx(std::exp(static_cast<double>(x[static_cast<size_t>(at(a))])) / sum).epsilon(1e-5));
      }
  }
}

TEST_CASE("softmax of narrow rows (2, 4, 8, 16): the AVX-512 kernel and XNNPACK against a naive loop") {
  unsigned seed = 70;
  for (int64_t width : {2, 4, 8, 16, 5}) {
    for (int64_t rows : {1, 3, 7, 33}) {
      CAPTURE(width);
      CAPTURE(rows);
      const Shape shape = make_shape({rows, width});
      const size_t count = static_cast<size_t>(rows * width);
      std::vector<float> x = random_floats(count, ++seed, -30, 30), own(count, -1.0f), xnnpack(count, -1.0f);
      x[0] = -INFINITY;  // a masked logit: 0
      if (count > 5) x[5] = 80.0f;
      Softmax fast, reference;
      REQUIRE(fast.create(make_shape({-1, width}), 1).is_ok());
      REQUIRE(reference.create(make_shape({-1, width}), 1, false).is_ok());
      CHECK(!reference.uses_own_kernel());
      if (width != 5 && !fast.uses_own_kernel()) MESSAGE("no AVX-512F: XNNPACK runs both");
      REQUIRE(fast.run(f32(x, shape), f32(own, shape)).is_ok());
      REQUIRE(reference.run(f32(x, shape), f32(xnnpack, shape)).is_ok());
      for (int64_t r = 0; r < rows; ++r) {
        // x - max rounded to float as every kernel does (its error is relative to the result), the rest in double.
        float high = -INFINITY;
        double sum = 0;
        for (int64_t a = 0; a < width; ++a) high = std::fmax(high, x[static_cast<size_t>(r * width + a)]);
        for (int64_t a = 0; a < width; ++a) sum += std::exp(double(x[static_cast<size_t>(r * width + a)] - high));
        for (int64_t a = 0; a < width; ++a) {
          const size_t i = static_cast<size_t>(r * width + a);
          const double want = std::exp(double(x[i] - high)) / sum;
          CHECK(std::fabs(own[i] - want) <= 1e-6 * want + 1e-30);
          CHECK(std::fabs(xnnpack[i] - want) <= 1e-6 * want + 1e-30);
        }
      }
    }
  }
  // A NaN makes its row NaN, not its neighbours.
  std::vector<float> x = {1, 2, NAN, 4, 1, 2, 3, 4}, y(8);
  Softmax softmax;
  REQUIRE(softmax.create(make_shape({-1, 4}), 1).is_ok());
  REQUIRE(softmax.run(f32(x, make_shape({2, 4})), f32(y, make_shape({2, 4}))).is_ok());
  for (int i = 0; i < 4; ++i) CHECK(std::isnan(y[static_cast<size_t>(i)]));
  for (int i = 4; i < 8; ++i) CHECK(std::isfinite(y[static_cast<size_t>(i)]));
}

TEST_CASE("the narrow softmax's exp is within 2 ulp of exp on [-104, 88]") {
  float x[16] = {}, y[16];
  if (!softmax_exp16(x, y)) {
    MESSAGE("no AVX-512F: the narrow softmax kernel is not used");
    return;
  }
  size_t worst = 0;
  for (int step = 0; step < 192 * 1024; step += 16) {
    for (int j = 0; j < 16; ++j) x[j] = -104.0f + static_cast<float>(step + j) * (192.0f / (192 * 1024));
    REQUIRE(softmax_exp16(x, y));
    for (int j = 0; j < 16; ++j) {
      const double want = std::exp(double(x[j]));
      // One unit in the last place of the float nearest to want (subnormals: 2^-149).
      const double ulp = std::fmax(std::ldexp(1.0, std::ilogb(want) - 23), std::ldexp(1.0, -149));
      const auto error = static_cast<size_t>(std::fabs(double(y[j]) - want) / ulp);
      worst = std::max(worst, error);
    }
  }
  CHECK(worst <= 2);
  x[0] = -INFINITY;
  x[1] = 0.0f;
  REQUIRE(softmax_exp16(x, y));
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 1.0f);
}

TEST_CASE("sigmoid and the plain activations") {
  std::vector<float> x = random_floats(37, 31, -8, 8), y(37);
  Sigmoid sigmoid;
  REQUIRE(sigmoid.create().is_ok());
  REQUIRE(sigmoid.run(f32(x, make_shape({37})), f32(y, make_shape({37}))).is_ok());
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(1 / (1 + std::exp(-double(x[i])))).epsilon(1e-5));
  // The fused SIGMOID (sigmoid_f32: AVX-512F where the CPU has it, libm otherwise): within 1e-6 of the double
  // formula, a tail of 21 after 16-wide blocks, the ends of the range, NaN, and in place the same bits.
  {
    std::vector<float> s = random_floats(37, 33, -30, 30), got(37);
    const float ends[] = {0.0f, -0.0f, 87.0f, -87.0f, 200.0f, -200.0f, INFINITY, -INFINITY, NAN, 1e-30f};
    std::copy(std::begin(ends), std::end(ends), s.begin() + 20);
    sigmoid_f32(s.data(), got.data(), s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      CAPTURE(s[i]);
      const double want = 1 / (1 + std::exp(-double(s[i])));
      if (std::isnan(s[i])) CHECK(std::isnan(got[i]));
      else if (want < 1e-30) CHECK(std::fabs(got[i] - want) <= 1e-38);
      else CHECK(std::fabs(got[i] - want) <= 1e-6 * want);
    }
    std::vector<float> in_place = s;
    sigmoid_f32(in_place.data(), in_place.data(), in_place.size());
    CHECK(std::memcmp(in_place.data(), got.data(), got.size() * sizeof(float)) == 0);
  }
  clip_f32(x.data(), y.data(), x.size(), -1.0f, 0.5f);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == std::fmin(0.5f, std::fmax(-1.0f, x[i])));
  // LEAKY_RELU: the bits of the naive select, signed zeros, NaN, infinities and subnormals included, in place too.
  const float specials[] = {-0.0f, 0.0f, NAN, -NAN, -INFINITY, INFINITY, -1e-40f, 1e-40f};
  std::copy(std::begin(specials), std::end(specials), x.begin() + 3);
  for (const float alpha : {0.1f, -0.5f}) {
    CAPTURE(alpha);
    std::vector<float> want(x.size());
    for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] >= 0 ? x[i] : alpha * x[i];
    leaky_relu_f32(x.data(), y.data(), x.size(), alpha);
    CHECK(std::memcmp(y.data(), want.data(), y.size() * sizeof(float)) == 0);
    std::vector<float> in_place = x;
    leaky_relu_f32(in_place.data(), in_place.data(), in_place.size(), alpha);
    CHECK(std::memcmp(in_place.data(), want.data(), want.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("embedding lookup, out-of-range ids and the default row") {
  std::vector<float> table = random_floats(4 * 3, 41);
  const EmbeddingTable lookup{table.data(), 4, 3};
  const int64_t ids[] = {3, 0, 2, 2};
  std::vector<float> out(4 * 3);
  REQUIRE(embedding_lookup(lookup, ids, 4, 2, -1, "feature 'f'", out.data()).is_ok());
  for (size_t i = 0; i < 4; ++i)
    for (size_t d = 0; d < 3; ++d) CHECK(out[i * 3 + d] == table[static_cast<size_t>(ids[i]) * 3 + d]);
  const int64_t bad[] = {1, 2, 3, 4};
  Status status = embedding_lookup(lookup, bad, 4, 2, -1, "feature 'f'", out.data());
  CHECK(status.code() == Error::kIdOutOfRange);
  CHECK(std::string(status.message()).find("feature 'f'") != std::string::npos);
  CHECK(std::string(status.message()).find("row 1") != std::string::npos);
  REQUIRE(embedding_lookup(lookup, bad, 4, 2, 0, "feature 'f'", out.data()).is_ok());
  for (size_t d = 0; d < 3; ++d) CHECK(out[3 * 3 + d] == table[d]);
}

TEST_CASE("bags (sum with weights, mean, max) match a naive loop; ids checked, weights broadcast") {
  const size_t rows = 3, length = 4, dim = 3;
  const std::vector<float> table = random_floats(5 * dim, 77);
  const EmbeddingTable lookup{table.data(), 5, static_cast<int64_t>(dim)};
  const int64_t ids[] = {0, 4, 4, 1, 2, 2, 2, 2, 3, 0, 1, 0};
  const std::vector<float> weights = random_floats(rows * length, 78);
  std::vector<float> out(rows * dim);
  for (int mode = 0; mode < 3; ++mode) {
    CAPTURE(mode);
    const bool weighted = mode == 0;
    REQUIRE(embedding_bag(lookup, static_cast<BagMode>(mode), ids, rows, weighted ? weights.data() : nullptr, rows,
                          rows, length, -1, "feature 'f'", out.data())
                .is_ok());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t d = 0; d < dim; ++d) {
        float want = mode == 2 ? -1e30f : 0.0f;
        for (size_t j = 0; j < length; ++j) {
          const float v = table[static_cast<size_t>(ids[r * length + j]) * dim + d];
          if (mode == 2) want = v > want ? v : want;
          else want += (weighted ? weights[r * length + j] : 1.0f) * v;
        }
        if (mode == 1) want /= static_cast<float>(length);
        CHECK(out[r * dim + d] == doctest::Approx(want).epsilon(1e-6));
      }
    }
  }
  // One row of ids (a user's list) against 3 rows of weights.
  REQUIRE(embedding_bag(lookup, BagMode::kSum, ids, 1, weights.data(), rows, rows, length, -1, "feature 'f'", out.data())
              .is_ok());
  for (size_t d = 0; d < dim; ++d) {
    float want = 0.0f;
    for (size_t j = 0; j < length; ++j) want += weights[2 * length + j] * table[static_cast<size_t>(ids[j]) * dim + d];
    CHECK(out[2 * dim + d] == doctest::Approx(want).epsilon(1e-6));
  }
  const int64_t bad[] = {0, 1, 2, 3, 4, 5, 0, 0};
  Status status = embedding_bag(lookup, BagMode::kMean, bad, 2, nullptr, 1, 2, length, -1, "feature 'f'", out.data());
  CHECK(status.code() == Error::kIdOutOfRange);
  CHECK(std::string(status.message()).find("feature 'f': id 5 at row 1 (position 1)") != std::string::npos);
  REQUIRE(embedding_bag(lookup, BagMode::kMax, bad, 2, nullptr, 1, 2, length, 0, "feature 'f'", out.data()).is_ok());
}

TEST_CASE("merged lookups match a naive loop per sub-table (f32 and int8), ids checked against their own rows") {
  // Three inputs over one stacked table [5 + 3 + 4, 2]: rows 0..4, 5..7, 8..11.
  const int64_t offsets[] = {0, 5, 8}, counts[] = {5, 3, 4};
  const int64_t dim = 2, k = 3;
  const size_t rows = 4;
  std::vector<float> table = random_floats(12 * 2, 43);
  std::vector<int8_t> q(12 * 2);
  std::vector<float> scales(12);
  for (size_t r = 0; r < 12; ++r) {
    scales[r] = 0.01f * static_cast<float>(r + 1);
    for (size_t d = 0; d < 2; ++d) q[r * 2 + d] = static_cast<int8_t>(static_cast<int>(r * 7 + d * 13) % 255 - 127);
  }
  const int64_t a[] = {4, 0, 1, 3}, b[] = {2}, c[] = {0, 3, 3, 1};  // b has one row: broadcast
  const int64_t* ids[] = {a, b, c};
  const size_t id_rows[] = {rows, 1, rows};
  const int64_t no_default[] = {-1, -1, -1};
  const char* whats[] = {"feature 'a'", "feature 'b'", "feature 'c'"};
  for (const bool int8 : {false, true}) {
    const EmbeddingTable lookup = int8 ? EmbeddingTable{q.data(), 12, dim, schema::DType::INT8, scales.data()}
                                       : EmbeddingTable{table.data(), 12, dim};
    std::vector<float> out(rows * k * dim, -1.0f);
    REQUIRE(embedding_multi_lookup(lookup, 3, ids, id_rows, rows, offsets, counts, no_default, whats, out.data())
                .is_ok());
    for (size_t i = 0; i < rows; ++i)
      for (size_t j = 0; j < 3; ++j) {
        const int64_t id = ids[j][id_rows[j] == 1 ? 0 : i];
        const size_t row = static_cast<size_t>(offsets[j] + id);
        for (size_t d = 0; d < 2; ++d) {
          const float expected = int8 ? scales[row] * static_cast<float>(q[row * 2 + d]) : table[row * 2 + d];
          CHECK(out[(i * 3 + j) * 2 + d] == expected);
        }
      }
  }
  // id 3 is a row of the stacked table but not of b's 3 rows: an error naming b, or b's own default row.
  const EmbeddingTable lookup{table.data(), 12, dim};
  const int64_t bad_b[] = {3};
  const int64_t* bad_ids[] = {a, bad_b, c};
  std::vector<float> out(rows * k * dim);
  Status status = embedding_multi_lookup(lookup, 3, bad_ids, id_rows, rows, offsets, counts, no_default, whats,
                                         out.data());
  CHECK(status.code() == Error::kIdOutOfRange);
  CHECK(std::string(status.message()).find("feature 'b'") != std::string::npos);
  CHECK(std::string(status.message()).find("[0, 3)") != std::string::npos);
  const int64_t defaults[] = {-1, 1, -1};
  REQUIRE(embedding_multi_lookup(lookup, 3, bad_ids, id_rows, rows, offsets, counts, defaults, whats, out.data())
              .is_ok());
  for (size_t i = 0; i < rows; ++i)
    for (size_t d = 0; d < 2; ++d) CHECK(out[(i * 3 + 1) * 2 + d] == table[(5 + 1) * 2 + d]);
  const int64_t negative[] = {0, -1, 0, 0};
  const int64_t* negative_ids[] = {negative, b, c};
  status = embedding_multi_lookup(lookup, 3, negative_ids, id_rows, rows, offsets, counts, no_default, whats,
                                  out.data());
  CHECK(status.code() == Error::kIdOutOfRange);
  CHECK(std::string(status.message()).find("feature 'a'") != std::string::npos);
  CHECK(std::string(status.message()).find("row 1") != std::string::npos);
}

TEST_CASE("concat broadcasts a 1-row input to the output rows") {
  // a [3, 2, 2] (3 rows), b [1, 2, 3] (1 row) along axis 2 -> [3, 2, 5]
  std::vector<float> a = random_floats(12, 51), b = random_floats(6, 52), out(30);
  TensorView views[2] = {f32(a, make_shape({3, 2, 2})), f32(b, make_shape({1, 2, 3}))};
  concat(Span<const TensorView>(views, 2), 2, f32(out, make_shape({3, 2, 5})));
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 5; ++j) {
        const float want = j < 2 ? a[static_cast<size_t>((r * 2 + i) * 2 + j)] : b[static_cast<size_t>(i * 3 + j - 2)];
        CHECK(out[static_cast<size_t>((r * 2 + i) * 5 + j)] == want);
      }
}

TEST_CASE("concat of narrow and wide inputs, 1-row ones broadcast, against a naive loop") {
  // Widths of 1 to 16 floats (the fixed-size copies of 4 to 64 bytes) and 3 and 20 (memcpy); along the
  // last axis of [rows, W] (one slice per row) and of [rows, 2, W] (two per row).
  const int64_t widths[] = {1, 2, 4, 8, 16, 3, 20};
  constexpr size_t kInputs = sizeof widths / sizeof widths[0];
  const int64_t rows = 3;
  for (int64_t outer : {1, 2}) {
    int64_t total = 0;
    for (int64_t w : widths) total += w;
    std::vector<std::vector<float>> data;
    data.reserve(kInputs);
    TensorView views[kInputs];
    for (size_t i = 0; i < kInputs; ++i) {
      const int64_t input_rows = i % 3 == 1 ? 1 : rows;  // every third input from the second has 1 row
      data.push_back(random_floats(static_cast<size_t>(input_rows * outer * widths[i]), 700 + static_cast<unsigned>(i)));
      views[i] = outer == 1 ? f32(data[i], make_shape({input_rows, widths[i]}))
                            : f32(data[i], make_shape({input_rows, outer, widths[i]}));
    }
    std::vector<float> out(static_cast<size_t>(rows * outer * total), -99.0f);
    const int axis = outer == 1 ? 1 : 2;
    concat(Span<const TensorView>(views, kInputs), axis,
           outer == 1 ? f32(out, make_shape({rows, total})) : f32(out, make_shape({rows, outer, total})));
    size_t k = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < outer; ++o)
        for (size_t i = 0; i < kInputs; ++i) {
          const int64_t input_row = views[i].shape[0] == 1 ? 0 : r;
          for (int64_t j = 0; j < widths[i]; ++j, ++k)
            CHECK(out[k] == data[i][static_cast<size_t>((input_row * outer + o) * widths[i] + j)]);
        }
    CHECK(k == out.size());
  }
}

TEST_CASE("mix matches a naive weighted sum of the experts, with 1-row experts and gates broadcast") {
  // Experts counts around the 4-per-pass blocks, widths below and above a vector; 1 or 3 mixtures
  // (gates side by side, outputs side by side).
  unsigned seed = 300;
  for (size_t experts : {1u, 2u, 3u, 4u, 5u, 8u, 9u}) {
    for (size_t width : {1u, 7u, 128u}) {
      for (int broadcast_gate = 0; broadcast_gate < 2; ++broadcast_gate) {
        for (size_t mixtures : {1u, 3u}) {
          const size_t rows = 5;
          const size_t gate_rows = broadcast_gate ? 1 : rows;
          const auto shape = [](size_t r, size_t c) {
            return make_shape({static_cast<int64_t>(r), static_cast<int64_t>(c)});
          };
          std::vector<float> gate = random_floats(gate_rows * mixtures * experts, ++seed, 0.0f, 1.0f);
          std::vector<std::vector<float>> h(experts);
          std::vector<TensorView> views = {f32(gate, shape(gate_rows, mixtures * experts))};
          std::vector<size_t> h_rows(experts);
          for (size_t e = 0; e < experts; ++e) {
            h_rows[e] = e % 3 == 1 ? 1 : rows;  // every third expert a 1-row (user-stage) tensor
            h[e] = random_floats(h_rows[e] * width, ++seed);
            views.push_back(f32(h[e], shape(h_rows[e], width)));
          }
          const size_t out_width = mixtures * width;
          std::vector<float> out(rows * out_width, -99.0f), baseline(rows * out_width, -98.0f);
          mix_f32(Span<const TensorView>(views.data(), views.size()), f32(out, shape(rows, out_width)));
          // The baseline copy of the loops gives the dispatched one's bits (AVX2 on most x86-64 CPUs).
          mix_f32_on(MixIsa::kBaseline, Span<const TensorView>(views.data(), views.size()),
                     f32(baseline, shape(rows, out_width)));
          CHECK(std::memcmp(out.data(), baseline.data(), out.size() * sizeof(float)) == 0);
          for (size_t m = 0; m < mixtures; ++m) {
            // Mixture m is bitwise the MIX of its own gate alone.
            std::vector<float> own_gate(gate_rows * experts), alone(rows * width, -97.0f);
            for (size_t r = 0; r < gate_rows; ++r)
              for (size_t e = 0; e < experts; ++e)
                own_gate[r * experts + e] = gate[(r * mixtures + m) * experts + e];
            std::vector<TensorView> single = views;
            single[0] = f32(own_gate, shape(gate_rows, experts));
            mix_f32(Span<const TensorView>(single.data(), single.size()), f32(alone, shape(rows, width)));
            for (size_t r = 0; r < rows; ++r) {
              CHECK(std::memcmp(&out[r * out_width + m * width], &alone[r * width], width * sizeof(float)) == 0);
              for (size_t i = 0; i < width; ++i) {
                // REDUCE_SUM's order: the product of expert 0, then each next one added.
                float want = 0.0f;
                for (size_t e = 0; e < experts; ++e) {
                  const float g = gate[((gate_rows == 1 ? 0 : r) * mixtures + m) * experts + e];
                  const float product = g * h[e][(h_rows[e] == 1 ? 0 : r) * width + i];
                  want = e == 0 ? product : want + product;
                }
                const float have = out[r * out_width + m * width + i];
                if (std::fabs(have - want) > 1e-5f)
                  FAIL_CHECK("E ", experts, " D ", width, " G ", mixtures, " mixture ", m, " row ", r, " column ", i,
                             ": ", have, " != ", want);
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("take, transpose, broadcast_rows") {
  std::vector<float> x = random_floats(2 * 3 * 4, 61);
  const Shape shape = make_shape({2, 3, 4});
  const int64_t indices[] = {3, -4, 1};
  std::vector<float> taken(2 * 3 * 3);
  take(f32(x, shape), 2, indices, 3, f32(taken, make_shape({2, 3, 3})));
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const int64_t source = indices[j] < 0 ? indices[j] + 4 : indices[j];
        CHECK(taken[static_cast<size_t>((r * 3 + i) * 3 + j)] == x[static_cast<size_t>((r * 3 + i) * 4 + source)]);
      }
  std::vector<float> transposed(24);
  const int perm[] = {0, 2, 1};
  transpose(f32(x, shape), perm, f32(transposed, make_shape({2, 4, 3})));
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j)
        CHECK(transposed[static_cast<size_t>((r * 4 + i) * 3 + j)] == x[static_cast<size_t>((r * 3 + j) * 4 + i)]);
  std::vector<float> row = random_floats(4, 62), rows(12);
  broadcast_rows(f32(row, make_shape({1, 4})), f32(rows, make_shape({3, 4})));
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 4; ++j) CHECK(rows[static_cast<size_t>(r * 4 + j)] == row[static_cast<size_t>(j)]);
}

TEST_CASE("reduce sum and mean over several axes") {
  std::vector<float> x = random_floats(2 * 3 * 4, 71), out(2 * 3);
  const bool reduced[kMaxRank] = {false, false, true};
  reduce_f32(f32(x, make_shape({2, 3, 4})), reduced, true, f32(out, make_shape({2, 3})));
  for (int r = 0; r < 6; ++r) {
    double sum = 0;
    for (int j = 0; j < 4; ++j) sum += x[static_cast<size_t>(r * 4 + j)];
    CHECK(out[static_cast<size_t>(r)] == doctest::Approx(sum / 4).epsilon(1e-5));
  }
  std::vector<float> sums(2);
  const bool both[kMaxRank] = {false, true, true};
  reduce_f32(f32(x, make_shape({2, 3, 4})), both, false, f32(sums, make_shape({2, 1, 1})));
  for (int r = 0; r < 2; ++r) {
    double sum = 0;
    for (int j = 0; j < 12; ++j) sum += x[static_cast<size_t>(r * 12 + j)];
    CHECK(sums[static_cast<size_t>(r)] == doctest::Approx(sum).epsilon(1e-5));
  }
}

TEST_CASE("take_range: every range of every axis, against a naive loop") {
  // x [2, 3, 5, 4]: each axis >= 1, each start and count within it.
  const int64_t dims[4] = {2, 3, 5, 4};
  std::vector<float> x = random_floats(2 * 3 * 5 * 4, 92);
  for (int axis = 1; axis < 4; ++axis)
    for (int64_t start = 0; start < dims[axis]; ++start)
      for (int64_t count = 1; start + count <= dims[axis]; ++count) {
        int64_t out_dims[4] = {dims[0], dims[1], dims[2], dims[3]};
        out_dims[axis] = count;
        std::vector<float> out(static_cast<size_t>(out_dims[0] * out_dims[1] * out_dims[2] * out_dims[3]), -99.0f);
        take_range(f32(x, make_shape({2, 3, 5, 4})), axis, start, count,
                   f32(out, make_shape({out_dims[0], out_dims[1], out_dims[2], out_dims[3]})));
        size_t k = 0;
        for (int64_t a = 0; a < out_dims[0]; ++a)
          for (int64_t b = 0; b < out_dims[1]; ++b)
            for (int64_t c = 0; c < out_dims[2]; ++c)
              for (int64_t d = 0; d < out_dims[3]; ++d, ++k) {
                int64_t source[4] = {a, b, c, d};
                source[axis] += start;
                const size_t from = static_cast<size_t>(((source[0] * 3 + source[1]) * 5 + source[2]) * 4 + source[3]);
                CHECK(out[k] == x[from]);
              }
      }
}

TEST_CASE("take in runs of consecutive indices; reduce over a middle axis and over separate axes") {
  // take: runs {1, 2, 3} (one given as -3), then 0, then {2, 3}, on the last and a middle axis.
  std::vector<float> x = random_floats(2 * 3 * 4, 91);
  const int64_t indices[] = {1, -2, 3, 0, 2, 3};
  std::vector<float> taken(2 * 3 * 6);
  take(f32(x, make_shape({2, 3, 4})), 2, indices, 6, f32(taken, make_shape({2, 3, 6})));
  for (int r = 0; r < 6; ++r)
    for (int j = 0; j < 6; ++j) {
      const int64_t source = indices[j] < 0 ? indices[j] + 4 : indices[j];
      CHECK(taken[static_cast<size_t>(r * 6 + j)] == x[static_cast<size_t>(r * 4 + source)]);
    }
  const int64_t middle[] = {1, 2};
  std::vector<float> rows(2 * 2 * 4);
  take(f32(x, make_shape({2, 3, 4})), 1, middle, 2, f32(rows, make_shape({2, 2, 4})));
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j)
        CHECK(rows[static_cast<size_t>((r * 2 + i) * 4 + j)] == x[static_cast<size_t>((r * 3 + middle[i]) * 4 + j)]);

  // reduce: axis 1 of [2, 3, 4] (the experts' axis), and axes {1, 3} of [2, 3, 2, 2].
  std::vector<float> sums(2 * 4), means(2 * 2);
  const bool axis1[kMaxRank] = {false, true, false};
  reduce_f32(f32(x, make_shape({2, 3, 4})), axis1, false, f32(sums, make_shape({2, 4})));
  for (int r = 0; r < 2; ++r)
    for (int j = 0; j < 4; ++j) {
      double sum = 0;
      for (int i = 0; i < 3; ++i) sum += x[static_cast<size_t>((r * 3 + i) * 4 + j)];
      CHECK(sums[static_cast<size_t>(r * 4 + j)] == doctest::Approx(sum).epsilon(1e-6));
    }
  const bool apart[kMaxRank] = {false, true, false, true};
  reduce_f32(f32(x, make_shape({2, 3, 2, 2})), apart, true, f32(means, make_shape({2, 2})));
  for (int r = 0; r < 2; ++r)
    for (int k = 0; k < 2; ++k) {
      double sum = 0;
      for (int i = 0; i < 3; ++i)
        for (int m = 0; m < 2; ++m) sum += x[static_cast<size_t>(((r * 3 + i) * 2 + k) * 2 + m)];
      CHECK(means[static_cast<size_t>(r * 2 + k)] == doctest::Approx(sum / 6).epsilon(1e-6));
    }
}

TEST_CASE("matmul with broadcast batch dims") {
  // a [3, 2, 4] (rows 3), b [1, 4, 5] (one matrix for all rows).
  std::vector<float> a = random_floats(24, 81), b = random_floats(20, 82), out(30);
  matmul_f32(f32(a, make_shape({3, 2, 4})), f32(b, make_shape({1, 4, 5})), f32(out, make_shape({3, 2, 5})));
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 5; ++j) {
        double acc = 0;
        for (int p = 0; p < 4; ++p) acc += double(a[static_cast<size_t>((r * 2 + i) * 4 + p)]) * b[static_cast<size_t>(p * 5 + j)];
        CHECK(out[static_cast<size_t>((r * 2 + i) * 5 + j)] == doctest::Approx(acc).epsilon(1e-5));
      }
}

TEST_CASE("equal, not, where, cast, prelu") {
  std::vector<int64_t> ids = {1, 5, 0, 5, 2, 5};
  std::vector<int64_t> five = {5};
  std::vector<uint8_t> mask(6), inverted(6);
  equal(make_view(ids.data(), schema::DType::INT64, make_shape({3, 2})),
        make_view(five.data(), schema::DType::INT64, make_shape({1})),
        make_view(mask.data(), schema::DType::BOOL, make_shape({3, 2})));
  for (size_t i = 0; i < 6; ++i) CHECK(mask[i] == (ids[i] == 5 ? 1 : 0));
  logical_not(make_view(mask.data(), schema::DType::BOOL, make_shape({3, 2})),
              make_view(inverted.data(), schema::DType::BOOL, make_shape({3, 2})));
  for (size_t i = 0; i < 6; ++i) CHECK(inverted[i] == 1 - mask[i]);
  std::vector<float> a = random_floats(6, 91), zero = {0.0f}, selected(6);
  where(make_view(mask.data(), schema::DType::BOOL, make_shape({3, 2})), f32(a, make_shape({3, 2})),
        f32(zero, make_shape({1})), f32(selected, make_shape({3, 2})));
  for (size_t i = 0; i < 6; ++i) CHECK(selected[i] == (mask[i] ? a[i] : 0.0f));
  std::vector<float> as_float(6);
  cast(make_view(ids.data(), schema::DType::INT64, make_shape({6})), f32(as_float, make_shape({6})));
  for (size_t i = 0; i < 6; ++i) CHECK(as_float[i] == static_cast<float>(ids[i]));
  std::vector<float> odd = {-2.7f, 2.7f, NAN, 1e30f};
  std::vector<int64_t> truncated(4);
  cast(f32(odd, make_shape({4})), make_view(truncated.data(), schema::DType::INT64, make_shape({4})));
  CHECK(truncated[0] == -2);
  CHECK(truncated[1] == 2);
  CHECK(truncated[2] == 0);
  CHECK(truncated[3] == INT64_MAX);
  std::vector<float> slope = {0.1f, 0.2f}, out(6);
  prelu(f32(a, make_shape({3, 2})), f32(slope, make_shape({2})), f32(out, make_shape({3, 2})));
  for (size_t i = 0; i < 6; ++i) CHECK(out[i] == doctest::Approx(a[i] >= 0 ? a[i] : slope[i % 2] * a[i]));
}

// PRELU's slope of one value or one per column runs activation.cc's vectorised loops, any other
// broadcast the generic loop: every form gives the bits of a naive select.
TEST_CASE("prelu: one slope, a slope per column, a full slope and a broadcast x give the naive bits") {
  constexpr int64_t kRows = 7, kColumns = 19;
  const size_t rows = kRows, columns = kColumns;
  std::vector<float> x = random_floats(rows * columns, 97, -3, 3);
  const float specials[] = {-0.0f, 0.0f, NAN, -INFINITY, INFINITY, -1e-40f};
  std::copy(std::begin(specials), std::end(specials), x.begin() + 5);
  std::vector<float> slopes = random_floats(rows * columns, 98, -1, 1);
  struct Form {
    Shape slope;
    size_t row_stride, column_stride;  // of the slope index
  };
  const Form forms[] = {{make_shape({1}), 0, 0},
                        {make_shape({kColumns}), 0, 1},
                        {make_shape({1, kColumns}), 0, 1},
                        {make_shape({kRows, kColumns}), columns, 1},
                        {make_shape({kRows, 1}), 1, 0}};
  for (const Form& form : forms) {
    CAPTURE(form.slope.rank);
    CAPTURE(form.slope[0]);
    std::vector<float> out(rows * columns), want(rows * columns);
    for (size_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < columns; ++k) {
        const float v = x[r * columns + k], s = slopes[r * form.row_stride + k * form.column_stride];
        want[r * columns + k] = v >= 0 ? v : s * v;
      }
    prelu(f32(x, make_shape({kRows, kColumns})), f32(slopes, form.slope),
          f32(out, make_shape({kRows, kColumns})));
    CHECK(std::memcmp(out.data(), want.data(), out.size() * sizeof(float)) == 0);
  }
  // x of one row repeated for every output row.
  std::vector<float> out(rows * columns), want(rows * columns);
  for (size_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < columns; ++k) want[r * columns + k] = x[k] >= 0 ? x[k] : slopes[k] * x[k];
  prelu(f32(x, make_shape({1, kColumns})), f32(slopes, make_shape({kColumns})),
        f32(out, make_shape({kRows, kColumns})));
  CHECK(std::memcmp(out.data(), want.data(), out.size() * sizeof(float)) == 0);
}

// ---- issue 11: UNARY, IS_NAN / IS_INF, COMPARE, LOGICAL, the other reductions, LAYER_NORM ----

using schema::UnaryFunction;

// The ONNX / torch definitions, in double.
double reference(UnaryFunction f, double x, double exponent) {
  switch (f) {
    case UnaryFunction::LOG: return std::log(x);
    case UnaryFunction::EXP: return std::exp(x);
    case UnaryFunction::SQRT: return std::sqrt(x);
    case UnaryFunction::RECIPROCAL: return 1.0 / x;
    case UnaryFunction::ABS: return x < 0 ? -x : x;
    case UnaryFunction::NEG: return -x;
    case UnaryFunction::POW: return std::pow(x, exponent);
    case UnaryFunction::ERF: return std::erf(x);
    case UnaryFunction::SOFTPLUS: return std::log(1.0 + std::exp(x));
    case UnaryFunction::FLOOR: return std::floor(x);
    case UnaryFunction::CEIL: return std::ceil(x);
    case UnaryFunction::GELU: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryFunction::GELU_TANH:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0;
}

TEST_CASE("UNARY: every function, plain loop and XNNPACK, against the definition in double") {
  for (UnaryFunction f : schema::EnumValuesUnaryFunction()) {
    const std::string name = schema::EnumNameUnaryFunction(f);
    CAPTURE(name);
    const bool positive = f == UnaryFunction::LOG || f == UnaryFunction::SQRT || f == UnaryFunction::POW;
    std::vector<float> x = random_floats(37, 7, positive ? 0.01f : -10.0f, positive ? 9.0f : 10.0f);
    if (!positive) x[0] = 0.0f, x[1] = -2.5f, x[2] = 2.5f;
    const float exponent = 2.5f;
    std::vector<float> loop(x.size()), kernel(x.size() + 16);
    unary_f32(f, exponent, x.data(), loop.data(), x.size());
    Unary unary;
    REQUIRE(unary.create(f, exponent).is_ok());
    const bool xnn = f == UnaryFunction::ABS || f == UnaryFunction::NEG || f == UnaryFunction::FLOOR ||
                     f == UnaryFunction::CEIL || f == UnaryFunction::SQRT;
    CHECK(unary.uses_xnnpack() == xnn);
    const Shape shape = make_shape({37});
    REQUIRE(unary.run(make_view(x.data(), schema::DType::FLOAT32, shape), make_view(kernel.data(), schema::DType::FLOAT32, shape))
                .is_ok());
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = reference(f, x[i], exponent);
      if (std::isinf(want)) CHECK(loop[i] == static_cast<float>(want));  // 1 / 0
      else CHECK(loop[i] == doctest::Approx(want).epsilon(1e-6));
      CHECK(kernel[i] == loop[i]);
    }
  }
  float big = 100.0f, out = 0;  // softplus does not overflow
  unary_f32(UnaryFunction::SOFTPLUS, 1, &big, &out, 1);
  CHECK(out == 100.0f);
  float square = -3.0f;
  unary_f32(UnaryFunction::POW, 2, &square, &out, 1);
  CHECK(out == 9.0f);
}

// GELU (AVX-512F where the CPU has it, libm's erf otherwise) over a dense range against
// 0.5 x erfc(-x / sqrt 2) in double, which, unlike 1 + erf, keeps its accuracy in the negative tail.
TEST_CASE("UNARY GELU: within 1e-6 of the definition over [-20, 20], the tails and the special values") {
  std::vector<float> x;
  for (int i = -20000; i <= 20000; ++i) x.push_back(static_cast<float>(i) * 0.001f);
  const float specials[] = {-0.0f, 1e-30f, -1e-30f, 100.0f, -100.0f, INFINITY, NAN};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<float> y(x.size());
  unary_f32(UnaryFunction::GELU, 0.0f, x.data(), y.data(), x.size());
  // libm's erf: 1 + erf(x / sqrt 2) rounds to 0 below about -5.5, an absolute error under 1e-7 there.
  const bool own = cpu_features().avx512f;
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    if (std::isnan(want)) {
      bad += !std::isnan(y[i]);
    } else if (std::isinf(want)) {
      bad += y[i] != want;
    } else {
      const double error = std::fabs(y[i] - want);
      bad += own ? error > 1e-6 * std::fabs(want) + 1e-38 : error > 1e-6 * std::fabs(want) + 1e-7;
    }
  }
  CHECK(bad == 0);
  std::vector<float> in_place = x;
  unary_f32(UnaryFunction::GELU, 0.0f, in_place.data(), in_place.data(), in_place.size());
  CHECK(std::memcmp(in_place.data(), y.data(), y.size() * sizeof(float)) == 0);
}

// GELU_TANH likewise, against 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)) in double. In the negative
// tail the rounding of u in float alone moves the result by up to 1e-5 of itself (2u is 87 at
// x = -10), so values below 1e-3 are held to 2e-5 (the scalar loop's 1 + tanh cancels there).
TEST_CASE("UNARY GELU_TANH: within 1e-6 of the definition over [-20, 20]") {
  std::vector<float> x;
  for (int i = -20000; i <= 20000; ++i) x.push_back(static_cast<float>(i) * 0.001f);
  x.push_back(NAN);
  x.push_back(INFINITY);
  std::vector<float> y(x.size());
  unary_f32(UnaryFunction::GELU_TANH, 0.0f, x.data(), y.data(), x.size());
  const bool own = cpu_features().avx512f;
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], u = std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v);
    // 0.5 v (1 + tanh(u)) = v / (1 + exp(-2u)) in double, exact enough for the check.
    const double want = std::isinf(v) ? v : v / (1.0 + std::exp(-2.0 * u));
    if (std::isnan(want)) bad += !std::isnan(y[i]);
    else if (std::isinf(want)) bad += y[i] != want;
    else if (own) bad += std::fabs(y[i] - want) > (std::fabs(want) >= 1e-3 ? 1e-6 : 2e-5) * std::fabs(want) + 1e-30;
    else bad += std::fabs(y[i] - want) > 1e-6 * std::fabs(want) + 1e-6;  // libm: 1 + tanh rounds to 0 in the tail
  }
  CHECK(bad == 0);
}

TEST_CASE("IS_NAN, IS_INF, COMPARE, LOGICAL with broadcasting") {
  const float inf = std::numeric_limits<float>::infinity();
  float x[4] = {1.0f, std::nanf(""), inf, -inf};
  uint8_t out[6];
  is_nan(make_view(x, schema::DType::FLOAT32, make_shape({4})), make_view(out, schema::DType::BOOL, make_shape({4})));
  CHECK((out[0] == 0 && out[1] == 1 && out[2] == 0 && out[3] == 0));
  is_inf(make_view(x, schema::DType::FLOAT32, make_shape({4})), true, false, make_view(out, schema::DType::BOOL, make_shape({4})));
  CHECK((out[0] == 0 && out[1] == 0 && out[2] == 1 && out[3] == 0));
  is_inf(make_view(x, schema::DType::FLOAT32, make_shape({4})), true, true, make_view(out, schema::DType::BOOL, make_shape({4})));
  CHECK((out[2] == 1 && out[3] == 1));

  // a [2, 3] against b [3] (broadcast over rows)
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {2, 5, std::nanf("")};
  const bool want[4][6] = {{false, false, false, true, false, false},
                           {true, true, false, false, false, false},
                           {false, false, false, true, true, false},
                           {true, true, false, false, true, false}};
  int k = 0;
  for (schema::ComparePredicate p : schema::EnumValuesComparePredicate()) {
    compare(p, make_view(a, schema::DType::FLOAT32, make_shape({2, 3})), make_view(b, schema::DType::FLOAT32, make_shape({3})),
            make_view(out, schema::DType::BOOL, make_shape({2, 3})));
    for (int i = 0; i < 6; ++i) CHECK(static_cast<bool>(out[i]) == want[k][i]);
    ++k;
  }
  int64_t ia[2] = {3, 7}, ib[1] = {5};
  compare(schema::ComparePredicate::GREATER, make_view(ia, schema::DType::INT64, make_shape({2})),
          make_view(ib, schema::DType::INT64, make_shape({1})), make_view(out, schema::DType::BOOL, make_shape({2})));
  CHECK((out[0] == 0 && out[1] == 1));

  uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
  const uint8_t truth[3][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
  k = 0;
  for (schema::LogicalFunction f : schema::EnumValuesLogicalFunction()) {
    logical(f, make_view(p, schema::DType::BOOL, make_shape({4})), make_view(q, schema::DType::BOOL, make_shape({4})),
            make_view(out, schema::DType::BOOL, make_shape({4})));
    for (int i = 0; i < 4; ++i) CHECK(out[i] == truth[k][i]);
    ++k;
  }
}

TEST_CASE("REDUCE_MAX / MIN / PROD / L2 over one axis, two apart axes, and NaN") {
  std::vector<float> x = random_floats(2 * 3 * 4, 3, -2.0f, 2.0f);
  bool middle[kMaxRank] = {false, true, false};
  bool outer_inner[kMaxRank] = {false, true, true};
  for (bool* reduced : {middle, outer_inner}) {
    for (ReduceKind kind : {ReduceKind::kMax, ReduceKind::kMin, ReduceKind::kProd, ReduceKind::kL2}) {
      const bool all = reduced[2];
      std::vector<float> out(all ? 2 : 8);
      reduce_f32(make_view(x.data(), schema::DType::FLOAT32, make_shape({2, 3, 4})), reduced, kind,
                 make_view(out.data(), schema::DType::FLOAT32, all ? make_shape({2}) : make_shape({2, 4})));
      for (int n = 0; n < 2; ++n) {
        for (int c = 0; c < (all ? 1 : 4); ++c) {
          double acc = kind == ReduceKind::kMax ? -1e30 : kind == ReduceKind::kMin ? 1e30 : kind == ReduceKind::kProd ? 1 : 0;
          for (int r = 0; r < 3; ++r)
            for (int j = 0; j < 4; ++j) {
              if (!all && j != c) continue;
              const double v = x[static_cast<size_t>(n * 12 + r * 4 + j)];
              if (kind == ReduceKind::kMax) acc = std::max(acc, v);
              else if (kind == ReduceKind::kMin) acc = std::min(acc, v);
              else if (kind == ReduceKind::kProd) acc *= v;
              else acc += v * v;
            }
          if (kind == ReduceKind::kL2) acc = std::sqrt(acc);
          CHECK(out[static_cast<size_t>(all ? n : n * 4 + c)] == doctest::Approx(acc).epsilon(1e-5));
        }
      }
    }
  }
  float with_nan[3] = {1.0f, std::nanf(""), 3.0f}, result = 0;
  bool last[kMaxRank] = {false, true};
  reduce_f32(make_view(with_nan, schema::DType::FLOAT32, make_shape({1, 3})), last, ReduceKind::kMax,
             make_view(&result, schema::DType::FLOAT32, make_shape({1})));
  CHECK(std::isnan(result));
}

TEST_CASE("LAYER_NORM against two passes in double, with and without bias, in place") {
  const int64_t outer = 5, inner = 7;
  std::vector<float> x = random_floats(outer * inner, 11, -3.0f, 5.0f), scale = random_floats(inner, 12, 0.5f, 2.0f),
                     bias = random_floats(inner, 13, -1.0f, 1.0f);
  for (bool with_bias : {true, false}) {
    std::vector<float> y(x.size());
    layer_norm_f32(x.data(), outer, inner, scale.data(), with_bias ? bias.data() : nullptr, 1e-5f, y.data());
    std::vector<float> in_place = x;
    layer_norm_f32(in_place.data(), outer, inner, scale.data(), with_bias ? bias.data() : nullptr, 1e-5f,
                   in_place.data());
    for (int64_t o = 0; o < outer; ++o) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += x[static_cast<size_t>(o * inner + i)];
      mean /= inner;
      for (int64_t i = 0; i < inner; ++i) var += std::pow(x[static_cast<size_t>(o * inner + i)] - mean, 2);
      var /= inner;
      for (int64_t i = 0; i < inner; ++i) {
        const size_t k = static_cast<size_t>(o * inner + i);
        const double want = (x[k] - mean) / std::sqrt(var + 1e-5) * scale[static_cast<size_t>(i)] +
                            (with_bias ? bias[static_cast<size_t>(i)] : 0.0);
        CHECK(y[k] == doctest::Approx(want).epsilon(1e-5));
        CHECK(in_place[k] == y[k]);
      }
    }
  }
}

}  // namespace
}  // namespace edgemtl
