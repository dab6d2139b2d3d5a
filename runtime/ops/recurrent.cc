// RECURRENT: one ONNX LSTM or GRU layer over [rows, T, D] (schema/edgemtl.fbs).
// The weights are packed by XNNPACK at prepare and the scratch (the input
// projection of every step, the gates, the state) is allocated there for the
// stage's most rows; a run allocates nothing.
#include "runtime/kernels/recurrent.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

struct Layout {
  bool lstm;
  int64_t dirs, hidden, gates;
  uint32_t state_inputs;  // h0 (and c0) when initial_state
  uint32_t inputs;        // x, W, R, B, states, lens
};

Layout layout_of(const schema::RecurrentOptions* o) {
  Layout l;
  l.lstm = o->cell() == schema::RecurrentCell::LSTM;
  l.dirs = o->direction() == schema::RecurrentDirection::BIDIRECTIONAL ? 2 : 1;
  l.hidden = o->hidden_size();
  l.gates = l.lstm ? 4 : 3;
  l.state_inputs = o->initial_state() ? (l.lstm ? 2 : 1) : 0;
  l.inputs = 4 + l.state_inputs + (o->sequence_lens() ? 1 : 0);
  return l;
}

Status expect_constant_shape(const OpVerifier& v, uint32_t k, const char* role, std::initializer_list<int64_t> dims) {
  EMTL_RETURN_IF_ERROR(v.expect_constant_input(k, role));
  EMTL_RETURN_IF_ERROR(v.expect_dtype(role, v.input(k), DType::FLOAT32));
  const Shape s = v.input_shape(k);
  bool ok = s.rank == static_cast<int>(dims.size());
  int i = 0;
  for (int64_t d : dims) ok = ok && s[i++] == d;
  if (!ok)
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): %s (tensor %d) has the wrong shape", v.where(), role,
                         v.input(k));
  return Status::ok();
}

Status verify(const OpVerifier& v) {
  const schema::RecurrentOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::RecurrentOptions, true, &options));
  if (options->cell() != schema::RecurrentCell::LSTM && options->cell() != schema::RecurrentCell::GRU)
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): unknown cell %d", v.where(),
                         static_cast<int>(options->cell()));
  if (options->direction() > schema::RecurrentDirection::BIDIRECTIONAL)
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): unknown direction %d", v.where(),
                         static_cast<int>(options->direction()));
  const Layout l = layout_of(options);
  if (l.hidden < 1 || l.hidden > (int64_t{1} << 20))
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): hidden_size %lld outside [1, 2^20]", v.where(),
                         static_cast<long long>(l.hidden));
  if (l.lstm && options->linear_before_reset())
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): linear_before_reset is for GRU only", v.where());
  EMTL_RETURN_IF_ERROR(v.arity(l.inputs, l.inputs));
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(0), DType::FLOAT32));
  const Shape x = v.input_shape(0);
  if (x.rank != 3 || x[1] < 1 || x[2] < 1)
    return Status::error(Error::kInvalidModel, "%s (RECURRENT): input (tensor %d) must have shape [-1, T, D]",
                         v.where(), v.input(0));
  const int64_t T = x[1], D = x[2], H = l.hidden, GH = l.gates * H;
  EMTL_RETURN_IF_ERROR(expect_constant_shape(v, 1, "W", {l.dirs, GH, D}));
  EMTL_RETURN_IF_ERROR(expect_constant_shape(v, 2, "R", {l.dirs, GH, H}));
  EMTL_RETURN_IF_ERROR(expect_constant_shape(v, 3, "B", {l.dirs, 2 * GH}));
  for (uint32_t k = 4; k < 4 + l.state_inputs; ++k) {
    const char* role = k == 4 ? "initial h" : "initial c";
    EMTL_RETURN_IF_ERROR(v.expect_dtype(role, v.input(k), DType::FLOAT32));
    EMTL_RETURN_IF_ERROR(v.expect_row_like(role, v.input(k)));
    const Shape s = v.input_shape(k);
    if (s.rank != 3 || s[1] != l.dirs || s[2] != H)
      return Status::error(Error::kInvalidModel, "%s (RECURRENT): %s (tensor %d) must have shape [-1, %lld, %lld]",
                           v.where(), role, v.input(k), static_cast<long long>(l.dirs), static_cast<long long>(H));
  }
  if (options->sequence_lens()) {
    const uint32_t k = l.inputs - 1;
    EMTL_RETURN_IF_ERROR(v.expect_activation_input(k));
    EMTL_RETURN_IF_ERROR(v.expect_dtype("sequence lengths", v.input(k), DType::INT64));
    if (v.input_shape(k).rank != 1)
      return Status::error(Error::kInvalidModel, "%s (RECURRENT): sequence lengths (tensor %d) must have shape [-1]",
                           v.where(), v.input(k));
  }
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  Shape y;
  y.rank = 3;
  y[0] = -1;
  y[1] = T + (l.lstm ? 2 : 1);
  y[2] = l.dirs * H;
  return v.expect_shape(y);
}

RecurrentConfig config_of(const PrepareContext& context, const PreparedOp& p) {
  const schema::RecurrentOptions* o = p.op->options_as_RecurrentOptions();
  const Layout l = layout_of(o);
  const Shape& x = context.tensor(p.input(0)).declared;
  RecurrentConfig c;
  c.lstm = l.lstm;
  c.directions = static_cast<int>(l.dirs);
  c.reverse = o->direction() == schema::RecurrentDirection::REVERSE;
  c.linear_before_reset = o->linear_before_reset();
  c.steps = static_cast<size_t>(x[1]);
  c.input_size = static_cast<size_t>(x[2]);
  c.hidden_size = static_cast<size_t>(l.hidden);
  return c;
}

Status prepare(PrepareContext& context, PreparedOp& p) {
  auto* layer = p.state.emplace<RecurrentLayer>();
  if (!layer) return Status::error(Error::kOutOfMemory, "cannot allocate a recurrent layer");
  auto weights = [&](uint32_t k) { return reinterpret_cast<const float*>(context.slots[p.input(k)].data); };
  EMTL_RETURN_IF_ERROR(layer->create(config_of(context, p), weights(1), weights(2), weights(3), context.max_rows));
  context.packed_weight_bytes += layer->packed_weight_bytes();
  return Status::ok();
}

Status run(const RunContext& context, PreparedOp& p) {
  const schema::RecurrentOptions* o = p.op->options_as_RecurrentOptions();
  const Layout l = layout_of(o);
  const TensorView x = context.input(p, 0);
  const size_t rows = static_cast<size_t>(x.shape[0]);
  if (static_cast<size_t>(context.output(p).shape[0]) != rows)
    return Status::error(Error::kInvalidArgument, "RECURRENT: an initial state or the lengths have more rows than "
                         "the sequences");
  const float* state[2] = {nullptr, nullptr};
  bool one_row[2] = {false, false};
  for (uint32_t k = 0; k < l.state_inputs; ++k) {
    const TensorView s = context.input(p, 4 + k);
    state[k] = s.as<const float>();
    one_row[k] = s.shape[0] == 1;
  }
  const int64_t* lens = nullptr;
  if (o->sequence_lens()) {
    const TensorView v = context.input(p, l.inputs - 1);
    if (static_cast<size_t>(v.shape[0]) != rows)
      return Status::error(Error::kInvalidArgument, "RECURRENT: %lld sequence lengths for %zu rows",
                           static_cast<long long>(v.shape[0]), rows);
    lens = v.as<const int64_t>();
  }
  return p.state.get<RecurrentLayer>().run(x.as<const float>(), rows, state[0], one_row[0], state[1], one_row[1],
                                           lens, context.output(p).as<float>(), context.threads);
}

// 2 * rows * T * dirs * G·H * (D + H).
uint64_t flops(const RunContext& context, const PreparedOp& p) {
  const Shape& x = context.slots[p.input(0)].shape;
  const Shape& r = context.tensors[p.input(2)].declared;
  return 2 * static_cast<uint64_t>(x[0] * x[1] * r[0] * r[1] * (x[2] + r[2]));
}

}  // namespace

extern const OpRegistration kRecurrentOp = {schema::OpType::RECURRENT, verify, prepare, run, flops, false, {}};

}  // namespace edgemtl
