// Elementwise ONNX ops: arithmetic, comparison, Where, Cast.
#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

template <Op kOp>
void lower_binary(Importer& node) {
  node.set_output(0, node.emit(kOp, {node.in(0), node.in(1)}));
}

// Max, Min, Sum: variadic, folded left to right.
template <Op kOp>
void lower_variadic(Importer& node) {
  const int count = node.proto().input_size();
  int acc = node.in(0);
  for (int i = 1; i < count; ++i)
    acc = i + 1 == count ? node.emit(kOp, {acc, node.in(i)}) : node.emit_tmp(kOp, {acc, node.in(i)});
  node.set_output(0, acc);
}

void lower_neg(Importer& node) {
  int minus_one = node.float_constant({}, {-1.0f}, "_minus_one");
  if (node.val(node.in(0)).dtype != DType::kFloat32) throw ConversionError("Neg needs float32");
  node.set_output(0, node.emit(Op::kMul, {node.in(0), minus_one}));
}

void lower_not(Importer& node) { node.set_output(0, node.emit(Op::kNot, {node.in(0)})); }

void lower_where(Importer& node) {
  node.set_output(0, node.emit(Op::kWhere, {node.in(0), node.in(1), node.in(2)}));
}

void lower_cast(Importer& node) {
  using onnx::TensorProto;
  int64_t to = node.attr_int("to", TensorProto::FLOAT);
  const Value& x = node.val(node.in(0));
  if (to == TensorProto::DOUBLE && !x.is_constant && x.dtype == DType::kFloat32) {
    node.set_widened_output(0, node.in(0));  // exact: torch.isinf(x) is IsInf(Cast(x, DOUBLE))
    return;
  }
  DType target;
  if (to == TensorProto::FLOAT || (to == TensorProto::DOUBLE && x.is_constant)) target = DType::kFloat32;
  else if (to == TensorProto::INT64 || (to == TensorProto::INT32 && x.is_constant)) target = DType::kInt64;
  else if (to == TensorProto::BOOL) target = DType::kBool;
  else throw ConversionError("cast to ONNX type " + std::to_string(to) + " is not supported");
  if (target == x.dtype) {
    node.set_output(0, node.in(0));
  } else {
    NodeOptions o;
    o.cast_to = target;
    node.set_output(0, node.emit(Op::kCast, {node.in(0)}, o));
  }
}

}  // namespace

std::vector<OnnxOp> elementwise_onnx_ops() {
  return {
      {"Add", lower_binary<Op::kAdd>},
      {"Sub", lower_binary<Op::kSub>},
      {"Mul", lower_binary<Op::kMul>},
      {"Div", lower_binary<Op::kDiv>},
      {"Equal", lower_binary<Op::kEqual>},
      {"Max", lower_variadic<Op::kMax>},
      {"Min", lower_variadic<Op::kMin>},
      {"Sum", lower_variadic<Op::kAdd>},
      {"Neg", lower_neg},
      {"Not", lower_not},
      {"Where", lower_where},
      {"Cast", lower_cast,
       "to float32, int64 or bool; to double only a float32 value read by IsInf / IsNaN (torch.isinf), or "
       "a constant"},
  };
}

}  // namespace edgemtl::converter
