// The split first layer's sum, activation(W_i·i + W_u·u) with no activation,
// RELU or LEAKY_RELU, moved into the FULLY_CONNECTED layers that read its
// columns (their 4th input, the addend): the sum is then not a pass over
// memory of its own (schema/edgemtl.fbs, FULLY_CONNECTED). Runs last, after
// the quantisation plan: the layers' x is still that sum, so their calibrated
// input ranges stay what they were.
// convert_api.cc offers it the static int8 layers only: their kernel adds the
// addend while it quantises x for free, where the f32 kernels would stage
// x + addend in a pass of their own, which measured slower than the ADD.
#include <set>
#include <vector>

#include "converter/passes/passes.h"

namespace edgemtl::converter {
namespace {

Side side_of(const Graph& g, int v) {
  const Value& value = g.values[v];
  if (value.is_constant) return Side::kConstant;
  if (value.producer >= 0) return g.nodes[value.producer].stage;
  for (const Feature& f : g.features)
    if (f.value == v) return f.user ? Side::kUser : Side::kItem;
  return Side::kCross;
}

// One of `layers` (FULLY_CONNECTEDs with a bias) that reads `v` as x only.
bool reads_as_x(const Graph& g, const std::set<int>& layers, int node, int v) {
  const Node& fc = g.nodes[node];
  if (!layers.count(node) || fc.op != Op::kFullyConnected || fc.inputs.size() != 3 || fc.inputs[0] != v) return false;
  return fc.inputs[1] != v && fc.inputs[2] != v;
}

// The first column of a TAKE of consecutive columns of a 2-D value, or -1.
int64_t column_run_start(const Graph& g, const Node& take) {
  const std::vector<int64_t>& indices = take.options.indices;
  if (take.options.axis != 1 || g.values[take.inputs[0]].rank() != 2 || indices.empty() || indices[0] < 0) return -1;
  for (size_t i = 1; i < indices.size(); ++i)
    if (indices[i] != indices[0] + static_cast<int64_t>(i)) return -1;
  return indices[0];
}

}  // namespace

void fuse_input_adds(Graph& g, const std::set<int>& layers) {
  std::vector<std::vector<int>> readers(g.values.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (g.nodes[n].dead) continue;
    for (int v : g.nodes[n].inputs) readers[v].push_back(static_cast<int>(n));
  }
  std::set<int> task_values;
  for (const Task& t : g.tasks) task_values.insert(t.value);
  const auto only_fc_readers = [&](int v) {
    if (task_values.count(v) || readers[v].empty()) return false;
    for (int r : readers[v])
      if (!reads_as_x(g, layers, r, v)) return false;
    return true;
  };

  for (Node& add : g.nodes) {
    if (add.dead || add.op != Op::kAdd || add.inputs.size() != 2) continue;
    const Activation activation = add.options.activation;
    if (activation != Activation::kNone && activation != Activation::kRelu && activation != Activation::kLeakyRelu)
      continue;
    const int sum = add.outputs[0];
    int x = add.inputs[0], addend = add.inputs[1];
    const Value &a = g.values[x], &b = g.values[addend], &y = g.values[sum];
    if (x == addend || !a.is_activation() || !b.is_activation() || a.dtype != DType::kFloat32 ||
        b.dtype != DType::kFloat32 || a.shape != y.shape || b.shape != y.shape || y.rank() != 2 ||
        task_values.count(sum))
      continue;
    // x has the rows of the sum; a user-stage operand (1 row when the user is cached) is the addend.
    if (side_of(g, x) == Side::kUser) std::swap(x, addend);
    // Every reader: a FULLY_CONNECTED (x only), or a TAKE of consecutive columns read only by such layers.
    bool fusable = !readers[sum].empty();
    for (int r : readers[sum]) {
      const Node& reader = g.nodes[r];
      if (reads_as_x(g, layers, r, sum)) continue;
      fusable = fusable && reader.op == Op::kTake && reader.inputs[0] == sum && column_run_start(g, reader) >= 0 &&
                only_fc_readers(reader.outputs[0]);
    }
    if (!fusable) continue;
    const auto fuse = [&](int fc, int64_t offset) {
      Node& layer = g.nodes[fc];
      layer.inputs.push_back(addend);
      layer.options.input_activation = activation;
      if (activation == Activation::kLeakyRelu) layer.options.input_alpha = add.options.alpha;
      layer.options.addend_offset = offset;
    };
    for (int r : readers[sum]) {
      Node& reader = g.nodes[r];
      if (reader.op == Op::kFullyConnected) {
        reader.inputs[0] = x;
        fuse(r, 0);
        continue;
      }
      reader.inputs[0] = x;  // the TAKE now reads the same columns of x
      for (int fc : readers[reader.outputs[0]]) fuse(fc, column_run_start(g, reader));
    }
    add.dead = true;
  }
}

}  // namespace edgemtl::converter
