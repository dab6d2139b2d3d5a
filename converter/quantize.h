// Quantisation of a converted graph: fp16 weights, or int8 fully-connected
// layers (static activation ranges from calibration rows) and int8 embedding
// tables. Which layers stay f32 is decided by measurement: the converter scores
// the calibration rows with the edgemtl runtime, f32 against quantised.
// The jobs: quantize/encode.cc (stored forms), quantize/calibration.cc (rows
// and the runtime), quantize/plan.cc (the per-layer search), quantize/report.cc.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize/encode.h"
#include "converter/quantize/ranking.h"
#include "converter/quantize_plan.h"
#include "converter/writer.h"

namespace edgemtl::converter {

// kInt8: per layer f32, static or dynamic int8, chosen on calibration rows;
// kInt8Dynamic: every eligible layer dynamic int8, no calibration.
enum class QuantizeMode { kNone, kFloat16, kInt8, kInt8Dynamic };
// kInt8: the int8 forms the plan may choose per layer (--int8-inputs).
enum class Int8Inputs { kAuto, kStatic, kDynamic };

/// How int8 mode stores embedding tables (--int8-tables): int8 rows with a half
/// scale, 4-bit rows with a half scale and offset, fp16 rows, chosen per table by
/// measurement, or 4-bit rows with a one-byte index per row into the table's
/// codebook of scales (docs/QUANTIZATION.md, "Embedding tables").
enum class TableEncoding { kInt8, kInt4, kFloat16, kAuto, kInt4Codebook };
const char* table_encoding_name(TableEncoding encoding);

struct QuantizeOptions {
  QuantizeMode mode = QuantizeMode::kNone;
  std::string calibration_path;  // JSONL rows or requests; required for int8 (not int8-dynamic)
  std::string validation_path;   // JSONL rows or requests; optional report
  RangeEstimator range = RangeEstimator::kPercentile;  // measured: docs/QUANTIZATION.md
  bool per_channel = true;       // FC weight scales per output channel, else one per tensor
  TableEncoding int8_tables = TableEncoding::kInt8;  // int8 mode: how tables are stored
  Int8Inputs int8_inputs = Int8Inputs::kAuto;  // kInt8: static, dynamic or the better of both per layer
  // int8: layers go back to f32, most harmful first, until the mean |score
  // difference| to f32 on the calibration rows is at most this.
  double max_mean_delta = 0.002;
  // int8: ... and until every task ranks each calibration request's items as
  // f32 does, to this target (docs/QUANTIZATION.md).
  RankingTarget ranking;
  WriteOptions write;            // how the file is written (names); also the f32 file it is compared with
};

/// What to store quantised in `graph` (partitioned, assign_stages done), as
/// `options` say: empty for QuantizeMode::kNone. int8 scores the calibration
/// rows with the runtime and prints the per-layer decision to `log` (may be
/// null). Throws ConversionError on bad rows or options.
QuantizationPlan plan_quantization(const Graph& graph, const QuantizeOptions& options, FILE* log);

/// For a quantised `file` (write_model of `graph` with `plan`): the per-layer
/// sizes, the file size against f32 and, with a validation file, AUCs and score
/// differences, to `log`. Nothing without a log or for QuantizeMode::kNone.
void report_quantization(const Graph& graph, const QuantizationPlan& plan, const std::vector<uint8_t>& file,
                         const QuantizeOptions& options, FILE* log);

}  // namespace edgemtl::converter
