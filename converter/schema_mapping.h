// The IR's enums as the schema's (schema/edgemtl.fbs), generated from the lists in ir.h.
#pragma once

#include "converter/ir.h"
#include "converter/quantize_plan.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl::converter {

schema::OpType to_schema(Op op);
schema::Activation to_schema(Activation activation);
schema::DType to_schema(DType dtype);
schema::DType to_schema(StoredType type);

}  // namespace edgemtl::converter
