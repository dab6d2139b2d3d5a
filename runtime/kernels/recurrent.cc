#include "runtime/kernels/recurrent.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace edgemtl {
namespace {

inline float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

}  // namespace

Status RecurrentLayer::create(const RecurrentConfig& config, const float* w, const float* r, const float* b,
                              size_t max_rows) {
  config_ = config;
  const size_t H = config.hidden_size, D = config.input_size, G = config.gates(), GH = G * H;
  std::vector<float> input_bias(GH), recurrent_bias(GH);
  for (int d = 0; d < config.directions; ++d) {
    const float* wb = b + static_cast<size_t>(d) * 2 * GH;
    const float* rb = wb + GH;
    const float* w_d = w + static_cast<size_t>(d) * GH * D;
    const float* r_d = r + static_cast<size_t>(d) * GH * H;
    // Rb joins the projection's bias, except R_h's bias with linear_before_reset (it is inside r ⊙ (...)).
    const bool keep_rbh = !config.lstm && config.linear_before_reset;
    for (size_t k = 0; k < GH; ++k) {
      const bool in_h_gate = k >= 2 * H;
      input_bias[k] = wb[k] + (keep_rbh && in_h_gate ? 0.0f : rb[k]);
      recurrent_bias[k] = keep_rbh && in_h_gate ? rb[k] : 0.0f;
    }
    EMTL_RETURN_IF_ERROR(
        input_[d].create(D, D, GH, w_d, input_bias.data(), schema::Activation::NONE, 0.0f));
    if (config.lstm || config.linear_before_reset) {
      EMTL_RETURN_IF_ERROR(recurrent_[d].create(H, H, GH, r_d, keep_rbh ? recurrent_bias.data() : nullptr,
                                                schema::Activation::NONE, 0.0f));
    } else {
      EMTL_RETURN_IF_ERROR(recurrent_[d].create(H, H, 2 * H, r_d, nullptr, schema::Activation::NONE, 0.0f));
      EMTL_RETURN_IF_ERROR(reset_[d].create(H, H, H, r_d + 2 * H * H, nullptr, schema::Activation::NONE, 0.0f));
    }
  }
  // XNNPACK may read XNN_EXTRA_BYTES past an input: slack after each buffer it reads.
  const size_t slack = 16;
  projection_.assign(max_rows * config.steps * GH, 0.0f);
  gates_.assign(max_rows * GH, 0.0f);
  h_.assign(max_rows * H + slack, 0.0f);
  if (config.lstm) c_.assign(max_rows * H, 0.0f);
  if (!config.lstm && !config.linear_before_reset) {
    reset_h_.assign(max_rows * H + slack, 0.0f);
    reset_out_.assign(max_rows * H, 0.0f);
  }
  return Status::ok();
}

size_t RecurrentLayer::packed_weight_bytes() const {
  size_t bytes = 0;
  for (int d = 0; d < config_.directions; ++d)
    bytes += input_[d].packed_weight_bytes() + recurrent_[d].packed_weight_bytes() +
             (config_.lstm || config_.linear_before_reset ? 0 : reset_[d].packed_weight_bytes());
  return bytes;
}

size_t RecurrentLayer::scratch_bytes() const {
  return (projection_.size() + gates_.size() + h_.size() + c_.size() + reset_h_.size() + reset_out_.size()) *
         sizeof(float);
}

Status RecurrentLayer::run(const float* x, size_t rows, const float* h0, bool h0_one_row, const float* c0,
                           bool c0_one_row, const int64_t* lens, float* out, const KernelThreads& threads) {
  if (rows * config_.gates() * config_.hidden_size > gates_.size())
    return Status::error(Error::kInternal, "recurrent layer: %zu rows, prepared for fewer", rows);
  if (lens) {
    for (size_t r = 0; r < rows; ++r)
      if (lens[r] < 0 || lens[r] > static_cast<int64_t>(config_.steps))
        return Status::error(Error::kInvalidArgument, "recurrent layer: sequence length %lld of row %zu outside [0, %zu]",
                             static_cast<long long>(lens[r]), r, config_.steps);
  }
  for (int d = 0; d < config_.directions; ++d)
    EMTL_RETURN_IF_ERROR(run_direction(d, x, rows, h0, h0_one_row, c0, c0_one_row, lens, out, threads));
  return Status::ok();
}

Status RecurrentLayer::run_direction(int d, const float* x, size_t rows, const float* h0, bool h0_one_row,
                                     const float* c0, bool c0_one_row, const int64_t* lens, float* out,
                                     const KernelThreads& threads) {
  const size_t T = config_.steps, H = config_.hidden_size, G = config_.gates(), GH = G * H;
  const size_t dirs = static_cast<size_t>(config_.directions);
  const size_t out_row = config_.output_steps() * dirs * H;  // floats per output row
  const size_t column = static_cast<size_t>(d) * H;          // this direction's columns within a step
  const bool backwards = d == 1 || config_.reverse;
  float* h = h_.data();
  float* c = c_.data();
  float* gates = gates_.data();

  EMTL_RETURN_IF_ERROR(input_[d].run(x, rows * T, projection_.data(), threads));
  for (size_t r = 0; r < rows; ++r) {
    const size_t state_row = (h0_one_row ? 0 : r) * dirs * H + column;
    if (h0) std::memcpy(h + r * H, h0 + state_row, H * sizeof(float));
    else std::fill(h + r * H, h + (r + 1) * H, 0.0f);
    if (config_.lstm) {
      const size_t c_row = (c0_one_row ? 0 : r) * dirs * H + column;
      if (c0) std::memcpy(c + r * H, c0 + c_row, H * sizeof(float));
      else std::fill(c + r * H, c + (r + 1) * H, 0.0f);
    }
  }
  const bool reset_apart = !config_.lstm && !config_.linear_before_reset;
  for (size_t s = 0; s < T; ++s) {
    const size_t t = backwards ? T - 1 - s : s;
    EMTL_RETURN_IF_ERROR(recurrent_[d].run(h, rows, gates, threads));
    const size_t recurrent_width = reset_apart ? 2 * H : GH;
    if (reset_apart) {
      // r ⊙ h for every row, then (r ⊙ h) · R_hᵀ.
      for (size_t r = 0; r < rows; ++r) {
        const float* p = projection_.data() + (r * T + t) * GH;
        const float* g = gates + r * recurrent_width;
        for (size_t j = 0; j < H; ++j) reset_h_[r * H + j] = sigmoid(p[H + j] + g[H + j]) * h[r * H + j];
      }
      EMTL_RETURN_IF_ERROR(reset_[d].run(reset_h_.data(), rows, reset_out_.data(), threads));
    }
    for (size_t r = 0; r < rows; ++r) {
      float* y = out + r * out_row + t * dirs * H + column;
      const int64_t length = lens ? lens[r] : static_cast<int64_t>(T);
      if (static_cast<int64_t>(t) >= length) {
        std::fill(y, y + H, 0.0f);
        continue;
      }
      const float* p = projection_.data() + (r * T + t) * GH;
      const float* g = gates + r * recurrent_width;
      float* hr = h + r * H;
      if (config_.lstm) {
        float* cr = c + r * H;
        for (size_t j = 0; j < H; ++j) {
          const float i = sigmoid(p[j] + g[j]);
          const float o = sigmoid(p[H + j] + g[H + j]);
          const float f = sigmoid(p[2 * H + j] + g[2 * H + j]);
          const float candidate = std::tanh(p[3 * H + j] + g[3 * H + j]);
          cr[j] = f * cr[j] + i * candidate;
          hr[j] = o * std::tanh(cr[j]);
        }
      } else {
        for (size_t j = 0; j < H; ++j) {
          const float z = sigmoid(p[j] + g[j]);
          float candidate;
          if (reset_apart) {
            candidate = std::tanh(p[2 * H + j] + reset_out_[r * H + j]);
          } else {
            const float reset = sigmoid(p[H + j] + g[H + j]);
            candidate = std::tanh(p[2 * H + j] + reset * g[2 * H + j]);
          }
          hr[j] = (1.0f - z) * candidate + z * hr[j];
        }
      }
      std::memcpy(y, hr, H * sizeof(float));
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    std::memcpy(out + r * out_row + T * dirs * H + column, h + r * H, H * sizeof(float));
    if (config_.lstm) std::memcpy(out + r * out_row + (T + 1) * dirs * H + column, c + r * H, H * sizeof(float));
  }
  return Status::ok();
}

}  // namespace edgemtl
