// Constant, Identity, Dropout (math on constants folds through the IR ops, import/math.cc).
#include "converter/import/importer.h"


namespace edgemtl::converter {
namespace {

void lower_constant(Importer& node) {
  Value v;
  if (auto a = node.attr("value")) {
    v = constant_from_tensor(a->t());
  } else if (auto a = node.attr("value_float")) {
    v.is_constant = true;
    v.dtype = DType::kFloat32;
    v.floats = {a->f()};
  } else if (auto a = node.attr("value_floats")) {
    v.is_constant = true;
    v.dtype = DType::kFloat32;
    v.floats.assign(a->floats().begin(), a->floats().end());
    v.shape = {static_cast<int64_t>(v.floats.size())};
  } else if (auto a = node.attr("value_int")) {
    v.is_constant = true;
    v.dtype = DType::kInt64;
    v.ints = {a->i()};
  } else if (auto a = node.attr("value_ints")) {
    v.is_constant = true;
    v.dtype = DType::kInt64;
    v.ints.assign(a->ints().begin(), a->ints().end());
    v.shape = {static_cast<int64_t>(v.ints.size())};
  } else {
    throw ConversionError("unsupported Constant attribute");
  }
  node.set_output(0, node.add_output_constant(std::move(v)));
}

void lower_identity(Importer& node) { node.set_output(0, node.in(0)); }

void lower_dropout(Importer& node) {
  node.set_output(0, node.in(0));
  if (node.proto().output_size() > 1 && !node.proto().output(1).empty())
    throw ConversionError("the dropout mask output is not supported");
}

}  // namespace

std::vector<OnnxOp> constant_onnx_ops() {
  return {
      {"Constant", lower_constant},
      {"Identity", lower_identity},
      {"Dropout", lower_dropout},
  };
}

}  // namespace edgemtl::converter
