// Verifier cases of runtime/ops/math.cc (UNARY, IS_NAN, IS_INF, COMPARE,
// LOGICAL), the reductions appended to reduce.cc and layer_norm.cc.
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

ModelBytes unary(bool with_options, DType output = DType::FLOAT32) {
  OneOp o;
  return o.finish(OpType::UNARY, {o.x}, o.activation(output, {-1, 3}), with_options ? OpOptions::UnaryOptions : OpOptions::NONE,
                  with_options ? unary_options(schema::UnaryFunction::POW, 3.0f) : nullptr);
}

ModelBytes float_test(OpType type, DType output) {
  OneOp o;
  return o.finish(type, {o.x}, o.activation(output, {-1, 3}),
                  type == OpType::IS_INF ? OpOptions::IsInfOptions : OpOptions::NONE,
                  type == OpType::IS_INF ? is_inf_options(true, false) : nullptr);
}

ModelBytes compare(bool int_input) {
  OneOp o;
  const int b = int_input ? o.id : o.x2;
  return o.finish(OpType::COMPARE, {o.x, b}, o.activation(DType::BOOL, {-1, 3}), OpOptions::CompareOptions,
                  compare_options(schema::ComparePredicate::GREATER_EQUAL));
}

ModelBytes logical(bool bool_inputs) {
  OneOp o;
  const int a = bool_inputs ? o.bool_activation() : o.x;
  return o.finish(OpType::LOGICAL, {a, a}, o.activation(DType::BOOL, {-1, 3}), OpOptions::LogicalOptions,
                  logical_options(schema::LogicalFunction::XOR));
}

ModelBytes reduce(OpType type, std::vector<int> axes) {
  OneOp o;
  return o.finish(type, {o.x}, o.activation(DType::FLOAT32, {-1}), OpOptions::ReduceOptions, reduce_options(axes, false));
}

ModelBytes layer_norm(int64_t scale_size, int axis = 1) {
  OneOp o;
  const int scale = o.m.add_constant_f32("scale", {scale_size}, std::vector<float>(static_cast<size_t>(scale_size), 1.0f));
  const int bias = o.m.add_constant_f32("bias", {scale_size}, std::vector<float>(static_cast<size_t>(scale_size), 0.5f));
  return o.finish(OpType::LAYER_NORM, {o.x, scale, bias}, o.activation(DType::FLOAT32, {-1, 3}),
                  OpOptions::LayerNormOptions, layer_norm_options(axis, 1e-5f));
}

std::vector<VerifierCase> reduce_cases() {
  std::vector<VerifierCase> cases;
  for (OpType type : {OpType::REDUCE_MAX, OpType::REDUCE_MIN, OpType::REDUCE_PROD, OpType::REDUCE_L2}) {
    cases.push_back({type, [type] { return reduce(type, {1}); }, ""});
    cases.push_back({type, [type] { return reduce(type, {0}); }, "axis 0 outside [1, 2)"});
  }
  return cases;
}

const bool kReduce = register_verifier_cases(reduce_cases());

const bool kOthers = register_verifier_cases({
    {OpType::UNARY, [] { return unary(true); }, ""},
    {OpType::UNARY, [] { return unary(false); }, "options UnaryOptions are missing"},
    {OpType::UNARY, [] { return unary(true, DType::BOOL); }, "is BOOL, expected FLOAT32"},
    {OpType::IS_NAN, [] { return float_test(OpType::IS_NAN, DType::BOOL); }, ""},
    {OpType::IS_NAN, [] { return float_test(OpType::IS_NAN, DType::FLOAT32); }, "is FLOAT32, expected BOOL"},
    {OpType::IS_INF, [] { return float_test(OpType::IS_INF, DType::BOOL); }, ""},
    {OpType::IS_INF, [] { return float_test(OpType::IS_INF, DType::FLOAT32); }, "is FLOAT32, expected BOOL"},
    {OpType::COMPARE, [] { return compare(false); }, ""},
    {OpType::COMPARE, [] { return compare(true); }, "is INT64, expected FLOAT32"},
    {OpType::LOGICAL, [] { return logical(true); }, ""},
    {OpType::LOGICAL, [] { return logical(false); }, "is FLOAT32, expected BOOL"},
    {OpType::LAYER_NORM, [] { return layer_norm(3); }, ""},
    {OpType::LAYER_NORM, [] { return layer_norm(2); }, "scale has 2 values, the normalised dims 3"},
    {OpType::LAYER_NORM, [] { return layer_norm(3, 0); }, "axis 0 outside [1, 2)"},
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
