// Verifier cases of runtime/ops/binary.cc, logic.cc and activation.cc.
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

// A binary FLOAT32 op of x and x2 (or x alone, to break the arity).
ModelBytes binary(OpType type, bool both_inputs) {
  OneOp o;
  std::vector<int> inputs = {o.x};
  if (both_inputs) inputs.push_back(o.x2);
  return o.finish(type, inputs, o.activation(DType::FLOAT32, {-1, 3}), OpOptions::BinaryOptions,
                  binary_options(schema::Activation::RELU));
}

std::vector<VerifierCase> binary_cases() {
  std::vector<VerifierCase> cases;
  for (OpType type : {OpType::ADD, OpType::SUB, OpType::MUL, OpType::DIV, OpType::MAXIMUM, OpType::MINIMUM}) {
    cases.push_back({type, [type] { return binary(type, true); }, ""});
    cases.push_back({type, [type] { return binary(type, false); }, "takes 2 inputs, has 1"});
  }
  return cases;
}

// A one-input FLOAT32 activation of x, with `options` (or none).
ModelBytes unary(OpType type, OpOptions options_type = OpOptions::NONE, ModelBuilder::OptionsFn options = nullptr) {
  OneOp o;
  return o.finish(type, {o.x}, o.activation(DType::FLOAT32, {-1, 3}), options_type, std::move(options));
}

ModelBytes equal(DType output) {
  OneOp o;
  return o.finish(OpType::EQUAL, {o.x, o.x2}, o.activation(output, {-1, 3}));
}

ModelBytes logical_not(bool bool_input) {
  OneOp o;
  return o.finish(OpType::NOT, {bool_input ? o.bool_activation() : o.x}, o.activation(DType::BOOL, {-1, 3}));
}

ModelBytes where(bool bool_condition) {
  OneOp o;
  const int condition = bool_condition ? o.bool_activation() : o.x;
  return o.finish(OpType::WHERE, {condition, o.x, o.x2}, o.activation(DType::FLOAT32, {-1, 3}));
}

ModelBytes cast(bool with_options) {
  OneOp o;
  return o.finish(OpType::CAST, {o.x}, o.activation(DType::INT64, {-1, 3}),
                  with_options ? OpOptions::CastOptions : OpOptions::NONE,
                  with_options ? cast_options(DType::INT64) : nullptr);
}

ModelBytes prelu(bool constant_slope) {
  OneOp o;
  const int slope = constant_slope ? o.m.add_constant_f32("slope", {1, 3}, {0.1f, 0.2f, 0.3f}) : o.x2;
  return o.finish(OpType::PRELU, {o.x, slope}, o.activation(DType::FLOAT32, {-1, 3}));
}

const bool kBinary = register_verifier_cases(binary_cases());

const bool kOthers = register_verifier_cases({
    {OpType::EQUAL, [] { return equal(DType::BOOL); }, ""},
    {OpType::EQUAL, [] { return equal(DType::FLOAT32); }, "is FLOAT32, expected BOOL"},
    {OpType::NOT, [] { return logical_not(true); }, ""},
    {OpType::NOT, [] { return logical_not(false); }, "is FLOAT32, expected BOOL"},
    {OpType::WHERE, [] { return where(true); }, ""},
    {OpType::WHERE, [] { return where(false); }, "condition (tensor 0 'x') is FLOAT32, expected BOOL"},
    {OpType::CAST, [] { return cast(true); }, ""},
    {OpType::CAST, [] { return cast(false); }, "options CastOptions are missing"},
    {OpType::RELU, [] { return unary(OpType::RELU); }, ""},
    {OpType::RELU, [] { return unary(OpType::RELU, OpOptions::ActivationOptions, activation_options(0.1f)); },
     "takes no options but has ActivationOptions"},
    {OpType::SIGMOID, [] { return unary(OpType::SIGMOID); }, ""},
    {OpType::SIGMOID, [] { return unary(OpType::SIGMOID, OpOptions::ClipOptions, clip_options(0, 1)); },
     "takes no options but has ClipOptions"},
    {OpType::TANH, [] { return unary(OpType::TANH); }, ""},
    {OpType::TANH, [] { return unary(OpType::TANH, OpOptions::AxisOptions, axis_options(1)); },
     "takes no options but has AxisOptions"},
    {OpType::LEAKY_RELU, [] { return unary(OpType::LEAKY_RELU, OpOptions::ActivationOptions, activation_options(0.1f)); },
     ""},
    {OpType::LEAKY_RELU, [] { return unary(OpType::LEAKY_RELU, OpOptions::ClipOptions, clip_options(0, 1)); },
     "options are ClipOptions, expected ActivationOptions"},
    {OpType::CLIP, [] { return unary(OpType::CLIP, OpOptions::ClipOptions, clip_options(0, 1)); }, ""},
    {OpType::CLIP, [] { return unary(OpType::CLIP, OpOptions::ClipOptions, clip_options(2, 1)); }, "clip min 2 > max 1"},
    {OpType::PRELU, [] { return prelu(true); }, ""},
    {OpType::PRELU, [] { return prelu(false); }, "slope (tensor 1) must be a constant"},
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
