#include "runtime/kernels/fully_connected.h"

#include <limits>

#include "runtime/kernels/activation.h"

namespace edgemtl {

Status FullyConnected::create(size_t input_channels, size_t input_stride, size_t output_channels,
                              const float* weight, const float* bias, schema::Activation activation, float alpha) {
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  input_channels_ = input_channels;
  output_channels_ = output_channels;
  activation_ = activation;
  alpha_ = alpha;
  const float lowest = activation == schema::Activation::RELU ? 0.0f : -std::numeric_limits<float>::infinity();
  return xnn_status_to_error(
      xnn_create_fully_connected_nc_f32(input_channels, output_channels, input_stride, output_channels, weight,
                                        bias, lowest, std::numeric_limits<float>::infinity(), 0, op_.out()),
      "xnn_create_fully_connected_nc_f32");
}

Status FullyConnected::run(const float* x, size_t rows, float* y, pthreadpool_t threadpool) const {
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_setup_fully_connected_nc_f32(op_.get(), rows, x, y, threadpool),
                                           "xnn_setup_fully_connected_nc_f32"));
  EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(op_.get(), threadpool), "fully connected"));
  if (activation_ != schema::Activation::RELU) apply_activation_f32(y, rows * output_channels_, activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
