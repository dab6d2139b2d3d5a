// Quantisation of a converted graph: fp16 weights, or int8 fully-connected
// layers (static activation ranges from calibration rows) and int8 embedding
// tables. Which layers stay f32 is decided by measurement: the converter scores
// the calibration rows with the edgemtl runtime, f32 against quantised.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize_plan.h"
#include "converter/writer.h"

namespace edgemtl::converter {

enum class QuantizeMode { kNone, kFloat16, kInt8 };
enum class RangeEstimator { kMinMax, kPercentile };

struct QuantizeOptions {
  QuantizeMode mode = QuantizeMode::kNone;
  std::string calibration_path;  // JSONL rows or requests; required for int8
  std::string validation_path;   // JSONL rows or requests; optional report
  RangeEstimator range = RangeEstimator::kPercentile;  // measured: docs/QUANTIZATION.md
  bool per_channel = true;       // FC weight scales per output channel, else one per tensor
  bool int8_tables = true;       // int8 mode: tables INT8 with a scale per row, else FLOAT16
  // int8: layers go back to f32, most harmful first, until the mean |score
  // difference| to f32 on the calibration rows is at most this.
  double max_mean_delta = 0.002;
  WriteOptions write;            // how the file is written (names); also the f32 file it is compared with
};

/// Quantises `graph` (partitioned, assign_stages done) as `options` says and
/// returns the file bytes; prints the per-layer summary (and, with a
/// validation file, AUCs and score differences) to `log` (may be null).
/// Throws ConversionError on bad rows or options.
std::vector<uint8_t> quantize_model(const Graph& graph, const QuantizeOptions& options, FILE* log);

// ---- the pieces, for tests --------------------------------------------------

/// IEEE half, rounding to nearest even (overflow -> inf).
uint16_t float_to_half(float value);
EncodedConstant encode_float16(const std::vector<float>& values);
/// Symmetric int8 with one scale per row of a [rows, cols] matrix (axis 0):
/// scale = max|row| / 127 (a zero row gets the largest other scale, or 1).
EncodedConstant encode_int8_per_row(const std::vector<float>& values, int64_t rows, int64_t cols);
/// Symmetric int8 with one scale for the whole tensor (axis -1).
EncodedConstant encode_int8_per_tensor(const std::vector<float>& values);
/// int32 bias with scale input_scale * weight_scale[c].
EncodedConstant encode_int32_bias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales);
/// Affine int8 for values in [low, high] (widened to include 0, so 0 is exact).
ActivationQuantization quantize_range(float low, float high);
/// [low, high] of `values` by `estimator` (percentile: the 0.01% and 99.99% quantiles).
std::pair<float, float> estimate_range(std::vector<float> values, RangeEstimator estimator);
/// Area under the ROC curve of scores against 0/1 labels (ties count half); NaN without both classes.
double roc_auc(const std::vector<float>& scores, const std::vector<int>& labels);

}  // namespace edgemtl::converter
