// Verifier cases of runtime/ops/fully_connected.cc and embedding.cc.
#include <cmath>
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

ModelBytes fully_connected(int output_width, DType weight_dtype = DType::FLOAT32) {
  OneOp o;
  const int w = weight_dtype == DType::FLOAT32
                    ? o.m.add_constant_f32("w", {2, 3}, std::vector<float>(6, 0.5f))
                    : o.m.add_constant("w", weight_dtype, {2, 3}, std::vector<int32_t>(6, 0).data(), 24);
  return o.finish(OpType::FULLY_CONNECTED, {o.x, w}, o.activation(DType::FLOAT32, {-1, output_width}));
}

// x [-1, 3] (K = 3) plus columns offset .. offset + 2 of the addend CONCAT(x, x2) [-1, 6].
ModelBytes fully_connected_addend(int64_t offset, schema::Activation input_activation, bool with_addend = true,
                                  float input_alpha = 0.01f) {
  OneOp o;
  const int w = o.m.add_constant_f32("w", {2, 3}, std::vector<float>(6, 0.5f));
  const int b = o.m.add_constant_f32("b", {2}, std::vector<float>(2, 0.25f));
  std::vector<int> inputs = {o.x, w, b};
  if (with_addend) {
    const int wide = o.activation(DType::FLOAT32, {-1, 6});
    o.m.add_op(ModelBuilder::kItem, OpType::CONCAT, {o.x, o.x2}, {wide}, OpOptions::AxisOptions,
               [](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateAxisOptions(fbb, 1).Union(); });
    inputs.push_back(wide);
  }
  return o.finish(OpType::FULLY_CONNECTED, inputs, o.activation(DType::FLOAT32, {-1, 2}),
                  OpOptions::FullyConnectedOptions,
                  fc_addend_options(schema::Activation::NONE, input_activation, offset, input_alpha));
}

ModelBytes embedding(int64_t default_row) {
  OneOp o;
  const int table = o.m.add_constant_f32("table", {4, 2}, std::vector<float>(8, 0.5f));
  return o.finish(OpType::EMBEDDING, {table, o.id}, o.activation(DType::FLOAT32, {-1, 2}), OpOptions::GatherOptions,
                  gather_options(default_row));
}

ModelBytes embedding_multi(std::vector<int64_t> counts) {
  OneOp o;
  const int table = o.m.add_constant_f32("table", {6, 2}, std::vector<float>(12, 0.5f));
  const int id2 = o.m.feature_tensor(o.m.add_feature("id2", schema::Side::ITEM, schema::FeatureKind::ID, 1, 2));
  std::vector<int64_t> offsets = {0, 4};
  return o.finish(OpType::EMBEDDING_MULTI, {table, o.id, id2}, o.activation(DType::FLOAT32, {-1, 4}),
                  OpOptions::EmbeddingMultiOptions, [=](flatbuffers::FlatBufferBuilder& fbb) {
                    return schema::CreateEmbeddingMultiOptionsDirect(fbb, &offsets, &counts).Union();
                  });
}

ModelBytes bag(schema::BagMode mode, bool weighted) {
  OneOp o;
  const int table = o.m.add_constant_f32("table", {4, 2}, std::vector<float>(8, 0.5f));
  const int ids = o.m.feature_tensor(o.m.add_feature("list", schema::Side::ITEM, schema::FeatureKind::ID_LIST, 3, 4));
  std::vector<int> inputs = {table, ids};
  if (weighted) inputs.push_back(o.x);
  return o.finish(OpType::BAG, inputs, o.activation(DType::FLOAT32, {-1, 2}), OpOptions::BagOptions,
                  [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateBagOptions(fbb, mode).Union(); });
}

const bool kRegistered = register_verifier_cases({
    {OpType::BAG, [] { return bag(schema::BagMode::SUM, true); }, ""},
    {OpType::BAG, [] { return bag(schema::BagMode::MAXIMUM, false); }, ""},
    {OpType::BAG, [] { return bag(schema::BagMode::MEAN, true); }, "weights are only allowed with mode SUM"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected(2); }, ""},
    {OpType::FULLY_CONNECTED, [] { return fully_connected(3); }, "has shape [-1, 3], expected [-1, 2]"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected(2, DType::INT32); }, "weight (tensor 3 'w') is INT32"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(3, schema::Activation::RELU); }, ""},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(0, schema::Activation::NONE); }, ""},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(4, schema::Activation::RELU); },
     "addend_offset 4 + K 3 <= A"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(-1, schema::Activation::NONE); },
     "addend_offset -1 + K 3 <= A"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(0, schema::Activation::SIGMOID); },
     "input_activation 2 (only NONE, RELU and LEAKY_RELU)"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(1, schema::Activation::LEAKY_RELU, true, 0.2f); }, ""},
    {OpType::FULLY_CONNECTED,
     [] { return fully_connected_addend(0, schema::Activation::LEAKY_RELU, true, std::nanf("")); },
     "input_alpha nan is not finite"},
    {OpType::FULLY_CONNECTED, [] { return fully_connected_addend(0, schema::Activation::RELU, false); },
     "input_activation or addend_offset without an addend input"},
    {OpType::EMBEDDING, [] { return embedding(3); }, ""},
    {OpType::EMBEDDING, [] { return embedding(4); }, "default_row 4 outside the table of 4 rows"},
    {OpType::EMBEDDING_MULTI, [] { return embedding_multi({4, 2}); }, ""},
    {OpType::EMBEDDING_MULTI, [] { return embedding_multi({4, 3}); }, "ids input 2: rows 4 + 3 outside the table of 6 rows"},
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
