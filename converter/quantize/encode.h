// Encoders of quantised constants (fp16, int8 with scales, int32 biases) and
// of activation ranges: pure functions, no graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "converter/quantize_plan.h"

namespace edgemtl::converter {

enum class RangeEstimator { kMinMax, kPercentile };

/// IEEE half, rounding to nearest even (overflow -> inf).
uint16_t float_to_half(float value);
EncodedConstant encode_float16(const std::vector<float>& values);
/// Symmetric int8 with one scale per row of a [rows, cols] matrix (axis 0):
/// scale = max|row| / 127 (a zero row gets the largest other scale, or 1).
EncodedConstant encode_int8_per_row(const std::vector<float>& values, int64_t rows, int64_t cols);
/// Embedding table [rows, cols] as INT8_ROW_F16: symmetric int8 rows, one half
/// scale per row (max|row| / 127 rounded to half, q by that rounded scale).
/// False (nothing written) when a scale does not fit a half.
bool encode_int8_rows_f16(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out);
/// Embedding table [rows, cols] as UINT4_ROW_F16: per row offset = min (as a
/// half), scale = (max - offset) / 15 (as a half), q = clamp(round((x - offset) /
/// scale), 0, 15), two a byte, low nibble first. False when a parameter does
/// not fit a half.
bool encode_uint4_rows_f16(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out);
/// Embedding table [rows, cols] as UINT4_ROW_CODEBOOK: row r's needed scale is
/// max|row| / 7.5; the table's codebook (256 f32, ascending, 0 first when a row
/// is all zero) holds the needed scales themselves when there are at most 256
/// distinct ones, else 255 or 256 entries built as quantiles of the needed
/// scales or as geometric steps between the smallest and largest, whichever
/// gives the smaller sum over rows of entry² (the rows' squared rounding error
/// grows with it); unused entries 0. Each row takes the smallest entry c >= its
/// needed scale (no clipping), q = the code 0 .. 15 nearest to x / c + 7.5 (an
/// entry 0: q = 8, decoding to +0). False when a value is not finite.
/// Deterministic: the same bytes for the same values.
bool encode_uint4_codebook(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out);
/// Bytes of one stored table row of `cols` elements with its per-row parameters.
size_t table_row_bytes(StoredType type, int64_t cols);
/// Bytes of a whole stored [rows, cols] table: its rows and, for kUint4Codebook, the codebook.
size_t table_bytes(StoredType type, int64_t rows, int64_t cols);
/// UINT4_ROW_CODEBOOK: entries of the codebook, stored first in row_params as f32.
constexpr size_t kCodebookEntries = 256;
/// Symmetric int8 with one scale for the whole tensor (axis -1).
EncodedConstant encode_int8_per_tensor(const std::vector<float>& values);
/// int32 bias with scale input_scale * weight_scale[c].
EncodedConstant encode_int32_bias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales);
/// Affine int8 for values in [low, high] (widened to include 0, so 0 is exact).
ActivationQuantization quantize_range(float low, float high);
/// [low, high] of `values` by `estimator` (percentile: the 0.01% and 99.99% quantiles).
std::pair<float, float> estimate_range(std::vector<float> values, RangeEstimator estimator);

}  // namespace edgemtl::converter
