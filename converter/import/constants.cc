// Constant, Identity, Dropout, and the ops the runtime lacks that are fine on
// constants (computed here): Sqrt Exp Log Reciprocal Abs.
#include "converter/import/importer.h"

#include <cmath>

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

template <double (*kFunction)(double)>
void lower_constant_unary(Importer& node) {
  const Value& x = node.val(node.in(0));
  if (!x.is_constant || x.dtype != DType::kFloat32)
    throw ConversionError("only supported on float constants (the runtime has no such operator)");
  std::vector<float> data;
  for (float v : x.floats) data.push_back(static_cast<float>(kFunction(v)));
  node.set_output(0, node.graph().add_float_constant(node.out_name(), x.shape, data));
}

double square_root(double x) { return std::sqrt(x); }
double exponential(double x) { return std::exp(x); }
double logarithm(double x) { return std::log(x); }
double reciprocal(double x) { return 1.0 / x; }
double absolute(double x) { return std::fabs(x); }

}  // namespace

std::vector<OnnxOp> constant_onnx_ops() {
  return {
      {"Constant", lower_constant},
      {"Identity", lower_identity},
      {"Dropout", lower_dropout},
      {"Sqrt", lower_constant_unary<square_root>},
      {"Exp", lower_constant_unary<exponential>},
      {"Log", lower_constant_unary<logarithm>},
      {"Reciprocal", lower_constant_unary<reciprocal>},
      {"Abs", lower_constant_unary<absolute>},
  };
}

}  // namespace edgemtl::converter
