// IR -> .emtl file: the FlatBuffer (schema/edgemtl.fbs) followed by the weight
// segment, every constant at a 64-byte aligned absolute offset.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize_plan.h"

namespace edgemtl::converter {

constexpr const char* kProducer = "edgemtl-convert 0.1";
constexpr unsigned kFormatVersion = 1;

struct WriteOptions {
  // Also store the names of constants and intermediate activations (debugging
  // aids: edgemtl-inspect, error messages). Feature, task and operator names
  // and the names of feature input tensors are always stored.
  bool keep_names = false;
  // Model.metadata, in this order; nothing is written when empty (the file is
  // then byte-identical to one from a converter without metadata support).
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// Serializes a partitioned graph (assign_stages done). Deterministic.
/// `plan` (may be null) stores some constants as FLOAT16 / INT8 / INT32 and
/// gives INT8 fully-connected nodes their activation quantisation.
std::vector<uint8_t> write_model(const Graph& graph, const QuantizationPlan* plan = nullptr,
                                 const WriteOptions& options = {});

void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace edgemtl::converter
