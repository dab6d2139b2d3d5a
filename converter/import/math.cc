// Math on run-time values: Log Exp Sqrt Reciprocal Abs Erf Softplus Floor Ceil
// Pow (constant exponent) -> UNARY; Greater Less GreaterOrEqual LessOrEqual ->
// COMPARE; And Or Xor -> LOGICAL; IsNaN, IsInf. On constants they fold.
#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

template <UnaryFunction kFunction>
void lower_unary(Importer& node) {
  if (node.val(node.in(0)).dtype != DType::kFloat32) throw ConversionError("needs float32");
  NodeOptions o;
  o.function = kFunction;
  node.set_output(0, node.emit(Op::kUnary, {node.in(0)}, o));
}

void lower_pow(Importer& node) {
  if (node.val(node.in(0)).dtype != DType::kFloat32) throw ConversionError("the base must be float32");
  const Value& exponent = node.constant_input(1, "the exponent");
  if (exponent.dtype != DType::kFloat32 || exponent.floats.size() != 1)
    throw ConversionError("the exponent must be one float constant");
  NodeOptions o;
  o.function = UnaryFunction::kPow;
  o.exponent = exponent.floats[0];
  node.set_output(0, node.emit(Op::kUnary, {node.in(0)}, o));
}

template <Compare kPredicate>
void lower_compare(Importer& node) {
  NodeOptions o;
  o.predicate = kPredicate;
  node.set_output(0, node.emit(Op::kCompare, {node.in(0), node.in(1)}, o));
}

template <Logical kFunction>
void lower_logical(Importer& node) {
  NodeOptions o;
  o.logical = kFunction;
  node.set_output(0, node.emit(Op::kLogical, {node.in(0), node.in(1)}, o));
}

void lower_is_nan(Importer& node) { node.set_output(0, node.emit(Op::kIsNan, {node.in(0)})); }

void lower_is_inf(Importer& node) {
  NodeOptions o;
  o.detect_positive = node.attr_int("detect_positive", 1) != 0;
  o.detect_negative = node.attr_int("detect_negative", 1) != 0;
  node.set_output(0, node.emit(Op::kIsInf, {node.in(0)}, o));
}

}  // namespace

std::vector<OnnxOp> math_onnx_ops() {
  const char* float32 = "float32 input";
  return {
      {"Log", lower_unary<UnaryFunction::kLog>, float32},
      {"Exp", lower_unary<UnaryFunction::kExp>, float32},
      {"Sqrt", lower_unary<UnaryFunction::kSqrt>, float32},
      {"Reciprocal", lower_unary<UnaryFunction::kReciprocal>, float32},
      {"Abs", lower_unary<UnaryFunction::kAbs>, float32},
      {"Erf", lower_unary<UnaryFunction::kErf>, float32},
      {"Softplus", lower_unary<UnaryFunction::kSoftplus>, float32},
      {"Floor", lower_unary<UnaryFunction::kFloor>, float32},
      {"Ceil", lower_unary<UnaryFunction::kCeil>, float32},
      {"Pow", lower_pow, "float32 base; the exponent one float constant"},
      {"Greater", lower_compare<Compare::kGreater>, "float32 or int64, equal dtypes, broadcast"},
      {"Less", lower_compare<Compare::kLess>, "float32 or int64, equal dtypes, broadcast"},
      {"GreaterOrEqual", lower_compare<Compare::kGreaterEqual>, "float32 or int64, equal dtypes, broadcast"},
      {"LessOrEqual", lower_compare<Compare::kLessEqual>, "float32 or int64, equal dtypes, broadcast"},
      {"And", lower_logical<Logical::kAnd>, "bool, broadcast"},
      {"Or", lower_logical<Logical::kOr>, "bool, broadcast"},
      {"Xor", lower_logical<Logical::kXor>, "bool, broadcast"},
      {"IsNaN", lower_is_nan, "float32; a dense feature it reads accepts NaN (missing) at run time"},
      {"IsInf", lower_is_inf, "float32; detect_positive / detect_negative"},
  };
}

}  // namespace edgemtl::converter
