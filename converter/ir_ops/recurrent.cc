// RECURRENT: one LSTM or GRU layer over [rows, T, D] (import/recurrent.cc).
#include <algorithm>
#include <cmath>

#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

namespace edgemtl::converter {
namespace {

// x [rows, T, D], W [dirs, G·H, D], R [dirs, G·H, H], B [dirs, 2·G·H] (constants), then h0 (c0) [rows|1, dirs, H]
// and lens [rows] (int64) when the options say; output [rows, T + S, dirs·H] (S = 2 LSTM, 1 GRU).
void infer_recurrent(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  const NodeOptions& o = call.options;
  const int64_t dirs = o.direction == 2 ? 2 : 1, H = o.hidden_size, G = o.lstm ? 4 : 3;
  const size_t states = o.initial_state ? (o.lstm ? 2 : 1) : 0;
  call.require_arity(4 + states + (o.sequence_lens ? 1 : 0), 4 + states + (o.sequence_lens ? 1 : 0));
  require(H >= 1 && o.direction >= 0 && o.direction <= 2, "RECURRENT: bad hidden size or direction");
  require(o.lstm ? !o.linear_before_reset : true, "RECURRENT: linear_before_reset is for GRU only");
  const Value& x = call.in(0);
  require(x.is_activation() && x.dtype == DType::kFloat32 && x.rank() == 3,
          "RECURRENT input must be a float32 activation [rows,T,D]");
  const int64_t T = x.shape[1], D = x.shape[2];
  auto constant = [&](size_t k, std::vector<int64_t> want, const char* what) {
    const Value& v = call.in(k);
    require(v.is_constant && v.dtype == DType::kFloat32 && v.shape == want,
            std::string("RECURRENT ") + what + " must be a float32 constant " + shape_string(want));
  };
  constant(1, {dirs, G * H, D}, "W");
  constant(2, {dirs, G * H, H}, "R");
  constant(3, {dirs, 2 * G * H}, "B");
  for (size_t k = 4; k < 4 + states; ++k) {
    const Value& s = call.in(k);
    require(s.dtype == DType::kFloat32 && s.rank() == 3 && s.shape[1] == dirs && s.shape[2] == H &&
                (s.is_activation() || s.shape[0] == 1),
            "RECURRENT initial state must be float32 [rows," + std::to_string(dirs) + "," + std::to_string(H) + "]");
  }
  if (o.sequence_lens) {
    const Value& lens = call.in(4 + states);
    require(lens.is_activation() && lens.dtype == DType::kInt64 && lens.rank() == 1,
            "RECURRENT sequence lengths must be an int64 activation [rows]");
  }
  *dtype = DType::kFloat32;
  *shape = {kRows, T + (o.lstm ? 2 : 1), dirs * H};
}

float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// For calibration, which evaluates the graph on concrete rows (the sequence is
// then a constant with real rows): the ONNX recurrences, one row and direction
// at a time, in f32 like the runtime. 1-row states are used for every row.
void evaluate_recurrent(const OpCall& call, Value* out) {
  const NodeOptions& o = call.options;
  const Value &x = call.in(0), &w = call.in(1), &r = call.in(2), &b = call.in(3);
  const int64_t rows = x.shape[0], T = x.shape[1], D = x.shape[2], H = o.hidden_size;
  const int64_t dirs = o.direction == 2 ? 2 : 1, G = o.lstm ? 4 : 3, S = o.lstm ? 2 : 1, width = dirs * H;
  const size_t states = o.initial_state ? (o.lstm ? 2 : 1) : 0;
  const Value* lens = o.sequence_lens ? &call.in(4 + states) : nullptr;
  out->floats.assign(static_cast<size_t>(rows * (T + S) * width), 0.0f);
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t L = lens ? lens->ints.at(lens->shape[0] == 1 ? 0 : row) : T;
    require(L >= 0 && L <= T, "RECURRENT sequence length outside [0, T]");
    for (int64_t d = 0; d < dirs; ++d) {
      std::vector<float> h(H, 0.0f), c(H, 0.0f), gate(G * H), rh(H);
      for (size_t k = 0; k < states; ++k) {
        const Value& s = call.in(4 + k);
        const float* from = s.floats.data() + ((s.shape[0] == 1 ? 0 : row) * dirs + d) * H;
        std::copy(from, from + H, k == 0 ? h.begin() : c.begin());
      }
      const float* W = w.floats.data() + d * G * H * D;
      const float* R = r.floats.data() + d * G * H * H;
      const float* Wb = b.floats.data() + d * 2 * G * H;
      const float* Rb = Wb + G * H;
      for (int64_t s = 0; s < L; ++s) {
        const int64_t t = (d == 1 || o.direction == 1) ? L - 1 - s : s;
        const float* xt = x.floats.data() + (row * T + t) * D;
        for (int64_t k = 0; k < G * H; ++k) {  // x·Wᵀ + Wb (+ h·Rᵀ + Rb below)
          float v = Wb[k];
          for (int64_t e = 0; e < D; ++e) v += xt[e] * W[k * D + e];
          gate[k] = v;
        }
        auto recurrent = [&](const std::vector<float>& state, int64_t k) {
          float v = Rb[k];
          for (int64_t e = 0; e < H; ++e) v += state[e] * R[k * H + e];
          return v;
        };
        std::vector<float> next(H);
        if (o.lstm) {
          for (int64_t j = 0; j < H; ++j) {
            const float i = sigmoid(gate[j] + recurrent(h, j)), og = sigmoid(gate[H + j] + recurrent(h, H + j));
            const float f = sigmoid(gate[2 * H + j] + recurrent(h, 2 * H + j));
            c[j] = f * c[j] + i * std::tanh(gate[3 * H + j] + recurrent(h, 3 * H + j));
            next[j] = og * std::tanh(c[j]);
          }
        } else {
          std::vector<float> reset(H);
          for (int64_t j = 0; j < H; ++j) {
            reset[j] = sigmoid(gate[H + j] + recurrent(h, H + j));
            rh[j] = reset[j] * h[j];
          }
          for (int64_t j = 0; j < H; ++j) {
            const float z = sigmoid(gate[j] + recurrent(h, j));
            const float candidate = o.linear_before_reset
                                        ? std::tanh(gate[2 * H + j] + reset[j] * recurrent(h, 2 * H + j))
                                        : std::tanh(gate[2 * H + j] + recurrent(rh, 2 * H + j));
            next[j] = (1.0f - z) * candidate + z * h[j];
          }
        }
        h = next;
        std::copy(h.begin(), h.end(), out->floats.begin() + (row * (T + S) + t) * width + d * H);
      }
      std::copy(h.begin(), h.end(), out->floats.begin() + (row * (T + S) + T) * width + d * H);
      if (o.lstm) std::copy(c.begin(), c.end(), out->floats.begin() + (row * (T + S) + T + 1) * width + d * H);
    }
  }
}

FileOptions write_recurrent_options(const OptionsWriter& w) {
  const NodeOptions& o = w.node.options;
  return {schema::OpOptions::RecurrentOptions,
          schema::CreateRecurrentOptions(w.builder, o.lstm ? schema::RecurrentCell::LSTM : schema::RecurrentCell::GRU,
                                         static_cast<schema::RecurrentDirection>(o.direction), o.hidden_size,
                                         o.linear_before_reset, o.initial_state, o.sequence_lens)
              .Union()};
}

}  // namespace

// No traits: x has the rows, so a cross RECURRENT reads a user-stage input through BROADCAST_ROWS.
std::vector<OpRules> recurrent_op_rules() {
  return {{Op::kRecurrent, infer_recurrent, evaluate_recurrent, nullptr, 0, write_recurrent_options}};
}

}  // namespace edgemtl::converter
