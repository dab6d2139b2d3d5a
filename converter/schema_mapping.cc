#include "converter/schema_mapping.h"

#include <iterator>
#include <type_traits>

namespace edgemtl::converter {
namespace {

// The IR lists follow the schema's order, so an enumerator means the same
// operator on both sides and the lists cover the schema exactly.
#define EDGEMTL_SAME_VALUE(ir, name)                                                   \
  static_assert(static_cast<int>(Op::ir) == static_cast<int>(schema::OpType::name), \
                "ir.h: EDGEMTL_CONVERTER_OPS is out of the schema's order at " #name);
EDGEMTL_CONVERTER_OPS(EDGEMTL_SAME_VALUE)
#undef EDGEMTL_SAME_VALUE
static_assert(std::size(kAllOps) == std::extent_v<std::remove_reference_t<decltype(schema::EnumValuesOpType())>>,
              "ir.h: EDGEMTL_CONVERTER_OPS lacks schema operators");

#define EDGEMTL_SAME_VALUE(ir, name)                                                                \
  static_assert(static_cast<int>(Activation::ir) == static_cast<int>(schema::Activation::name), \
                "ir.h: EDGEMTL_CONVERTER_ACTIVATIONS is out of the schema's order at " #name);
EDGEMTL_CONVERTER_ACTIVATIONS(EDGEMTL_SAME_VALUE)
#undef EDGEMTL_SAME_VALUE

// The writer casts UNARY / COMPARE / LOGICAL options by value.
static_assert(static_cast<int>(UnaryFunction::kGeluTanh) == static_cast<int>(schema::UnaryFunction::GELU_TANH) &&
                  static_cast<int>(UnaryFunction::kPow) == static_cast<int>(schema::UnaryFunction::POW) &&
                  static_cast<int>(schema::UnaryFunction::MAX) == static_cast<int>(UnaryFunction::kGeluTanh),
              "ir.h: UnaryFunction differs from the schema's");
static_assert(static_cast<int>(Compare::kLessEqual) == static_cast<int>(schema::ComparePredicate::LESS_EQUAL) &&
                  static_cast<int>(Compare::kGreaterEqual) == static_cast<int>(schema::ComparePredicate::GREATER_EQUAL),
              "ir.h: Compare differs from the schema's");
static_assert(static_cast<int>(Logical::kXor) == static_cast<int>(schema::LogicalFunction::XOR),
              "ir.h: Logical differs from the schema's");

}  // namespace

schema::OpType to_schema(Op op) {
  switch (op) {
#define EDGEMTL_SCHEMA_CASE(ir, name) \
  case Op::ir: return schema::OpType::name;
    EDGEMTL_CONVERTER_OPS(EDGEMTL_SCHEMA_CASE)
#undef EDGEMTL_SCHEMA_CASE
  }
  throw ConversionError("unknown op");
}

schema::Activation to_schema(Activation activation) {
  switch (activation) {
#define EDGEMTL_SCHEMA_CASE(ir, name) \
  case Activation::ir: return schema::Activation::name;
    EDGEMTL_CONVERTER_ACTIVATIONS(EDGEMTL_SCHEMA_CASE)
#undef EDGEMTL_SCHEMA_CASE
  }
  return schema::Activation::NONE;
}

schema::DType to_schema(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return schema::DType::FLOAT32;
    case DType::kInt64: return schema::DType::INT64;
    case DType::kBool: return schema::DType::BOOL;
  }
  return schema::DType::FLOAT32;
}

schema::DType to_schema(StoredType type) {
  switch (type) {
    case StoredType::kFloat16: return schema::DType::FLOAT16;
    case StoredType::kInt8: return schema::DType::INT8;
    case StoredType::kInt32: return schema::DType::INT32;
    case StoredType::kInt8RowF16: return schema::DType::INT8_ROW_F16;
    case StoredType::kUint4RowF16: return schema::DType::UINT4_ROW_F16;
    case StoredType::kUint4Codebook: return schema::DType::UINT4_ROW_CODEBOOK;
  }
  return schema::DType::FLOAT32;
}

}  // namespace edgemtl::converter
