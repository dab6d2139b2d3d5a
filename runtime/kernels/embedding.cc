#include "runtime/kernels/embedding.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "runtime/kernels/half.h"

namespace edgemtl {

namespace {

// One routine per stored form; `n` elements.
void dequantize_int8(const int8_t* q, float scale, size_t n, float* out) {
  for (size_t d = 0; d < n; ++d) out[d] = scale * static_cast<float>(q[d]);
}

// Two elements a byte, the even one in the low nibble; real = scale * q + offset
// (a multiply, then an add). 16 elements (8 bytes) at a time with SSE2 or NEON,
// the rest one by one.
void dequantize_uint4(const uint8_t* packed, float scale, float offset, size_t n, float* out) {
  size_t done = 0;
#if defined(__SSE2__)
  const __m128i low_nibbles = _mm_set1_epi8(0x0F), zero = _mm_setzero_si128();
  const __m128 scales = _mm_set1_ps(scale), offsets = _mm_set1_ps(offset);
  for (; done + 16 <= n; done += 16) {
    uint64_t eight;
    std::memcpy(&eight, packed + done / 2, sizeof(eight));
    const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(eight));
    const __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(bytes, low_nibbles),
                                            _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles));
    const __m128i words[2] = {_mm_unpacklo_epi8(codes, zero), _mm_unpackhi_epi8(codes, zero)};
    for (int w = 0; w < 2; ++w) {
      const __m128 first = _mm_cvtepi32_ps(_mm_unpacklo_epi16(words[w], zero));
      const __m128 second = _mm_cvtepi32_ps(_mm_unpackhi_epi16(words[w], zero));
      _mm_storeu_ps(out + done + 8 * w, _mm_add_ps(_mm_mul_ps(first, scales), offsets));
      _mm_storeu_ps(out + done + 8 * w + 4, _mm_add_ps(_mm_mul_ps(second, scales), offsets));
    }
  }
#elif defined(__ARM_NEON)
  const float32x4_t scales = vdupq_n_f32(scale), offsets = vdupq_n_f32(offset);
  for (; done + 16 <= n; done += 16) {
    const uint8x8_t bytes = vld1_u8(packed + done / 2);
    const uint8x8x2_t pairs = vzip_u8(vand_u8(bytes, vdup_n_u8(0x0F)), vshr_n_u8(bytes, 4));
    const uint16x8_t words[2] = {vmovl_u8(pairs.val[0]), vmovl_u8(pairs.val[1])};
    for (int w = 0; w < 2; ++w) {
      const float32x4_t first = vcvtq_f32_u32(vmovl_u16(vget_low_u16(words[w])));
      const float32x4_t second = vcvtq_f32_u32(vmovl_u16(vget_high_u16(words[w])));
      vst1q_f32(out + done + 8 * w, vaddq_f32(vmulq_f32(first, scales), offsets));
      vst1q_f32(out + done + 8 * w + 4, vaddq_f32(vmulq_f32(second, scales), offsets));
    }
  }
#endif
  for (; done < n; ++done) {
    const uint8_t byte = packed[done / 2];
    const float q = static_cast<float>(done % 2 ? byte >> 4 : byte & 0x0F);
    const float product = scale * q;  // not fused, as the vector loops
    out[done] = product + offset;
  }
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
