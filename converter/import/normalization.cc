// BatchNormalization (inference): MUL and ADD by per-channel constants, which
// passes/fold_affine.cc folds into a neighbouring FULLY_CONNECTED.
// LayerNormalization (opset 17): LAYER_NORM (the opset-13 decomposition torch
// writes is fused into it by passes/fuse_layer_norm.cc).
#include "converter/import/importer.h"

#include <cmath>

namespace edgemtl::converter {
namespace {

void lower_batch_norm(Importer& node) {
  const Value& x = node.val(node.in(0));
  if (node.attr_int("training_mode", 0) != 0) throw ConversionError("BatchNormalization in training mode");
  for (int i = 1; i < node.proto().output_size(); ++i)
    if (!node.proto().output(i).empty())
      throw ConversionError("BatchNormalization running statistics outputs are not supported");
  const Value& scale = node.constant_input(1, "BatchNormalization scale");
  const Value& bias = node.constant_input(2, "BatchNormalization bias");
  const Value& mean = node.constant_input(3, "BatchNormalization mean");
  const Value& var = node.constant_input(4, "BatchNormalization variance");
  const double epsilon = node.attr_float("epsilon", 1e-5f);
  if (x.rank() < 2) throw ConversionError("BatchNormalization needs a channel dimension");
  const int64_t channels = x.shape[1];
  for (const Value* p : {&scale, &bias, &mean, &var})
    if (static_cast<int64_t>(p->floats.size()) != channels)
      throw ConversionError("BatchNormalization parameters do not match channels");
  std::vector<float> s(channels), t(channels);
  for (int64_t c = 0; c < channels; ++c) {
    double factor = scale.floats[c] / std::sqrt(double(var.floats[c]) + epsilon);
    s[c] = static_cast<float>(factor);
    t[c] = static_cast<float>(bias.floats[c] - mean.floats[c] * factor);
  }
  // Channel axis 1: constants [C, 1, ...] broadcast over the trailing dims.
  std::vector<int64_t> shape = {channels};
  for (int64_t d = 2; d < x.rank(); ++d) shape.push_back(1);
  int scaled = node.emit_tmp(Op::kMul, {node.in(0), node.float_constant(shape, s, "_scale")});
  node.set_output(0, node.emit(Op::kAdd, {scaled, node.float_constant(shape, t, "_shift")}));
}

void lower_layer_norm(Importer& node) {
  for (int i = 1; i < node.proto().output_size(); ++i)
    if (!node.proto().output(i).empty()) throw ConversionError("the Mean and InvStdDev outputs are not supported");
  node.constant_input(1, "LayerNormalization scale");
  NodeOptions o;
  o.axis = node.attr_int("axis", -1);
  o.epsilon = node.attr_float("epsilon", 1e-5f);
  std::vector<int> inputs = {node.in(0), node.in(1)};
  if (node.has_input(2)) {
    node.constant_input(2, "LayerNormalization bias");
    inputs.push_back(node.in(2));
  }
  node.set_output(0, node.emit(Op::kLayerNorm, inputs, o));
}

}  // namespace

std::vector<OnnxOp> normalization_onnx_ops() {
  return {
      {"BatchNormalization", lower_batch_norm, "inference mode; constant statistics"},
      {"LayerNormalization", lower_layer_norm,
       "float32; scale and bias constants with one value per normalised element; axis not the rows; only output Y",
       17},
  };
}

}  // namespace edgemtl::converter
