// The converter's operator list against the schema: one IR op per schema
// OpType, with the schema's name (ir.h: EDGEMTL_CONVERTER_OPS).
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "converter/schema_mapping.h"

namespace edgemtl::converter::test {

TEST_CASE("every schema OpType is exactly one IR op, named as in the schema") {
  std::map<schema::OpType, int> ops_of;
  for (Op op : kAllOps) {
    CAPTURE(op_name(op));
    ++ops_of[to_schema(op)];
    CHECK(std::string(op_name(op)) == schema::EnumNameOpType(to_schema(op)));
  }
  for (schema::OpType type : schema::EnumValuesOpType()) {
    CAPTURE(schema::EnumNameOpType(type));
    CHECK(ops_of[type] == 1);
  }
  CHECK(ops_of.size() == std::size(schema::EnumValuesOpType()));
}

TEST_CASE("every schema Activation is exactly one IR activation") {
  std::map<schema::Activation, int> activations_of;
#define EDGEMTL_COUNT(ir, name) ++activations_of[to_schema(Activation::ir)];
  EDGEMTL_CONVERTER_ACTIVATIONS(EDGEMTL_COUNT)
#undef EDGEMTL_COUNT
  for (schema::Activation activation : schema::EnumValuesActivation()) {
    CAPTURE(schema::EnumNameActivation(activation));
    CHECK(activations_of[activation] == 1);
  }
  CHECK(activations_of.size() == std::size(schema::EnumValuesActivation()));
}

}  // namespace edgemtl::converter::test
