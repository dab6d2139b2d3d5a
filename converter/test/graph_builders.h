// Small helpers to build IR graphs and compare their results in tests.
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/test/reference_interpreter.h"

namespace edgemtl::converter::test {

inline int add_feature(Graph& g, const std::string& name, std::vector<int64_t> shape, bool user = false,
                       DType dtype = DType::kFloat32) {
  int v = g.add_activation(name, dtype, std::move(shape));
  Feature f;
  f.name = name;
  f.user = user;
  f.value = v;
  f.kind = dtype == DType::kInt64 ? FeatureKind::kId : FeatureKind::kDense;
  g.features.push_back(f);
  return v;
}

inline int random_constant(Graph& g, std::mt19937& rng, std::vector<int64_t> shape, const std::string& name = "c") {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  int64_t n = product(shape);
  std::vector<float> data(n);
  for (float& x : data) x = uniform(rng);
  return g.add_float_constant(name, std::move(shape), data);
}

/// Adds one task per element of a row of `value`.
inline void add_tasks(Graph& g, int value) {
  for (int64_t c = 0; c < g.values[value].elements_per_row(); ++c) {
    Task t;
    t.name = g.values[value].name + ":" + std::to_string(c);
    t.value = value;
    t.column = c;
    g.tasks.push_back(t);
  }
}

inline NodeOptions with_activation(Activation a, float alpha = 0.01f) {
  NodeOptions o;
  o.activation = a;
  o.alpha = alpha;
  return o;
}

/// Random rows for every feature: `rows` rows, user features 1 row when `user_one_row`.
inline std::map<int, RefTensor> random_inputs(const Graph& g, std::mt19937& rng, int64_t rows, bool user_one_row) {
  std::map<int, RefTensor> inputs;
  for (const Feature& f : g.features) {
    std::vector<int64_t> shape = g.values[f.value].shape;
    shape[0] = f.user && user_one_row ? 1 : rows;
    inputs[f.value] = random_tensor(rng, shape, g.values[f.value].dtype == DType::kInt64 ? 10 : 0);
  }
  return inputs;
}

/// The same inputs with user features repeated to `rows` rows.
inline std::map<int, RefTensor> expand_user_rows(const Graph& g, std::map<int, RefTensor> inputs, int64_t rows) {
  for (const Feature& f : g.features)
    if (f.user) inputs[f.value] = repeat_rows(inputs[f.value], rows);
  return inputs;
}

inline double max_difference(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
  if (a.size() != b.size()) return 1e300;
  double worst = 0;
  for (size_t r = 0; r < a.size(); ++r) {
    if (a[r].size() != b[r].size()) return 1e300;
    for (size_t c = 0; c < a[r].size(); ++c) worst = std::max(worst, std::abs(a[r][c] - b[r][c]));
  }
  return worst;
}

inline int live_nodes(const Graph& g, Op op) {
  int n = 0;
  for (const Node& node : g.nodes) n += !node.dead && node.op == op;
  return n;
}

inline int live_nodes(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes) n += !node.dead;
  return n;
}

}  // namespace edgemtl::converter::test
