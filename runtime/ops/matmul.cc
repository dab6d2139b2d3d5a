// MATMUL: [..., M, K] x [..., K, N] with broadcast batch dims, FLOAT32.
#include "runtime/kernels/matmul.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

Status verify(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(k), schema::DType::FLOAT32));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), schema::DType::FLOAT32));
  const Shape a = v.input_shape(0), b = v.input_shape(1);
  if (a.rank < 2 || b.rank < 2 || a[a.rank - 1] != b[b.rank - 2])
    return Status::error(Error::kInvalidModel, "%s: inputs [..., M, K] and [..., K, N] do not match", v.where());
  Shape a_batch = a, b_batch = b, y;
  a_batch.rank -= 2;
  b_batch.rank -= 2;
  if (!broadcast_shapes(a_batch, b_batch, &y) || y.rank + 2 > kMaxRank)
    return Status::error(Error::kInvalidModel, "%s: batch dimensions do not broadcast", v.where());
  y[y.rank++] = a[a.rank - 2];
  y[y.rank++] = b[b.rank - 1];
  return v.expect_shape(y);
}

Status run(const RunContext& context, PreparedOp& p) {
  matmul_f32(context.input(p, 0), context.input(p, 1), context.output(p));
  return Status::ok();
}

// 2 * output elements * K, from the shapes just run.
uint64_t flops(const RunContext& context, const PreparedOp& p) {
  const Shape& a = context.slots[p.input(0)].shape;
  const auto output_elements = static_cast<uint64_t>(context.slots[p.output].shape.num_elements());
  return 2 * output_elements * static_cast<uint64_t>(a[a.rank - 1]);
}

}  // namespace

extern const OpRegistration kMatmulOp = {schema::OpType::MATMUL, verify, nullptr, run, flops, false, {}};

}  // namespace edgemtl
