// RECURRENT: one LSTM or GRU layer over [rows, T, D] (import/recurrent.cc).
#include "converter/ir_ops/ir_ops.h"

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

// The sequence is always an activation (infer requires it): nothing to fold.
void evaluate_recurrent(const OpCall&, Value*) {
  throw ConversionError("RECURRENT over a constant sequence is not supported");
}

}  // namespace

std::vector<OpRules> recurrent_op_rules() { return {{Op::kRecurrent, infer_recurrent, evaluate_recurrent}}; }

}  // namespace edgemtl::converter
