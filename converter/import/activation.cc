// Activation ONNX ops: Relu Sigmoid Tanh LeakyRelu PRelu Clip Softmax.
#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

template <Op kOp>
void lower_unary(Importer& node) {
  node.set_output(0, node.emit(kOp, {node.in(0)}));
}

void lower_leaky_relu(Importer& node) {
  NodeOptions o;
  o.alpha = node.attr_float("alpha", 0.01f);
  node.set_output(0, node.emit(Op::kLeakyRelu, {node.in(0)}, o));
}

void lower_prelu(Importer& node) {
  node.constant_input(1, "PRelu slope");
  node.set_output(0, node.emit(Op::kPRelu, {node.in(0), node.in(1)}));
}

void lower_clip(Importer& node) {
  NodeOptions o;
  if (node.opset() < 11) {
    o.clip_min = node.attr_float("min", o.clip_min);
    o.clip_max = node.attr_float("max", o.clip_max);
  } else {
    if (node.has_input(1)) o.clip_min = node.float_scalar_input(1, "Clip min");
    if (node.has_input(2)) o.clip_max = node.float_scalar_input(2, "Clip max");
  }
  node.set_output(0, node.emit(Op::kClip, {node.in(0)}, o));
}

void lower_softmax(Importer& node) {
  const Value& x = node.val(node.in(0));
  int64_t axis = normalize_axis(node.attr_int("axis", node.opset() < 13 ? 1 : -1), x.rank());
  if (x.is_activation() && axis == 0) throw ConversionError("softmax over the row dimension");
  NodeOptions o;
  // Before opset 13 Softmax normalizes over all dims from `axis` on.
  if (node.opset() >= 13 || axis == x.rank() - 1 || product(x.shape, axis + 1) == 1) {
    o.axis = axis;
    node.set_output(0, node.emit(Op::kSoftmax, {node.in(0)}, o));
    return;
  }
  std::vector<int64_t> flat(x.shape.begin(), x.shape.begin() + axis);
  flat.push_back(product(x.shape, axis));
  const std::vector<int64_t> shape = x.shape;
  int flattened = node.reshape(node.in(0), flat, 0, false);
  o.axis = axis;
  int soft = node.emit_tmp(Op::kSoftmax, {flattened}, o);
  node.set_output(0, node.reshape(soft, shape));
}

}  // namespace

std::vector<OnnxOp> activation_onnx_ops() {
  return {
      {"Relu", lower_unary<Op::kRelu>},
      {"Sigmoid", lower_unary<Op::kSigmoid>},
      {"Tanh", lower_unary<Op::kTanh>},
      {"LeakyRelu", lower_leaky_relu},
      {"PRelu", lower_prelu},
      {"Clip", lower_clip},
      {"Softmax", lower_softmax},
  };
}

}  // namespace edgemtl::converter
