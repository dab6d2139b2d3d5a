// Verifier cases of runtime/ops/recurrent.cc.
#include <vector>

#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;

// A GRU (H = 2) over x [-1, 3] reshaped to [-1, 1, 3] (T = 1, D = 3); `output_steps` rows of output.
ModelBytes gru(int64_t hidden_size, int64_t output_steps) {
  OneOp o;
  const int seq = o.activation(DType::FLOAT32, {-1, 1, 3});
  o.m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {o.x}, {seq});
  const int w = o.m.add_constant_f32("w", {1, 6, 3}, std::vector<float>(18, 0.1f));
  const int r = o.m.add_constant_f32("r", {1, 6, 2}, std::vector<float>(12, 0.1f));
  const int b = o.m.add_constant_f32("b", {1, 12}, std::vector<float>(12, 0.0f));
  return o.finish(OpType::RECURRENT, {seq, w, r, b}, o.activation(DType::FLOAT32, {-1, output_steps, 2}),
                  OpOptions::RecurrentOptions, [=](flatbuffers::FlatBufferBuilder& fbb) {
                    return schema::CreateRecurrentOptions(fbb, schema::RecurrentCell::GRU,
                                                          schema::RecurrentDirection::FORWARD, hidden_size)
                        .Union();
                  });
}

const bool kRegistered = register_verifier_cases({
    {OpType::RECURRENT, [] { return gru(2, 2); }, ""},
    {OpType::RECURRENT, [] { return gru(3, 2); }, "RECURRENT): W (tensor"},
    {OpType::RECURRENT, [] { return gru(2, 3); }, "has shape [-1, 3, 2], expected [-1, 2, 2]"},
});

}  // namespace
}  // namespace test
}  // namespace edgemtl
