// Each pass on a small hand-built graph: the graph computes the same before
// and after (naive reference interpreter on random inputs) and has the
// expected structure.
#include <doctest/doctest.h>

#include "converter/partition.h"
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
    if (n.op == Op::kAdd) {
      CHECK(n.stage == Side::kItem);
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
  CHECK(g.nodes[1].stage == Side::kItem);
  CHECK(user_to_item(g) == std::vector<int>{hu});
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

TEST_CASE("lookups feeding one CONCAT merge into EMBEDDING_MULTI runs; ids stay within their own tables") {
  std::mt19937 rng(21);
  Graph g;
  // ids are drawn from [0, 10): b's table has 6 rows and a default row, so ids
  // 6..9 of b must read b's row 2, never rows of the next table.
  int a = add_feature(g, "a", {kRows}, false, DType::kInt64);
  int b = add_feature(g, "b", {kRows}, false, DType::kInt64);
  int c = add_feature(g, "c", {kRows}, false, DType::kInt64);
  int x = add_feature(g, "x", {kRows, 2});
  int d = add_feature(g, "d", {kRows}, false, DType::kInt64);
  int e = add_feature(g, "e", {kRows}, false, DType::kInt64);
  int f = add_feature(g, "f", {kRows}, false, DType::kInt64);
  auto lookup = [&](int ids, int64_t rows, int64_t width, const std::string& name, int64_t default_row = -1) {
    NodeOptions o;
    o.default_row = default_row;
    return g.emit(Op::kEmbedding, {random_constant(g, rng, {rows, width}, name + "_table"), ids}, o, name);
  };
  NodeOptions cat;
  cat.axis = 1;
  // a (D 3), d (D 5), b (D 3), x, e (D 5), c (D 3), f (D 4, alone): the CONCAT only feeds an FC, so
  // its inputs are reordered (and the FC's weight columns alike) to a, b, c | d, e | x | f.
  int joined = g.emit(Op::kConcat,
                      {lookup(a, 10, 3, "ga"), lookup(d, 10, 5, "gd"), lookup(b, 6, 3, "gb", 2), x,
                       lookup(e, 11, 5, "ge"), lookup(c, 12, 3, "gc"), lookup(f, 10, 4, "gf")},
                      cat, "cat");
  int w = random_constant(g, rng, {2, 9 + 2 + 10 + 4}, "w");
  int y = g.emit(Op::kFullyConnected, {joined, w}, with_activation(Activation::kSigmoid), "fc");
  add_tasks(g, y);
  auto inputs = random_inputs(g, rng, 7, false);
  auto before = run_reference(g, inputs);
  assign_stages(g);
  merge_lookups(g);
  CHECK(live_nodes(g, Op::kEmbeddingMulti) == 2);
  CHECK(live_nodes(g, Op::kEmbedding) == 1);  // f
  for (const Node& n : g.nodes) {
    if (n.op == Op::kConcat) CHECK(n.inputs.size() == 4);
    if (n.op == Op::kEmbeddingMulti && n.inputs.size() == 4) {
      CHECK(n.options.row_offsets == std::vector<int64_t>{0, 10, 16});
      CHECK(n.options.row_counts == std::vector<int64_t>{10, 6, 12});
      CHECK(n.options.default_rows == std::vector<int64_t>{-1, 2, -1});
      CHECK(g.values[n.inputs[0]].shape == std::vector<int64_t>{28, 3});
    }
  }
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-9);
}

TEST_CASE("a table other lookups read too is not stacked (it would be stored twice)") {
  std::mt19937 rng(23);
  Graph g;
  int a = add_feature(g, "a", {kRows}, false, DType::kInt64);
  int b = add_feature(g, "b", {kRows}, false, DType::kInt64);
  int c = add_feature(g, "c", {kRows}, false, DType::kInt64);
  int h = add_feature(g, "history", {kRows, 3}, false, DType::kInt64);
  const int shared = random_constant(g, rng, {10, 4}, "shared_table");
  NodeOptions o, cat, mean;
  cat.axis = 1;
  mean.axes = {1};
  mean.keepdims = false;
  int ga = g.emit(Op::kEmbedding, {shared, a}, o, "ga");
  int gb = g.emit(Op::kEmbedding, {random_constant(g, rng, {10, 4}, "b_table"), b}, o, "gb");
  int gc = g.emit(Op::kEmbedding, {random_constant(g, rng, {10, 4}, "c_table"), c}, o, "gc");
  int gh = g.emit(Op::kReduceMean, {g.emit(Op::kEmbedding, {shared, h}, o, "gh")}, mean, "pool");
  int joined = g.emit(Op::kConcat, {ga, gb, gc, gh}, cat, "cat");
  add_tasks(g, g.emit(Op::kFullyConnected, {joined, random_constant(g, rng, {2, 16}, "w")}, {}, "fc"));
  auto inputs = random_inputs(g, rng, 5, false);
  auto before = run_reference(g, inputs);
  assign_stages(g);
  merge_lookups(g);
  CHECK(live_nodes(g, Op::kEmbeddingMulti) == 1);  // b and c
  CHECK(live_nodes(g, Op::kEmbedding) == 2);       // a and the history still read the shared table
  int64_t stacked_rows = 0;
  for (const Node& n : g.nodes)
    if (!n.dead && n.op == Op::kEmbeddingMulti) stacked_rows = g.values[n.inputs[0]].shape[0];
  CHECK(stacked_rows == 20);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-9);
}

TEST_CASE("reshaped lookups concatenated on a middle axis become one lookup and a reshape") {
  std::mt19937 rng(22);
  Graph g;
  NodeOptions unsqueeze;
  unsqueeze.shape = {kRows, 1, 3};
  NodeOptions cat;
  cat.axis = 1;
  std::vector<int> parts;
  for (int i = 0; i < 4; ++i) {
    int ids = add_feature(g, "id" + std::to_string(i), {kRows}, false, DType::kInt64);
    int table = random_constant(g, rng, {10 + i, 3}, "t" + std::to_string(i));
    int looked_up = g.emit(Op::kEmbedding, {table, ids}, {}, "g" + std::to_string(i));
    parts.push_back(g.emit(Op::kReshape, {looked_up}, unsqueeze, "u" + std::to_string(i)));
  }
  // A user id: its lookup runs in the user stage, so it is not merged into the item stage's CONCAT.
  int user = add_feature(g, "user", {kRows}, true, DType::kInt64);
  int user_lookup = g.emit(Op::kEmbedding, {random_constant(g, rng, {10, 3}, "tu"), user}, {}, "gu");
  int stacked = g.emit(Op::kConcat, parts, cat, "cat");  // [n, 4, 3]
  NodeOptions flat;
  flat.shape = {kRows, 12};
  int y = g.emit(Op::kConcat, {g.emit(Op::kReshape, {stacked}, flat, "flat"), user_lookup}, cat, "cat_user");
  add_tasks(g, y);
  const int64_t rows = 5;
  auto two_stage_inputs = random_inputs(g, rng, rows, true);
  auto before = run_reference(g, expand_user_rows(g, two_stage_inputs, rows));
  insert_row_broadcasts(g);
  assign_stages(g);
  merge_lookups(g);
  CHECK(live_nodes(g, Op::kEmbeddingMulti) == 1);
  CHECK(live_nodes(g, Op::kEmbedding) == 1);
  CHECK(live_nodes(g, Op::kConcat) == 1);  // the first became a RESHAPE of the merged lookup
  for (const Node& n : g.nodes)
    if (n.op == Op::kEmbeddingMulti) {
      CHECK(n.stage == Side::kItem);
      CHECK(g.values[n.outputs[0]].shape == std::vector<int64_t>{kRows, 12});
    }
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
}

TEST_CASE("a CONCAT of RESHAPEs becomes a RESHAPE of one CONCAT; shared RESHAPEs die once all readers are rewritten") {
  std::mt19937 rng(23);
  Graph g;
  int x = add_feature(g, "x", {kRows, 5});
  int u = add_feature(g, "u", {kRows, 4}, true);
  NodeOptions unsqueeze;
  unsqueeze.shape = {kRows, 1, 4};
  NodeOptions cat;
  cat.axis = 1;
  std::vector<int> experts;
  for (int i = 0; i < 3; ++i) {
    int w = random_constant(g, rng, {4, 5}, "w" + std::to_string(i));
    int h = g.emit(Op::kFullyConnected, {x, w}, with_activation(Activation::kRelu), "expert" + std::to_string(i));
    experts.push_back(g.emit(Op::kReshape, {h}, unsqueeze, "unsqueeze" + std::to_string(i)));
  }
  // A user-stage expert (1 row), broadcast by the CONCAT.
  experts.push_back(g.emit(Op::kReshape, {g.emit(Op::kTanh, {u}, {}, "user_expert")}, unsqueeze, "unsqueeze_u"));
  int all = g.emit(Op::kConcat, experts, cat, "cat_all");                      // [n, 4, 4]
  int some = g.emit(Op::kConcat, {experts[2], experts[0]}, cat, "cat_some");  // [n, 2, 4]
  NodeOptions gate_shape;
  gate_shape.shape = {kRows, 4, 1};
  NodeOptions last;
  last.axis = 1;
  int logits = g.emit(Op::kFullyConnected, {x, random_constant(g, rng, {4, 5}, "wg")}, {}, "gate_fc");
  int gate = g.emit(Op::kReshape, {g.emit(Op::kSoftmax, {logits}, last, "softmax")}, gate_shape, "gate");
  NodeOptions sum;
  sum.axes = {1};
  sum.keepdims = false;
  int mixed = g.emit(Op::kReduceSum, {g.emit(Op::kMul, {gate, all}, {}, "mul")}, sum, "reduce");  // [n, 4]
  NodeOptions flat;
  flat.shape = {kRows, 8};
  int y = g.emit(Op::kConcat, {mixed, g.emit(Op::kReshape, {some}, flat, "flat")}, cat, "cat_out");
  add_tasks(g, y);
  const int64_t rows = 6;
  auto two_stage_inputs = random_inputs(g, rng, rows, true);
  auto before = run_reference(g, expand_user_rows(g, two_stage_inputs, rows));
  insert_row_broadcasts(g);
  assign_stages(g);
  const int reshapes_before = live_nodes(g, Op::kReshape);
  concat_of_reshapes(g);
  eliminate_dead_code(g);
  // The four unsqueezes die; each rewritten CONCAT leaves one RESHAPE.
  CHECK(live_nodes(g, Op::kReshape) == reshapes_before - 4 + 2);
  for (const Node& n : g.nodes)
    if (n.op == Op::kConcat && n.name != "cat_out") CHECK(g.values[n.outputs[0]].rank() == 2);
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
}

// MMoE-like: experts [n, 4] (one of them user-side, 1 row at run time) stacked
// to [n, E, 4] by RESHAPE(CONCAT) as concat_of_reshapes leaves them, gates
// [n, E] softmaxed and reshaped to [n, E, 1], MUL, REDUCE_SUM over axis 1.
NodeOptions cat_columns() {
  NodeOptions cat;
  cat.axis = 1;
  return cat;
}

NodeOptions gate_shape(int64_t experts) {
  NodeOptions o;
  o.shape = {kRows, experts, 1};
  return o;
}

struct MixtureGraph {
  std::mt19937 rng{31};
  Graph g;
  int x = add_feature(g, "x", {kRows, 5});
  int u = add_feature(g, "u", {kRows, 3}, true);

  int expert(int input, int64_t in_width, const std::string& name) {
    return g.emit(Op::kFullyConnected, {input, random_constant(g, rng, {4, in_width}, name + "_w")},
                  with_activation(Activation::kRelu), name);
  }
  int stack(const std::vector<int>& experts, const std::string& name) {
    NodeOptions cat;
    cat.axis = 1;
    NodeOptions stacked;
    stacked.shape = {kRows, static_cast<int64_t>(experts.size()), 4};
    return g.emit(Op::kReshape, {g.emit(Op::kConcat, experts, cat, name + "_cat")}, stacked, name);
  }
  int gate(int input, int64_t in_width, int64_t experts, const std::string& name) {
    NodeOptions last;
    last.axis = 1;
    NodeOptions unsqueeze;
    unsqueeze.shape = {kRows, experts, 1};
    const int logits = g.emit(Op::kFullyConnected, {input, random_constant(g, rng, {experts, in_width}, name + "_w")},
                              {}, name + "_fc");
    return g.emit(Op::kReshape, {g.emit(Op::kSoftmax, {logits}, last, name + "_softmax")}, unsqueeze, name);
  }
  int mix(int a, int b, const std::string& name, std::vector<int64_t> axes = {1}, bool keepdims = false,
          Activation activation = Activation::kNone) {
    NodeOptions sum;
    sum.axes = std::move(axes);
    sum.keepdims = keepdims;
    return g.emit(Op::kReduceSum, {g.emit(Op::kMul, {a, b}, with_activation(activation), name + "_mul")}, sum, name);
  }
};

TEST_CASE("fuse_mixtures: gate x stacked experts becomes MIX, with user-side experts and gates broadcast") {
  MixtureGraph t;
  Graph& g = t.g;
  const int e0 = t.expert(t.x, 5, "e0"), e1 = t.expert(t.x, 5, "e1"), e2 = t.expert(t.x, 5, "e2");
  const int eu = t.expert(t.u, 3, "eu");  // user stage
  const int experts = t.stack({e0, eu, e1, e2}, "experts");  // read by both mixtures (MMoE)
  const int item_gate = t.gate(t.x, 5, 4, "gate_x");
  const int user_gate = t.gate(t.u, 3, 4, "gate_u");  // user stage: 1 row
  const int a = t.mix(item_gate, experts, "task_a");
  const int b = t.mix(experts, user_gate, "task_b");  // operands the other way round
  // PLE-like: a second stack sharing e0, with an unsqueeze of its own.
  const int c = t.mix(t.gate(t.x, 5, 2, "gate_c"), t.stack({e2, e0}, "specific"), "task_c");
  // torch.matmul(gate.unsqueeze(1), stack).squeeze(1), with the user-side expert.
  NodeOptions row_vector, squeeze;
  row_vector.shape = {kRows, 1, 3};
  squeeze.shape = {kRows, 4};
  const int gate_d = g.emit(Op::kReshape, {t.gate(t.x, 5, 3, "gate_d")}, row_vector, "gate_d_row");
  const int d = g.emit(Op::kReshape, {g.emit(Op::kMatMul, {gate_d, t.stack({e1, eu, e0}, "stack_d")}, {}, "matmul")},
                       squeeze, "task_d");
  NodeOptions cat;
  cat.axis = 1;
  add_tasks(g, g.emit(Op::kConcat, {a, b, c, d}, cat, "out"));
  const int64_t rows = 5;
  auto two_stage_inputs = random_inputs(g, t.rng, rows, true);
  auto before = run_reference(g, expand_user_rows(g, two_stage_inputs, rows));
  insert_row_broadcasts(g);
  assign_stages(g);
  fuse_mixtures(g);
  CHECK(live_nodes(g, Op::kMix) == 4);
  CHECK(live_nodes(g, Op::kMul) == 0);
  CHECK(live_nodes(g, Op::kMatMul) == 0);
  CHECK(live_nodes(g, Op::kReduceSum) == 0);
  CHECK(live_nodes(g, Op::kConcat) == 1);  // the stacks died with their last reader; "out" stays
  CHECK(live_nodes(g, Op::kBroadcastRows) == 0);  // MIX broadcasts the 1-row user tensors itself
  for (const Node& n : g.nodes) {
    if (n.dead || n.op != Op::kMix) continue;
    CHECK(n.stage == Side::kItem);
    CHECK(g.values[n.inputs[0]].shape.size() == 2);  // the gate before its unsqueeze
    CHECK(g.values[n.outputs[0]].shape == std::vector<int64_t>{kRows, 4});
    if (n.name == "task_b") {
      CHECK(g.nodes[g.values[n.inputs[0]].producer].stage == Side::kUser);
      CHECK(n.inputs[2] == eu);  // experts in stacking order
    }
  }
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
}

TEST_CASE("fuse_mixtures leaves what is not exactly a mixture") {
  MixtureGraph t;
  Graph& g = t.g;
  const int e0 = t.expert(t.x, 5, "e0"), e1 = t.expert(t.x, 5, "e1");
  const int gate = t.gate(t.x, 5, 2, "gate");
  std::vector<int> outs;
  outs.push_back(t.mix(gate, t.stack({e0, e1}, "s1"), "keepdims", {1}, true));      // [n, 1, 4]
  outs.push_back(t.mix(gate, t.stack({e1, e0}, "s2"), "columns", {2}));             // sums the other axis
  outs.push_back(t.mix(gate, t.stack({e0, e0}, "s3"), "relu", {1}, false, Activation::kRelu));  // fused activation
  // The product is read twice.
  const int s4 = t.stack({e1, e1}, "s4");
  NodeOptions sum;
  sum.axes = {1};
  sum.keepdims = false;
  const int product = g.emit(Op::kMul, {gate, s4}, {}, "shared_mul");
  outs.push_back(g.emit(Op::kReduceSum, {product}, sum, "shared"));
  NodeOptions flat;
  flat.shape = {kRows, 8};
  outs.push_back(g.emit(Op::kReshape, {product}, flat, "product_flat"));
  // A MATMUL of the gate on the right (not a mixture of rows) and one without the squeeze.
  NodeOptions row_vector, column_stack;
  row_vector.shape = {kRows, 1, 2};
  column_stack.shape = {kRows, 4, 2};
  const int gate_row = g.emit(Op::kReshape, {g.nodes[g.values[gate].producer].inputs[0]}, row_vector, "gate_row");
  outs.push_back(g.emit(Op::kMatMul, {g.emit(Op::kReshape, {g.emit(Op::kConcat, {e0, e1}, cat_columns(), "s5_cat")},
                                                column_stack, "s5"), g.emit(Op::kReshape, {gate_row}, gate_shape(2), "gc")},
                        {}, "gate_right"));
  outs.push_back(g.emit(Op::kTanh, {g.emit(Op::kMatMul, {gate_row, t.stack({e0, e1}, "s6")}, {}, "no_squeeze")}, {},
                        "tanh"));  // [n, 1, 4]
  // Experts not stacked by a CONCAT (an FC output reshaped to [n, 2, 4]).
  NodeOptions stacked;
  stacked.shape = {kRows, 2, 4};
  const int wide = g.emit(Op::kFullyConnected, {t.x, random_constant(g, t.rng, {8, 5}, "wide_w")}, {}, "wide");
  outs.push_back(t.mix(gate, g.emit(Op::kReshape, {wide}, stacked, "wide_stacked"), "not_a_concat"));
  for (int& o : outs) {
    if (g.values[o].rank() == 2) continue;
    NodeOptions flatten;
    flatten.shape = {kRows, g.values[o].elements_per_row()};
    o = g.emit(Op::kReshape, {o}, flatten, g.values[o].name + "_flat");
  }
  NodeOptions cat;
  cat.axis = 1;
  add_tasks(g, g.emit(Op::kConcat, outs, cat, "out"));
  auto inputs = random_inputs(g, t.rng, 4, false);
  auto before = run_reference(g, inputs);
  assign_stages(g);
  const int muls = live_nodes(g, Op::kMul);
  fuse_mixtures(g);
  CHECK(live_nodes(g, Op::kMix) == 0);
  CHECK(live_nodes(g, Op::kMul) == muls);
  CHECK(max_difference(before, run_reference(g, inputs)) < 1e-12);
}

TEST_CASE("MIX evaluates as the MUL and REDUCE_SUM it replaces, to the bit, and broadcasts 1-row experts") {
  std::mt19937 rng(41);
  Graph g;
  const int64_t rows = 3, experts = 5, width = 7;
  const int gate = random_constant(g, rng, {rows, experts}, "gate");
  std::vector<int> h;
  for (int64_t e = 0; e < experts; ++e) h.push_back(random_constant(g, rng, {rows, width}, "h" + std::to_string(e)));
  std::vector<int> inputs = {gate};
  inputs.insert(inputs.end(), h.begin(), h.end());
  const Value mixed = evaluate(g, Op::kMix, inputs, {}, DType::kFloat32, {rows, width});
  NodeOptions cat;
  cat.axis = 1;
  NodeOptions gate_shape, stacked, sum;
  gate_shape.shape = {rows, experts, 1};
  stacked.shape = {rows, experts, width};
  sum.axes = {1};
  sum.keepdims = false;
  const int product = g.emit(Op::kMul, {g.emit(Op::kReshape, {gate}, gate_shape, "g3"),
                                        g.emit(Op::kReshape, {g.emit(Op::kConcat, h, cat, "cat")}, stacked, "h3")},
                             {}, "mul");
  const Value& unfused = g.values[g.emit(Op::kReduceSum, {product}, sum, "sum")];
  REQUIRE(unfused.floats.size() == mixed.floats.size());
  for (size_t i = 0; i < mixed.floats.size(); ++i) CHECK(mixed.floats[i] == unfused.floats[i]);
  // Expert 1 with one row stands for the same row repeated.
  const int one_row = random_constant(g, rng, {1, width}, "one_row");
  std::vector<float> repeated;
  for (int64_t r = 0; r < rows; ++r)
    repeated.insert(repeated.end(), g.values[one_row].floats.begin(), g.values[one_row].floats.end());
  std::vector<int> broadcast_inputs = inputs, repeated_inputs = inputs;
  broadcast_inputs[2] = one_row;
  repeated_inputs[2] = g.add_float_constant("repeated", {rows, width}, repeated);
  const Value a = evaluate(g, Op::kMix, broadcast_inputs, {}, DType::kFloat32, {rows, width});
  const Value b = evaluate(g, Op::kMix, repeated_inputs, {}, DType::kFloat32, {rows, width});
  CHECK(a.floats == b.floats);
  CHECK(a.floats != mixed.floats);
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
