#include "runtime/test_util/bad_models.h"

namespace edgemtl {
namespace test {

ModelBytes wide_model(int64_t width) {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("wide", schema::Side::ITEM, schema::FeatureKind::DENSE, width));
  const int y = m.add_activation("relu", schema::DType::FLOAT32, {-1, width});
  m.add_op(ModelBuilder::kItem, schema::OpType::RELU, {x}, {y});
  m.add_task("score", schema::TaskKind::VALUE, y, 0);
  return m.finish();
}

ModelBytes empty_model() { return ModelBuilder().finish(); }

ModelBytes misaligned_vector_model() {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, schema::FeatureKind::DENSE, 3));
  const int y = m.add_activation("y", schema::DType::FLOAT32, {-1, 2});
  const std::vector<int64_t> indices = {2, 0};
  auto options = [indices](flatbuffers::FlatBufferBuilder& fbb) {
    fbb.StartVector(indices.size() * 2 + 1, sizeof(uint32_t));
    // The buffer is built back to front and ends up a multiple of 8 long, so
    // an element starts at 4 mod 8 from the front when its distance from the
    // back is 4 mod 8: pad at the back when needed.
    if ((fbb.GetSize() + indices.size() * 8) % 8 == 0) fbb.PushElement<uint32_t>(0);
    for (size_t k = indices.size(); k-- > 0;) {
      const uint64_t value = static_cast<uint64_t>(indices[k]);
      fbb.PushElement<uint32_t>(static_cast<uint32_t>(value >> 32));  // little endian: high half last in memory
      fbb.PushElement<uint32_t>(static_cast<uint32_t>(value));
    }
    const flatbuffers::Offset<flatbuffers::Vector<int64_t>> vector(fbb.EndVector(indices.size()));
    schema::TakeOptionsBuilder take(fbb);
    take.add_axis(1);
    take.add_indices(vector);
    return take.Finish().Union();
  };
  m.add_op(ModelBuilder::kItem, schema::OpType::TAKE, {x}, {y}, schema::OpOptions::TakeOptions, options,
           "take_misaligned");
  m.add_task("score", schema::TaskKind::VALUE, y, 0);
  return m.finish();
}

std::vector<BadModelFile> bad_model_files() {
  return {{"huge_arena.emtl", [] { return wide_model(int64_t{1} << 22); }},
          {"no_tasks.emtl", empty_model},
          {"misaligned_vector.emtl", misaligned_vector_model}};
}

}  // namespace test
}  // namespace edgemtl
