// edgemtl-inspect: prints what a model file holds: features, tasks, the
// operators of each stage, and tensor and weight sizes.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "requests/model_file.h"
#include "runtime/executor/session.h"
#include "schema/edgemtl_generated.h"
#include "tools/flags.h"

namespace {

namespace fbs = edgemtl::schema;

const char* side_name(edgemtl::Side side) { return side == edgemtl::Side::kUser ? "user" : "item"; }

const char* kind_name(edgemtl::FeatureKind kind) {
  switch (kind) {
    case edgemtl::FeatureKind::kId: return "id";
    case edgemtl::FeatureKind::kIdList: return "id list";
    case edgemtl::FeatureKind::kDense: return "dense";
  }
  return "?";
}

std::string shape_string(const fbs::Tensor* tensor) {
  std::string out = "[";
  if (tensor->shape() != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < tensor->shape()->size(); ++i) {
      if (i > 0) out += ",";
      int64_t dim = tensor->shape()->Get(i);
      out += dim < 0 ? "n" : std::to_string(dim);
    }
  }
  return out + "]";
}

// Every vector of the root may be absent; the loader checked every index.
std::string tensor_string(const fbs::Model* root, int index) {
  if (root->tensors() == nullptr || index < 0 || static_cast<flatbuffers::uoffset_t>(index) >= root->tensors()->size())
    return "#" + std::to_string(index) + "?";
  const fbs::Tensor* tensor = root->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
  std::string name = tensor->name() != nullptr ? tensor->name()->str() : "#" + std::to_string(index);
  return name + ":" + fbs::EnumNameDType(tensor->dtype()) + shape_string(tensor);
}

// A FULLY_CONNECTED's int8 form: "int8 static", "int8 dynamic" (input_mode DYNAMIC_ROW) or "".
const char* int8_form(const fbs::Model* root, const fbs::Operator* op) {
  if (op->type() != fbs::OpType::FULLY_CONNECTED || op->inputs() == nullptr || op->inputs()->size() < 2) return "";
  const fbs::Tensor* weight = root->tensors()->Get(static_cast<flatbuffers::uoffset_t>(op->inputs()->Get(1)));
  if (weight->dtype() != fbs::DType::INT8) return "";
  const fbs::FullyConnectedOptions* options = op->options_as_FullyConnectedOptions();
  return options && options->input_mode() == fbs::InputQuantizationMode::DYNAMIC_ROW ? "int8 dynamic" : "int8 static";
}

void print_stage(const fbs::Model* root, const char* title, const fbs::Stage* stage, bool verbose) {
  size_t count = stage != nullptr && stage->operators() != nullptr ? stage->operators()->size() : 0;
  std::printf("\n%s: %zu operators\n", title, count);
  if (count == 0) return;
  std::vector<std::pair<std::string, int>> histogram;
  for (const fbs::Operator* op : *stage->operators()) {
    std::string type = fbs::EnumNameOpType(op->type());
    auto it = std::find_if(histogram.begin(), histogram.end(), [&](const auto& entry) { return entry.first == type; });
    if (it == histogram.end()) histogram.emplace_back(type, 1);
    else ++it->second;
  }
  std::printf("  ");
  for (const auto& [type, n] : histogram) std::printf(" %s x%d", type.c_str(), n);
  std::printf("\n");
  int static_int8 = 0, dynamic_int8 = 0;
  for (const fbs::Operator* op : *stage->operators()) {
    const std::string form = int8_form(root, op);
    static_int8 += form == "int8 static";
    dynamic_int8 += form == "int8 dynamic";
  }
  if (static_int8 + dynamic_int8 > 0)
    std::printf("   int8 FULLY_CONNECTED: %d static (calibrated input range), %d dynamic (range per row)\n",
                static_int8, dynamic_int8);
  if (!verbose) return;
  int position = 0;
  for (const fbs::Operator* op : *stage->operators()) {
    std::printf("  %3d %-16s %-24s ", position++, fbs::EnumNameOpType(op->type()),
                op->name() != nullptr ? op->name()->c_str() : "");
    for (flatbuffers::uoffset_t i = 0; op->inputs() != nullptr && i < op->inputs()->size(); ++i)
      std::printf("%s%s", i ? ", " : "", tensor_string(root, op->inputs()->Get(i)).c_str());
    std::printf(" -> ");
    for (flatbuffers::uoffset_t i = 0; op->outputs() != nullptr && i < op->outputs()->size(); ++i)
      std::printf("%s%s", i ? ", " : "", tensor_string(root, op->outputs()->Get(i)).c_str());
    const char* form = int8_form(root, op);
    std::printf(*form ? " (%s)" : "", form);
    // FULLY_CONNECTED's addend (4th input): which of its columns, and the activation of x + addend.
    const fbs::FullyConnectedOptions* fc = op->options_as_FullyConnectedOptions();
    if (fc != nullptr && op->inputs() != nullptr && op->inputs()->size() == 4) {
      std::printf(" (x + addend columns from %lld, %s", static_cast<long long>(fc->addend_offset()),
                  fbs::EnumNameActivation(fc->input_activation()));
      if (fc->input_activation() == fbs::Activation::LEAKY_RELU)
        std::printf(" %g", static_cast<double>(fc->input_alpha()));
      std::printf(")");
    }
    std::printf("\n");
  }
}

}  // namespace

// "checksums: ..." lines; with `verify`, checks the weights (false: a mismatch
// or no checksums to check).
bool print_checksums(const edgemtl::Model& model, bool verify) {
  const fbs::Checksums* sums = model.root()->checksums();
  if (sums == nullptr) {
    std::printf("\nchecksums: none (a file written before checksums: loads unchecked)\n");
    if (verify) std::fprintf(stderr, "edgemtl-inspect: %s\n", model.verify_weights().message());
    return !verify;
  }
  std::printf("\nchecksums (XXH3-64): FlatBuffer part [0, %llu) %016llx, checked at load\n",
              static_cast<unsigned long long>(sums->weights_offset()),
              static_cast<unsigned long long>(sums->flatbuffer_hash()));
  std::printf("  weights [%llu, %llu) %016llx: ", static_cast<unsigned long long>(sums->weights_offset()),
              static_cast<unsigned long long>(sums->weights_offset() + sums->weights_size()),
              static_cast<unsigned long long>(sums->weights_hash()));
  if (!verify) {
    std::printf("not checked (--verify checks them)\n");
    return true;
  }
  // Timed twice: the first pass also brings the mapped pages in (as the
  // first scoring would), the second is the hash alone.
  double seconds[2];
  for (double& time : seconds) {
    const auto start = std::chrono::steady_clock::now();
    const edgemtl::Status status = model.verify_weights();
    time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!status.is_ok()) {
      std::printf("MISMATCH\n");
      std::fprintf(stderr, "edgemtl-inspect: %s\n", status.message());
      return false;
    }
  }
  auto rate = [&](double time) { return time > 0 ? static_cast<double>(sums->weights_size()) / time / 1e9 : 0.0; };
  std::printf("ok, verified in %.3f ms (%.2f GB/s); again (hash alone): %.3f ms (%.2f GB/s)\n", seconds[0] * 1e3,
              rate(seconds[0]), seconds[1] * 1e3, rate(seconds[1]));
  return true;
}

constexpr const char* kUsage =
    "usage: edgemtl-inspect MODEL.emtl [--operators] [--verify] [--max-model-bytes N]\n"
    "  --operators, -v        list every operator with its tensors\n"
    "  --verify               check the weights against the file's checksum (exit 1 on a\n"
    "                         mismatch, or for a file without checksums)\n"
    "  --max-model-bytes N    largest model file (default 2147483648, 2 GiB)\n"
    "  --version              print the version and exit\n";

int main(int argc, char** argv) {
  const char* path = nullptr;
  bool verbose = false, verify = false;
  uint64_t max_model_bytes = edgemtl::requests::kDefaultMaxModelBytes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--operators") == 0 || std::strcmp(argv[i], "-v") == 0) verbose = true;
    else if (std::strcmp(argv[i], "--verify") == 0) verify = true;
    else if (std::strcmp(argv[i], "--max-model-bytes") == 0 && i + 1 < argc) {
      long long value = 0;
      std::string error;
      if (!edgemtl::tools::parse_integer_flag("--max-model-bytes", argv[++i], 1, 1LL << 62, &value, &error)) {
        std::fprintf(stderr, "edgemtl-inspect: %s\n", error.c_str());
        return 2;
      }
      max_model_bytes = static_cast<uint64_t>(value);
    } else if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      edgemtl::tools::print_version("edgemtl-inspect");
      return 0;
    } else if (path == nullptr && argv[i][0] != '-') path = argv[i];
    else {
      std::fprintf(stderr, "edgemtl-inspect: unexpected argument %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (path == nullptr) {
    std::fprintf(stderr, "edgemtl-inspect: no model file given\n%s", kUsage);
    return 2;
  }
  // --verify checks the weights after printing the rest (below), so that a
  // corrupt file is still described; the FlatBuffer part is checked here.
  const auto load_start = std::chrono::steady_clock::now();
  auto model = edgemtl::requests::load_model_file(path, max_model_bytes);
  const double load_ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count() * 1e3;
  if (!model.ok()) {
    std::fprintf(stderr, "edgemtl-inspect: %s: %s\n", path, model.status().message());
    return 1;
  }
  const fbs::Model* root = (*model)->root();
  std::printf("%s: %zu bytes, format %u, producer %s; loaded and verified in %.3f ms\n", path, (*model)->size(),
              root->format_version(), root->producer() != nullptr ? root->producer()->c_str() : "?", load_ms);

  std::printf("\nfeatures: %zu\n", (*model)->num_features());
  for (size_t i = 0; i < (*model)->num_features(); ++i) {
    edgemtl::FeatureInfo f = (*model)->feature(i);
    std::printf("  %-24s %-4s %-7s width %-4lld", f.name, side_name(f.side), kind_name(f.kind),
                static_cast<long long>(f.width));
    if (f.kind != edgemtl::FeatureKind::kDense) std::printf(" table %lld", static_cast<long long>(f.table_size));
    if (f.kind == edgemtl::FeatureKind::kIdList) std::printf(" padding %lld", static_cast<long long>(f.padding_id));
    if (f.kind == edgemtl::FeatureKind::kIdList && f.pad_before) std::printf(" (padded before the ids)");
    if (f.kind == edgemtl::FeatureKind::kIdList && f.keep_last_ids) std::printf(" (keeps the last ids)");
    std::printf("\n");
  }
  // Serving-time pruning (edgemtl-convert --fix-input / --outputs) and the other metadata.
  if (root->metadata() != nullptr && root->metadata()->size() > 0) {
    std::printf("\nmetadata: %u entries\n", root->metadata()->size());
    for (const fbs::KeyValue* entry : *root->metadata()) {
      const char* key = entry->key() != nullptr ? entry->key()->c_str() : "";
      const char* value = entry->value() != nullptr ? entry->value()->c_str() : "";
      const std::string k = key;
      if (k == "edgemtl.fixed_inputs") std::printf("  fixed inputs (folded to constants): %s\n", value);
      else if (k == "edgemtl.outputs") std::printf("  outputs kept (the others pruned): %s\n", value);
      else std::printf("  %s = %s\n", key, value);
    }
  }
  std::printf("\ntasks: %zu\n", (*model)->num_tasks());
  for (size_t i = 0; i < (*model)->num_tasks(); ++i) {
    edgemtl::TaskInfo t = (*model)->task(i);
    std::printf("  %-24s %s\n", t.name, t.kind == edgemtl::TaskKind::kProbability ? "probability" : "value");
  }

  print_stage(root, "user stage (once per request)", root->user_stage(), verbose);
  if (root->cross_stage() != nullptr) {
    print_stage(root, "item stage (once per candidate: set_candidates, or per batch in score)", root->item_stage(), verbose);
    print_stage(root, "cross stage (per batch of items: every rank and score)", root->cross_stage(), verbose);
  } else {
    print_stage(root, "item stage (per batch of items; a file without a cross stage: item and cross in one)",
                root->item_stage(), verbose);
  }
  size_t cached = root->user_to_item() != nullptr ? root->user_to_item()->size() : 0;
  std::printf("\nuser cache: %zu tensors\n", cached);
  for (size_t i = 0; i < cached; ++i)
    std::printf("  %s\n", tensor_string(root, root->user_to_item()->Get(static_cast<flatbuffers::uoffset_t>(i))).c_str());
  size_t candidate = root->item_to_cross() != nullptr ? root->item_to_cross()->size() : 0;
  std::printf("\ncandidate cache: %zu tensors per candidate%s\n", candidate,
              root->cross_stage() != nullptr ? "" : " (no cross stage: the item features are cached)");
  for (size_t i = 0; i < candidate; ++i)
    std::printf("  %s\n", tensor_string(root, root->item_to_cross()->Get(static_cast<flatbuffers::uoffset_t>(i))).c_str());

  // Weights: per dtype, and the largest constants.
  struct Constant {
    std::string name;
    size_t bytes;
    std::string dtype;
  };
  std::vector<Constant> constants;
  size_t total = 0;
  // A constant without a name (the converter stores none unless --keep-names)
  // is shown as #index and the operator that reads it.
  auto reader_of = [&](int index) -> std::string {
    for (const fbs::Stage* stage : {root->user_stage(), root->item_stage(), root->cross_stage()}) {
      if (stage == nullptr || stage->operators() == nullptr) continue;
      for (const fbs::Operator* op : *stage->operators())
        for (flatbuffers::uoffset_t i = 0; op->inputs() != nullptr && i < op->inputs()->size(); ++i)
          if (op->inputs()->Get(i) == index)
            return std::string(fbs::EnumNameOpType(op->type())) + " " + (op->name() ? op->name()->str() : "");
    }
    return "unused";
  };
  const flatbuffers::uoffset_t num_tensors = root->tensors() != nullptr ? root->tensors()->size() : 0;
  for (flatbuffers::uoffset_t index = 0; index < num_tensors; ++index) {
    const fbs::Tensor* tensor = root->tensors()->Get(index);
    if (tensor->buffer() < 0 || root->buffers() == nullptr) continue;
    const fbs::Buffer* buffer = root->buffers()->Get(static_cast<flatbuffers::uoffset_t>(tensor->buffer()));
    size_t bytes = static_cast<size_t>(buffer->size());
    if (tensor->row_params() >= 0)  // a table's per-row parameters count with it
      bytes += static_cast<size_t>(root->buffers()->Get(static_cast<flatbuffers::uoffset_t>(tensor->row_params()))->size());
    constants.push_back({tensor->name() != nullptr
                             ? tensor->name()->str()
                             : "#" + std::to_string(index) + " (" + reader_of(static_cast<int>(index)) + ")",
                         bytes, fbs::EnumNameDType(tensor->dtype()) + shape_string(tensor)});
    total += bytes;
  }
  std::sort(constants.begin(), constants.end(), [](const Constant& a, const Constant& b) { return a.bytes > b.bytes; });
  std::printf("\nweights: %zu constants, %zu bytes (%.1f%% of the file)\n", constants.size(), total,
              (*model)->size() ? 100.0 * static_cast<double>(total) / static_cast<double>((*model)->size()) : 0.0);
  for (size_t i = 0; i < constants.size() && i < (verbose ? constants.size() : 8); ++i)
    std::printf("  %10zu  %-28s %s\n", constants[i].bytes, constants[i].dtype.c_str(), constants[i].name.c_str());

  // Embedding tables: how each is stored (edgemtl-convert --int8-tables) and its bytes against f32.
  std::vector<int> tables;
  for (const fbs::Stage* stage : {root->user_stage(), root->item_stage(), root->cross_stage()}) {
    if (stage == nullptr || stage->operators() == nullptr) continue;
    for (const fbs::Operator* op : *stage->operators())
      if ((op->type() == fbs::OpType::EMBEDDING || op->type() == fbs::OpType::EMBEDDING_MULTI ||
           op->type() == fbs::OpType::BAG) &&
          op->inputs() != nullptr && op->inputs()->size() > 0 &&
          std::find(tables.begin(), tables.end(), op->inputs()->Get(0)) == tables.end())
        tables.push_back(op->inputs()->Get(0));
  }
  std::printf("\nembedding tables: %zu (encoding, shape, bytes with per-row parameters, x of f32)\n", tables.size());
  for (int index : tables) {
    const fbs::Tensor* tensor = root->tensors()->Get(static_cast<flatbuffers::uoffset_t>(index));
    const std::string name = tensor->name() != nullptr ? tensor->name()->str()
                                                       : "#" + std::to_string(index) + " (" + reader_of(index) + ")";
    size_t bytes = 0;
    if (tensor->buffer() >= 0)
      bytes = static_cast<size_t>(root->buffers()->Get(static_cast<flatbuffers::uoffset_t>(tensor->buffer()))->size());
    if (tensor->row_params() >= 0)
      bytes += static_cast<size_t>(root->buffers()->Get(static_cast<flatbuffers::uoffset_t>(tensor->row_params()))->size());
    if (tensor->quantization() != nullptr && tensor->quantization()->scale() != nullptr)
      bytes += tensor->quantization()->scale()->size() * sizeof(float);  // INT8: f32 row scales in the FlatBuffer
    double elements = 1.0;
    for (flatbuffers::uoffset_t d = 0; tensor->shape() != nullptr && d < tensor->shape()->size(); ++d)
      elements *= static_cast<double>(tensor->shape()->Get(d));
    std::printf("  %-18s %-20s %10zu  x%.3f  %s\n", fbs::EnumNameDType(tensor->dtype()), shape_string(tensor).c_str(),
                bytes, elements > 0 ? static_cast<double>(bytes) / (4.0 * elements) : 0.0, name.c_str());
  }

  const bool checked = print_checksums(**model, verify);

  auto session = edgemtl::Session::create(**model, edgemtl::SessionOptions{});
  if (session.ok()) {
    std::printf("\nsession (max_items 4096): arena %zu bytes, packed weights %zu bytes\n", (*session)->arena_bytes(),
                (*session)->packed_weight_bytes());
    std::printf("candidate cache (set_candidates, max_items 4096): %zu bytes, %zu per candidate\n",
                (*session)->candidate_cache_bytes(), (*session)->candidate_cache_bytes() / 4096);
  } else {
    std::printf("\nsession (default options): cannot be created: %s\n", session.status().message());
  }
  return checked ? 0 : 1;
}
