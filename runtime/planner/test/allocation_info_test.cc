// AllocationInfo on small hand-built models: lifetimes, RESHAPE aliases,
// column views and in-place outputs against values worked out by hand. No
// kernel is created (the registry only supplies each type's OpPlanning).
#include "runtime/planner/allocation_info.h"

#include <doctest/doctest.h>

#include <vector>

#include "runtime/format/model.h"
#include "runtime/ops/registry.h"
#include "runtime/planner/greedy_memory_planner.h"
#include "runtime/test_util/model_builder.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::OpOptions;
using schema::OpType;
using test::ModelBuilder;

// Item stage only, so step 0 is the (empty) user input, 1 the item input and
// the operators run at steps 2 .. 7; the end is step 8.
//   2: h [-1, 6] = FC(x [-1, 4])
//   3: t [-1, 2] = TAKE(h, columns 2..3)   -> a column view of h (only an FC reads it)
//   4: a [-1, 3] = FC(t)
//   5: b [-1, 3] = RELU(a)
//   6: s [-1, 3] = ADD(b, k)               -> in place over b (b dies here)
//   7: r [-1, 3, 1] = RESHAPE(s)           -> alias of s, hence of b; a task: lives to the end
struct Chain {
  ModelBuilder m;
  int x, h, t, a, b, s, r;
  Chain() {
    x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, schema::FeatureKind::DENSE, 4));
    const int w1 = m.add_constant_f32("w1", {6, 4}, std::vector<float>(24, 0.1f));
    const int w2 = m.add_constant_f32("w2", {3, 2}, std::vector<float>(6, 0.1f));
    const int k = m.add_constant_f32("k", {1, 3}, {1, 2, 3});
    h = m.add_activation("h", DType::FLOAT32, {-1, 6});
    t = m.add_activation("t", DType::FLOAT32, {-1, 2});
    a = m.add_activation("a", DType::FLOAT32, {-1, 3});
    b = m.add_activation("b", DType::FLOAT32, {-1, 3});
    s = m.add_activation("s", DType::FLOAT32, {-1, 3});
    r = m.add_activation("r", DType::FLOAT32, {-1, 3, 1});
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {x, w1}, {h});
    m.add_op(ModelBuilder::kItem, OpType::TAKE, {h}, {t}, OpOptions::TakeOptions, test::take_range_options(1, 2, 2));
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {t, w2}, {a});
    m.add_op(ModelBuilder::kItem, OpType::RELU, {a}, {b});
    m.add_op(ModelBuilder::kItem, OpType::ADD, {b, k}, {s});
    m.add_op(ModelBuilder::kItem, OpType::RESHAPE, {s}, {r});
    m.add_task("score", schema::TaskKind::VALUE, r, 0);
  }
};

// No views, no in-place outputs: every written tensor is its own root.
const OpPlanning& plain_planning(schema::OpType) {
  static const OpPlanning plain;
  return plain;
}

void check_lifetime(const TensorAllocation& tensor, int first, int last) {
  CHECK(tensor.first_use == first);
  CHECK(tensor.last_use == last);
}

TEST_CASE("AllocationInfo: lifetimes, a column view, an in-place ADD and a RESHAPE alias") {
  Chain chain;
  const test::ModelBytes bytes = chain.m.finish();
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE(model.ok());
  AllocationInfo info;
  info.build(model.value()->root(), true, op_planning);
  CHECK(info.end_step() == 8);

  const TensorAllocation& x = info.tensor(chain.x);
  CHECK(x.stage == kItemStage);
  CHECK(x.feature == 0);
  check_lifetime(x, 1, 2);

  const TensorAllocation& h = info.tensor(chain.h);
  CHECK(h.alias_of == -1);
  check_lifetime(h, 2, 4);  // read through its column view t by the FC at step 4

  const TensorAllocation& t = info.tensor(chain.t);
  CHECK(t.alias_of == chain.h);
  CHECK(t.column_offset == 2);
  CHECK(t.row_stride == 6);

  check_lifetime(info.tensor(chain.a), 4, 5);
  const TensorAllocation& b = info.tensor(chain.b);
  CHECK(b.alias_of == -1);
  check_lifetime(b, 5, 8);  // s is written over it and r (a task) views s
  CHECK(info.tensor(chain.s).alias_of == chain.b);
  CHECK(info.tensor(chain.r).alias_of == chain.b);  // flattened to the final root
  CHECK(info.tensor(chain.r).column_offset == 0);
  CHECK(info.tensor(chain.r).last_use == 8);

  // Only the roots get buffers: x, h, a, b.
  GreedyMemoryPlanner planner;
  REQUIRE(info.place_buffers(model.value()->root(), 1, 10, 0, 10, &planner).is_ok());
  CHECK(planner.num_buffers() == 4);
  CHECK(info.tensor(chain.h).planned_bytes == 10 * 6 * sizeof(float));
  CHECK(info.tensor(chain.t).buffer == -1);
  CHECK(info.tensor(chain.s).buffer == -1);
}

TEST_CASE("AllocationInfo: without the planning facts every tensor is a root") {
  Chain chain;
  const test::ModelBytes bytes = chain.m.finish();
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE(model.ok());
  AllocationInfo info;
  info.build(model.value()->root(), true, plain_planning);
  for (int tensor : {chain.h, chain.t, chain.a, chain.b, chain.s, chain.r}) CHECK(info.tensor(tensor).alias_of == -1);
  check_lifetime(info.tensor(chain.h), 2, 3);
  check_lifetime(info.tensor(chain.b), 5, 6);
  check_lifetime(info.tensor(chain.r), 7, 8);
}

TEST_CASE("AllocationInfo: a column window read by a task or a non-FC stays a copy; no user cache keeps user features") {
  ModelBuilder m;
  const int u = m.feature_tensor(m.add_feature("u", schema::Side::USER, schema::FeatureKind::DENSE, 4));
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, schema::FeatureKind::DENSE, 4));
  const int t = m.add_activation("t", DType::FLOAT32, {-1, 2});
  const int y = m.add_activation("y", DType::FLOAT32, {-1, 2});
  const int v = m.add_activation("v", DType::FLOAT32, {-1, 4});
  m.add_op(ModelBuilder::kUser, OpType::RELU, {u}, {v});
  m.add_user_to_item(v);
  m.add_op(ModelBuilder::kItem, OpType::TAKE, {x}, {t}, OpOptions::TakeOptions, test::take_range_options(1, 0, 2));
  m.add_op(ModelBuilder::kItem, OpType::RELU, {t}, {y});
  m.add_task("score", schema::TaskKind::VALUE, y, 0);
  const test::ModelBytes bytes = m.finish();
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE(model.ok());
  AllocationInfo info;
  info.build(model.value()->root(), false, op_planning);
  // Steps: 0 user input, 1 RELU(u), 2 item input, 3 TAKE, 4 RELU(t), end 5.
  CHECK(info.end_step() == 5);
  CHECK(info.tensor(t).alias_of == -1);  // RELU cannot read a strided window
  check_lifetime(info.tensor(t), 3, 4);
  check_lifetime(info.tensor(v), 1, 5);  // user_to_item
  check_lifetime(info.tensor(u), 0, 5);  // cache_user false: the user stage runs again on every score
  check_lifetime(info.tensor(y), 4, 5);  // a task
  CHECK(info.tensor(v).stage == kUserStage);
}

}  // namespace
}  // namespace edgemtl
