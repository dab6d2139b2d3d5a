#include "runtime/kernels/fully_connected.h"

#include <limits>

#include "runtime/kernels/activation.h"

namespace edgemtl {

Status FullyConnected::create(size_t input_channels, size_t input_stride, size_t output_channels,
                              const float* weight, const float* bias, schema::Activation activation, float alpha,
                              F32Isa own) {
  input_channels_ = input_channels;
  input_stride_ = input_stride;
  output_channels_ = output_channels;
  activation_ = activation;
  alpha_ = alpha;
  own_ = F32Gemm();
  const bool relu = activation == schema::Activation::RELU;
  // The own AVX-512 kernel measured faster than XNNPACK's on every shape of
  // edgemtl-bench --f32-sweep (docs/PERFORMANCE.md), so it is used whenever the CPU runs it.
  if (F32Gemm::supports(own)) {
    op_.reset();
    return own_.create(input_channels, output_channels, weight, bias, relu, own);
  }
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  const float lowest = relu ? 0.0f : -std::numeric_limits<float>::infinity();
  return xnn_status_to_error(
      xnn_create_fully_connected_nc_f32(input_channels, output_channels, input_stride, output_channels, weight,
                                        bias, lowest, std::numeric_limits<float>::infinity(), 0, op_.out()),
      "xnn_create_fully_connected_nc_f32");
}

Status FullyConnected::run(const float* x, size_t rows, float* y, const KernelThreads& threads) const {
  if (own_.isa() != F32Isa::kNone) {
    own_.run(x, rows, input_stride_, y, threads.pool);
  } else {
    pthreadpool_t threadpool = threads.xnnpack_for(rows * input_channels_ * output_channels_);
    EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_setup_fully_connected_nc_f32(op_.get(), rows, x, y, threadpool),
                                             "xnn_setup_fully_connected_nc_f32"));
    EMTL_RETURN_IF_ERROR(xnn_status_to_error(xnn_run_operator(op_.get(), threadpool), "fully connected"));
  }
  if (activation_ != schema::Activation::RELU) apply_activation_f32(y, rows * output_channels_, activation_, alpha_);
  return Status::ok();
}

}  // namespace edgemtl
