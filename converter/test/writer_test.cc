// The writer: a verifiable FlatBuffer, weights at 64-byte aligned absolute
// offsets holding the constants' bytes, and the same bytes every time.
#include <doctest/doctest.h>

#include <cstring>

#include "converter/partition.h"
#include "converter/test/graph_builders.h"
#include "converter/writer.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl::converter::test {

TEST_CASE("write_model: verifiable, aligned, deterministic") {
  std::mt19937 rng(12);
  Graph g;
  int u = add_feature(g, "user id", {kRows}, true, DType::kInt64);
  g.features[0].kind = FeatureKind::kId;
  g.features[0].table_size = 5;
  int i = add_feature(g, "item", {kRows, 3});
  int table = random_constant(g, rng, {5, 3}, "table");
  int e = g.emit(Op::kEmbedding, {table, u}, {}, "Gather_0");
  int s = g.emit(Op::kAdd, {i, e}, {}, "Add_1");
  int w = random_constant(g, rng, {2, 3}, "w");
  int y = g.emit(Op::kFullyConnected, {s, w}, with_activation(Activation::kSigmoid), "Gemm_2");
  add_tasks(g, y);
  g.tasks[0].probability = true;
  assign_stages(g);

  std::vector<uint8_t> bytes = write_model(g);
  CHECK(bytes == write_model(g));
  REQUIRE(bytes.size() % 64 == 0);
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  REQUIRE(schema::VerifyModelBuffer(verifier));
  const schema::Model* m = schema::GetModel(bytes.data());
  CHECK(m->format_version() == 1);
  CHECK(m->producer()->str() == "edgemtl-convert 0.1");
  REQUIRE(m->features()->size() == 2);
  CHECK(m->features()->Get(0)->name()->str() == "user id");
  CHECK(m->features()->Get(0)->side() == schema::Side::USER);
  CHECK(m->features()->Get(0)->table_size() == 5);
  CHECK(m->tasks()->size() == 2);
  CHECK(m->tasks()->Get(0)->kind() == schema::TaskKind::PROBABILITY);
  CHECK(m->tasks()->Get(1)->column() == 1);
  REQUIRE(m->user_stage()->operators()->size() == 1);
  CHECK(m->user_stage()->operators()->Get(0)->type() == schema::OpType::EMBEDDING);
  CHECK(m->user_stage()->operators()->Get(0)->name()->str() == "Gather_0");
  REQUIRE(m->item_stage()->operators()->size() == 2);
  const schema::Operator* fc = m->item_stage()->operators()->Get(1);
  CHECK(fc->type() == schema::OpType::FULLY_CONNECTED);
  CHECK(fc->options_as_FullyConnectedOptions()->activation() == schema::Activation::SIGMOID);
  REQUIRE(m->user_to_item()->size() == 1);
  CHECK(m->tensors()->Get(m->user_to_item()->Get(0))->name()->str() == g.values[e].name);
  // Every constant's bytes at its aligned offset.
  int constants = 0;
  for (const schema::Tensor* t : *m->tensors()) {
    if (t->buffer() < 0) {
      CHECK(t->shape()->Get(0) == -1);
      continue;
    }
    ++constants;
    const schema::Buffer* buffer = m->buffers()->Get(t->buffer());
    CHECK(buffer->offset() % 64 == 0);
    REQUIRE(buffer->offset() + buffer->size() <= bytes.size());
    const Value* source = nullptr;
    for (const Value& v : g.values)
      if (v.name == t->name()->str()) source = &v;
    REQUIRE(source != nullptr);
    REQUIRE(buffer->size() == source->floats.size() * sizeof(float));
    CHECK(std::memcmp(bytes.data() + buffer->offset(), source->floats.data(), buffer->size()) == 0);
  }
  CHECK(constants == 2);
}

}  // namespace edgemtl::converter::test
