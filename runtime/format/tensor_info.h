// Helpers over the verified FlatBuffer: dtype sizes, names and shapes of tensors.
// Internal to the runtime (includes the generated schema header).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/shape.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

/// Bytes of one element, or 0 for a dtype this runtime does not know.
inline size_t dtype_size(schema::DType dtype) {
  switch (dtype) {
    case schema::DType::FLOAT32: return 4;
    case schema::DType::INT64: return 8;
    case schema::DType::BOOL: return 1;
    case schema::DType::INT8: return 1;
    case schema::DType::FLOAT16: return 2;
    case schema::DType::INT32: return 4;
    case schema::DType::INT8_ROW_F16: return 1;
    case schema::DType::UINT4_ROW_F16: return 1;  // not per element: two per byte, see row_bytes
    case schema::DType::UINT4_ROW_CODEBOOK: return 1;  // as UINT4_ROW_F16
  }
  return 0;
}

/// True for the table dtypes with per-row parameters in Tensor.row_params.
inline bool has_row_params(schema::DType dtype) {
  return dtype == schema::DType::INT8_ROW_F16 || dtype == schema::DType::UINT4_ROW_F16 ||
         dtype == schema::DType::UINT4_ROW_CODEBOOK;
}

/// True for the 4-bit table dtypes (two codes a byte).
inline bool is_uint4_table(schema::DType dtype) {
  return dtype == schema::DType::UINT4_ROW_F16 || dtype == schema::DType::UINT4_ROW_CODEBOOK;
}

/// Bytes of one stored row of `dim` elements (the 4-bit tables pack two per byte).
inline int64_t row_bytes(schema::DType dtype, int64_t dim) {
  return is_uint4_table(dtype) ? (dim + 1) / 2 : dim * static_cast<int64_t>(dtype_size(dtype));
}

/// UINT4_ROW_CODEBOOK: the codebook at the start of its row_params buffer (256 f32).
constexpr int64_t kCodebookEntries = 256;
constexpr int64_t kCodebookBytes = 4 * kCodebookEntries;

/// Bytes of the per-row parameters of one row (0 for dtypes without them).
/// UINT4_ROW_CODEBOOK's buffer also holds the codebook (kCodebookBytes) before them.
inline int64_t row_params_bytes(schema::DType dtype) {
  switch (dtype) {
    case schema::DType::INT8_ROW_F16: return 2;
    case schema::DType::UINT4_ROW_F16: return 4;
    case schema::DType::UINT4_ROW_CODEBOOK: return 1;
    default: return 0;
  }
}

/// True for the dtypes kernels compute with (others are storage-only).
inline bool is_compute_dtype(schema::DType dtype) {
  return dtype == schema::DType::FLOAT32 || dtype == schema::DType::INT64 || dtype == schema::DType::BOOL;
}

inline const char* dtype_name(schema::DType dtype) {
  const char* name = schema::EnumNameDType(dtype);
  return name[0] != '\0' ? name : "unknown";
}

/// Name of a tensor for messages; "" when the file gives none.
inline const char* tensor_name(const schema::Tensor* tensor) {
  return tensor->name() ? tensor->name()->c_str() : "";
}

/// The declared shape (leading -1 for activations). Call only on verified
/// models, where rank <= kMaxRank.
inline Shape declared_shape(const schema::Tensor* tensor) {
  Shape shape;
  const auto* dims = tensor->shape();
  if (!dims) return shape;
  shape.rank = static_cast<int>(dims->size());
  for (int i = 0; i < shape.rank && i < kMaxRank; ++i) shape.dims[i] = dims->Get(i);
  return shape;
}

inline bool is_constant(const schema::Tensor* tensor) { return tensor->buffer() >= 0; }

}  // namespace edgemtl
