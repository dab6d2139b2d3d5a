#include "converter/convert_api.h"

#include <set>
#include <sstream>

#include "converter/passes/passes.h"
#include "converter/writer.h"

namespace edgemtl::converter {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

const char* mode_name(QuantizeMode mode) {
  switch (mode) {
    case QuantizeMode::kInt8: return "int8";
    case QuantizeMode::kInt8Dynamic: return "int8-dynamic";
    case QuantizeMode::kFloat16: return "fp16";
    case QuantizeMode::kNone: break;
  }
  return "none";
}

template <typename T>
std::vector<std::string> name_values(const std::vector<std::pair<std::string, T>>& entries) {
  std::vector<std::string> out;
  for (const auto& [name, value] : entries) {
    std::ostringstream text;
    text << name << "=" << value;
    out.push_back(text.str());
  }
  return out;
}

}  // namespace

std::string describe_options(const ConvertOptions& options, const QuantizeOptions& quantize) {
  std::ostringstream out;
  out << "user_inputs=" << join(options.import.user_inputs) << ";tasks=";
  for (size_t i = 0; i < options.import.tasks.size(); ++i) {
    const TaskOverride& task = options.import.tasks[i];
    out << (i ? "," : "") << task.name;
    if (task.probability) out << (*task.probability ? ":prob" : ":value");
  }
  out << ";oov_row=" << options.import.oov_row << ";split=" << options.split_user_item_fc
      << ";merge_lookups=" << options.merge_lookups << ";fuse_mixtures=" << options.fuse_mixtures
      << ";quantize=" << mode_name(quantize.mode);
  // Appended only when off, so that files converted without it describe their options as before.
  if (!options.fuse_input_adds) out << ";fuse_input_adds=0";
  if (!options.merge_mixtures) out << ";merge_mixtures=0";
  if (quantize.mode == QuantizeMode::kInt8) {
    out << ";range=" << (quantize.range == RangeEstimator::kMinMax ? "minmax" : "percentile")
        << ";int8_weights=" << (quantize.per_channel ? "per-channel" : "per-tensor")
        << ";int8_tables=" << table_encoding_name(quantize.int8_tables) << ";max_mean_delta=" << quantize.max_mean_delta;
    // Appended only when not the default, so that files converted without it describe their options as before.
    if (quantize.int8_inputs != Int8Inputs::kAuto)
      out << ";int8_inputs=" << (quantize.int8_inputs == Int8Inputs::kStatic ? "static" : "dynamic");
  } else if (quantize.mode == QuantizeMode::kInt8Dynamic) {
    out << ";int8_weights=" << (quantize.per_channel ? "per-channel" : "per-tensor")
        << ";int8_tables=" << table_encoding_name(quantize.int8_tables);
  }
  out << ";keep_names=" << quantize.write.keep_names;
  // Appended only when used, so that files converted without them describe their options as before.
  const ImportOptions& import = options.import;
  if (!import.input_shapes.empty()) out << ";input_shapes=" << join(name_values(import.input_shapes));
  if (!import.fixed_inputs.empty()) out << ";fixed_inputs=" << join(name_values(import.fixed_inputs));
  if (!import.outputs.empty()) out << ";outputs=" << join(import.outputs);
  if (import.pad_lists_before) out << ";list_padding=before";
  if (import.keep_last_ids) out << ";keep_last_ids=1";
  return out.str();
}

std::vector<std::pair<std::string, std::string>> parse_metadata(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> entries;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const size_t equals = item.find('=');
    if (equals == std::string::npos) throw ConversionError("metadata entry '" + item + "' is not key=value");
    entries.emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return entries;
}

Graph convert(const std::string& onnx_path, const std::string& output_path, const ConvertOptions& options,
              QuantizeOptions quantize, const std::vector<std::pair<std::string, std::string>>& metadata,
              FILE* log) {
  std::set<std::string> keys;
  for (const auto& entry : metadata) {
    if (entry.first.empty()) throw ConversionError("metadata has an empty key");
    if (entry.first == kOptionsMetadataKey || entry.first == kFixedInputsMetadataKey ||
        entry.first == kOutputsMetadataKey)
      throw ConversionError("metadata key '" + entry.first + "' is reserved");
    if (!keys.insert(entry.first).second) throw ConversionError("metadata key '" + entry.first + "' is given twice");
  }
  quantize.write.metadata = metadata;
  // Serving-time pruning changes what the model computes: always recorded.
  const ImportOptions& import = options.import;
  if (!import.fixed_inputs.empty())
    quantize.write.metadata.emplace_back(kFixedInputsMetadataKey, join(name_values(import.fixed_inputs)));
  if (!import.outputs.empty()) quantize.write.metadata.emplace_back(kOutputsMetadataKey, join(import.outputs));
  if (!quantize.write.metadata.empty())
    quantize.write.metadata.emplace_back(kOptionsMetadataKey, describe_options(options, quantize));
  Graph graph = convert_onnx_file(onnx_path, options);
  const QuantizationPlan plan = plan_quantization(graph, quantize, log);
  if (options.fuse_input_adds) {  // after the plan, into its static int8 layers (fuse_input_adds.cc says why)
    std::set<int> static_int8;
    for (const auto& [node, layer] : plan.fully_connected)
      if (!layer.dynamic) static_int8.insert(node);
    fuse_input_adds(graph, static_int8);
  }
  const std::vector<uint8_t> file = write_model(graph, &plan, quantize.write);
  report_quantization(graph, plan, file, quantize, log);
  write_file(output_path, file);
  return graph;
}

}  // namespace edgemtl::converter
