// MIX: the gate-weighted sum of E experts (MMoE, PLE) in one pass.
#include <vector>

#include "runtime/kernels/mix.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

Status verify(const OpVerifier& v) {
  const uint32_t n = v.num_inputs();
  if (n < 2)
    return Status::error(Error::kInvalidModel, "%s (MIX): takes a gate and at least one expert, has %u inputs",
                         v.where(), n);
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_dtype("gate", v.input(0), DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_row_like("gate", v.input(0)));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  const Shape gate = v.input_shape(0);
  const uint32_t experts = n - 1;
  // G mixtures of the same experts: G gates of E weights side by side.
  if (gate.rank != 2 || gate[1] < 1 || gate[1] % experts != 0)
    return Status::error(Error::kInvalidModel, "%s (MIX): gate (tensor %d) must have shape [-1, G * %u], G sets of "
                         "one weight per expert input", v.where(), v.input(0), experts);
  const int64_t mixtures = gate[1] / experts;
  const Shape first = v.input_shape(1);
  if (first.rank != 2 || first[1] < 1)
    return Status::error(Error::kInvalidModel, "%s (MIX): expert input 1 (tensor %d) must have shape [-1, D] "
                         "with D >= 1", v.where(), v.input(1));
  for (uint32_t k = 1; k < n; ++k) {
    EMTL_RETURN_IF_ERROR(v.expect_dtype("expert", v.input(k), DType::FLOAT32));
    EMTL_RETURN_IF_ERROR(v.expect_row_like("expert", v.input(k)));
    const Shape h = v.input_shape(k);
    if (h.rank != 2 || h[1] != first[1])
      return Status::error(Error::kInvalidModel, "%s (MIX): expert input %u (tensor %d) must have shape [-1, %lld] "
                           "like expert input 1", v.where(), k, v.input(k), static_cast<long long>(first[1]));
  }
  Shape y;
  y.rank = 2;
  y[0] = -1;
  if (first[1] > (int64_t{1} << 40) / mixtures)
    return Status::error(Error::kInvalidModel, "%s (MIX): %lld mixtures of width %lld are too wide", v.where(),
                         static_cast<long long>(mixtures), static_cast<long long>(first[1]));
  y[1] = mixtures * first[1];
  return v.expect_shape(y);
}

Status run(const RunContext& context, PreparedOp& p) {
  std::vector<TensorView>& views = p.state.get<std::vector<TensorView>>();
  for (uint32_t k = 0; k < views.size(); ++k) views[k] = context.input(p, k);
  mix_f32(Span<const TensorView>(views.data(), views.size()), context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kMixOp = {schema::OpType::MIX, verify, prepare_input_views, run, nullptr, false, {}};

}  // namespace edgemtl
