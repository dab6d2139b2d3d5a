// The writer: a verifiable FlatBuffer, weights at 64-byte aligned absolute
// offsets holding the constants' bytes, and the same bytes every time.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

#include "converter/partition.h"
#include "converter/test/graph_builders.h"
#include "converter/writer.h"
#include "runtime/executor/session.h"
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
  // ADD(item, user embedding) and the FC after it read both sides: the cross stage.
  CHECK((m->item_stage()->operators() == nullptr || m->item_stage()->operators()->size() == 0));
  REQUIRE(m->cross_stage()->operators()->size() == 2);
  const schema::Operator* fc = m->cross_stage()->operators()->Get(1);
  CHECK(fc->type() == schema::OpType::FULLY_CONNECTED);
  CHECK(fc->options_as_FullyConnectedOptions()->activation() == schema::Activation::SIGMOID);
  REQUIRE(m->user_to_item()->size() == 1);
  CHECK(m->tensors()->Get(m->user_to_item()->Get(0))->name()->str() == g.values[e].name);
  REQUIRE(m->item_to_cross()->size() == 1);  // the item feature, read by the cross stage's ADD
  CHECK(m->tensors()->Get(m->item_to_cross()->Get(0))->name()->str() == "item");
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
  CHECK(m->cross_stage()->operators()->Get(1)->name()->str() == "Gemm_2");
  (void)u;
  (void)e;
}

TEST_CASE("write_model: a contiguous TAKE as (start, count), others as indices; the runtime agrees") {
  Graph g;
  const int x = add_feature(g, "x", {kRows, 6});
  g.features[0].width = 6;
  NodeOptions slice;
  slice.axis = 1;
  slice.indices = {1, 2, 3};
  const int a = g.emit(Op::kTake, {x}, slice, "slice");
  NodeOptions pick;
  pick.axis = 1;
  pick.indices = {4, 0};
  const int b = g.emit(Op::kTake, {x}, pick, "pick");
  NodeOptions last;
  last.axis = 1;
  last.indices = {5};
  const int c = g.emit(Op::kTake, {x}, last, "last");
  NodeOptions concat;
  concat.axis = 1;
  const int y = g.emit(Op::kConcat, {a, b, c}, concat, "concat");
  add_tasks(g, y);
  assign_stages(g);
  const std::vector<uint8_t> bytes = write_model(g);
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  REQUIRE(schema::VerifyModelBuffer(verifier));
  const auto* ops = schema::GetModel(bytes.data())->item_stage()->operators();
  REQUIRE(ops->size() == 4);
  const schema::TakeOptions* range = ops->Get(0)->options_as_TakeOptions();
  CHECK((range->indices() == nullptr || range->indices()->size() == 0));
  CHECK(range->start() == 1);
  CHECK(range->count() == 3);
  const schema::TakeOptions* listed = ops->Get(1)->options_as_TakeOptions();
  REQUIRE(listed->indices() != nullptr);
  CHECK(listed->indices()->size() == 2);
  CHECK(listed->count() == 0);
  CHECK(ops->Get(2)->options_as_TakeOptions()->start() == 5);  // one index: a range of 1
  CHECK(ops->Get(2)->options_as_TakeOptions()->count() == 1);

  std::mt19937 rng(5);
  const int64_t rows = 7;
  const std::map<int, RefTensor> inputs = random_inputs(g, rng, rows, false);
  const std::vector<std::vector<double>> expected = run_reference(g, inputs);
  std::vector<float> values(inputs.at(x).data.begin(), inputs.at(x).data.end());
  void* memory = std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64);
  std::memcpy(memory, bytes.data(), bytes.size());
  {
    auto model = edgemtl::Model::load_buffer(memory, bytes.size());
    if (!model.ok()) MESSAGE(std::string(model.status().message()));
    REQUIRE(model.ok());
    auto session = edgemtl::Session::create(**model, {});
    REQUIRE(session.ok());
    REQUIRE((*session)->set_user(edgemtl::Span<const edgemtl::FeatureInput>()).is_ok());
    const edgemtl::FeatureInput input{(*model)->find_feature("x"), nullptr, values.data(), values.size()};
    auto result = (*session)->score(edgemtl::Span<const edgemtl::FeatureInput>(&input, 1), rows);
    REQUIRE(result.ok());
    REQUIRE(result->size() == static_cast<size_t>(rows) * 6);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t t = 0; t < 6; ++t)
        CHECK((*result)[static_cast<size_t>(r) * 6 + t] == static_cast<float>(expected[r][t]));
  }
  std::free(memory);
}

}  // namespace edgemtl::converter::test
