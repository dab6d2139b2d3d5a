// UNARY (float32 math by function), COMPARE, LOGICAL, IS_NAN, IS_INF and
// LAYER_NORM. Constants are folded in double, rounded once to float32.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

#include <cmath>

namespace edgemtl::converter {
namespace {

double unary_value(UnaryFunction f, double x, double exponent) {
  switch (f) {
    case UnaryFunction::kLog: return std::log(x);
    case UnaryFunction::kExp: return std::exp(x);
    case UnaryFunction::kSqrt: return std::sqrt(x);
    case UnaryFunction::kReciprocal: return 1.0 / x;
    case UnaryFunction::kAbs: return std::fabs(x);
    case UnaryFunction::kNeg: return -x;
    case UnaryFunction::kPow: return std::pow(x, exponent);
    case UnaryFunction::kErf: return std::erf(x);
    case UnaryFunction::kSoftplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case UnaryFunction::kFloor: return std::floor(x);
    case UnaryFunction::kCeil: return std::ceil(x);
    case UnaryFunction::kGelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case UnaryFunction::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

void infer_unary(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  require(call.in(0).dtype == DType::kFloat32, std::string(op_name(call.op)) + " needs float32");
  *dtype = DType::kFloat32;
  *shape = call.in(0).shape;
}

void evaluate_unary(const OpCall& call, Value* out) {
  for (float x : call.in(0).floats)
    out->floats.push_back(static_cast<float>(unary_value(call.options.function, x, call.options.exponent)));
}

void infer_float_test(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  infer_unary(call, dtype, shape);
  *dtype = DType::kBool;
}

void evaluate_float_test(const OpCall& call, Value* out) {
  for (float x : call.in(0).floats) {
    const bool hit = call.op == Op::kIsNan ? std::isnan(x)
                                           : std::isinf(x) && (x > 0 ? call.options.detect_positive
                                                                     : call.options.detect_negative);
    out->ints.push_back(hit ? 1 : 0);
  }
}

void infer_compare(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 2);
  require(call.in(0).dtype == call.in(1).dtype, "inputs have different dtypes");
  if (call.op == Op::kLogical) require(call.in(0).dtype == DType::kBool, "LOGICAL needs bool");
  else require(call.in(0).dtype != DType::kBool, "COMPARE needs float32 or int64");
  *dtype = DType::kBool;
  *shape = broadcast_shapes({call.in(0).shape, call.in(1).shape});
}

bool compare_values(const NodeOptions& o, Op op, double p, double q) {
  if (op == Op::kLogical) {
    switch (o.logical) {
      case Logical::kAnd: return p != 0 && q != 0;
      case Logical::kOr: return p != 0 || q != 0;
      case Logical::kXor: return (p != 0) != (q != 0);
    }
  }
  switch (o.predicate) {
    case Compare::kGreater: return p > q;
    case Compare::kLess: return p < q;
    case Compare::kGreaterEqual: return p >= q;
    case Compare::kLessEqual: return p <= q;
  }
  return false;
}

void evaluate_compare(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const Value& y = call.in(1);
  if (x.dtype == DType::kInt64) {
    check_no_symbol(x, call.op);
    check_no_symbol(y, call.op);
  }
  auto a = broadcast_offsets(x.shape, out->shape);
  auto b = broadcast_offsets(y.shape, out->shape);
  auto get = [](const Value& v, int64_t k) {
    return v.dtype == DType::kFloat32 ? static_cast<double>(v.floats[k]) : static_cast<double>(v.ints[k]);
  };
  for (size_t e = 0; e < a.size(); ++e)
    out->ints.push_back(compare_values(call.options, call.op, get(x, a[e]), get(y, b[e])) ? 1 : 0);
}

void normalize_layer_norm(int64_t rank, NodeOptions* o) { o->axis = normalize_axis(o->axis, rank); }

void infer_layer_norm(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 3);
  const Value& x = call.in(0);
  require(x.dtype == DType::kFloat32, "LAYER_NORM needs float32");
  require(!x.is_activation() || call.options.axis >= 1, "LAYER_NORM over the row dimension");
  const int64_t inner = product(x.shape, static_cast<size_t>(call.options.axis));
  for (size_t k = 1; k < call.inputs.size(); ++k) {
    require(call.in(k).is_constant && call.in(k).dtype == DType::kFloat32, "LAYER_NORM scale and bias must be float constants");
    require(product(call.in(k).shape) == inner, "LAYER_NORM scale and bias must have one value per normalised element");
  }
  *dtype = DType::kFloat32;
  *shape = x.shape;
}

void evaluate_layer_norm(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const int64_t inner = product(x.shape, static_cast<size_t>(call.options.axis));
  const int64_t outer = inner ? product(x.shape) / inner : 0;
  for (int64_t o = 0; o < outer; ++o) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += x.floats[o * inner + i];
    mean /= inner;
    for (int64_t i = 0; i < inner; ++i) var += (x.floats[o * inner + i] - mean) * (x.floats[o * inner + i] - mean);
    const double inv = 1.0 / std::sqrt(var / inner + call.options.epsilon);
    for (int64_t i = 0; i < inner; ++i) {
      double v = (x.floats[o * inner + i] - mean) * inv * call.in(1).floats[i];
      if (call.inputs.size() > 2) v += call.in(2).floats[i];
      out->floats.push_back(static_cast<float>(v));
    }
  }
}

FileOptions write_unary_options(const OptionsWriter& w) {
  return {schema::OpOptions::UnaryOptions,
          schema::CreateUnaryOptions(w.builder, static_cast<schema::UnaryFunction>(w.node.options.function),
                                     w.node.options.exponent)
              .Union()};
}

FileOptions write_compare_options(const OptionsWriter& w) {
  return {schema::OpOptions::CompareOptions,
          schema::CreateCompareOptions(w.builder, static_cast<schema::ComparePredicate>(w.node.options.predicate)).Union()};
}

FileOptions write_logical_options(const OptionsWriter& w) {
  return {schema::OpOptions::LogicalOptions,
          schema::CreateLogicalOptions(w.builder, static_cast<schema::LogicalFunction>(w.node.options.logical)).Union()};
}

// IS_INF detecting both signs (the default) has no options table.
FileOptions write_is_inf_options(const OptionsWriter& w) {
  const NodeOptions& o = w.node.options;
  if (o.detect_positive && o.detect_negative) return {};
  return {schema::OpOptions::IsInfOptions, schema::CreateIsInfOptions(w.builder, o.detect_positive, o.detect_negative).Union()};
}

FileOptions write_layer_norm_options(const OptionsWriter& w) {
  return {schema::OpOptions::LayerNormOptions,
          schema::CreateLayerNormOptions(w.builder, static_cast<int32_t>(w.node.options.axis), w.node.options.epsilon)
              .Union()};
}

}  // namespace

std::vector<OpRules> math_op_rules() {
  return {
      {Op::kUnary, infer_unary, evaluate_unary, nullptr, kElementwise, write_unary_options},
      {Op::kIsNan, infer_float_test, evaluate_float_test, nullptr, kElementwise},
      {Op::kIsInf, infer_float_test, evaluate_float_test, nullptr, kElementwise, write_is_inf_options},
      {Op::kCompare, infer_compare, evaluate_compare, nullptr, kElementwise | kBroadcastsRows, write_compare_options},
      {Op::kLogical, infer_compare, evaluate_compare, nullptr, kElementwise | kBroadcastsRows, write_logical_options},
      {Op::kLayerNorm, infer_layer_norm, evaluate_layer_norm, normalize_layer_norm, 0, write_layer_norm_options},
  };
}

}  // namespace edgemtl::converter
