// A naive interpreter of IR graphs for the tests, written separately from the
// converter's constant folder (eval.cc) so that passes are checked against an
// independent evaluation.
#pragma once

#include <map>
#include <random>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter::test {

struct RefTensor {
  std::vector<int64_t> shape;  // concrete (rows resolved)
  std::vector<double> data;    // ids and bools as numbers
};

/// Evaluates every live node in order from `inputs` (feature value -> tensor)
/// and returns the tasks' columns: result[row][task].
/// two_stages: user-stage nodes first (user features have 1 row), then the
/// item stage, with the runtime's broadcasting of 1-row user tensors.
std::vector<std::vector<double>> run_reference(const Graph& graph, const std::map<int, RefTensor>& inputs,
                                               bool two_stages = false);

/// Random float tensor, or ids in [0, id_limit) when id_limit > 0.
RefTensor random_tensor(std::mt19937& rng, std::vector<int64_t> shape, int64_t id_limit = 0);

/// The first `rows` rows of `t` repeated to `rows` (t has 1 row).
RefTensor repeat_rows(const RefTensor& t, int64_t rows);

}  // namespace edgemtl::converter::test
