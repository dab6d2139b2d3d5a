// libFuzzer target: arbitrary bytes as an ONNX file through the converter's
// whole pipeline (import with constant folding, every pass, the writer).
// Bad input must end in an exception naming the problem, never a crash, a hang
// or a huge allocation; a model the converter writes must load in the runtime.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "converter/pipeline.h"
#include "converter/writer.h"
#include "runtime/format/model.h"
#include "tests/fuzz/fuzz_inputs.h"

namespace {

// The user-side inputs of the committed fixtures: a graph that has some of
// them is converted again with those on the user side, so that the user/item
// split and the passes after it run too.
const char* const kUserInputs[] = {
    "user_id", "user_segment", "click_history", "ctx_weekday", "userId", "userGender", "userClickSeq",
    "ctxFeatures", "user.id", "user.age", "user.hist_items", "user.dense", "uid", "ctx:hour", "hist-items",
    "u_dense", "hist", "user_level", "behavior_seq", "device_type", "UserID", "UserHistory", "UserProfile",
    "user city", "context_hour", "user_activity", "user_history"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgemtl;
  std::vector<uint8_t> written;
  try {
    const std::string onnx(reinterpret_cast<const char*>(data), size);
    converter::ConvertOptions options;
    converter::Graph graph = converter::import_onnx_bytes(onnx, options.import);
    for (const converter::Feature& feature : graph.features)
      for (const char* name : kUserInputs)
        if (feature.name == name) options.import.user_inputs.push_back(name);
    if (!options.import.user_inputs.empty()) graph = converter::import_onnx_bytes(onnx, options.import);
    converter::run_pipeline(graph, options);
    written = converter::write_model(graph);
  } catch (const std::exception&) {
    return 0;  // refused, with a message
  }
  fuzz::AlignedBytes bytes(written.data(), written.size());
  if (!Model::load_buffer(bytes.data(), bytes.size()).ok()) __builtin_trap();
  return 0;
}
