#include "runtime/kernels/f32_gemm.h"

#include <algorithm>

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/gemm_panels.h"
#include "runtime/kernels/x86_intrinsics.h"
#include "runtime/kernels/x86_transpose.h"

namespace edgemtl {
namespace {

// Panel columns and micro-tile rows per ISA.
constexpr size_t kAvx512Panel = 32, kAvx512Rows = 8;
constexpr size_t kAvx2Panel = 16, kAvx2Rows = 6;
constexpr size_t kChunkBytes = 512 * 1024;
constexpr size_t kPrefetchK = 16;

struct Args {
  const float* x;
  size_t input_stride, input_channels, output_channels, padded_columns;
  const float* packed;
  const float* bias;
  float* y;
  bool relu;
};

#if defined(__x86_64__)

#define EMTL_AVX512_TARGET __attribute__((target("avx512f")))
#define EMTL_AVX2_TARGET __attribute__((target("avx2,fma")))

// M rows x NV * 16 columns from `column`: accumulators start at the bias, one
// FMA per k (k in order), then RELU and a masked store of the columns that exist.
template <int M, int NV>
EMTL_AVX512_TARGET inline void tile_avx512(const Args& a, size_t row, size_t column) {
  const size_t k_count = a.input_channels, stride = a.input_stride;
  const float* x = a.x + row * stride;
  const float* b = a.packed + column * k_count;
  __m512 acc[M][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512 bias = _mm512_loadu_ps(a.bias + column + 16 * v);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) acc[m][v] = bias;
  }
#pragma GCC unroll 2
  for (size_t k = 0; k < k_count; ++k) {
    __m512 w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      _mm_prefetch(reinterpret_cast<const char*>(b + ((k + kPrefetchK) * NV + v) * 16), _MM_HINT_T0);
      w[v] = _mm512_loadu_ps(b + (k * NV + v) * 16);
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512 xv = _mm512_set1_ps(x[m * stride + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm512_fmadd_ps(xv, w[v], acc[m][v]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const size_t first = column + 16 * static_cast<size_t>(v);
    if (first >= a.output_channels) break;
    const size_t n = std::min<size_t>(16, a.output_channels - first);
    const __mmask16 mask = first_lanes(n);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512 value = a.relu ? _mm512_max_ps(acc[m][v], zero) : acc[m][v];
      _mm512_mask_storeu_ps(a.y + (row + m) * a.output_channels + first, mask, value);
    }
  }
}

template <int NV>
EMTL_AVX512_TARGET void rows_avx512(const Args& a, size_t row, size_t rows, size_t column) {
  switch (rows) {
    case 8: return tile_avx512<8, NV>(a, row, column);
    case 7: return tile_avx512<7, NV>(a, row, column);
    case 6: return tile_avx512<6, NV>(a, row, column);
    case 5: return tile_avx512<5, NV>(a, row, column);
    case 4: return tile_avx512<4, NV>(a, row, column);
    case 3: return tile_avx512<3, NV>(a, row, column);
    case 2: return tile_avx512<2, NV>(a, row, column);
    default: return tile_avx512<1, NV>(a, row, column);
  }
}

// Panel by panel (its weights stay in cache), row block by row block.
EMTL_AVX512_TARGET void run_avx512(const Args& a, size_t begin, size_t end) {
  for (size_t column = 0; column < a.padded_columns; column += kAvx512Panel) {
    const bool half = panel_width(column, a.padded_columns, kAvx512Panel) == 16;
    for (size_t row = begin; row < end; row += kAvx512Rows) {
      const size_t rows = std::min(kAvx512Rows, end - row);
      if (half)
        rows_avx512<1>(a, row, rows, column);
      else
        rows_avx512<2>(a, row, rows, column);
    }
  }
}

// Layers of at most kNarrowColumns outputs (the gates of PLE's later levels,
// the task heads): a panel tile computes 16 columns for every row, most of
// them padding. Here 16 rows at a time instead: each block of 16 k of the 16
// rows is transposed in registers, and each output column's accumulator
// holds the 16 rows. Per output: bias, then one FMA per k in order of the
// same operands as the panel tile (x[r, k] times w[c, k]), so the same bits.
constexpr size_t kNarrowColumns = 4;

// Rows [begin, end) of a layer of N <= kNarrowColumns outputs; its one panel
// is 16 wide (w[c, k] at packed[k * 16 + c]).
template <int N>
EMTL_AVX512_TARGET void narrow_rows_avx512(const Args& a, size_t begin, size_t end) {
  const size_t k_count = a.input_channels, stride = a.input_stride;
  const __m512 zero = _mm512_setzero_ps();
  for (size_t row = begin; row < end; row += 16) {
    const size_t rows = std::min<size_t>(16, end - row);
    __m512 acc[N];
#pragma GCC unroll 4
    for (int c = 0; c < N; ++c) acc[c] = _mm512_set1_ps(a.bias[c]);
    for (size_t k0 = 0; k0 < k_count; k0 += 16) {
      const size_t width = std::min<size_t>(16, k_count - k0);
      __m512 t[16];
      load_rows_transposed(a.x + row * stride + k0, stride * sizeof(float), rows, width, t);
      const float* w = a.packed + k0 * 16;
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        if (static_cast<size_t>(j) >= width) break;
#pragma GCC unroll 4
        for (int c = 0; c < N; ++c) acc[c] = _mm512_fmadd_ps(t[j], _mm512_set1_ps(w[j * 16 + c]), acc[c]);
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < N; ++c) acc[c] = a.relu ? _mm512_max_ps(acc[c], zero) : acc[c];
    store_columns_as_rows<N>(acc, a.y + row * N, rows);
  }
}

EMTL_AVX512_TARGET void run_narrow_avx512(const Args& a, size_t begin, size_t end) {
  switch (a.output_channels) {
    case 1: return narrow_rows_avx512<1>(a, begin, end);
    case 2: return narrow_rows_avx512<2>(a, begin, end);
    case 3: return narrow_rows_avx512<3>(a, begin, end);
    default: return narrow_rows_avx512<4>(a, begin, end);
  }
}

// The same with 8-float vectors: M rows x NV * 8 columns.
template <int M, int NV>
EMTL_AVX2_TARGET inline void tile_avx2(const Args& a, size_t row, size_t column) {
  const size_t k_count = a.input_channels, stride = a.input_stride;
  const float* x = a.x + row * stride;
  const float* b = a.packed + column * k_count;
  __m256 acc[M][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m256 bias = _mm256_loadu_ps(a.bias + column + 8 * v);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) acc[m][v] = bias;
  }
#pragma GCC unroll 2
  for (size_t k = 0; k < k_count; ++k) {
    __m256 w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = _mm256_loadu_ps(b + (k * NV + v) * 8);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m256 xv = _mm256_broadcast_ss(x + m * stride + k);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm256_fmadd_ps(xv, w[v], acc[m][v]);
    }
  }
  const __m256 zero = _mm256_setzero_ps();
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const size_t first = column + 8 * static_cast<size_t>(v);
    if (first >= a.output_channels) break;
    const int n = static_cast<int>(std::min<size_t>(8, a.output_channels - first));
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m256 value = a.relu ? _mm256_max_ps(acc[m][v], zero) : acc[m][v];
      _mm256_maskstore_ps(a.y + (row + m) * a.output_channels + first, mask, value);
    }
  }
}

template <int NV>
EMTL_AVX2_TARGET void rows_avx2(const Args& a, size_t row, size_t rows, size_t column) {
  switch (rows) {
    case 6: return tile_avx2<6, NV>(a, row, column);
    case 5: return tile_avx2<5, NV>(a, row, column);
    case 4: return tile_avx2<4, NV>(a, row, column);
    case 3: return tile_avx2<3, NV>(a, row, column);
    case 2: return tile_avx2<2, NV>(a, row, column);
    default: return tile_avx2<1, NV>(a, row, column);
  }
}

EMTL_AVX2_TARGET void run_avx2(const Args& a, size_t begin, size_t end) {
  for (size_t column = 0; column < a.padded_columns; column += kAvx2Panel) {
    const bool half = panel_width(column, a.padded_columns, kAvx2Panel) == 8;
    for (size_t row = begin; row < end; row += kAvx2Rows) {
      const size_t rows = std::min(kAvx2Rows, end - row);
      if (half)
        rows_avx2<1>(a, row, rows, column);
      else
        rows_avx2<2>(a, row, rows, column);
    }
  }
}

#endif  // __x86_64__

struct RangeContext {
  const F32Gemm* gemm;
  const float* x;
  size_t input_stride;
  float* y;
};

void range_task(const void* context, size_t begin, size_t end) {
  const auto* c = static_cast<const RangeContext*>(context);
  c->gemm->run_rows(c->x, c->input_stride, begin, end, c->y);
}

}  // namespace

F32Isa F32Gemm::best_isa() {
#if defined(__x86_64__)
  const CpuFeatures& cpu = cpu_features();
  return cpu.avx512f ? F32Isa::kAvx512 : cpu.avx2 && cpu.fma ? F32Isa::kAvx2 : F32Isa::kNone;
#else
  return F32Isa::kNone;
#endif
}

bool F32Gemm::supports(F32Isa isa) {
  const F32Isa best = best_isa();
  return isa != F32Isa::kNone && best != F32Isa::kNone && static_cast<int>(isa) <= static_cast<int>(best);
}

size_t F32Gemm::panel_columns(F32Isa isa) {
  return isa == F32Isa::kAvx512 ? kAvx512Panel : isa == F32Isa::kAvx2 ? kAvx2Panel : 0;
}

const char* F32Gemm::isa_name(F32Isa isa) {
  return isa == F32Isa::kAvx512 ? "avx512f" : isa == F32Isa::kAvx2 ? "avx2+fma" : "none";
}

size_t F32Gemm::row_block() const { return isa_ == F32Isa::kAvx2 ? kAvx2Rows : kAvx512Rows; }

Status F32Gemm::create(size_t input_channels, size_t output_channels, const float* weight, const float* bias,
                       bool relu, F32Isa isa) {
  if (!supports(isa)) return Status::error(Error::kUnsupported, "f32 GEMM: this CPU does not run %s", isa_name(isa));
  input_channels_ = input_channels;
  output_channels_ = output_channels;
  relu_ = relu;
  isa_ = isa;
  const size_t panel = panel_columns(isa);
  const size_t columns = padded_panel_columns(output_channels, panel);
  packed_.assign(columns * input_channels, 0.0f);
  bias_.assign(columns, 0.0f);
  for (size_t c = 0; c < output_channels; ++c) {
    // Panel from column `first`, `width` wide: w[c, k] at k * width + (c - first).
    const size_t first = c / panel * panel;
    const size_t width = panel_width(first, columns, panel);
    float* p = packed_.data() + first * input_channels + (c - first);
    for (size_t k = 0; k < input_channels; ++k) p[k * width] = weight[c * input_channels + k];
    if (bias) bias_[c] = bias[c];
  }
  return Status::ok();
}

void F32Gemm::run_rows(const float* x, size_t input_stride, size_t row_begin, size_t row_end, float* y) const {
#if defined(__x86_64__)
  if (row_begin >= row_end) return;
  const Args a{x, input_stride, input_channels_, output_channels_, bias_.size(), packed_.data(), bias_.data(), y, relu_};
  if (isa_ == F32Isa::kAvx512 && output_channels_ <= kNarrowColumns) return run_narrow_avx512(a, row_begin, row_end);
  // Every panel reads all rows of the range: chunks of rows whose x fits in
  // about half of a 1 MB L2 (one chunk for K <= 768 at 168 rows).
  const size_t block = row_block();
  const size_t chunk = std::max(block, kChunkBytes / (input_channels_ * sizeof(float)) / block * block);
  for (size_t begin = row_begin; begin < row_end; begin += chunk) {
    const size_t end = std::min(row_end, begin + chunk);
    if (isa_ == F32Isa::kAvx512)
      run_avx512(a, begin, end);
    else if (isa_ == F32Isa::kAvx2)
      run_avx2(a, begin, end);
  }
#else
  (void)x, (void)input_stride, (void)row_begin, (void)row_end, (void)y;
#endif
}

void F32Gemm::run(const float* x, size_t rows, size_t input_stride, float* y, ThreadPool* pool) const {
  const RangeContext context{this, x, input_stride, y};
  parallelize_row_ranges(pool, rows, row_block(), row_block() * input_channels_ * output_channels_, output_channels_,
                         range_task, &context);
}

}  // namespace edgemtl
