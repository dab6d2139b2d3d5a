// The writer: a verifiable FlatBuffer, weights at 64-byte aligned absolute
// offsets holding the constants' bytes, and the same bytes every time.
#include <doctest/doctest.h>

#include <cstring>

#include "converter/partition.h"
#include "converter/test/graph_builders.h"
#include "converter/writer.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl::converter::test {

namespace {

Graph small_graph(int* user_ids, int* embedding) {
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
  *user_ids = u;
  *embedding = e;
  return g;
}

}  // namespace

TEST_CASE("write_model: verifiable, aligned, deterministic") {
  int u = 0, e = 0;
  const Graph g = small_graph(&u, &e);
  WriteOptions keep_names;
  keep_names.keep_names = true;
  std::vector<uint8_t> bytes = write_model(g, nullptr, keep_names);
  CHECK(bytes == write_model(g, nullptr, keep_names));
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

TEST_CASE("write_model: names of constants and intermediate tensors only with keep_names") {
  int u = 0, e = 0;
  const Graph g = small_graph(&u, &e);
  WriteOptions keep_names;
  keep_names.keep_names = true;
  const std::vector<uint8_t> named = write_model(g, nullptr, keep_names);
  const std::vector<uint8_t> bytes = write_model(g);
  CHECK(bytes == write_model(g));
  CHECK(bytes.size() <= named.size());
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  REQUIRE(schema::VerifyModelBuffer(verifier));
  const schema::Model* m = schema::GetModel(bytes.data());
  const schema::Model* n = schema::GetModel(named.data());
  REQUIRE(m->tensors()->size() == n->tensors()->size());
  REQUIRE(m->buffers()->size() == n->buffers()->size());
  // Everything but the names is the same, the weights byte for byte.
  for (flatbuffers::uoffset_t t = 0; t < m->tensors()->size(); ++t) {
    const schema::Tensor* a = m->tensors()->Get(t);
    const schema::Tensor* b = n->tensors()->Get(t);
    CHECK(a->dtype() == b->dtype());
    CHECK(a->buffer() == b->buffer());
    REQUIRE(a->shape()->size() == b->shape()->size());
    for (flatbuffers::uoffset_t d = 0; d < a->shape()->size(); ++d) CHECK(a->shape()->Get(d) == b->shape()->Get(d));
    bool feature_input = false;
    for (const schema::Feature* f : *m->features())
      if (f->tensor() == static_cast<int>(t)) {
        feature_input = true;
        REQUIRE(a->name() != nullptr);
        CHECK(a->name()->str() == f->name()->str());
      }
    if (!feature_input) CHECK(a->name() == nullptr);
    REQUIRE(b->name() != nullptr);
    if (a->buffer() >= 0) {
      const schema::Buffer* x = m->buffers()->Get(a->buffer());
      const schema::Buffer* y = n->buffers()->Get(b->buffer());
      REQUIRE(x->size() == y->size());
      CHECK(std::memcmp(bytes.data() + x->offset(), named.data() + y->offset(), x->size()) == 0);
    }
  }
  // Features, tasks and operators keep their names (errors and profiles use them).
  CHECK(m->features()->Get(0)->name()->str() == "user id");
  CHECK(m->tasks()->Get(0)->name()->str() == n->tasks()->Get(0)->name()->str());
  CHECK(m->user_stage()->operators()->Get(0)->name()->str() == "Gather_0");
  CHECK(m->item_stage()->operators()->Get(1)->name()->str() == "Gemm_2");
  (void)u;
  (void)e;
}

}  // namespace edgemtl::converter::test
