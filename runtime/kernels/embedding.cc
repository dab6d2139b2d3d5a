#include "runtime/kernels/embedding.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/x86_intrinsics.h"

namespace edgemtl {

namespace {

// One routine per stored form; `n` elements. The vector versions below compute
// the same expression per element and end with the scalar loops (inlined) for
// the rest of the row.
inline void dequantize_int8(const int8_t* q, float scale, size_t n, float* out) {
  for (size_t d = 0; d < n; ++d) out[d] = scale * static_cast<float>(q[d]);
}

// The two 4-bit forms share their loops: the codes, two a byte, the even element
// in the low nibble (`packed` holds element 0), go to f32 and through `value`:
// UINT4_ROW_F16's affine map, or UINT4_ROW_CODEBOOK's symmetric one (below).
template <typename Value>
inline void uint4_scalar(const uint8_t* packed, size_t n, float* out, Value value) {
  for (size_t d = 0; d < n; ++d) {
    const uint8_t byte = packed[d / 2];
    out[d] = value(static_cast<float>(d % 2 ? byte >> 4 : byte & 0x0F));
  }
}

// real = scale * q + offset (a multiply, then an add): the product is exact (11 x 4
// significant bits), the add the only rounding.
struct Affine {
  float scale, offset;
  float operator()(float q) const {
    const float product = scale * q;
    return product + offset;
  }
};
// real = scale * (q - 7.5): q - 7.5 is exact, the product the only rounding (nothing to fuse).
struct Symmetric {
  float scale;
  float operator()(float q) const {
    const float centered = q - 7.5f;
    return scale * centered;
  }
};

#if defined(__SSE2__)
// 16 elements (8 bytes) a step with SSE2 (the x86-64 baseline), `value` on 4 at a
// time; returns the elements done (the caller ends the row one by one).
template <typename Value>
size_t uint4_steps_sse2(const uint8_t* packed, size_t n, float* out, Value value) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0F), zero = _mm_setzero_si128();
  size_t done = 0;
  for (; done + 16 <= n; done += 16) {
    uint64_t eight;
    std::memcpy(&eight, packed + done / 2, sizeof(eight));
    const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(eight));
    const __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(bytes, low_nibbles),
                                            _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles));
    const __m128i words[2] = {_mm_unpacklo_epi8(codes, zero), _mm_unpackhi_epi8(codes, zero)};
    for (int w = 0; w < 2; ++w) {
      _mm_storeu_ps(out + done + 8 * w, value(_mm_cvtepi32_ps(_mm_unpacklo_epi16(words[w], zero))));
      _mm_storeu_ps(out + done + 8 * w + 4, value(_mm_cvtepi32_ps(_mm_unpackhi_epi16(words[w], zero))));
    }
  }
  return done;
}
#endif

void dequantize_uint4(const uint8_t* packed, float scale, float offset, size_t n, float* out) {
  size_t done = 0;
#if defined(__SSE2__)
  const __m128 scales = _mm_set1_ps(scale), offsets = _mm_set1_ps(offset);
  done = uint4_steps_sse2(packed, n, out, [&](__m128 q) { return _mm_add_ps(_mm_mul_ps(q, scales), offsets); });
#endif
  uint4_scalar(packed + done / 2, n - done, out + done, Affine{scale, offset});
}

void dequantize_uint4_symmetric(const uint8_t* packed, float scale, size_t n, float* out) {
  size_t done = 0;
#if defined(__SSE2__)
  const __m128 scales = _mm_set1_ps(scale), middle = _mm_set1_ps(7.5f);
  done = uint4_steps_sse2(packed, n, out, [&](__m128 q) { return _mm_mul_ps(scales, _mm_sub_ps(q, middle)); });
#endif
  uint4_scalar(packed + done / 2, n - done, out + done, Symmetric{scale});
}

// A whole row (or BAG's part of one) per call, through one function pointer
// picked per lookup call by dtype and instruction set: no switch per row.
using RowDecoder = void (*)(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out);

const int8_t* int8_row(const EmbeddingTable& table, size_t row, size_t begin) {
  return static_cast<const int8_t*>(table.data) + row * static_cast<size_t>(table.dim) + begin;
}
const uint8_t* uint4_row(const EmbeddingTable& table, size_t row, size_t begin) {
  return static_cast<const uint8_t*>(table.data) + row * ((static_cast<size_t>(table.dim) + 1) / 2) + begin / 2;
}
const uint8_t* half_row(const EmbeddingTable& table, size_t row, size_t begin) {
  return static_cast<const uint8_t*>(table.data) + (row * static_cast<size_t>(table.dim) + begin) * 2;
}

void decode_float32(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  std::memcpy(out, static_cast<const float*>(table.data) + row * static_cast<size_t>(table.dim) + begin,
              count * sizeof(float));
}
void decode_int8_portable(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_int8(int8_row(table, row, begin), table.row_scales[row], count, out);
}
void decode_int8_row_f16_portable(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_int8(int8_row(table, row, begin), half_to_float(table.row_params[row]), count, out);
}
void decode_uint4_row_f16_portable(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_uint4(uint4_row(table, row, begin), half_to_float(table.row_params[2 * row]),
                   half_to_float(table.row_params[2 * row + 1]), count, out);
}
float codebook_scale(const EmbeddingTable& table, size_t row) { return table.codebook[table.scale_index[row]]; }
void decode_uint4_codebook_portable(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_uint4_symmetric(uint4_row(table, row, begin), codebook_scale(table, row), count, out);
}
void decode_float16_portable(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  half_to_float_n(half_row(table, row, begin), out, count);
}

// Rows are prefetched this many ids ahead of their decoding (the ids are known
// in advance; a large table's rows and their parameters are not in cache), in
// tables of at least kPrefetchTableBytes of rows: in a smaller one the
// prefetches cost more than they save when it stays in cache (0.3-1 ns a row
// measured alone). In a model it does not stay from one item tile to the next
// beyond about a quarter of a 1 MB L2: the tile's weights and activations pass
// through it in between (R500-MMoE f32, its 384 KB merged item table: the
// lookups 0.14-0.18 -> 0.09-0.13 ms per request). Measured:
// docs/QUANTIZATION.md, docs/PERFORMANCE.md (stop 23).
constexpr size_t kPrefetchAhead = 32;
constexpr size_t kPrefetchTableBytes = size_t{256} << 10;

// A prefetch of the cache line at `address` into all levels. In asm: GCC 12's
// dead-code elimination drops __builtin_prefetch here at -O2 and above.
inline void prefetch_line(const void* address) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 (%0)" : : "r"(address));
#elif defined(__aarch64__)
  asm volatile("prfm pldl1keep, [%0]" : : "r"(address));
#else
  __builtin_prefetch(address);
#endif
}

// Where a row's bytes and its parameters are, to prefetch them.
class RowPrefetch {
 public:
  explicit RowPrefetch(const EmbeddingTable& table)
      : data_(static_cast<const char*>(table.data)), rows_(table.rows) {
    const size_t dim = static_cast<size_t>(table.dim);
    switch (table.dtype) {
      case schema::DType::INT8:
        row_bytes_ = dim;
        params_ = reinterpret_cast<const char*>(table.row_scales);
        param_bytes_ = sizeof(float);
        break;
      case schema::DType::INT8_ROW_F16:
        row_bytes_ = dim;
        params_ = reinterpret_cast<const char*>(table.row_params);
        param_bytes_ = sizeof(uint16_t);
        break;
      case schema::DType::UINT4_ROW_F16:
        row_bytes_ = (dim + 1) / 2;
        params_ = reinterpret_cast<const char*>(table.row_params);
        param_bytes_ = 2 * sizeof(uint16_t);
        break;
      case schema::DType::UINT4_ROW_CODEBOOK:
        row_bytes_ = (dim + 1) / 2;
        params_ = reinterpret_cast<const char*>(table.scale_index);
        param_bytes_ = 1;
        break;
      case schema::DType::FLOAT16:
        row_bytes_ = dim * sizeof(uint16_t);
        break;
      default:
        row_bytes_ = dim * sizeof(float);
        break;
    }
    enabled_ = static_cast<size_t>(table.rows) * row_bytes_ >= kPrefetchTableBytes;
  }
  /// False for a table too small to gain (the lookups then prefetch nothing).
  bool enabled() const { return enabled_; }
  /// Prefetches row `id` of the table when it is one (else nothing: no address
  /// is formed from an id outside [0, rows)).
  void operator()(int64_t id) const {
    if (id < 0 || id >= rows_) return;
    const size_t row = static_cast<size_t>(id);
    const char* first = data_ + row * row_bytes_;
    // Every line of the row: its first byte, one every 64 bytes, its last byte.
    for (size_t at = 0; at < row_bytes_; at += 64) prefetch_line(first + at);
    prefetch_line(first + row_bytes_ - 1);
    if (params_) prefetch_line(params_ + row * param_bytes_);
  }

 private:
  const char* data_;
  int64_t rows_;
  size_t row_bytes_ = 0;
  const char* params_ = nullptr;
  size_t param_bytes_ = 0;
  bool enabled_ = false;  // rows_ >= 1 and row_bytes_ >= 1 when set
};


// One output row's bag, for BAG's loops: its ids (checked: an id outside the
// table reads `default_row`), weights (or nullptr), and the ids whose rows to
// prefetch as position j is read: ahead[j] for j < ahead_count.
struct BagList {
  const int64_t* ids;
  const float* weights;
  size_t length;
  int64_t default_row;
  const int64_t* ahead;
  size_t ahead_count;
  size_t row(const EmbeddingTable& table, size_t j) const {
    return static_cast<size_t>(ids[j] >= 0 && ids[j] < table.rows ? ids[j] : default_row);
  }
};

#if defined(__x86_64__)

// No "fma": the compiler may not fuse scale * q + offset.
#define EMTL_AVX2_F16C_TARGET __attribute__((target("avx2,f16c")))

// 16 elements a step, then 8, then one by one: the same expression per element
// as the portable loops.
EMTL_AVX2_F16C_TARGET inline void dequantize_int8_avx2(const int8_t* q, float scale, size_t n, float* out) {
  const __m256 scales = _mm256_set1_ps(scale);
  size_t done = 0;
  for (; done + 16 <= n; done += 16) {
    const __m128i sixteen = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + done));
    const __m256 first = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sixteen));
    const __m256 second = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(sixteen, sixteen)));
    _mm256_storeu_ps(out + done, _mm256_mul_ps(scales, first));
    _mm256_storeu_ps(out + done + 8, _mm256_mul_ps(scales, second));
  }
  if (done + 8 <= n) {
    uint64_t eight;
    std::memcpy(&eight, q + done, sizeof(eight));
    const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(static_cast<long long>(eight))));
    _mm256_storeu_ps(out + done, _mm256_mul_ps(scales, values));
    done += 8;
  }
  dequantize_int8(q + done, scale, n - done, out + done);
}

// Row parameters go through vcvtph2ps as well: a signalling NaN parameter
// comes out quiet, as the first multiply would make it anyway.
EMTL_AVX2_F16C_TARGET inline float half_param(uint16_t h) { return _cvtsh_ss(h); }

// 8 codes (4 bytes, element order: low nibble first) as f32: the little-endian
// word broadcast, each lane's nibble shifted to the top, then down (no mask).
EMTL_AVX2_F16C_TARGET inline __m256 uint4_codes8(const uint8_t* four_bytes) {
  uint32_t four;
  std::memcpy(&four, four_bytes, sizeof(four));
  const __m256i to_top = _mm256_setr_epi32(28, 24, 20, 16, 12, 8, 4, 0);
  const __m256i codes = _mm256_srli_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(static_cast<int>(four)), to_top), 28);
  return _mm256_cvtepi32_ps(codes);
}

// One row's part (from an element `begin`, even for 4-bit codes) as lanes:
// at(e) is elements e .. e + 7 as f32 (e a multiple of 8), tail() the last
// n < 8 elements from e one by one; the same expression per element as the
// portable loops. The AVX2 decoders store the lanes, BAG adds them up in registers.
struct Int8Lanes {
  const int8_t* q;
  float scale;
  __m256 scales;
  EMTL_AVX2_F16C_TARGET Int8Lanes(const int8_t* codes, float s) : q(codes), scale(s), scales(_mm256_set1_ps(s)) {}
  EMTL_AVX2_F16C_TARGET __m256 at(size_t e) const {
    uint64_t eight;
    std::memcpy(&eight, q + e, sizeof(eight));
    const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(static_cast<long long>(eight))));
    return _mm256_mul_ps(scales, values);
  }
  void tail(size_t e, size_t n, float* out) const { dequantize_int8(q + e, scale, n, out); }
};
struct Uint4AffineLanes {
  const uint8_t* packed;
  __m256 scales, offsets;
  // The (scale, offset) halves widened together: s o s o ..., each spread.
  EMTL_AVX2_F16C_TARGET Uint4AffineLanes(const uint8_t* codes, const uint16_t* params) : packed(codes) {
    int both;
    std::memcpy(&both, params, sizeof(both));
    const __m256 pairs = _mm256_cvtph_ps(_mm_set1_epi32(both));
    scales = _mm256_permute_ps(pairs, 0x00);
    offsets = _mm256_permute_ps(pairs, 0x55);
  }
  EMTL_AVX2_F16C_TARGET __m256 value(__m256 codes) const { return _mm256_add_ps(_mm256_mul_ps(codes, scales), offsets); }
  EMTL_AVX2_F16C_TARGET __m256 at(size_t e) const { return value(uint4_codes8(packed + e / 2)); }
  EMTL_AVX2_F16C_TARGET void tail(size_t e, size_t n, float* out) const {
    uint4_scalar(packed + e / 2, n, out, Affine{_mm256_cvtss_f32(scales), _mm256_cvtss_f32(offsets)});
  }
};
struct Uint4SymmetricLanes {
  const uint8_t* packed;
  __m256 scales;
  EMTL_AVX2_F16C_TARGET Uint4SymmetricLanes(const uint8_t* codes, const float* scale)
      : packed(codes), scales(_mm256_broadcast_ss(scale)) {}
  EMTL_AVX2_F16C_TARGET __m256 value(__m256 codes) const {
    return _mm256_mul_ps(scales, _mm256_sub_ps(codes, _mm256_set1_ps(7.5f)));
  }
  EMTL_AVX2_F16C_TARGET __m256 at(size_t e) const { return value(uint4_codes8(packed + e / 2)); }
  EMTL_AVX2_F16C_TARGET void tail(size_t e, size_t n, float* out) const {
    uint4_scalar(packed + e / 2, n, out, Symmetric{_mm256_cvtss_f32(scales)});
  }
};

// Elements e, e + 2, ..., e + 14 (`even`) and e + 1, ..., e + 15 (`odd`) of 4-bit
// lanes (e a multiple of 16): one byte a lane, its low and its high nibble, fewer
// operations than two at() calls; BAG sums the two halves apart and interleaves once.
template <typename Lanes>
EMTL_AVX2_F16C_TARGET inline void uint4_pair(const Lanes& lanes, size_t e, __m256& even, __m256& odd) {
  const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(lanes.packed + e / 2)));
  even = lanes.value(_mm256_cvtepi32_ps(_mm256_and_si256(bytes, _mm256_set1_epi32(0x0F))));
  odd = lanes.value(_mm256_cvtepi32_ps(_mm256_srli_epi32(bytes, 4)));
}

// The lanes of row `row` from element `begin`, per encoding (kNibbles: 4-bit, with uint4_pair).
struct Int8Avx2 {
  static constexpr bool kNibbles = false;
  EMTL_AVX2_F16C_TARGET static Int8Lanes lanes(const EmbeddingTable& table, size_t row, size_t begin) {
    return Int8Lanes(int8_row(table, row, begin), table.row_scales[row]);
  }
};
struct Int8RowF16Avx2 {
  static constexpr bool kNibbles = false;
  EMTL_AVX2_F16C_TARGET static Int8Lanes lanes(const EmbeddingTable& table, size_t row, size_t begin) {
    return Int8Lanes(int8_row(table, row, begin), half_param(table.row_params[row]));
  }
};
struct Uint4RowF16Avx2 {
  static constexpr bool kNibbles = true;
  EMTL_AVX2_F16C_TARGET static Uint4AffineLanes lanes(const EmbeddingTable& table, size_t row, size_t begin) {
    return Uint4AffineLanes(uint4_row(table, row, begin), table.row_params + 2 * row);
  }
};
struct Uint4CodebookAvx2 {
  static constexpr bool kNibbles = true;
  EMTL_AVX2_F16C_TARGET static Uint4SymmetricLanes lanes(const EmbeddingTable& table, size_t row, size_t begin) {
    return Uint4SymmetricLanes(uint4_row(table, row, begin), &table.codebook[table.scale_index[row]]);
  }
};

// A row's part stored lane by lane, then the tail.
template <typename Encoding>
EMTL_AVX2_F16C_TARGET void decode_lanes_avx2(const EmbeddingTable& table, size_t row, size_t begin, size_t count,
                                             float* out) {
  const auto lanes = Encoding::lanes(table, row, begin);
  size_t done = 0;
  for (; done + 16 <= count; done += 16) {
    _mm256_storeu_ps(out + done, lanes.at(done));
    _mm256_storeu_ps(out + done + 8, lanes.at(done + 8));
  }
  if (done + 8 <= count) {
    _mm256_storeu_ps(out + done, lanes.at(done));
    done += 8;
  }
  lanes.tail(done, count - done, out + done);
}

// vcvtph2ps is exact but quiets a signalling NaN (sets bit 22) where
// half_to_float keeps the half's bit 9 there: put that bit back in NaN lanes.
EMTL_AVX2_F16C_TARGET inline __m256 half8_avx2(const uint8_t* halves) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(halves));
  const __m256 widened = _mm256_cvtph_ps(h);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(widened, widened, _CMP_UNORD_Q));
  const __m256i half_bit9_at_22 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 13);
  const __m256i clear = _mm256_andnot_si256(half_bit9_at_22, _mm256_and_si256(nan, _mm256_set1_epi32(0x00400000)));
  return _mm256_castsi256_ps(_mm256_andnot_si256(clear, _mm256_castps_si256(widened)));
}

EMTL_AVX2_F16C_TARGET inline void half_to_float_n_avx2(const uint8_t* halves, float* out, size_t n) {
  size_t done = 0;
  for (; done + 8 <= n; done += 8) _mm256_storeu_ps(out + done, half8_avx2(halves + 2 * done));
  half_to_float_n(halves + 2 * done, out + done, n - done);
}

// FLOAT32 and FLOAT16 rows as lanes, for BAG.
struct Float32Avx2 {
  static constexpr bool kNibbles = false;
  struct Lanes {
    const float* values;
    EMTL_AVX2_F16C_TARGET __m256 at(size_t e) const { return _mm256_loadu_ps(values + e); }
  };
  static Lanes lanes(const EmbeddingTable& table, size_t row, size_t begin) {
    return {static_cast<const float*>(table.data) + row * static_cast<size_t>(table.dim) + begin};
  }
};
struct Float16Avx2 {
  static constexpr bool kNibbles = false;
  struct Lanes {
    const uint8_t* halves;
    EMTL_AVX2_F16C_TARGET __m256 at(size_t e) const { return half8_avx2(halves + 2 * e); }
  };
  static Lanes lanes(const EmbeddingTable& table, size_t row, size_t begin) { return {half_row(table, row, begin)}; }
};

EMTL_AVX2_F16C_TARGET void decode_int8_avx2(const EmbeddingTable& table, size_t row, size_t begin, size_t count,
                                            float* out) {
  dequantize_int8_avx2(int8_row(table, row, begin), table.row_scales[row], count, out);
}
EMTL_AVX2_F16C_TARGET void decode_int8_row_f16_avx2(const EmbeddingTable& table, size_t row, size_t begin,
                                                    size_t count, float* out) {
  dequantize_int8_avx2(int8_row(table, row, begin), half_param(table.row_params[row]), count, out);
}
constexpr RowDecoder decode_uint4_row_f16_avx2 = decode_lanes_avx2<Uint4RowF16Avx2>;
constexpr RowDecoder decode_uint4_codebook_avx2 = decode_lanes_avx2<Uint4CodebookAvx2>;
EMTL_AVX2_F16C_TARGET void decode_float16_avx2(const EmbeddingTable& table, size_t row, size_t begin, size_t count,
                                               float* out) {
  half_to_float_n_avx2(half_row(table, row, begin), out, count);
}

// One step of BAG's sum in registers: 0 + v0 + v1 + ... (w_j · v_j with
// weights), or the first value, then each larger one (kMax): the same
// operations per element, in the same order, as the loop through memory in
// embedding_bag.
EMTL_AVX2_F16C_TARGET inline __m256 bag_step(BagMode mode, size_t j, const float* weights, __m256 sum, __m256 x) {
  if (mode == BagMode::kMax) return j == 0 ? x : _mm256_blendv_ps(sum, x, _mm256_cmp_ps(x, sum, _CMP_GT_OQ));
  if (weights) return _mm256_add_ps(sum, _mm256_mul_ps(_mm256_set1_ps(weights[j]), x));
  return _mm256_add_ps(sum, x);
}

// BAG with the sums in registers: elements begin .. begin + 8·V - 1 of one
// output row over the bag's ids (checked by the caller: an id outside the table
// is `default_row`), in order.
template <int V, typename Encoding>
EMTL_AVX2_F16C_TARGET void bag_block_avx2(const EmbeddingTable& table, BagMode mode, const BagList& list,
                                          const RowPrefetch& prefetch, size_t ahead_count, size_t begin, float* out) {
  __m256 sums[V];
  for (int v = 0; v < V; ++v) sums[v] = _mm256_setzero_ps();
  for (size_t j = 0; j < list.length; ++j) {
    if (j < ahead_count) prefetch(list.ahead[j]);
    const auto lanes = Encoding::lanes(table, list.row(table, j), begin);
    for (int v = 0; v < V; ++v) sums[v] = bag_step(mode, j, list.weights, sums[v], lanes.at(8 * v));
  }
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + 8 * v, sums[v]);
}

// The same for 4-bit codes over 16·P elements, their even and odd elements summed
// apart (uint4_pair), interleaved at the end.
template <int P, typename Encoding>
EMTL_AVX2_F16C_TARGET void bag_pairs_block_avx2(const EmbeddingTable& table, BagMode mode, const BagList& list,
                                                const RowPrefetch& prefetch, size_t ahead_count, size_t begin,
                                                float* out) {
  __m256 even[P], odd[P];
  for (int p = 0; p < P; ++p) even[p] = odd[p] = _mm256_setzero_ps();
  for (size_t j = 0; j < list.length; ++j) {
    if (j < ahead_count) prefetch(list.ahead[j]);
    const auto lanes = Encoding::lanes(table, list.row(table, j), begin);
    for (int p = 0; p < P; ++p) {
      __m256 e, o;
      uint4_pair(lanes, 16 * p, e, o);
      even[p] = bag_step(mode, j, list.weights, even[p], e);
      odd[p] = bag_step(mode, j, list.weights, odd[p], o);
    }
  }
  for (int p = 0; p < P; ++p) {
    const __m256 low = _mm256_unpacklo_ps(even[p], odd[p]);   // 0 1 2 3 | 8 9 10 11
    const __m256 high = _mm256_unpackhi_ps(even[p], odd[p]);  // 4 5 6 7 | 12 13 14 15
    _mm256_storeu_ps(out + 16 * p, _mm256_permute2f128_ps(low, high, 0x20));
    _mm256_storeu_ps(out + 16 * p + 8, _mm256_permute2f128_ps(low, high, 0x31));
  }
}

// The elements 0 .. 8·floor(dim / 8) - 1 of one output row in blocks of 32, 16
// and 8 (the first block prefetches); returns how many (the caller does the
// rest, and kMean's division).
template <typename Encoding>
EMTL_AVX2_F16C_TARGET size_t bag_avx2(const EmbeddingTable& table, BagMode mode, const BagList& list,
                                      const RowPrefetch& prefetch, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  size_t done = 0;
  for (; done + 32 <= dim; done += 32) {
    const size_t ahead = done == 0 ? list.ahead_count : 0;
    if constexpr (Encoding::kNibbles)
      bag_pairs_block_avx2<2, Encoding>(table, mode, list, prefetch, ahead, done, out + done);
    else
      bag_block_avx2<4, Encoding>(table, mode, list, prefetch, ahead, done, out + done);
  }
  if (done + 16 <= dim) {
    const size_t ahead = done == 0 ? list.ahead_count : 0;
    if constexpr (Encoding::kNibbles)
      bag_pairs_block_avx2<1, Encoding>(table, mode, list, prefetch, ahead, done, out + done);
    else
      bag_block_avx2<2, Encoding>(table, mode, list, prefetch, ahead, done, out + done);
    done += 16;
  }
  if (done + 8 <= dim) {
    bag_block_avx2<1, Encoding>(table, mode, list, prefetch, done == 0 ? list.ahead_count : 0, done, out + done);
    done += 8;
  }
  return done;
}

#endif  // __x86_64__

#if defined(__aarch64__)

// 8 elements a step, the same expression per element as the portable loop.
void dequantize_int8_neon(const int8_t* q, float scale, size_t n, float* out) {
  size_t done = 0;
  for (; done + 8 <= n; done += 8) {
    const int16x8_t wide = vmovl_s8(vld1_s8(q + done));
    vst1q_f32(out + done, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide))), scale));
    vst1q_f32(out + done + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(wide))), scale));
  }
  dequantize_int8(q + done, scale, n - done, out + done);
}

// 16 codes (8 bytes) a step, `value` on 4 at a time; returns the elements done.
template <typename Value>
size_t uint4_steps_neon(const uint8_t* packed, size_t n, float* out, Value value) {
  size_t done = 0;
  for (; done + 16 <= n; done += 16) {
    const uint8x8_t bytes = vld1_u8(packed + done / 2);
    const uint8x8x2_t pairs = vzip_u8(vand_u8(bytes, vdup_n_u8(0x0F)), vshr_n_u8(bytes, 4));
    const uint16x8_t words[2] = {vmovl_u8(pairs.val[0]), vmovl_u8(pairs.val[1])};
    for (int w = 0; w < 2; ++w) {
      vst1q_f32(out + done + 8 * w, value(vcvtq_f32_u32(vmovl_u16(vget_low_u16(words[w])))));
      vst1q_f32(out + done + 8 * w + 4, value(vcvtq_f32_u32(vmovl_u16(vget_high_u16(words[w])))));
    }
  }
  return done;
}

// GCC may fuse scale * q + offset on arm64 (fma is baseline there), here and in
// the portable loop alike; the bits are the same either way: a half scale times a
// code has at most 15 significant bits, so the product is exact in f32 and the
// add is the only rounding.
void dequantize_uint4_neon(const uint8_t* packed, float scale, float offset, size_t n, float* out) {
  const float32x4_t scales = vdupq_n_f32(scale), offsets = vdupq_n_f32(offset);
  const size_t done =
      uint4_steps_neon(packed, n, out, [&](float32x4_t q) { return vaddq_f32(vmulq_f32(q, scales), offsets); });
  uint4_scalar(packed + done / 2, n - done, out + done, Affine{scale, offset});
}

// (q - 7.5) exact, then the one rounding of the product.
void dequantize_uint4_symmetric_neon(const uint8_t* packed, float scale, size_t n, float* out) {
  const float32x4_t scales = vdupq_n_f32(scale), middle = vdupq_n_f32(7.5f);
  const size_t done =
      uint4_steps_neon(packed, n, out, [&](float32x4_t q) { return vmulq_f32(scales, vsubq_f32(q, middle)); });
  uint4_scalar(packed + done / 2, n - done, out + done, Symmetric{scale});
}

// fcvtl is exact but quiets a signalling NaN, as vcvtph2ps: the same repair.
void half_to_float_n_neon(const uint8_t* halves, float* out, size_t n) {
  const uint32x4_t quiet_bit = vdupq_n_u32(0x00400000);
  size_t done = 0;
  for (; done + 4 <= n; done += 4) {
    const uint16x4_t h = vreinterpret_u16_u8(vld1_u8(halves + 2 * done));
    const float32x4_t widened = vcvt_f32_f16(vreinterpret_f16_u16(h));
    const uint32x4_t nan = vmvnq_u32(vceqq_f32(widened, widened));
    const uint32x4_t half_bit9_at_22 = vshlq_n_u32(vmovl_u16(h), 13);
    const uint32x4_t clear = vbicq_u32(vandq_u32(nan, quiet_bit), half_bit9_at_22);
    vst1q_f32(out + done, vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(widened), clear)));
  }
  half_to_float_n(halves + 2 * done, out + done, n - done);
}

inline float half_param(uint16_t h) {
  __fp16 value;
  std::memcpy(&value, &h, sizeof(value));
  return static_cast<float>(value);
}

void decode_int8_neon(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_int8_neon(int8_row(table, row, begin), table.row_scales[row], count, out);
}
void decode_int8_row_f16_neon(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_int8_neon(int8_row(table, row, begin), half_param(table.row_params[row]), count, out);
}
void decode_uint4_row_f16_neon(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_uint4_neon(uint4_row(table, row, begin), half_param(table.row_params[2 * row]),
                        half_param(table.row_params[2 * row + 1]), count, out);
}
void decode_uint4_codebook_neon(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  dequantize_uint4_symmetric_neon(uint4_row(table, row, begin), codebook_scale(table, row), count, out);
}
void decode_float16_neon(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out) {
  half_to_float_n_neon(half_row(table, row, begin), out, count);
}

#endif  // __aarch64__

struct Decoders {
  RowDecoder int8, int8_row_f16, uint4_row_f16, float16, uint4_codebook;
};

RowDecoder row_decoder(schema::DType dtype, LookupIsa isa) {
  static constexpr Decoders kPortable{decode_int8_portable, decode_int8_row_f16_portable,
                                      decode_uint4_row_f16_portable, decode_float16_portable,
                                      decode_uint4_codebook_portable};
  const Decoders* set = &kPortable;
#if defined(__x86_64__)
  static constexpr Decoders kAvx2{decode_int8_avx2, decode_int8_row_f16_avx2, decode_uint4_row_f16_avx2,
                                  decode_float16_avx2, decode_uint4_codebook_avx2};
  if (isa == LookupIsa::kAvx2) set = &kAvx2;
#endif
#if defined(__aarch64__)
  static constexpr Decoders kNeon{decode_int8_neon, decode_int8_row_f16_neon, decode_uint4_row_f16_neon,
                                  decode_float16_neon, decode_uint4_codebook_neon};
  if (isa == LookupIsa::kNeon) set = &kNeon;
#endif
  switch (dtype) {
    case schema::DType::INT8:
      return set->int8;
    case schema::DType::INT8_ROW_F16:
      return set->int8_row_f16;
    case schema::DType::UINT4_ROW_F16:
      return set->uint4_row_f16;
    case schema::DType::UINT4_ROW_CODEBOOK:
      return set->uint4_codebook;
    case schema::DType::FLOAT16:
      return set->float16;
    default:
      return decode_float32;
  }
}

// BAG's sums in registers for the leading multiple of 8 elements of an output
// row (returns how many it did), per encoding and instruction set; nullptr where
// there is none.
using BagRow = size_t (*)(const EmbeddingTable& table, BagMode mode, const BagList& list,
                          const RowPrefetch& prefetch, float* out);
BagRow bag_row(schema::DType dtype, LookupIsa isa) {
#if defined(__x86_64__)
  if (isa == LookupIsa::kAvx2) {
    switch (dtype) {
      case schema::DType::INT8:
        return bag_avx2<Int8Avx2>;
      case schema::DType::INT8_ROW_F16:
        return bag_avx2<Int8RowF16Avx2>;
      case schema::DType::UINT4_ROW_F16:
        return bag_avx2<Uint4RowF16Avx2>;
      case schema::DType::UINT4_ROW_CODEBOOK:
        return bag_avx2<Uint4CodebookAvx2>;
      case schema::DType::FLOAT16:
        return bag_avx2<Float16Avx2>;
      default:
        return bag_avx2<Float32Avx2>;
    }
  }
#endif
  (void)dtype;
  (void)isa;
  return nullptr;
}

// The largest part of a row BAG dequantises at once (on the stack).
constexpr size_t kBagChunk = 64;

}  // namespace

LookupIsa best_lookup_isa() {
#if defined(__x86_64__)
  return cpu_features().avx2 && cpu_features().f16c ? LookupIsa::kAvx2 : LookupIsa::kPortable;
#elif defined(__aarch64__)
  return LookupIsa::kNeon;
#else
  return LookupIsa::kPortable;
#endif
}

bool lookup_isa_supported(LookupIsa isa) {
  return isa == LookupIsa::kPortable || isa == best_lookup_isa();
}

const char* lookup_isa_name(LookupIsa isa) {
  return isa == LookupIsa::kAvx2 ? "avx2+f16c" : isa == LookupIsa::kNeon ? "neon" : "portable";
}

void dequantize_row(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out, LookupIsa isa) {
  row_decoder(table.dtype, isa)(table, row, begin, count, out);
}

Status embedding_bag(const EmbeddingTable& table, BagMode mode, const int64_t* ids, size_t id_rows,
                     const float* weights, size_t weight_rows, size_t rows, size_t length, int64_t default_row,
                     const char* what, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  const RowDecoder decode = row_decoder(table.dtype, best_lookup_isa());
  const BagRow in_registers = bag_row(table.dtype, best_lookup_isa());
  const RowPrefetch prefetch(table);
  // The ids prefetched ahead: the next rows' ids; one list broadcast to every
  // row only in the first (its rows are then in cache).
  const size_t ahead_end = id_rows == 1 ? length : rows * length;
  for (size_t r = 0; r < rows; ++r) {
    const size_t id_row = id_rows == 1 ? 0 : r;
    const int64_t* row_ids = ids + id_row * length;
    const float* row_weights = weights ? weights + (weight_rows == 1 ? 0 : r) * length : nullptr;
    float* target = out + r * dim;
    for (size_t d = 0; d < dim; ++d) target[d] = 0.0f;
    for (size_t j = 0; j < length; ++j) {
      const int64_t id = row_ids[j];
      if ((id < 0 || id >= table.rows) && default_row < 0)
        return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position %zu) is outside [0, %lld)", what,
                             static_cast<long long>(id), id_row, j, static_cast<long long>(table.rows));
    }
    // Row r's ids, and the ones kPrefetchAhead positions on (in the next rows at the end).
    BagList list{row_ids, row_weights, length, default_row, nullptr, 0};
    const size_t ahead_begin = id_row * length + kPrefetchAhead;
    if (prefetch.enabled() && ahead_begin < ahead_end && (id_rows != 1 || r == 0)) {
      list.ahead = ids + ahead_begin;
      list.ahead_count = ahead_end - ahead_begin < length ? ahead_end - ahead_begin : length;
    }
    // The elements the registers do not take, through memory.
    const size_t first = in_registers ? in_registers(table, mode, list, prefetch, target) : 0;
    for (size_t j = 0; j < length && first < dim; ++j) {
      if (first == 0 && j < list.ahead_count) prefetch(list.ahead[j]);
      const size_t row = list.row(table, j);
      const float w = row_weights ? row_weights[j] : 1.0f;
      for (size_t begin = first; begin < dim; begin += kBagChunk) {
        const size_t n = dim - begin < kBagChunk ? dim - begin : kBagChunk;
        float values[kBagChunk];
        decode(table, row, begin, n, values);
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
  const RowDecoder decode = row_decoder(table.dtype, best_lookup_isa());
  const RowPrefetch prefetch(table);
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = 0; i < rows; ++i) {
      if (prefetch.enabled() && id_rows[j] != 1 && i + kPrefetchAhead < rows) {
        const int64_t ahead = ids[j][i + kPrefetchAhead];
        if (ahead >= 0 && ahead < counts[j]) prefetch(offsets[j] + ahead);
      }
      const size_t source = id_rows[j] == 1 ? 0 : i;
      int64_t id = ids[j][source];
      if (id < 0 || id >= counts[j]) {
        if (default_rows[j] < 0)
          return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position 0) is outside [0, %lld)",
                               whats[j], static_cast<long long>(id), source, static_cast<long long>(counts[j]));
        id = default_rows[j];
      }
      decode(table, static_cast<size_t>(offsets[j] + id), 0, dim, out + i * k * dim + j * dim);
    }
  }
  return Status::ok();
}

Status embedding_lookup(const EmbeddingTable& table, const int64_t* ids, size_t count, size_t ids_per_row,
                        int64_t default_row, const char* what, float* out) {
  const size_t dim = static_cast<size_t>(table.dim);
  const RowDecoder decode = row_decoder(table.dtype, best_lookup_isa());
  const RowPrefetch prefetch(table);
  for (size_t i = 0; i < count; ++i) {
    if (prefetch.enabled() && i + kPrefetchAhead < count) prefetch(ids[i + kPrefetchAhead]);
    int64_t id = ids[i];
    if (id < 0 || id >= table.rows) {
      if (default_row < 0)
        return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position %zu) is outside [0, %lld)", what,
                             static_cast<long long>(id), ids_per_row ? i / ids_per_row : 0,
                             ids_per_row ? i % ids_per_row : 0, static_cast<long long>(table.rows));
      id = default_row;
    }
    decode(table, static_cast<size_t>(id), 0, dim, out + i * dim);
  }
  return Status::ok();
}

}  // namespace edgemtl
