// The converter as one call (what edgemtl-convert does after parsing its
// flags), for the Python binding and other hosts.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "converter/pipeline.h"
#include "converter/quantize.h"

namespace edgemtl::converter {

/// Key of the metadata entry that records the conversion options
/// (written together with the caller's entries, only when there are some).
constexpr const char* kOptionsMetadataKey = "edgemtl.convert_options";
/// Keys of the serving-time pruning entries, written whenever --fix-input / --outputs
/// are used: "NAME=VALUE,..." and "NAME,...".
constexpr const char* kFixedInputsMetadataKey = "edgemtl.fixed_inputs";
constexpr const char* kOutputsMetadataKey = "edgemtl.outputs";

/// The options that change the file, one `name=value` per option joined by
/// ';' in a fixed order, e.g. "user_inputs=a,b;tasks=ctr:prob;split=1;...".
std::string describe_options(const ConvertOptions& options, const QuantizeOptions& quantize);

/// Parses `key=value,key=value` ('=' required; convert() checks the keys).
/// Throws ConversionError naming the bad entry.
std::vector<std::pair<std::string, std::string>> parse_metadata(const std::string& text);

/// ONNX file -> .emtl file. With `metadata`, the file's Model.metadata holds
/// those entries followed by kOptionsMetadataKey = describe_options(...);
/// without, nothing is added (the file is what earlier converters wrote).
/// Keys must be non-empty, unique and not kOptionsMetadataKey.
/// Progress and quantisation reports go to `log` (may be null). Returns the
/// converted graph (for summaries). Throws ConversionError / std::exception.
Graph convert(const std::string& onnx_path, const std::string& output_path, const ConvertOptions& options,
              QuantizeOptions quantize, const std::vector<std::pair<std::string, std::string>>& metadata,
              FILE* log);

}  // namespace edgemtl::converter
