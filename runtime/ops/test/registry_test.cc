// The registry covers the schema: every OpType has an entry of its own type,
// and every entry has verifier cases (runtime/ops/test/*_cases.cc) that accept
// a valid operator and refuse a bad one with its message.
#include "runtime/ops/registry.h"

#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>

#include "runtime/format/model.h"
#include "runtime/ops/test/verifier_cases.h"

namespace edgemtl {
namespace test {

OneOp::OneOp() {
  x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, schema::FeatureKind::DENSE, 3));
  x2 = m.feature_tensor(m.add_feature("x2", schema::Side::ITEM, schema::FeatureKind::DENSE, 3));
  id = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, schema::FeatureKind::ID, 1, 4));
}

int OneOp::bool_activation() {
  const int flags = activation(schema::DType::BOOL, {-1, 3});
  m.add_op(ModelBuilder::kItem, schema::OpType::EQUAL, {x, x2}, {flags});
  return flags;
}

ModelBytes OneOp::finish(schema::OpType type, std::vector<int> inputs, int output, schema::OpOptions options_type,
                         ModelBuilder::OptionsFn options) {
  m.add_op(ModelBuilder::kItem, type, std::move(inputs), {output}, options_type, std::move(options), "node_under_test");
  // A model needs a task: RELU(x), added last so that no tensor or operator
  // index of the case moves.
  const int scored = m.add_activation("scored", schema::DType::FLOAT32, {-1, 3});
  m.add_op(ModelBuilder::kItem, schema::OpType::RELU, {x}, {scored});
  m.add_task("score", schema::TaskKind::PROBABILITY, scored);
  return m.finish();
}

namespace {
std::vector<VerifierCase>& mutable_cases() {
  static std::vector<VerifierCase> cases;
  return cases;
}
}  // namespace

bool register_verifier_cases(std::vector<VerifierCase> cases) {
  for (VerifierCase& c : cases) mutable_cases().push_back(std::move(c));
  return true;
}

const std::vector<VerifierCase>& verifier_cases() { return mutable_cases(); }

}  // namespace test

namespace {

TEST_CASE("every schema OpType has a registry entry of its own type") {
  for (schema::OpType type : schema::EnumValuesOpType()) {
    const std::string name = schema::EnumNameOpType(type);
    CAPTURE(name);
    const OpRegistration* registration = find_op(type);
    REQUIRE(registration != nullptr);
    CHECK(registration->type == type);
    CHECK(static_cast<bool>(registration->verify));
    CHECK(static_cast<bool>(registration->run));
  }
  CHECK(find_op(static_cast<schema::OpType>(200)) == nullptr);
}

TEST_CASE("every OpType has verifier cases, accepted and refused, and each gives its result") {
  std::set<schema::OpType> accepted, refused;
  for (const test::VerifierCase& c : test::verifier_cases()) {
    const std::string name = schema::EnumNameOpType(c.type);
    CAPTURE(name);
    CAPTURE(c.error);
    const Status status = test::load_status(c.build());
    if (c.error.empty()) {
      CHECK_MESSAGE(status.is_ok(), std::string(status.message()));
      accepted.insert(c.type);
    } else {
      CHECK(!status.is_ok());
      CHECK_MESSAGE(std::strstr(status.message(), c.error.c_str()) != nullptr, status.message());
      CHECK_MESSAGE(std::strstr(status.message(), "node_under_test") != nullptr, status.message());
      refused.insert(c.type);
    }
  }
  for (schema::OpType type : schema::EnumValuesOpType()) {
    const std::string name = schema::EnumNameOpType(type);
    CAPTURE(name);
    CHECK_MESSAGE(accepted.count(type) == 1, "no verifier case that loads");
    CHECK_MESSAGE(refused.count(type) == 1, "no verifier case that is refused");
  }
}

}  // namespace
}  // namespace edgemtl
