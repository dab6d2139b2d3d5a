// Verifier cases of runtime/ops/softmax.cc, reduce.cc, matmul.cc and mix.cc.
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

ModelBytes softmax(int axis) {
  OneOp o;
  return o.finish(OpType::SOFTMAX, {o.x}, o.activation(DType::FLOAT32, {-1, 3}), OpOptions::AxisOptions,
                  axis_options(axis));
}

ModelBytes reduce(OpType type, std::vector<int> axes) {
  OneOp o;
  return o.finish(type, {o.x}, o.activation(DType::FLOAT32, {-1}), OpOptions::ReduceOptions,
                  reduce_options(axes, false));
}

// [-1, 1, 3] (x reshaped) times a constant [1, k, 2].
ModelBytes matmul(int64_t k) {
  OneOp o;
  const int a = o.activation(DType::FLOAT32, {-1, 1, 3});
  o.m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {o.x}, {a});
  const int b = o.m.add_constant_f32("b", {1, k, 2}, std::vector<float>(static_cast<size_t>(k) * 2, 0.5f));
  return o.finish(OpType::MATMUL, {a, b}, o.activation(DType::FLOAT32, {-1, 1, 2}));
}

// A gate [-1, gate_width] (a softmax of a FC of x) mixing x and x2.
ModelBytes mix(int64_t gate_width) {
  OneOp o;
  const int w = o.m.add_constant_f32("w", {gate_width, 3}, std::vector<float>(static_cast<size_t>(gate_width) * 3, 0.5f));
  const int gate = o.activation(DType::FLOAT32, {-1, gate_width});
  o.m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {o.x, w}, {gate});
  return o.finish(OpType::MIX, {gate, o.x, o.x2}, o.activation(DType::FLOAT32, {-1, 3}));
}

const bool kRegistered = register_verifier_cases({
    {OpType::SOFTMAX, [] { return softmax(1); }, ""},
    {OpType::SOFTMAX, [] { return softmax(0); }, "axis 0 outside [1, 2)"},
    {OpType::REDUCE_SUM, [] { return reduce(OpType::REDUCE_SUM, {1}); }, ""},
    {OpType::REDUCE_SUM, [] { return reduce(OpType::REDUCE_SUM, {1, 1}); }, "axis 1 listed twice"},
    {OpType::REDUCE_MEAN, [] { return reduce(OpType::REDUCE_MEAN, {1}); }, ""},
    {OpType::REDUCE_MEAN, [] { return reduce(OpType::REDUCE_MEAN, {}); }, "no axes to reduce"},
    {OpType::MATMUL, [] { return matmul(3); }, ""},
    {OpType::MATMUL, [] { return matmul(2); }, "inputs [..., M, K] and [..., K, N] do not match"},
    {OpType::MIX, [] { return mix(2); }, ""},
    {OpType::MIX, [] { return mix(3); }, "must have shape [-1, G * 2], G sets of one weight per expert input"},
    {OpType::MIX, [] { return mix(4); }, "expected [-1, 6]"},  // two mixtures of width 3 side by side
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
