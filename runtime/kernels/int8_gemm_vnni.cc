#include "runtime/kernels/int8_gemm_vnni.h"

#include <algorithm>
#include <cstring>

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/gemm_panels.h"
#include "runtime/kernels/x86_intrinsics.h"
#include "runtime/kernels/x86_transpose.h"

namespace edgemtl {

#if defined(__x86_64__)

#define EMTL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

struct Int8GemmVnni::RunContext {
  const float* x;
  size_t rows, input_stride, input_channels, padded_input_channels, output_channels;
  float inverse_input_scale, high;  // x / s_in is at most 127 - z_in before rounding
  int32_t to_unsigned;                   // z_in + 128
  float output_scale, output_low, output_high;  // clamp of the rounded requantised value: [lo - z_out, 127 - z_out]
  const int8_t* packed;
  const int32_t* bias;
  const float* multiplier;
  uint8_t* xu;
  float* y;
  // Dynamic int8 only: each row's scale and zero point (in the scratch after xu) and the f32 bias.
  float* row_scale;
  int32_t* row_zero_point;
  const float* float_bias;
  bool dynamic;
  InputAddend addend;  // static int8 only: added to x while it is quantised
};

namespace {

using RunContext = Int8GemmVnni::RunContext;

// One row of x (input_channels floats) -> u8, padded with zeros to
// padded_input_channels. `quantize` maps 16 floats to 16 int32 whose unsigned
// saturation to [0, 255] is the u8 (negative -> 0); 64 of them are saturated
// by two packs in registers and stored at once (vpmovdb to memory, one
// instruction per 16 bytes, made this prologue cost up to a third of a call
// on Zen 5).
template <class Row, class Quantize>
EMTL_VNNI_TARGET inline void quantize_row(const Row& x, size_t input_channels, size_t padded_input_channels,
                                          uint8_t* out, Quantize quantize) {
  // packus works within 128-bit lanes: dword 4 L + j of the packed bytes holds bytes 4 L .. 4 L + 3 of vector j.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const auto pack = [&](__m512i q0, __m512i q1, __m512i q2, __m512i q3) EMTL_VNNI_TARGET {
    return _mm512_permutexvar_epi32(order,
                                    _mm512_packus_epi16(_mm512_packus_epi32(q0, q1), _mm512_packus_epi32(q2, q3)));
  };
  size_t i = 0;
  for (; i + 64 <= input_channels; i += 64)
    _mm512_storeu_si512(out + i, pack(quantize(x.load(i)), quantize(x.load(i + 16)), quantize(x.load(i + 32)),
                                      quantize(x.load(i + 48))));
  if (i < padded_input_channels) {
    // Masked loads: x may be a window of a wider tensor, nothing past its row is read. The padding is
    // stored as 0: the padded weights are 0, but the bytes they meet must be initialised.
    const size_t n = input_channels - i, padded = padded_input_channels - i;  // n < 64, padded <= 64
    const uint64_t valid = (uint64_t{1} << n) - 1, stored = padded == 64 ? ~uint64_t{0} : (uint64_t{1} << padded) - 1;
    __m512i q[4];
    for (int j = 0; j < 4; ++j)
      q[j] = quantize(x.load(static_cast<__mmask16>(valid >> (16 * j)), i + 16 * j));
    const __m512i bytes = _mm512_maskz_mov_epi8(valid, pack(q[0], q[1], q[2], q[3]));
    _mm512_mask_storeu_epi8(out + i, stored, bytes);
  }
}

// 16 floats of one row of x from column i (masked: the lanes of `mask`, 0 elsewhere).
struct PlainRow {
  const float* x;
  EMTL_VNNI_TARGET __m512 load(size_t i) const { return _mm512_loadu_ps(x + i); }
  EMTL_VNNI_TARGET __m512 load(__mmask16 mask, size_t i) const { return _mm512_maskz_loadu_ps(mask, x + i); }
};

// The same of x + addend (FULLY_CONNECTED's 4th input), then kActivation:
// stage_input_addend's operations (max_ps returns its second operand, 0, for
// NaN; LEAKY_RELU multiplies the lanes that are not >= 0, NaN included).
template <schema::Activation kActivation>
struct AddendRow {
  const float* x;
  const float* addend;
  float alpha;
  EMTL_VNNI_TARGET __m512 activate(__m512 v) const {
    const __m512 zero = _mm512_setzero_ps();
    if (kActivation == schema::Activation::RELU) return _mm512_max_ps(v, zero);
    if (kActivation == schema::Activation::LEAKY_RELU)
      return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_NGE_UQ), v, _mm512_set1_ps(alpha));
    return v;
  }
  EMTL_VNNI_TARGET __m512 load(size_t i) const {
    return activate(_mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(addend + i)));
  }
  EMTL_VNNI_TARGET __m512 load(__mmask16 mask, size_t i) const {
    return activate(_mm512_add_ps(_mm512_maskz_loadu_ps(mask, x + i), _mm512_maskz_loadu_ps(mask, addend + i)));
  }
};

// Rows [begin, begin + count) of x -> u8.
EMTL_VNNI_TARGET void quantize_rows(const RunContext* c, size_t begin, size_t count) {
  const __m512 inverse = _mm512_set1_ps(c->inverse_input_scale);
  const __m512 high = _mm512_set1_ps(c->high);
  const __m512i shift = _mm512_set1_epi32(c->to_unsigned);
  // clamp(round(x / s_in), -128 - z_in, 127 - z_in) + z_in + 128: the upper bound before the conversion, which
  // overflows to INT_MIN (min(high, v) keeps a NaN, which converts to INT_MIN too); the lower one is the packs'
  // saturation of what is below 0 after the shift.
  const auto quantize = [&](__m512 x) EMTL_VNNI_TARGET {
    const __m512 v = _mm512_min_ps(high, _mm512_mul_ps(x, inverse));
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), shift);
  };
  const InputAddend& a = c->addend;
  for (size_t r = begin; r < begin + count; ++r) {
    const float* x = c->x + r * c->input_stride;
    uint8_t* out = c->xu + r * c->padded_input_channels;
    const size_t k = c->input_channels, padded = c->padded_input_channels;
    const float* addend = a.data + r * a.stride;
    if (!a.present())
      quantize_row(PlainRow{x}, k, padded, out, quantize);
    else if (a.activation == schema::Activation::RELU)
      quantize_row(AddendRow<schema::Activation::RELU>{x, addend, a.alpha}, k, padded, out, quantize);
    else if (a.activation == schema::Activation::LEAKY_RELU)
      quantize_row(AddendRow<schema::Activation::LEAKY_RELU>{x, addend, a.alpha}, k, padded, out, quantize);
    else
      quantize_row(AddendRow<schema::Activation::NONE>{x, addend, a.alpha}, k, padded, out, quantize);
  }
}

// Dynamic int8: rows [begin, begin + count) of x -> u8, each with its own
// scale and zero point (the schema's formula, as DynamicQuantizeLinear).
EMTL_VNNI_TARGET void quantize_rows_dynamic(const RunContext* c, size_t begin, size_t count) {
  for (size_t r = begin; r < begin + count; ++r) {
    const float* x = c->x + r * c->input_stride;
    __m512 low = _mm512_setzero_ps(), high = _mm512_setzero_ps();  // the range includes 0
    for (size_t i = 0; i < c->input_channels; i += 16) {
      const size_t n = std::min<size_t>(16, c->input_channels - i);
      const __mmask16 mask = first_lanes(n);
      const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);  // masked-off lanes are 0, inside the range
      low = _mm512_min_ps(low, v);
      high = _mm512_max_ps(high, v);
    }
    const DynamicRowQuantization q = dynamic_row_quantization(_mm512_reduce_min_ps(low), _mm512_reduce_max_ps(high));
    c->row_scale[r] = q.scale;
    c->row_zero_point[r] = q.zero_point;
    const __m512 scale = _mm512_set1_ps(q.scale);
    const __m512i zero_point = _mm512_set1_epi32(q.zero_point);
    // clamp(round(x / s) + z, 0, 255): the clamp is the packs' saturation (|x / s| <= 255 for finite x;
    // infinities and NaN convert to INT_MIN, + z still negative: 0).
    const auto quantize = [&](__m512 v) EMTL_VNNI_TARGET {
      return _mm512_add_epi32(
          _mm512_cvt_roundps_epi32(_mm512_div_ps(v, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
          zero_point);
    };
    quantize_row(PlainRow{x}, c->input_channels, c->padded_input_channels, c->xu + r * c->padded_input_channels,
                 quantize);
  }
}

// M rows x NV * 16 columns: int32 accumulators in registers, one vpdpbusd per
// (row, 16 columns, 4 k), then the requantisation in f32 straight to y.
// A layer's outputs from their int32 sums, a vector of 16 at a time: `tile`
// holds 16 columns of one row in a vector, `narrow_rows` 16 rows of one
// column; both call these, so both give the same bits. Static: requantise in
// f32, y = clamp(round(acc * multiplier), low, high) * scale.
EMTL_VNNI_TARGET inline __m512 static_output(__m512i acc, __m512 multiplier, __m512 low, __m512 high, __m512 scale) {
  const __m512 value = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), multiplier),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm512_mul_ps(_mm512_min_ps(_mm512_max_ps(value, low), high), scale);
}

// Dynamic: y = float(acc - z_r * sum_k w) * (s_r * s_w[c]) + bias[c], multiply
// then add (not fused).
EMTL_VNNI_TARGET inline __m512 dynamic_output(__m512i acc, __m512i row_zero_point, __m512i weight_sum,
                                              __m512 row_scale, __m512 multiplier, __m512 float_bias) {
  const __m512i corrected = _mm512_sub_epi32(acc, _mm512_mullo_epi32(row_zero_point, weight_sum));
  return _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(corrected), _mm512_mul_ps(row_scale, multiplier)), float_bias);
}

template <int M, int NV, bool Dynamic>
EMTL_VNNI_TARGET inline void tile(const RunContext* c, size_t row, size_t column) {
  const size_t k_bytes = c->padded_input_channels, output_channels = c->output_channels;
  const size_t groups = k_bytes / 4;
  const uint8_t* a = c->xu + row * k_bytes;
  const int8_t* b = c->packed + column * k_bytes;
  const int32_t* column_bias = c->bias + column;
  // Static: the accumulators start at bias_total (int32 sums wrap, so the order does not matter).
  __m512i acc[M][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512i start = Dynamic ? _mm512_setzero_si512() : _mm512_loadu_si512(column_bias + 16 * v);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) acc[m][v] = start;
  }
  for (size_t g = 0; g < groups; ++g) {
    __m512i w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = _mm512_loadu_si512(b + (g * NV + v) * 64);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      int32_t four;  // 4 consecutive u8 of row m, broadcast to every lane
      std::memcpy(&four, a + m * k_bytes + 4 * g, sizeof four);
      const __m512i x = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[m][v] = _mm512_dpbusd_epi32(acc[m][v], x, w[v]);
    }
  }
  // static_output / dynamic_output; for dynamic layers bias holds the weight sums, multiplier s_w.
  const __m512 low = _mm512_set1_ps(c->output_low), high = _mm512_set1_ps(c->output_high);
  const __m512 scale = _mm512_set1_ps(c->output_scale);
  // Locals: the stores to y cannot change them (no reloads from the context after each store).
  float* const y = c->y + row * output_channels;
  const float* const multipliers = c->multiplier;
  const float* const float_biases = c->float_bias;
  const float* const row_scales = c->row_scale + row;
  const int32_t* const row_zero_points = c->row_zero_point + row;
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const size_t first = column + 16 * static_cast<size_t>(v);
    if (first >= output_channels) break;
    const size_t n = std::min<size_t>(16, output_channels - first);
    const __mmask16 mask = first_lanes(n);
    const __m512 multiplier = _mm512_loadu_ps(multipliers + first);
    const __m512i weight_sums = Dynamic ? _mm512_loadu_si512(column_bias + 16 * v) : _mm512_setzero_si512();
    const __m512 float_bias = Dynamic ? _mm512_loadu_ps(float_biases + first) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512 value = Dynamic ? dynamic_output(acc[m][v], _mm512_set1_epi32(row_zero_points[m]), weight_sums,
                                                    _mm512_set1_ps(row_scales[m]), multiplier, float_bias)
                                   : static_output(acc[m][v], multiplier, low, high, scale);
      _mm512_mask_storeu_ps(y + m * output_channels + first, mask, value);
    }
  }
}

template <int NV, bool Dynamic>
EMTL_VNNI_TARGET void tile_rows(const RunContext* c, size_t row, size_t rows, size_t column) {
  switch (rows) {
    case 8: return tile<8, NV, Dynamic>(c, row, column);
    case 7: return tile<7, NV, Dynamic>(c, row, column);
    case 6: return tile<6, NV, Dynamic>(c, row, column);
    case 5: return tile<5, NV, Dynamic>(c, row, column);
    case 4: return tile<4, NV, Dynamic>(c, row, column);
    case 3: return tile<3, NV, Dynamic>(c, row, column);
    case 2: return tile<2, NV, Dynamic>(c, row, column);
    default: return tile<1, NV, Dynamic>(c, row, column);
  }
}

// Layers of at most kNarrowColumns outputs (PLE's gates, task heads): a tile
// would compute 16 columns for every row, most of them padding. Here 16 rows
// at a time: each block of 16 groups of 4 u8 of the 16 rows is transposed in
// registers (a dword per row and group), and each output column's int32
// accumulator holds the 16 rows. The same sums (integers, exact) and the same
// epilogue operations per element as `tile`, so the same bits.
constexpr size_t kNarrowColumns = 4;

template <int N, bool Dynamic>
EMTL_VNNI_TARGET void narrow_rows(const RunContext* c, size_t begin, size_t end) {
  const size_t k_bytes = c->padded_input_channels, groups = k_bytes / 4;
  const uint8_t* a = c->xu;
  const int8_t* b = c->packed;  // one panel of 16 columns: column n's 4 bytes of group g at b + g * 64 + 4 n
  const __m512 low = _mm512_set1_ps(c->output_low), high = _mm512_set1_ps(c->output_high);
  const __m512 scale = _mm512_set1_ps(c->output_scale);
  for (size_t row = begin; row < end; row += 16) {
    const size_t rows = std::min<size_t>(16, end - row);
    const __mmask16 row_mask = first_lanes(rows);
    __m512i acc[N];
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) acc[n] = _mm512_set1_epi32(Dynamic ? 0 : c->bias[n]);
    for (size_t g0 = 0; g0 < groups; g0 += 16) {
      const size_t count = std::min<size_t>(16, groups - g0);
      __m512 t[16];  // lane i of t[j]: the 4 u8 of group g0 + j of row + i
      load_rows_transposed(a + row * k_bytes + 4 * g0, k_bytes, rows, count, t);
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        if (static_cast<size_t>(j) >= count) break;
        const int8_t* w = b + (g0 + static_cast<size_t>(j)) * 64;
#pragma GCC unroll 4
        for (int n = 0; n < N; ++n) {
          int32_t four;
          std::memcpy(&four, w + 4 * n, sizeof four);
          acc[n] = _mm512_dpbusd_epi32(acc[n], _mm512_castps_si512(t[j]), _mm512_set1_epi32(four));
        }
      }
    }
    // Lane i is row + i: the rows' dynamic scales and zero points as vectors, each column's parameters broadcast.
    const __m512 row_scales = Dynamic ? _mm512_maskz_loadu_ps(row_mask, c->row_scale + row) : _mm512_setzero_ps();
    const __m512i row_zero_points =
        Dynamic ? _mm512_maskz_loadu_epi32(row_mask, c->row_zero_point + row) : _mm512_setzero_si512();
    __m512 values[N];
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) {
      const __m512 multiplier = _mm512_set1_ps(c->multiplier[n]);
      values[n] = Dynamic ? dynamic_output(acc[n], row_zero_points, _mm512_set1_epi32(c->bias[n]), row_scales,
                                           multiplier, _mm512_set1_ps(c->float_bias[n]))
                          : static_output(acc[n], multiplier, low, high, scale);
    }
    store_columns_as_rows<N>(values, c->y + row * N, rows);
  }
}

template <bool Dynamic>
EMTL_VNNI_TARGET void narrow_layer(const RunContext* c, size_t begin, size_t end) {
  switch (c->output_channels) {
    case 1: return narrow_rows<1, Dynamic>(c, begin, end);
    case 2: return narrow_rows<2, Dynamic>(c, begin, end);
    case 3: return narrow_rows<3, Dynamic>(c, begin, end);
    default: return narrow_rows<4, Dynamic>(c, begin, end);
  }
}

// Rows [begin, end): their u8 copy, then panel by panel (its weights stay in
// cache) row block by row block; panels of 32 columns, the last one 16 when
// that covers it.
template <bool Dynamic>
EMTL_VNNI_TARGET void gemm_rows(const RunContext* c, size_t begin, size_t end) {
  if (Dynamic)
    quantize_rows_dynamic(c, begin, end - begin);
  else
    quantize_rows(c, begin, end - begin);
  if (c->output_channels <= kNarrowColumns) return narrow_layer<Dynamic>(c, begin, end);
  for (size_t column = 0; column < c->output_channels; column += Int8GemmVnni::kPanelColumns) {
    for (size_t row = begin; row < end; row += Int8GemmVnni::kRowBlock) {
      const size_t rows = std::min(Int8GemmVnni::kRowBlock, end - row);
      if (c->output_channels - column <= 16)
        tile_rows<1, Dynamic>(c, row, rows, column);
      else
        tile_rows<2, Dynamic>(c, row, rows, column);
    }
  }
}

void range_task(const void* context, size_t begin, size_t end) {
  const auto* c = static_cast<const RunContext*>(context);
  if (c->dynamic)
    gemm_rows<true>(c, begin, end);
  else
    gemm_rows<false>(c, begin, end);
}

}  // namespace

bool Int8GemmVnni::available() {
  return cpu_features().avx512_vnni;
}

// The panels, and bias_[c] = sum_k w[c, k] (int32 arithmetic wraps as the
// schema's int32 accumulator would).
Status Int8GemmVnni::pack(size_t input_channels, size_t output_channels, const int8_t* weight, size_t max_rows) {
  if (!available()) return Status::error(Error::kUnsupported, "int8 GEMM: this CPU has no AVX-512 VNNI");
  input_channels_ = input_channels;
  padded_input_channels_ = (input_channels + 3) / 4 * 4;
  output_channels_ = output_channels;
  max_rows_ = max_rows;
  const size_t columns = padded_panel_columns(output_channels, kPanelColumns);
  packed_.assign(columns * padded_input_channels_, 0);
  bias_.assign(columns, 0);
  multiplier_.assign(columns, 0.0f);
  float_bias_.clear();
  for (size_t c = 0; c < output_channels; ++c) {
    // Panel of 32 (or the last of 16) columns; per group of 4 k, lane j of
    // vector v holds w[first + 16 v + j, 4 g .. 4 g + 3].
    const size_t first = c / kPanelColumns * kPanelColumns;
    const size_t width = panel_width(first, columns, kPanelColumns);
    const size_t v = (c - first) / 16, lane = (c - first) % 16;
    int8_t* panel = packed_.data() + first * padded_input_channels_;
    uint32_t weight_sum = 0;
    for (size_t k = 0; k < input_channels; ++k) {
      const int8_t w = weight[c * input_channels + k];
      panel[(k / 4 * (width / 16) + v) * 64 + lane * 4 + k % 4] = w;
      weight_sum += static_cast<uint32_t>(static_cast<int32_t>(w));
    }
    bias_[c] = static_cast<int32_t>(weight_sum);
  }
  return Status::ok();
}

Status Int8GemmVnni::create(size_t input_channels, size_t output_channels, const int8_t* weight,
                            const float* weight_scales, bool per_channel, const int32_t* bias, float input_scale,
                            int8_t input_zero_point, float output_scale, int8_t output_zero_point, int8_t lowest,
                            size_t max_rows) {
  EMTL_RETURN_IF_ERROR(pack(input_channels, output_channels, weight, max_rows));
  dynamic_ = false;
  input_scale_ = input_scale;
  output_scale_ = output_scale;
  input_zero_point_ = input_zero_point;
  output_zero_point_ = output_zero_point;
  lowest_ = lowest;
  const uint32_t shift = static_cast<uint32_t>(128 + input_zero_point);
  for (size_t c = 0; c < output_channels; ++c) {
    const uint32_t weight_sum = static_cast<uint32_t>(bias_[c]);
    bias_[c] = static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[c]) : 0u) - shift * weight_sum);
    multiplier_[c] = input_scale * weight_scales[per_channel ? c : 0] / output_scale;
  }
  return Status::ok();
}

Status Int8GemmVnni::create_dynamic(size_t input_channels, size_t output_channels, const int8_t* weight,
                                    const float* weight_scales, bool per_channel, const float* bias,
                                    size_t max_rows) {
  EMTL_RETURN_IF_ERROR(pack(input_channels, output_channels, weight, max_rows));
  dynamic_ = true;
  float_bias_.assign(bias_.size(), 0.0f);
  for (size_t c = 0; c < output_channels; ++c) {
    multiplier_[c] = weight_scales[per_channel ? c : 0];
    if (bias) float_bias_[c] = bias[c];
  }
  return Status::ok();
}

void Int8GemmVnni::run(const float* x, size_t rows, size_t input_stride, float* y, uint8_t* scratch,
                       ThreadPool* pool, const InputAddend& addend) const {
  if (rows == 0) return;
  const RunContext c = context(x, rows, input_stride, y, scratch, addend);
  // An int8 multiply-add costs about a quarter of an f32 one (kMinTaskMultiplyAdds).
  parallelize_row_ranges(pool, rows, kRowBlock, kRowBlock * padded_input_channels_ * output_channels_ / 4,
                         output_channels_, range_task, &c);
}

void Int8GemmVnni::run_rows(const float* x, size_t input_stride, size_t row_begin, size_t row_end, float* y,
                            uint8_t* scratch, const InputAddend& addend) const {
  if (row_begin >= row_end) return;
  const RunContext c = context(x, row_end, input_stride, y, scratch, addend);
  range_task(&c, row_begin, row_end);
}

Int8GemmVnni::RunContext Int8GemmVnni::context(const float* x, size_t rows, size_t input_stride, float* y,
                                               uint8_t* scratch, const InputAddend& addend) const {
  RunContext c;
  c.addend = addend;
  c.x = x;
  c.rows = rows;
  c.input_stride = input_stride;
  c.input_channels = input_channels_;
  c.padded_input_channels = padded_input_channels_;
  c.output_channels = output_channels_;
  c.inverse_input_scale = 1.0f / input_scale_;  // as XNNPACK's f32 -> qs8 conversion
  c.high = static_cast<float>(127 - input_zero_point_);
  c.to_unsigned = input_zero_point_ + 128;
  c.output_scale = output_scale_;
  c.output_low = static_cast<float>(lowest_ - output_zero_point_);
  c.output_high = static_cast<float>(127 - output_zero_point_);
  c.packed = packed_.data();
  c.bias = bias_.data();
  c.multiplier = multiplier_.data();
  c.xu = scratch;
  c.y = y;
  // Dynamic: the rows' scales and zero points after the u8 rows (a multiple of 4 bytes).
  c.row_scale = reinterpret_cast<float*>(scratch + max_rows_ * padded_input_channels_);
  c.row_zero_point = reinterpret_cast<int32_t*>(c.row_scale + max_rows_);
  c.float_bias = float_bias_.data();
  c.dynamic = dynamic_;
  return c;
}

#else  // !__x86_64__: no VNNI; QuantizedFullyConnected stays on XNNPACK.

bool Int8GemmVnni::available() { return false; }

Status Int8GemmVnni::create(size_t, size_t, const int8_t*, const float*, bool, const int32_t*, float, int8_t, float,
                            int8_t, int8_t, size_t) {
  return Status::error(Error::kUnsupported, "int8 GEMM: AVX-512 VNNI is x86-64 only");
}

Status Int8GemmVnni::create_dynamic(size_t, size_t, const int8_t*, const float*, bool, const float*, size_t) {
  return Status::error(Error::kUnsupported, "int8 GEMM: AVX-512 VNNI is x86-64 only");
}

void Int8GemmVnni::run(const float*, size_t, size_t, float*, uint8_t*, ThreadPool*, const InputAddend&) const {}

void Int8GemmVnni::run_rows(const float*, size_t, size_t, size_t, float*, uint8_t*, const InputAddend&) const {}

#endif

}  // namespace edgemtl
