// The table from ONNX op type to handler, gathered from the family files.
#include <algorithm>

#include "converter/import/importer.h"
#include "converter/onnx_import.h"

namespace edgemtl::converter {
namespace {

const std::unordered_map<std::string, OnnxHandler>& handler_table() {
  static const auto table = [] {
    std::unordered_map<std::string, OnnxHandler> handlers;
    for (auto family : {activation_onnx_ops, constant_onnx_ops, elementwise_onnx_ops, gemm_matmul_onnx_ops,
                        indexing_onnx_ops, normalization_onnx_ops, reduce_onnx_ops, shape_onnx_ops,
                        recurrent_onnx_ops})
      for (const OnnxOp& op : family())
        if (!handlers.emplace(op.type, op.lower).second)
          throw ConversionError(std::string("internal error: two handlers for ONNX ") + op.type);
    return handlers;
  }();
  return table;
}

}  // namespace

OnnxHandler onnx_handler(const std::string& type) {
  auto found = handler_table().find(type);
  return found == handler_table().end() ? nullptr : found->second;
}

std::vector<std::string> supported_onnx_ops() {
  std::vector<std::string> types;
  for (const auto& [type, handler] : handler_table()) types.push_back(type);
  std::sort(types.begin(), types.end());
  return types;
}

}  // namespace edgemtl::converter
