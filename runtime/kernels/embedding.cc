#include "runtime/kernels/embedding.h"

#include <cstring>

#include "runtime/kernels/half.h"

namespace edgemtl {

namespace {

// One routine per stored form; `n` elements.
void dequantize_int8(const int8_t* q, float scale, size_t n, float* out) {
  for (size_t d = 0; d < n; ++d) out[d] = scale * static_cast<float>(q[d]);
}

// Two elements a byte, the even one in the low nibble; real = scale * q + offset.
void dequantize_uint4(const uint8_t* packed, float scale, float offset, size_t n, float* out) {
  const size_t pairs = n / 2;
  for (size_t i = 0; i < pairs; ++i) {
    const uint8_t b = packed[i];
    out[2 * i] = scale * static_cast<float>(b & 0x0F) + offset;
    out[2 * i + 1] = scale * static_cast<float>(b >> 4) + offset;
  }
  if (n % 2) out[n - 1] = scale * static_cast<float>(packed[pairs] & 0x0F) + offset;
}

// The largest part of a row BAG dequantises at once (on the stack).
constexpr size_t kBagChunk = 64;

}  // namespace

void dequantize_row(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  switch (table.dtype) {
    case schema::DType::INT8:
      dequantize_int8(static_cast<const int8_t*>(table.data) + row * dim + begin, table.row_scales[row], count, out);
      break;
    case schema::DType::INT8_ROW_F16:
      dequantize_int8(static_cast<const int8_t*>(table.data) + row * dim + begin, half_to_float(table.row_params[row]),
                      count, out);
      break;
    case schema::DType::UINT4_ROW_F16:
      dequantize_uint4(static_cast<const uint8_t*>(table.data) + row * ((dim + 1) / 2) + begin / 2,
                       half_to_float(table.row_params[2 * row]), half_to_float(table.row_params[2 * row + 1]), count,
                       out);
      break;
    case schema::DType::FLOAT16:
      half_to_float_n(static_cast<const uint8_t*>(table.data) + (row * dim + begin) * 2, out, count);
      break;
    default:
      std::memcpy(out, static_cast<const float*>(table.data) + row * dim + begin, count * sizeof(float));
      break;
  }
}

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
      const float w = row_weights ? row_weights[j] : 1.0f;
      for (size_t begin = 0; begin < dim; begin += kBagChunk) {
        const size_t n = dim - begin < kBagChunk ? dim - begin : kBagChunk;
        float values[kBagChunk];
        dequantize_row(table, row, begin, n, values);
        float* part = target + begin;
        if (mode == BagMode::kMax) {
          for (size_t d = 0; d < n; ++d) part[d] = j == 0 || values[d] > part[d] ? values[d] : part[d];
        } else if (row_weights) {
          for (size_t d = 0; d < n; ++d) {
            const float product = w * values[d];
            part[d] += product;
          }
        } else {
          for (size_t d = 0; d < n; ++d) part[d] += values[d];
        }
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
      dequantize_row(table, static_cast<size_t>(offsets[j] + id), 0, dim, out + i * k * dim + j * dim);
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
    dequantize_row(table, static_cast<size_t>(id), 0, dim, out + i * dim);
  }
  return Status::ok();
}

}  // namespace edgemtl
