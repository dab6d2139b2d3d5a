// The passes that run after the stages are assigned (merge_lookups,
// concat_of_reshapes, fuse_mixtures) on small hand-built graphs: the graph
// computes the same before and after (naive reference interpreter on random
// inputs) and has the expected structure.
#include <doctest/doctest.h>

#include <set>
#include <utility>

#include "converter/partition.h"
#include "converter/passes/passes.h"
#include "converter/test/graph_builders.h"

namespace edgemtl::converter::test {

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
  // The task reads `outs` side by side; returns the reference outputs on `inputs` (1-row user features, 5 rows)
  // before the passes, then runs the stage passes and fuse_mixtures.
  std::vector<std::vector<double>> finish_and_fuse(const std::vector<int>& outs, std::map<int, RefTensor>* inputs) {
    NodeOptions cat;
    cat.axis = 1;
    add_tasks(g, g.emit(Op::kConcat, outs, cat, "out"));
    const int64_t rows = 5;
    *inputs = random_inputs(g, rng, rows, true);
    auto before = run_reference(g, expand_user_rows(g, *inputs, rows));
    insert_row_broadcasts(g);
    assign_stages(g);
    fuse_mixtures(g);
    return before;
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
  std::map<int, RefTensor> two_stage_inputs;
  const auto before = t.finish_and_fuse({a, b, c, d}, &two_stage_inputs);
  CHECK(live_nodes(g, Op::kMix) == 4);
  CHECK(live_nodes(g, Op::kMul) == 0);
  CHECK(live_nodes(g, Op::kMatMul) == 0);
  CHECK(live_nodes(g, Op::kReduceSum) == 0);
  CHECK(live_nodes(g, Op::kConcat) == 1);  // the stacks died with their last reader; "out" stays
  CHECK(live_nodes(g, Op::kBroadcastRows) == 0);  // MIX broadcasts the 1-row user tensors itself
  const std::vector<Side> side = assign_stages(g);  // the stages the pass left, recomputed
  for (const Node& n : g.nodes) {
    if (n.dead || n.op != Op::kMix) continue;
    Side reads = Side::kConstant;
    for (int v : n.inputs) reads = join(reads, side[v]);
    CHECK(n.stage == reads);  // item-only mixtures stay in the item stage, the others are cross
    CHECK(n.stage != Side::kUser);
    CHECK(g.values[n.inputs[0]].shape.size() == 2);  // the gate before its unsqueeze
    CHECK(g.values[n.outputs[0]].shape == std::vector<int64_t>{kRows, 4});
    if (n.name == "task_b") {
      CHECK(g.nodes[g.values[n.inputs[0]].producer].stage == Side::kUser);
      CHECK(n.inputs[2] == eu);  // experts in stacking order
    }
  }
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
}

TEST_CASE("merge_mixtures: MIXes of the same experts become one MIX of their gates side by side") {
  MixtureGraph t;
  Graph& g = t.g;
  const int e0 = t.expert(t.x, 5, "e0"), e1 = t.expert(t.x, 5, "e1"), e2 = t.expert(t.x, 5, "e2");
  const int experts = t.stack({e0, e1, e2}, "experts");  // one stack, a gate per task (MMoE)
  std::vector<int> outs;
  for (const char* task : {"task_a", "task_b", "task_c"})
    outs.push_back(t.mix(t.gate(t.x, 5, 3, std::string("gate_") + task), experts, task));
  outs.push_back(t.mix(t.gate(t.u, 3, 3, "gate_u"), experts, "task_u"));  // its gate in the user stage: stays
  outs.push_back(t.mix(t.gate(t.x, 5, 2, "gate_p"), t.stack({e2, e0}, "specific"), "task_p"));  // other experts
  std::map<int, RefTensor> two_stage_inputs;
  const auto before = t.finish_and_fuse(outs, &two_stage_inputs);
  CHECK(live_nodes(g, Op::kMix) == 5);
  merge_mixtures(g);
  CHECK(live_nodes(g, Op::kMix) == 3);
  int merged = 0;
  for (const Node& n : g.nodes) {
    if (n.dead || n.op != Op::kMix || g.values[n.inputs[0]].shape[1] != 9) continue;
    ++merged;
    CHECK(n.stage == Side::kItem);
    CHECK(n.inputs.size() == 4);
    CHECK(g.values[n.outputs[0]].shape == std::vector<int64_t>{kRows, 12});  // 3 mixtures of 4 columns
    CHECK(g.nodes[g.values[n.inputs[0]].producer].op == Op::kConcat);
  }
  CHECK(merged == 1);
  for (int task : {0, 1, 2}) {  // each task's mixture is now a TAKE of 4 columns of the merged one
    const Node& take = g.nodes[g.values[outs[static_cast<size_t>(task)]].producer];
    CHECK(take.op == Op::kTake);
    CHECK(take.options.indices.front() == 4 * task);
    CHECK(take.options.indices.size() == 4);
  }
  CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
}

// MMoE as the converter sees it after stack_parallel_fcs: one FC computes every task's gate logits and a
// TAKE of E columns per task feeds that task's SOFTMAX. `order` lists each task's group of columns.
TEST_CASE("merge_mixtures: softmaxes of adjacent columns of one gate layer become one softmax over [rows, G, E]") {
  struct Case {
    int64_t logits;               // columns of the gate layer
    std::vector<int64_t> starts;  // the first column of each task's gate, in task order
    bool grouped;                 // one SOFTMAX over [rows, G, E] expected (else the CONCAT of the G softmaxes)
  };
  const Case cases[] = {
      {9, {0, 3, 6}, true},    // all of the layer: read as is
      {11, {1, 4, 7}, true},   // a range of it: one TAKE of the range first
      {9, {0, 6, 3}, false},   // not in task order
      {10, {0, 3, 7}, false},  // a gap
  };
  for (const Case& c : cases) {
    CAPTURE(c.logits);
    CAPTURE(c.starts[1]);
    MixtureGraph t;
    Graph& g = t.g;
    const int e0 = t.expert(t.x, 5, "e0"), e1 = t.expert(t.x, 5, "e1"), e2 = t.expert(t.x, 5, "e2");
    const int experts = t.stack({e0, e1, e2}, "experts");
    const int logits = g.emit(Op::kFullyConnected, {t.x, random_constant(g, t.rng, {c.logits, 5}, "gates_w")}, {},
                              "gates_fc");
    std::vector<int> outs;
    for (size_t task = 0; task < c.starts.size(); ++task) {
      NodeOptions columns, last;
      columns.axis = 1;
      for (int64_t i = 0; i < 3; ++i) columns.indices.push_back(c.starts[task] + i);
      last.axis = 1;
      const std::string name = "task" + std::to_string(task);
      const int softmax =
          g.emit(Op::kSoftmax, {g.emit(Op::kTake, {logits}, columns, name + "_take")}, last, name + "_softmax");
      outs.push_back(t.mix(g.emit(Op::kReshape, {softmax}, gate_shape(3), name + "_gate"), experts, name));
    }
    std::map<int, RefTensor> two_stage_inputs;
    const auto before = t.finish_and_fuse(outs, &two_stage_inputs);
    merge_mixtures(g);
    CHECK(live_nodes(g, Op::kMix) == 1);
    CHECK(live_nodes(g, Op::kSoftmax) == (c.grouped ? 1 : 3));
    CHECK(live_nodes(g, Op::kConcat) == (c.grouped ? 1 : 2));  // "out", and the gates' CONCAT when not grouped
    for (const Node& n : g.nodes) {
      if (n.dead || n.op != Op::kSoftmax || !c.grouped) continue;
      CHECK(n.options.axis == 2);
      CHECK(g.values[n.inputs[0]].shape == std::vector<int64_t>{kRows, 3, 3});
      const Node& source = g.nodes[g.values[g.nodes[g.values[n.inputs[0]].producer].inputs[0]].producer];
      CHECK(source.op == (c.starts[0] == 0 ? Op::kFullyConnected : Op::kTake));
    }
    CHECK(max_difference(before, run_reference(g, two_stage_inputs, true)) < 1e-9);
  }
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

}  // namespace edgemtl::converter::test

namespace edgemtl::converter::test {

// act(FC_i(i) + FC_u(u)) read through TAKEs of its columns by layers with a
// bias (the split first layer of MMoE/PLE): returns {sum, take outputs' FCs}.
struct SplitSum {
  int item_part, user_part, sum;
  std::vector<int> layers;  // outputs of the layers reading column slices
};

SplitSum split_sum(Graph& g, std::mt19937& rng, bool contiguous, bool biases,
                   Activation activation = Activation::kRelu, float alpha = 0.01f) {
  const int u = add_feature(g, "u", {kRows, 4}, true);
  const int i = add_feature(g, "i", {kRows, 5});
  SplitSum s;
  s.user_part = g.emit(Op::kFullyConnected, {u, random_constant(g, rng, {12, 4}, "wu"),
                                             random_constant(g, rng, {12}, "bu")}, NodeOptions{}, "fc_u");
  s.item_part = g.emit(Op::kFullyConnected, {i, random_constant(g, rng, {12, 5}, "wi")}, NodeOptions{}, "fc_i");
  NodeOptions add = with_activation(activation);
  add.alpha = alpha;
  s.sum = g.emit(Op::kAdd, {s.item_part, s.user_part}, add, "sum");
  for (int64_t first : {0, 6}) {
    NodeOptions take;
    take.axis = 1;
    for (int64_t c = 0; c < 6; ++c) take.indices.push_back(contiguous || c < 5 ? first + c : first);
    const int slice = g.emit(Op::kTake, {s.sum}, take, "take");
    std::vector<int> inputs = {slice, random_constant(g, rng, {3, 6}, "w")};
    if (biases) inputs.push_back(random_constant(g, rng, {3}, "b"));
    s.layers.push_back(g.emit(Op::kFullyConnected, inputs, with_activation(Activation::kSigmoid), "layer"));
  }
  for (int y : s.layers) add_tasks(g, y);
  return s;
}

// Every FULLY_CONNECTED of g (the layers fuse_input_adds may give an addend).
std::set<int> all_layers(const Graph& g) {
  std::set<int> layers;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (g.nodes[n].op == Op::kFullyConnected) layers.insert(static_cast<int>(n));
  return layers;
}

TEST_CASE("fuse_input_adds: the split's act(W_i·i + W_u·u) becomes the addend of the layers reading its columns") {
  // The ADD's activation and LEAKY_RELU's slope move to the layers (the reference interpreter reads them).
  const std::pair<Activation, float> activations[] = {
      {Activation::kRelu, 0.01f}, {Activation::kLeakyRelu, 0.2f}, {Activation::kNone, 0.01f}};
  for (const auto& [activation, alpha] : activations) {
    CAPTURE(static_cast<int>(activation));
    std::mt19937 rng(41);
    Graph g;
    const SplitSum s = split_sum(g, rng, true, true, activation, alpha);
    assign_stages(g);
    auto inputs = random_inputs(g, rng, 7, true);
    auto before = run_reference(g, expand_user_rows(g, inputs, 7));
    fuse_input_adds(g, all_layers(g));
    CHECK(live_nodes(g, Op::kAdd) == 0);
    int fused = 0;
    for (const Node& n : g.nodes) {
      if (n.dead) continue;
      if (n.op == Op::kTake) CHECK(n.inputs[0] == s.item_part);  // the item part has the rows, the user part is 1 row
      if (n.op != Op::kFullyConnected || n.inputs.size() != 4) continue;
      ++fused;
      CHECK(n.inputs[3] == s.user_part);
      CHECK(n.options.input_activation == activation);
      CHECK(n.options.input_alpha == alpha);
      CHECK((n.options.addend_offset == 0 || n.options.addend_offset == 6));
    }
    CHECK(fused == 2);
    CHECK(max_difference(before, run_reference(g, expand_user_rows(g, inputs, 7))) < 1e-9);
  }
}

TEST_CASE("fuse_input_adds leaves a sum read otherwise: scattered columns, no bias, a task, a layer not offered") {
  for (int variant = 0; variant < 4; ++variant) {
    CAPTURE(variant);
    std::mt19937 rng(43);
    Graph g;
    const SplitSum s = split_sum(g, rng, variant != 0, variant != 1);
    if (variant == 2) add_tasks(g, s.sum);
    assign_stages(g);
    std::set<int> layers = all_layers(g);
    if (variant == 3) layers.erase(g.values[s.layers[1]].producer);
    fuse_input_adds(g, layers);
    CHECK(live_nodes(g, Op::kAdd) == 1);
    for (const Node& n : g.nodes) CHECK(n.inputs.size() <= 3);
  }
}

}  // namespace edgemtl::converter::test
