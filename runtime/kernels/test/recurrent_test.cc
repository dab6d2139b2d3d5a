// RecurrentLayer against a naive double-precision loop written from the ONNX
// LSTM and GRU definitions (time-major, one direction at a time).
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/kernels/recurrent.h"

namespace edgemtl {
namespace {

std::vector<float> random_floats(size_t count, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count + 16);
  for (float& v : values) v = dist(random);
  values.resize(count);
  return values;
}

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Row-vector times transposed matrix block: sum_k a[k] * m[(row0 + j) * K + k].
double dot(const std::vector<double>& a, const float* m, size_t row, size_t K) {
  double s = 0;
  for (size_t k = 0; k < K; ++k) s += a[k] * m[row * K + k];
  return s;
}

struct Case {
  bool lstm, lbr;
  int dirs;
  bool reverse, state, lens;
};

void check(const Case& c) {
  const size_t rows = 3, T = 4, D = 5, H = 3, G = c.lstm ? 4 : 3, S = c.lstm ? 2 : 1;
  const size_t dirs = static_cast<size_t>(c.dirs);
  const auto x = random_floats(rows * T * D, 1), w = random_floats(dirs * G * H * D, 2),
             r = random_floats(dirs * G * H * H, 3), b = random_floats(dirs * 2 * G * H, 4),
             h0 = random_floats(rows * dirs * H, 5), c0 = random_floats(rows * dirs * H, 6);
  const std::vector<int64_t> lens = {4, 0, 2};
  RecurrentConfig config;
  config.lstm = c.lstm;
  config.directions = c.dirs;
  config.reverse = c.reverse;
  config.linear_before_reset = c.lbr;
  config.steps = T;
  config.input_size = D;
  config.hidden_size = H;
  RecurrentLayer layer;
  REQUIRE(layer.create(config, w.data(), r.data(), b.data(), rows).is_ok());
  std::vector<float> out(rows * (T + S) * dirs * H, -7.0f);
  REQUIRE(layer
              .run(x.data(), rows, c.state ? h0.data() : nullptr, false, c.state && c.lstm ? c0.data() : nullptr,
                   false, c.lens ? lens.data() : nullptr, out.data(), {})
              .is_ok());

  for (size_t row = 0; row < rows; ++row) {
    const size_t L = c.lens ? static_cast<size_t>(lens[row]) : T;
    for (size_t d = 0; d < dirs; ++d) {
      const float* W = w.data() + d * G * H * D;
      const float* R = r.data() + d * G * H * H;
      const float* Wb = b.data() + d * 2 * G * H;
      const float* Rb = Wb + G * H;
      std::vector<double> h(H, 0.0), cell(H, 0.0), y(T * H, 0.0);
      if (c.state)
        for (size_t j = 0; j < H; ++j) {
          h[j] = h0[(row * dirs + d) * H + j];
          if (c.lstm) cell[j] = c0[(row * dirs + d) * H + j];
        }
      const bool back = d == 1 || c.reverse;
      for (size_t s = 0; s < L; ++s) {
        const size_t t = back ? L - 1 - s : s;
        std::vector<double> xt(D);
        for (size_t k = 0; k < D; ++k) xt[k] = x[(row * T + t) * D + k];
        std::vector<double> nh(H);
        for (size_t j = 0; j < H; ++j) {
          auto pre = [&](size_t gate) {
            return dot(xt, W, gate * H + j, D) + Wb[gate * H + j] + dot(h, R, gate * H + j, H) + Rb[gate * H + j];
          };
          if (c.lstm) {  // i o f c
            const double i = sig(pre(0)), o = sig(pre(1)), f = sig(pre(2)), g = std::tanh(pre(3));
            cell[j] = f * cell[j] + i * g;
            nh[j] = o * std::tanh(cell[j]);
          } else {  // z r h
            const double z = sig(pre(0));
            double cand;
            if (c.lbr) {
              const double rr = sig(pre(1));
              cand = std::tanh(dot(xt, W, 2 * H + j, D) + Wb[2 * H + j] +
                               rr * (dot(h, R, 2 * H + j, H) + Rb[2 * H + j]));
            } else {
              std::vector<double> rh(H);
              for (size_t k = 0; k < H; ++k) {
                const double rk = sig(dot(xt, W, H + k, D) + Wb[H + k] + dot(h, R, H + k, H) + Rb[H + k]);
                rh[k] = rk * h[k];
              }
              cand = std::tanh(dot(xt, W, 2 * H + j, D) + Wb[2 * H + j] + dot(rh, R, 2 * H + j, H) + Rb[2 * H + j]);
            }
            nh[j] = (1 - z) * cand + z * h[j];
          }
        }
        h = nh;
        for (size_t j = 0; j < H; ++j) y[t * H + j] = h[j];
      }
      const size_t width = dirs * H;
      for (size_t t = 0; t < T; ++t)
        for (size_t j = 0; j < H; ++j)
          CHECK(out[(row * (T + S) + t) * width + d * H + j] == doctest::Approx(y[t * H + j]).epsilon(1e-5));
      for (size_t j = 0; j < H; ++j) {
        CHECK(out[(row * (T + S) + T) * width + d * H + j] == doctest::Approx(h[j]).epsilon(1e-5));
        if (c.lstm) CHECK(out[(row * (T + S) + T + 1) * width + d * H + j] == doctest::Approx(cell[j]).epsilon(1e-5));
      }
    }
  }
}

TEST_CASE("RecurrentLayer matches the ONNX LSTM and GRU definitions") {
  const Case cases[] = {
      {true, false, 1, false, false, false}, {true, false, 2, false, false, false},
      {true, false, 1, true, true, false},   {true, false, 2, false, true, true},
      {false, true, 1, false, false, false}, {false, false, 1, false, false, false},
      {false, true, 2, false, true, true},   {false, false, 2, false, true, true},
      {false, false, 1, true, false, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.lstm);
    CAPTURE(c.lbr);
    CAPTURE(c.dirs);
    CAPTURE(c.reverse);
    CAPTURE(c.state);
    CAPTURE(c.lens);
    check(c);
  }
}

TEST_CASE("RecurrentLayer refuses a sequence length outside [0, T]") {
  RecurrentConfig config;
  config.lstm = false;
  config.steps = 2;
  config.input_size = 1;
  config.hidden_size = 1;
  const std::vector<float> w(3 + 16, 0.5f), r(3 + 16, 0.5f), b(6, 0.0f), x(2 + 16, 1.0f);
  RecurrentLayer layer;
  REQUIRE(layer.create(config, w.data(), r.data(), b.data(), 1).is_ok());
  std::vector<float> out(3);
  const int64_t lens[] = {3};
  const Status status = layer.run(x.data(), 1, nullptr, false, nullptr, false, lens, out.data(), {});
  CHECK(status.code() == Error::kInvalidArgument);
}

}  // namespace
}  // namespace edgemtl
