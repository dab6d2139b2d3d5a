// Verifier cases of runtime/ops/layout.cc.
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

ModelBytes concat(int64_t output_width) {
  OneOp o;
  return o.finish(OpType::CONCAT, {o.x, o.x2}, o.activation(DType::FLOAT32, {-1, output_width}),
                  OpOptions::AxisOptions, axis_options(1));
}

ModelBytes take(int64_t index) {
  OneOp o;
  return o.finish(OpType::TAKE, {o.x}, o.activation(DType::FLOAT32, {-1, 1}), OpOptions::TakeOptions,
                  take_options(1, {index}));
}

// x [-1, 3] reshaped to [-1, 3, 1], then transposed by `perm`.
ModelBytes transpose(std::vector<int> perm) {
  OneOp o;
  const int cube = o.activation(DType::FLOAT32, {-1, 3, 1});
  o.m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {o.x}, {cube});
  return o.finish(OpType::TRANSPOSE, {cube}, o.activation(DType::FLOAT32, {-1, 1, 3}), OpOptions::TransposeOptions,
                  transpose_options(perm));
}

ModelBytes reshape(std::vector<int64_t> shape) {
  OneOp o;
  return o.finish(OpType::RESHAPE, {o.x}, o.activation(DType::FLOAT32, shape));
}

ModelBytes broadcast_rows(DType output) {
  OneOp o;
  return o.finish(OpType::BROADCAST_ROWS, {o.x}, o.activation(output, {-1, 3}));
}

const bool kRegistered = register_verifier_cases({
    {OpType::CONCAT, [] { return concat(6); }, ""},
    {OpType::CONCAT, [] { return concat(5); }, "inputs add up to 6 along axis 1, output has 5"},
    {OpType::TAKE, [] { return take(-3); }, ""},
    {OpType::TAKE, [] { return take(3); }, "index 3 outside [-3, 3) of axis 1"},
    {OpType::TRANSPOSE, [] { return transpose({0, 2, 1}); }, ""},
    {OpType::TRANSPOSE, [] { return transpose({1, 0, 2}); }, "perm is not a permutation with perm[0] == 0"},
    {OpType::RESHAPE, [] { return reshape({-1, 1, 3}); }, ""},
    {OpType::RESHAPE, [] { return reshape({-1, 2}); }, "output has 2 values per row, input 3"},
    {OpType::BROADCAST_ROWS, [] { return broadcast_rows(DType::FLOAT32); }, ""},
    {OpType::BROADCAST_ROWS, [] { return broadcast_rows(DType::INT64); }, "is INT64, expected FLOAT32"},
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
