#include "runtime/kernels/embedding.h"

#include <cstring>

#include "runtime/kernels/half.h"

namespace edgemtl {

namespace {

// Row `row` of the table as floats (dequantised or widened on the fly).
void copy_row(const EmbeddingTable& table, size_t row, float* target) {
  const size_t dim = static_cast<size_t>(table.dim);
  switch (table.dtype) {
    case schema::DType::INT8: {
      const int8_t* q = static_cast<const int8_t*>(table.data) + row * dim;
      const float scale = table.row_scales[row];
      for (size_t d = 0; d < dim; ++d) target[d] = scale * static_cast<float>(q[d]);
      break;
    }
    case schema::DType::FLOAT16:
      half_to_float_n(static_cast<const uint8_t*>(table.data) + row * dim * 2, target, dim);
      break;
    default:
      std::memcpy(target, static_cast<const float*>(table.data) + row * dim, dim * sizeof(float));
      break;
  }
}

// Element d of row `row` as f32 (the same value copy_row writes).
inline float table_value(const EmbeddingTable& table, size_t row, size_t d) {
  const size_t index = row * static_cast<size_t>(table.dim) + d;
  switch (table.dtype) {
    case schema::DType::INT8:
      return table.row_scales[row] * static_cast<float>(static_cast<const int8_t*>(table.data)[index]);
    case schema::DType::FLOAT16:
      return half_to_float(static_cast<const uint16_t*>(table.data)[index]);
    default:
      return static_cast<const float*>(table.data)[index];
  }
}

}  // namespace

Status embedding_bag(const EmbeddingTable& table, BagMode mode, const int64_t* ids, size_t id_rows,
                     const float* weights, size_t weight_rows, size_t rows, size_t length, int64_t default_row,
                     const char* what, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  for (size_t r = 0; r < rows; ++r) {
    const size_t id_row = id_rows == 1 ? 0 : r;
    const int64_t* row_ids = ids + id_row * length;
    const float* row_weights = weights ? weights + (weight_rows == 1 ? 0 : r) * length : nullptr;
    float* target = out + r * dim;
    for (size_t d = 0; d < dim; ++d) target[d] = 0.0f;
    for (size_t j = 0; j < length; ++j) {
      int64_t id = row_ids[j];
      if (id < 0 || id >= table.rows) {
        if (default_row < 0)
          return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position %zu) is outside [0, %lld)", what,
                               static_cast<long long>(id), id_row, j, static_cast<long long>(table.rows));
        id = default_row;
      }
      const size_t row = static_cast<size_t>(id);
      if (mode == BagMode::kMax) {
        for (size_t d = 0; d < dim; ++d) {
          const float v = table_value(table, row, d);
          target[d] = j == 0 || v > target[d] ? v : target[d];
        }
      } else if (row_weights) {
        const float w = row_weights[j];
        for (size_t d = 0; d < dim; ++d) {
          const float product = w * table_value(table, row, d);
          target[d] += product;
        }
      } else {
        for (size_t d = 0; d < dim; ++d) target[d] += table_value(table, row, d);
      }
    }
    if (mode == BagMode::kMean && length > 0) {
      const float count = static_cast<float>(length);
      for (size_t d = 0; d < dim; ++d) target[d] /= count;
    }
  }
  return Status::ok();
}

Status embedding_multi_lookup(const EmbeddingTable& table, size_t k, const int64_t* const* ids, const size_t* id_rows,
                              size_t rows, const int64_t* offsets, const int64_t* counts,
                              const int64_t* default_rows, const char* const* whats, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < rows; ++i) {
      const size_t source = id_rows[j] == 1 ? 0 : i;
      int64_t id = ids[j][source];
      if (id < 0 || id >= counts[j]) {
        if (default_rows[j] < 0)
          return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position 0) is outside [0, %lld)",
                               whats[j], static_cast<long long>(id), source, static_cast<long long>(counts[j]));
        id = default_rows[j];
      }
      copy_row(table, static_cast<size_t>(offsets[j] + id), out + i * k * dim + j * dim);
    }
  }
  return Status::ok();
}

Status embedding_lookup(const EmbeddingTable& table, const int64_t* ids, size_t count, size_t ids_per_row,
                        int64_t default_row, const char* what, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  for (size_t i = 0; i < count; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= table.rows) {
      if (default_row < 0)
        return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position %zu) is outside [0, %lld)", what,
                             static_cast<long long>(id), ids_per_row ? i / ids_per_row : 0,
                             ids_per_row ? i % ids_per_row : 0, static_cast<long long>(table.rows));
      id = default_row;
    }
    copy_row(table, static_cast<size_t>(id), out + i * dim);
  }
  return Status::ok();
}

}  // namespace edgemtl
