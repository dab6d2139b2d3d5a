// Verifier cases of the operators, registered per operator family by the
// files beside this one and run by registry_test.cc, which also requires
// every schema OpType to have at least one accepted and one refused case.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/test_util/model_builder.h"

namespace edgemtl {
namespace test {

/// A model with one operator under test (plus whatever it needs before it).
/// Every case starts from item features x, x2 [-1, 3] (DENSE) and id [-1] (ID).
struct OneOp {
  ModelBuilder m;
  int x, x2, id;
  OneOp();
  int activation(schema::DType dtype, std::vector<int64_t> shape) {
    return m.add_activation("t" + std::to_string(next_++), dtype, std::move(shape));
  }
  /// A BOOL [-1, 3] activation (EQUAL(x, x2)), for NOT and WHERE.
  int bool_activation();
  /// Adds the operator under test to the item stage (and after it a task on
  /// RELU(x): a model needs one) and returns the file.
  ModelBytes finish(schema::OpType type, std::vector<int> inputs, int output,
                    schema::OpOptions options_type = schema::OpOptions::NONE,
                    ModelBuilder::OptionsFn options = nullptr);

 private:
  int next_ = 0;
};

struct VerifierCase {
  schema::OpType type;
  std::function<ModelBytes()> build;
  /// Empty: the model must load. Otherwise a part of the expected message.
  std::string error;
};

/// Adds cases to the table; returns true (for a namespace-scope initializer).
bool register_verifier_cases(std::vector<VerifierCase> cases);
const std::vector<VerifierCase>& verifier_cases();

}  // namespace test
}  // namespace edgemtl
