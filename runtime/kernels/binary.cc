#include "runtime/kernels/binary.h"

#include <limits>

#include "runtime/kernels/activation.h"

namespace edgemtl {

Status BinaryElementwise::create(schema::OpType type, schema::Activation activation, float alpha) {
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  type_ = type;
  alpha_ = alpha;
  const bool fuses_clamp = type != schema::OpType::MAXIMUM && type != schema::OpType::MINIMUM;
  const bool fuse_relu = fuses_clamp && activation == schema::Activation::RELU;
  post_activation_ = fuse_relu ? schema::Activation::NONE : activation;
  const float inf = std::numeric_limits<float>::infinity();
  const float lowest = fuse_relu ? 0.0f : -inf;
  xnn_status status = xnn_status_invalid_parameter;
  switch (type) {
    case schema::OpType::ADD: status = xnn_create_add_nd_f32(lowest, inf, 0, op_.out()); break;
    case schema::OpType::SUB: status = xnn_create_subtract_nd_f32(lowest, inf, 0, op_.out()); break;
    case schema::OpType::MUL: status = xnn_create_multiply_nd_f32(lowest, inf, 0, op_.out()); break;
    case schema::OpType::DIV: status = xnn_create_divide_nd_f32(lowest, inf, 0, op_.out()); break;
    case schema::OpType::MAXIMUM: status = xnn_create_maximum_nd_f32(0, op_.out()); break;
    case schema::OpType::MINIMUM: status = xnn_create_minimum_nd_f32(0, op_.out()); break;
    default: return Status::error(Error::kInternal, "BinaryElementwise: %s is not binary", schema::EnumNameOpType(type));
  }
  return xnn_status_to_error(status, "xnn_create binary operator");
}

Status BinaryElementwise::run(const TensorView& a, const TensorView& b, const TensorView& out) const {
  size_t a_dims[kMaxRank], b_dims[kMaxRank];
  for (int i = 0; i < a.shape.rank; ++i) a_dims[i] = static_cast<size_t>(a.shape[i]);
  for (int i = 0; i < b.shape.rank; ++i) b_dims[i] = static_cast<size_t>(b.shape[i]);
  const size_t a_rank = static_cast<size_t>(a.shape.rank), b_rank = static_cast<size_t>(b.shape.rank);
  const float* x = a.as<const float>();
  const float* y = b.as<const float>();
  float* z = out.as<float>();
  xnn_status status = xnn_status_invalid_parameter;
  switch (type_) {
    case schema::OpType::ADD:
      status = xnn_setup_add_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    case schema::OpType::SUB:
      status = xnn_setup_subtract_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    case schema::OpType::MUL:
      status = xnn_setup_multiply_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    case schema::OpType::DIV:
      status = xnn_setup_divide_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    case schema::OpType::MAXIMUM:
      status = xnn_setup_maximum_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    case schema::OpType::MINIMUM:
      status = xnn_setup_minimum_nd_f32(op_.get(), a_rank, a_dims, b_rank, b_dims, x, y, z, nullptr);
      break;
    default: break;
  }
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(status, "xnn_setup binary operator"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(op_.get(), nullptr), "binary operator"));
  apply_activation_f32(z, out.num_elements(), post_activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
