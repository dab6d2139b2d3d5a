// RELU SIGMOID TANH LEAKY_RELU CLIP SOFTMAX: float32 in, same shape out.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

#include <algorithm>
#include <cmath>

namespace edgemtl::converter {
namespace {

void infer_activation(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  require(call.in(0).dtype == DType::kFloat32, std::string(op_name(call.op)) + " needs float32");
  *dtype = DType::kFloat32;
  *shape = call.in(0).shape;
}

void evaluate_activation(const OpCall& call, Value* out) {
  const Activation a = call.op == Op::kRelu      ? Activation::kRelu
                       : call.op == Op::kSigmoid ? Activation::kSigmoid
                       : call.op == Op::kTanh    ? Activation::kTanh
                                                 : Activation::kLeakyRelu;
  for (float x : call.in(0).floats) out->floats.push_back(apply_activation(x, a, call.options.alpha));
}

void evaluate_clip(const OpCall& call, Value* out) {
  const NodeOptions& o = call.options;
  for (float x : call.in(0).floats) out->floats.push_back(std::min(std::max(x, o.clip_min), o.clip_max));
}

void infer_softmax(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  infer_activation(call, dtype, shape);
  const Value& x = call.in(0);
  require(!x.is_activation() || call.options.axis >= 1, "softmax over the row dimension");
  require(call.options.axis >= 0 && call.options.axis < x.rank(), "softmax axis out of range");
}

void evaluate_softmax(const OpCall& call, Value* out) {
  const std::vector<int64_t>& shape = out->shape;
  const int64_t axis = call.options.axis;
  out->floats = call.in(0).floats;
  const int64_t n = shape[axis], inner = product(shape, axis + 1), outer = product(shape, 0, axis);
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t i = 0; i < inner; ++i) {
      float* base = out->floats.data() + a * n * inner + i;
      float m = base[0];
      for (int64_t j = 1; j < n; ++j) m = std::max(m, base[j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(double(base[j * inner]) - m);
      for (int64_t j = 0; j < n; ++j) base[j * inner] = static_cast<float>(std::exp(double(base[j * inner]) - m) / sum);
    }
}

FileOptions write_leaky_relu_options(const OptionsWriter& w) {
  return {schema::OpOptions::ActivationOptions, schema::CreateActivationOptions(w.builder, w.node.options.alpha).Union()};
}

FileOptions write_clip_options(const OptionsWriter& w) {
  return {schema::OpOptions::ClipOptions,
          schema::CreateClipOptions(w.builder, w.node.options.clip_min, w.node.options.clip_max).Union()};
}

}  // namespace

std::vector<OpRules> activation_op_rules() {
  return {
      {Op::kRelu, infer_activation, evaluate_activation, nullptr, kElementwise},
      {Op::kSigmoid, infer_activation, evaluate_activation, nullptr, kElementwise},
      {Op::kTanh, infer_activation, evaluate_activation, nullptr, kElementwise},
      {Op::kLeakyRelu, infer_activation, evaluate_activation, nullptr, kElementwise, write_leaky_relu_options},
      {Op::kClip, infer_activation, evaluate_clip, nullptr, kElementwise, write_clip_options},
      {Op::kSoftmax, infer_softmax, evaluate_softmax, normalize_axis_option, 0, write_axis_options},
  };
}

}  // namespace edgemtl::converter
