// IR -> .emtl file: the FlatBuffer (schema/edgemtl.fbs) followed by the weight
// segment, every constant at a 64-byte aligned absolute offset.
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"

namespace edgemtl::converter {

constexpr const char* kProducer = "edgemtl-convert 0.1";
constexpr unsigned kFormatVersion = 1;

/// Serializes a partitioned graph (assign_stages done). Deterministic.
std::vector<uint8_t> write_model(const Graph& graph);

void write_file(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace edgemtl::converter
