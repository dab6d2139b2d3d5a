// Elementwise operators with numpy broadcasting: ADD SUB MUL DIV MAXIMUM
// MINIMUM (with a fused activation), EQUAL, NOT, WHERE, CAST, PRELU.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace edgemtl::converter {
namespace {

// ADD .. MINIMUM and EQUAL.
void infer_binary(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 2);
  const bool comparison = call.op == Op::kEqual;
  require(call.in(0).dtype == call.in(1).dtype, "inputs have different dtypes");
  if (call.any_activation() && !comparison)
    require(call.in(0).dtype == DType::kFloat32, "arithmetic on activations must be float32");
  *dtype = comparison ? DType::kBool : call.in(0).dtype;
  *shape = broadcast_shapes({call.in(0).shape, call.in(1).shape});
}

template <typename T>
T arithmetic(Op op, T a, T b) {
  switch (op) {
    case Op::kAdd: return a + b;
    case Op::kSub: return a - b;
    case Op::kMul: return a * b;
    case Op::kDiv:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) throw ConversionError("integer division by zero in a constant");
      }
      return a / b;
    case Op::kMax: return std::max(a, b);
    case Op::kMin: return std::min(a, b);
    default: return a;
  }
}

void evaluate_arithmetic(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const Value& y = call.in(1);
  const int64_t total = product(out->shape);
  auto a = broadcast_offsets(x.shape, out->shape);
  auto b = broadcast_offsets(y.shape, out->shape);
  if (out->dtype == DType::kFloat32) {
    out->floats.resize(total);
    for (int64_t e = 0; e < total; ++e)
      out->floats[e] = apply_activation(arithmetic<float>(call.op, x.floats[a[e]], y.floats[b[e]]),
                                        call.options.activation, call.options.alpha);
  } else {
    check_no_symbol(x, call.op);
    check_no_symbol(y, call.op);
    out->ints.resize(total);
    for (int64_t e = 0; e < total; ++e) out->ints[e] = arithmetic<int64_t>(call.op, x.ints[a[e]], y.ints[b[e]]);
  }
}

void evaluate_equal(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const Value& y = call.in(1);
  const int64_t total = product(out->shape);
  auto a = broadcast_offsets(x.shape, out->shape);
  auto b = broadcast_offsets(y.shape, out->shape);
  out->ints.resize(total);
  for (int64_t e = 0; e < total; ++e) {
    if (x.dtype == DType::kFloat32) {
      out->ints[e] = x.floats[a[e]] == y.floats[b[e]];
      continue;
    }
    int64_t p = x.ints[a[e]], q = y.ints[b[e]];
    bool p_rows = p == kRowsSymbol, q_rows = q == kRowsSymbol;
    if (p_rows != q_rows && (p_rows ? q : p) > 0)
      throw ConversionError("EQUAL compares the row count with a positive number");
    out->ints[e] = p == q;
  }
}

void infer_not(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  require(call.in(0).dtype == DType::kBool, "NOT needs bool");
  *dtype = DType::kBool;
  *shape = call.in(0).shape;
}

void evaluate_not(const OpCall& call, Value* out) {
  const int64_t total = product(out->shape);
  out->ints.resize(total);
  for (int64_t e = 0; e < total; ++e) out->ints[e] = !call.in(0).ints[e];
}

void infer_where(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(3, 3);
  require(call.in(0).dtype == DType::kBool, "WHERE condition must be bool");
  require(call.in(1).dtype == call.in(2).dtype, "WHERE branches have different dtypes");
  *dtype = call.in(1).dtype;
  *shape = broadcast_shapes({call.in(0).shape, call.in(1).shape, call.in(2).shape});
}

void evaluate_where(const OpCall& call, Value* out) {
  const Value& condition = call.in(0);
  const Value& x = call.in(1);
  const Value& y = call.in(2);
  const int64_t total = product(out->shape);
  auto c = broadcast_offsets(condition.shape, out->shape);
  auto a = broadcast_offsets(x.shape, out->shape);
  auto b = broadcast_offsets(y.shape, out->shape);
  if (out->dtype == DType::kFloat32) {
    out->floats.resize(total);
    for (int64_t e = 0; e < total; ++e) out->floats[e] = condition.ints[c[e]] ? x.floats[a[e]] : y.floats[b[e]];
  } else {
    out->ints.resize(total);
    for (int64_t e = 0; e < total; ++e) out->ints[e] = condition.ints[c[e]] ? x.ints[a[e]] : y.ints[b[e]];
  }
}

void infer_cast(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  *dtype = call.options.cast_to;
  *shape = call.in(0).shape;
}

void evaluate_cast(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const DType dtype = out->dtype;
  if (x.dtype != DType::kFloat32 && dtype != DType::kInt64) check_no_symbol(x, call.op);
  const int64_t total = product(out->shape);
  for (int64_t e = 0; e < total; ++e) {
    double v = x.dtype == DType::kFloat32 ? x.floats[e] : static_cast<double>(x.ints[e]);
    if (dtype == DType::kFloat32) out->floats.push_back(static_cast<float>(v));
    else if (dtype == DType::kBool) out->ints.push_back(v != 0);
    else out->ints.push_back(x.dtype == DType::kFloat32 ? static_cast<int64_t>(std::trunc(v)) : x.ints[e]);
  }
}

void infer_prelu(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 2);
  require(call.in(1).is_constant, "PRELU slope must be a constant");
  require(call.in(0).dtype == DType::kFloat32 && call.in(1).dtype == DType::kFloat32, "PRELU needs float32");
  *dtype = DType::kFloat32;
  *shape = broadcast_shapes({call.in(0).shape, call.in(1).shape});
  require(*shape == call.in(0).shape, "PRELU slope would broadcast the input");
}

void evaluate_prelu(const OpCall& call, Value* out) {
  const Value& slope = call.in(1);
  auto s = broadcast_offsets(slope.shape, out->shape);
  const int64_t total = product(out->shape);
  for (int64_t e = 0; e < total; ++e) {
    float x = call.in(0).floats[e];
    out->floats.push_back(x >= 0 ? x : x * slope.floats[s[e]]);
  }
}

FileOptions write_binary_options(const OptionsWriter& w) {
  return {schema::OpOptions::BinaryOptions,
          schema::CreateBinaryOptions(w.builder, to_schema(w.node.options.activation), w.node.options.alpha).Union()};
}

FileOptions write_cast_options(const OptionsWriter& w) {
  return {schema::OpOptions::CastOptions, schema::CreateCastOptions(w.builder, to_schema(w.node.options.cast_to)).Union()};
}

}  // namespace

std::vector<OpRules> elementwise_op_rules() {
  return {
      {Op::kAdd, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kSub, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kMul, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kDiv, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kMax, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kMin, infer_binary, evaluate_arithmetic, nullptr, kBinaryElementwise | kBroadcastsRows, write_binary_options},
      {Op::kEqual, infer_binary, evaluate_equal, nullptr, kElementwise | kBroadcastsRows},
      {Op::kNot, infer_not, evaluate_not, nullptr, kElementwise},
      {Op::kWhere, infer_where, evaluate_where, nullptr, kElementwise | kBroadcastsRows},
      {Op::kCast, infer_cast, evaluate_cast, nullptr, kElementwise, write_cast_options},
      {Op::kPRelu, infer_prelu, evaluate_prelu, nullptr, kElementwise},
  };
}

}  // namespace edgemtl::converter
