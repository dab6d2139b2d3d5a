// Each pass on a small hand-built graph: the graph computes the same before
// and after (naive reference interpreter on random inputs) and has the
// expected structure.
#include <doctest/doctest.h>

#include <cmath>

#include "converter/partition.h"
#include "converter/pipeline.h"
#include "converter/passes/passes.h"
#include "converter/test/graph_builders.h"

namespace edgemtl::converter::test {

TEST_CASE("fold_constants computes constant subgraphs") {
  std::mt19937 rng(1);
  Graph g;
  int x = add_feature(g, "x", {kRows, 4});
  int c = random_constant(g, rng, {1, 3});
  // Built by add_node so that the constant subgraph exists as nodes.
  int c_fc = g.add_activation("c_fc", DType::kFloat32, {1, 4});
  g.add_node(Op::kFullyConnected, {c, random_constant(g, rng, {4, 3})}, c_fc, with_activation(Activation::kTanh), "fc_const");
  int y = g.emit(Op::kAdd, {x, c_fc}, {}, "add");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 5, false);
  auto before = run_reference(g, inputs);
  fold_constants(g);
  CHECK(g.values[c_fc].is_constant);
  CHECK(live_nodes(g) == 1);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-6);
}

TEST_CASE("emit folds at once and refuses ops on the row dimension") {
  Graph g;
  int x = add_feature(g, "x", {kRows, 4});
  NodeOptions take;
  take.axis = 0;
  take.indices = {0};
  CHECK_THROWS_AS(g.emit(Op::kTake, {x}, take, "t"), ConversionError);
  NodeOptions reduce;
  reduce.axes = {0};
  CHECK_THROWS_AS(g.emit(Op::kReduceSum, {x}, reduce, "r"), ConversionError);
  NodeOptions transpose;
  int x3 = add_feature(g, "x3", {kRows, 2, 3});
  transpose.axes = {1, 0, 2};
  CHECK_THROWS_AS(g.emit(Op::kTranspose, {x3}, transpose, "p"), ConversionError);
  int scalar = g.add_float_constant("two", {}, {2.0f});
  int four = g.emit(Op::kAdd, {scalar, scalar}, {}, "sum");
  CHECK(g.values[four].is_constant);
  CHECK(g.values[four].floats == std::vector<float>{4.0f});
  CHECK(g.nodes.empty());
}

TEST_CASE("BatchNorm after an FC folds into it, then the ReLU fuses") {
  std::mt19937 rng(2);
  Graph g;
  int x = add_feature(g, "x", {kRows, 5});
  int fc = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {3, 5}), random_constant(g, rng, {3})}, {}, "fc");
  int scaled = g.emit(Op::kMul, {fc, random_constant(g, rng, {3})}, {}, "bn");
  int shifted = g.emit(Op::kAdd, {scaled, random_constant(g, rng, {3})}, {}, "bn");
  int y = g.emit(Op::kRelu, {shifted}, {}, "relu");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 7, false);
  auto before = run_reference(g, inputs);
  fold_affine_into_fc(g);
  fuse_activations(g);
  REQUIRE(live_nodes(g) == 1);
  CHECK(g.nodes[0].op == Op::kFullyConnected);
  CHECK(g.nodes[0].options.activation == Activation::kRelu);
  CHECK(g.nodes[0].name == "fc");
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-5);
}

TEST_CASE("BatchNorm before FCs folds into every reader") {
  std::mt19937 rng(3);
  Graph g;
  int x = add_feature(g, "x", {kRows, 4});
  int scaled = g.emit(Op::kMul, {x, random_constant(g, rng, {4})}, {}, "bn");
  int shifted = g.emit(Op::kAdd, {scaled, random_constant(g, rng, {1, 4})}, {}, "bn");
  int a = g.emit(Op::kFullyConnected, {shifted, random_constant(g, rng, {2, 4})}, {}, "fc_a");
  int b = g.emit(Op::kFullyConnected, {shifted, random_constant(g, rng, {3, 4}), random_constant(g, rng, {3})}, {}, "fc_b");
  add_tasks(g, a);
  add_tasks(g, b);
  auto inputs = random_inputs(g, rng, 6, false);
  auto before = run_reference(g, inputs);
  fold_affine_into_fc(g);
  CHECK(live_nodes(g) == 2);
  CHECK(live_nodes(g, Op::kFullyConnected) == 2);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-5);
}

TEST_CASE("a BatchNorm without a neighbouring FC stays MUL+ADD") {
  std::mt19937 rng(4);
  Graph g;
  int x = add_feature(g, "x", {kRows, 4});
  int scaled = g.emit(Op::kMul, {x, random_constant(g, rng, {4})}, {}, "bn");
  int shifted = g.emit(Op::kAdd, {scaled, random_constant(g, rng, {4})}, {}, "bn");
  int y = g.emit(Op::kSigmoid, {shifted}, {}, "sigmoid");
  add_tasks(g, y);
  fold_affine_into_fc(g);
  CHECK(live_nodes(g) == 3);
}

TEST_CASE("a constant that broadcasts beyond one column is not folded") {
  std::mt19937 rng(5);
  Graph g;
  int x = add_feature(g, "x", {kRows, 2, 4});
  int fc = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {3, 4})}, {}, "fc");
  int y = g.emit(Op::kMul, {fc, random_constant(g, rng, {2, 3})}, {}, "mul");  // per (position, unit)
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 3, false);
  auto before = run_reference(g, inputs);
  fold_affine_into_fc(g);
  CHECK(live_nodes(g) == 2);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-6);
}

TEST_CASE("FCs reading the same input are stacked per activation, which stays fused") {
  std::mt19937 rng(6);
  Graph g;
  int x = add_feature(g, "x", {kRows, 6});
  int a = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {4, 6}), random_constant(g, rng, {4})},
                 with_activation(Activation::kRelu), "expert_a");
  int b = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {3, 6})}, with_activation(Activation::kLeakyRelu, 0.2f), "gate");
  int c = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {2, 6}), random_constant(g, rng, {2})}, {}, "gate_c");
  int d = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {5, 6})}, with_activation(Activation::kRelu), "expert_d");
  int e = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {1, 6})}, {}, "gate_e");
  int f = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {2, 6})}, with_activation(Activation::kLeakyRelu, 0.3f), "f");
  for (int v : {a, b, c, d, e, f}) add_tasks(g, v);
  auto inputs = random_inputs(g, rng, 5, false);
  auto before = run_reference(g, inputs);
  stack_parallel_fcs(g);
  // {a, d} RELU and {c, e} none are stacked; b and f (leaky, different alphas) stay alone.
  CHECK(live_nodes(g, Op::kFullyConnected) == 4);
  CHECK(live_nodes(g, Op::kTake) == 4);
  CHECK(live_nodes(g, Op::kRelu) == 0);
  CHECK(live_nodes(g, Op::kLeakyRelu) == 0);
  int fused_relu = 0;
  for (const Node& n : g.nodes)
    if (!n.dead && n.op == Op::kFullyConnected && n.options.activation == Activation::kRelu) {
      ++fused_relu;
      CHECK(g.values[n.outputs[0]].shape[1] == 9);
    }
  CHECK(fused_relu == 1);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-5);
}

TEST_CASE("stacked FCs with one activation keep it fused") {
  std::mt19937 rng(7);
  Graph g;
  int x = add_feature(g, "x", {kRows, 3});
  int a = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {2, 3})}, with_activation(Activation::kSigmoid), "a");
  int b = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {2, 3})}, with_activation(Activation::kSigmoid), "b");
  add_tasks(g, a);
  add_tasks(g, b);
  auto inputs = random_inputs(g, rng, 4, false);
  auto before = run_reference(g, inputs);
  stack_parallel_fcs(g);
  CHECK(live_nodes(g) == 3);  // FC + 2 TAKE
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-6);
}

// user [rows,3], item [rows,2] -> CONCAT -> FC(sigmoid): the common first layer.
Graph mixed_concat_fc(std::mt19937& rng) {
  Graph g;
  int u = add_feature(g, "user", {kRows, 3}, true);
  int i = add_feature(g, "item", {kRows, 2});
  int u2 = add_feature(g, "user2", {kRows, 1}, true);
  NodeOptions cat;
  cat.axis = 1;
  int x = g.emit(Op::kConcat, {u, i, u2}, cat, "concat");
  int y = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {4, 6}), random_constant(g, rng, {4})},
                 with_activation(Activation::kSigmoid), "fc");
  add_tasks(g, y);
  return g;
}

TEST_CASE("the user/item FC split computes the same with a one-row user stage") {
  std::mt19937 rng(8);
  Graph g = mixed_concat_fc(rng);
  const int64_t rows = 5;
  auto two_stage_inputs = random_inputs(g, rng, rows, true);
  auto full_inputs = expand_user_rows(g, two_stage_inputs, rows);
  auto before = run_reference(g, full_inputs);
  split_mixed_fcs(g);
  eliminate_dead_code(g);  // the original CONCAT (as in the pipeline)
  insert_row_broadcasts(g);
  CHECK(live_nodes(g, Op::kFullyConnected) == 2);
  int user_fcs = 0;
  for (const Node& n : g.nodes)
    if (n.op == Op::kFullyConnected && n.stage == Side::kUser) {
      ++user_fcs;
      CHECK(n.inputs.size() == 3);  // the bias stays with the user part
    }
  CHECK(user_fcs == 1);
  for (const Node& n : g.nodes)
    if (n.op == Op::kFullyConnected && n.stage != Side::kUser) CHECK(n.stage == Side::kItem);  // W_i.i is item-only
  for (const Node& n : g.nodes)
    if (n.op == Op::kAdd) {
      CHECK(n.stage == Side::kCross);
      CHECK(n.options.activation == Activation::kSigmoid);
    }
  CHECK(user_to_item(g).size() == 1);
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-6);
}

TEST_CASE("the split opens nested concats that mix user and item parts") {
  std::mt19937 rng(14);
  Graph g;
  int u = add_feature(g, "user", {kRows, 2}, true);
  int i = add_feature(g, "item", {kRows, 3});
  int u2 = add_feature(g, "user2", {kRows, 2}, true);
  NodeOptions cat;
  cat.axis = 1;
  int inner = g.emit(Op::kConcat, {i, u2}, cat, "inner");
  int x = g.emit(Op::kConcat, {u, inner}, cat, "outer");
  int y = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {3, 7}), random_constant(g, rng, {3})}, {}, "fc");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 4, true);
  auto before = run_reference(g, expand_user_rows(g, inputs, 4));
  split_mixed_fcs(g);
  eliminate_dead_code(g);
  insert_row_broadcasts(g);
  for (const Node& n : g.nodes)
    if (n.op == Op::kFullyConnected && n.stage == Side::kItem) CHECK(n.inputs[0] == i);
  CHECK(max_difference(before, run_reference(g, inputs, true)) < 1e-6);
}

TEST_CASE("the split opens a flattened stack of user and item vectors") {
  std::mt19937 rng(15);
  Graph g;
  int u = add_feature(g, "user", {kRows, 3}, true);
  int i = add_feature(g, "item", {kRows, 3});
  int d = add_feature(g, "dense", {kRows, 2});
  NodeOptions unsqueeze;
  unsqueeze.shape = {kRows, 1, 3};
  int u3 = g.emit(Op::kReshape, {u}, unsqueeze, "unsqueeze_u");
  int i3 = g.emit(Op::kReshape, {i}, unsqueeze, "unsqueeze_i");
  NodeOptions stack;
  stack.axis = 1;
  int stacked = g.emit(Op::kConcat, {u3, i3}, stack, "stack");  // [rows,2,3]
  NodeOptions flat;
  flat.shape = {kRows, 6};
  int flattened = g.emit(Op::kReshape, {stacked}, flat, "flatten");
  NodeOptions cat;
  cat.axis = 1;
  int x = g.emit(Op::kConcat, {flattened, d}, cat, "concat");
  int y = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {4, 8}), random_constant(g, rng, {4})},
                 with_activation(Activation::kRelu), "fc");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 5, true);
  auto before = run_reference(g, expand_user_rows(g, inputs, 5));
  split_mixed_fcs(g);
  collapse_reshapes(g);
  eliminate_dead_code(g);
  insert_row_broadcasts(g);
  int user_fcs = 0;
  for (const Node& n : g.nodes) user_fcs += n.op == Op::kFullyConnected && n.stage == Side::kUser;
  CHECK(user_fcs == 1);
  CHECK(max_difference(before, run_reference(g, inputs, true)) < 1e-6);
}

TEST_CASE("without the split the item stage reads user features through a user-stage copy") {
  std::mt19937 rng(9);
  Graph g = mixed_concat_fc(rng);
  const int64_t rows = 4;
  auto two_stage_inputs = random_inputs(g, rng, rows, true);
  auto before = run_reference(g, expand_user_rows(g, two_stage_inputs, rows));
  insert_row_broadcasts(g);
  std::vector<bool> user_feature(g.values.size(), false);
  for (const Feature& f : g.features) user_feature[f.value] = f.user;
  for (const Node& n : g.nodes)
    if (n.stage == Side::kItem)
      for (int v : n.inputs) CHECK_FALSE(user_feature[v]);
  CHECK(live_nodes(g, Op::kReshape) == 2);
  CHECK(user_to_item(g).size() == 2);
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-6);
}

TEST_CASE("assign_stages: user-only values go to the user stage") {
  std::mt19937 rng(10);
  Graph g;
  int u = add_feature(g, "u", {kRows, 2}, true);
  int i = add_feature(g, "i", {kRows, 2});
  int hu = g.emit(Op::kRelu, {u}, {}, "relu_u");
  int s = g.emit(Op::kAdd, {hu, i}, {}, "add");
  add_tasks(g, s);
  add_tasks(g, hu);  // a task may read a user-stage tensor
  assign_stages(g);
  CHECK(g.nodes[0].stage == Side::kUser);
  CHECK(g.nodes[1].stage == Side::kCross);
  CHECK(user_to_item(g) == std::vector<int>{hu});
  CHECK(item_to_cross(g) == std::vector<int>{i});  // an item feature read by the cross stage
  auto inputs = random_inputs(g, rng, 3, true);
  auto full = expand_user_rows(g, inputs, 3);
  CHECK(max_difference(run_reference(g, full), run_reference(g, inputs, true)) < 1e-9);
}

TEST_CASE("chains of reshapes collapse and shape-keeping reshapes vanish") {
  std::mt19937 rng(13);
  Graph g;
  int x = add_feature(g, "x", {kRows, 6});
  NodeOptions to3d, back;
  to3d.shape = {kRows, 2, 3};
  back.shape = {kRows, 6};
  int a = g.emit(Op::kReshape, {x}, to3d, "view_a");
  int b = g.emit(Op::kReshape, {a}, back, "view_b");
  int y = g.emit(Op::kSigmoid, {b}, {}, "sigmoid");
  NodeOptions to2x3 = to3d;
  int z = g.emit(Op::kReshape, {y}, to2x3, "view_c");
  add_tasks(g, z);
  auto inputs = random_inputs(g, rng, 3, false);
  auto before = run_reference(g, inputs);
  collapse_reshapes(g);
  eliminate_dead_code(g);
  CHECK(live_nodes(g) == 2);  // SIGMOID on x, and the RESHAPE producing the task tensor
  CHECK(g.nodes[0].inputs[0] == x);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-9);
}

TEST_CASE("common subexpressions are computed once") {
  std::mt19937 rng(16);
  Graph g;
  int x = add_feature(g, "x", {kRows, 4});
  NodeOptions unsqueeze;
  unsqueeze.shape = {kRows, 1, 4};
  int a = g.emit(Op::kReshape, {x}, unsqueeze, "unsqueeze_a");
  int b = g.emit(Op::kReshape, {x}, unsqueeze, "unsqueeze_b");
  NodeOptions other;
  other.shape = {kRows, 4, 1};
  int c = g.emit(Op::kReshape, {x}, other, "unsqueeze_c");
  int sum = g.emit(Op::kAdd, {a, b}, {}, "add");
  NodeOptions cat;
  cat.axis = 1;
  int y = g.emit(Op::kConcat, {sum, g.emit(Op::kReshape, {c}, unsqueeze, "back")}, cat, "cat");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 3, false);
  auto before = run_reference(g, inputs);
  eliminate_common_subexpressions(g);
  CHECK(live_nodes(g, Op::kReshape) == 3);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-9);
}

TEST_CASE("common subexpressions: nodes that differ only in an option of issue 11's ops stay apart") {
  std::mt19937 rng(17);
  Graph g;
  const int x = add_feature(g, "x", {kRows, 4});
  std::vector<int> outputs;
  for (UnaryFunction f : {UnaryFunction::kExp, UnaryFunction::kErf, UnaryFunction::kExp}) {  // the second EXP merges
    NodeOptions o;
    o.function = f;
    outputs.push_back(g.emit(Op::kUnary, {x}, o, "unary"));
  }
  for (float exponent : {2.0f, 3.0f}) {
    NodeOptions o;
    o.function = UnaryFunction::kPow;
    o.exponent = exponent;
    outputs.push_back(g.emit(Op::kUnary, {x}, o, "pow"));
  }
  const int zero = g.add_float_constant("zero", {1}, {0.0f});
  std::vector<int> flags;
  for (Compare c : {Compare::kGreater, Compare::kLessEqual}) {
    NodeOptions o;
    o.predicate = c;
    flags.push_back(g.emit(Op::kCompare, {x, zero}, o, "compare"));
  }
  for (Logical l : {Logical::kAnd, Logical::kXor}) {
    NodeOptions o;
    o.logical = l;
    flags.push_back(g.emit(Op::kLogical, {flags[0], flags[1]}, o, "logical"));
  }
  for (int flag : flags) {
    NodeOptions cast;
    cast.cast_to = DType::kFloat32;
    outputs.push_back(g.emit(Op::kCast, {flag}, cast, "cast"));
  }
  const int scale = g.add_float_constant("scale", {4}, {1.0f, 1.0f, 1.0f, 1.0f});
  for (float epsilon : {1e-5f, 1e-1f}) {
    NodeOptions o;
    o.axis = 1;
    o.epsilon = epsilon;
    outputs.push_back(g.emit(Op::kLayerNorm, {x, scale}, o, "layer_norm"));
  }
  NodeOptions cat;
  cat.axis = 1;
  add_tasks(g, g.emit(Op::kConcat, outputs, cat, "cat"));
  auto inputs = random_inputs(g, rng, 3, false);
  inputs[x].data[0] = 0.0;  // GREATER and LESS_EQUAL both decided by the equal case
  auto before = run_reference(g, inputs);
  eliminate_common_subexpressions(g);
  CHECK(live_nodes(g, Op::kUnary) == 4);
  CHECK(live_nodes(g, Op::kCompare) == 2);
  CHECK(live_nodes(g, Op::kLogical) == 2);
  CHECK(live_nodes(g, Op::kLayerNorm) == 2);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-9);
}

TEST_CASE("dead code elimination keeps what tasks need") {
  Graph g;
  int x = add_feature(g, "x", {kRows, 2});
  int used = g.emit(Op::kRelu, {x}, {}, "used");
  g.emit(Op::kTanh, {x}, {}, "unused");
  add_tasks(g, used);
  eliminate_dead_code(g);
  REQUIRE(g.nodes.size() == 1);
  CHECK(g.nodes[0].name == "used");
}

}  // namespace edgemtl::converter::test

namespace edgemtl::converter::test {

TEST_CASE("BAG (sum with weights, mean, max) folds on constants and survives the pipeline, split or not") {
  for (int64_t mode = 0; mode < 3; ++mode) {
    CAPTURE(mode);
    std::mt19937 rng(40 + static_cast<unsigned>(mode));
    Graph g;
    int ids = add_feature(g, "history", {kRows, 5}, true, DType::kInt64);
    g.features.back().kind = FeatureKind::kIdList;
    g.features.back().table_size = 7;
    int weights = add_feature(g, "seconds", {kRows, 5}, true);
    int item = add_feature(g, "item", {kRows, 3});
    NodeOptions o;
    o.bag_mode = mode;
    std::vector<int> inputs = {random_constant(g, rng, {7, 4}), ids};
    if (mode == 0) inputs.push_back(weights);
    int bag = g.emit(Op::kBag, inputs, o, "bag");
    CHECK(g.values[bag].shape == std::vector<int64_t>{kRows, 4});
    NodeOptions concat;
    concat.axis = 1;
    int x = g.emit(Op::kConcat, {bag, item}, concat, "concat");
    add_tasks(g, g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {2, 7})}, {}, "fc"));
    auto inputs_now = random_inputs(g, rng, 6, false);
    for (int64_t r = 0; r < 6 * 5; ++r) inputs_now[ids].data[r] = static_cast<double>((r * 3 + mode) % 7);
    auto before = run_reference(g, inputs_now);
    run_pipeline(g, ConvertOptions{});
    CHECK(live_nodes(g, Op::kBag) == 1);
    CHECK(max_difference(before, run_reference(g, inputs_now)) < 1e-5);
    // Constant ids: the bag is computed by evaluate_bag, checked against the interpreter's.
    Graph folded;
    const int table = random_constant(folded, rng, {7, 4});
    const int constant_ids = folded.add_int_constant("ids", DType::kInt64, {2, 3}, {0, 6, 2, 5, 5, 1});
    std::vector<int> constant_inputs = {table, constant_ids};
    if (mode == 0) constant_inputs.push_back(folded.add_float_constant("w", {2, 3}, {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 3.0f}));
    const int value = folded.emit(Op::kBag, constant_inputs, o, "bag");
    REQUIRE(folded.values[value].is_constant);
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t k = 0; k < 4; ++k) {
        double want = mode == 2 ? -1e300 : 0.0;
        for (int64_t j = 0; j < 3; ++j) {
          const int64_t id = folded.values[constant_ids].ints[r * 3 + j];
          const double v = folded.values[table].floats[id * 4 + k];
          if (mode == 2) want = v > want ? v : want;
          else want += (mode == 0 ? folded.values[constant_inputs[2]].floats[r * 3 + j] : 1.0) * v;
        }
        if (mode == 1) want /= 3.0;
        CHECK(folded.values[value].floats[r * 4 + k] == doctest::Approx(want).epsilon(1e-6));
      }
  }
}

}  // namespace edgemtl::converter::test

namespace edgemtl::converter::test {

TEST_CASE("issue 11's ops get their stages: one-input ops stay user, COMPARE/LOGICAL broadcast, BAG gets BROADCAST_ROWS") {
  std::mt19937 rng(41);
  Graph g;
  const int u = add_feature(g, "user_dense", {kRows, 3}, true);
  const int user_ids = add_feature(g, "user_history", {kRows, 4}, true, DType::kInt64);
  g.features.back().kind = FeatureKind::kIdList;
  g.features.back().table_size = 10;
  const int i = add_feature(g, "item_dense", {kRows, 3});
  const int item_ids = add_feature(g, "item_tags", {kRows, 4}, false, DType::kInt64);
  g.features.back().kind = FeatureKind::kIdList;
  g.features.back().table_size = 10;
  const int weights = add_feature(g, "item_weights", {kRows, 4});
  NodeOptions exp;
  exp.function = UnaryFunction::kExp;
  const int eu = g.emit(Op::kUnary, {u}, exp, "exp_u");                // user
  const int nan_u = g.emit(Op::kIsNan, {u}, {}, "isnan_u");            // user
  NodeOptions greater;
  greater.predicate = Compare::kGreater;
  const int c = g.emit(Op::kCompare, {eu, i}, greater, "greater");     // cross, eu read as 1 row
  NodeOptions logical_or;
  logical_or.logical = Logical::kOr;
  const int l = g.emit(Op::kLogical, {nan_u, c}, logical_or, "or");    // cross, nan_u read as 1 row
  const int w = g.emit(Op::kWhere, {l, i, eu}, {}, "where");           // cross
  NodeOptions norm;
  norm.axis = 1;
  const int ln = g.emit(Op::kLayerNorm, {w, random_constant(g, rng, {3}), random_constant(g, rng, {3})}, norm, "ln");
  NodeOptions bag;  // sum
  const int item_bag = g.emit(Op::kBag, {random_constant(g, rng, {10, 2}), item_ids}, bag, "item_bag");  // item
  const int mixed_bag = g.emit(Op::kBag, {random_constant(g, rng, {10, 2}), user_ids, weights}, bag, "mixed_bag");  // cross
  NodeOptions concat;
  concat.axis = 1;
  add_tasks(g, g.emit(Op::kConcat, {ln, item_bag, mixed_bag}, concat, "concat"));
  auto inputs = random_inputs(g, rng, 5, true);
  inputs[u].data[1] = std::nan("");  // a missing user value
  auto before = run_reference(g, expand_user_rows(g, inputs, 5));
  insert_row_broadcasts(g);
  auto stage_of = [&](const std::string& name) {
    for (const Node& n : g.nodes)
      if (!n.dead && n.name == name && n.op != Op::kBroadcastRows && n.op != Op::kReshape) return n.stage;
    FAIL("no node " << name);
    return Side::kConstant;
  };
  CHECK(stage_of("exp_u") == Side::kUser);
  CHECK(stage_of("isnan_u") == Side::kUser);
  CHECK(stage_of("greater") == Side::kCross);
  CHECK(stage_of("or") == Side::kCross);
  CHECK(stage_of("ln") == Side::kCross);
  CHECK(stage_of("item_bag") == Side::kItem);
  CHECK(stage_of("mixed_bag") == Side::kCross);
  // COMPARE and LOGICAL (kBroadcastsRows) read the 1-row user values directly; the cross BAG, whose ids
  // carry the rows, reads the user ids through a user-stage copy and BROADCAST_ROWS.
  int broadcasts = 0;
  for (const Node& n : g.nodes) {
    if (n.dead || n.op != Op::kBroadcastRows) continue;
    ++broadcasts;
    CHECK(n.name == "mixed_bag");
  }
  CHECK(broadcasts == 1);
  for (const Node& n : g.nodes)
    if (!n.dead && (n.name == "greater" || n.name == "or")) {
      CHECK((n.inputs[0] == eu || n.inputs[0] == nan_u));
    }
  CHECK(max_difference(before, run_reference(g, inputs, true)) < 1e-6);
}

}  // namespace edgemtl::converter::test
