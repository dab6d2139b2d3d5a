#include "converter/writer.h"

#include <cstring>
#include <fstream>
#include <map>

#include "converter/ir_ops/ir_ops.h"
#include "converter/partition.h"
#include "converter/schema_mapping.h"
#include "runtime/format/checksum.h"

namespace edgemtl::converter {
namespace fb = edgemtl::schema;
namespace {

std::vector<uint8_t> constant_bytes(const Value& v) {
  std::vector<uint8_t> bytes;
  switch (v.dtype) {
    case DType::kFloat32:
      bytes.resize(v.floats.size() * sizeof(float));
      std::memcpy(bytes.data(), v.floats.data(), bytes.size());
      break;
    case DType::kInt64:
      bytes.resize(v.ints.size() * sizeof(int64_t));
      std::memcpy(bytes.data(), v.ints.data(), bytes.size());
      break;
    case DType::kBool:
      for (int64_t b : v.ints) bytes.push_back(b ? 1 : 0);
      break;
  }
  return bytes;
}

uint64_t align64(uint64_t x) { return (x + 63) / 64 * 64; }

// Options table of one operator (its rules in ir_ops/ write it); `fc_quantization`
// for an INT8 fully-connected node.
std::pair<fb::OpOptions, flatbuffers::Offset<void>> options_of(flatbuffers::FlatBufferBuilder& b, const Node& n,
                                                               const FullyConnectedQuantization* fc_quantization) {
  const OpRules& rules = op_rules(n.op);
  if (!rules.write_options) return {fb::OpOptions::NONE, 0};
  const FileOptions written = rules.write_options(OptionsWriter{b, n, fc_quantization});
  return {written.type, written.table};
}

struct Layout {
  std::vector<int> tensor_of;              // value -> tensor index or -1
  std::vector<int> values;                 // tensor index -> value
  std::vector<int> buffer_of;              // tensor index -> buffer index or -1
  std::vector<int> row_params_of;          // tensor index -> buffer of its per-row parameters or -1
  std::vector<std::vector<uint8_t>> data;  // buffer index -> bytes
};

const EncodedConstant* find_encoded(const QuantizationPlan* plan, int value) {
  if (!plan) return nullptr;
  auto found = plan->constants.find(value);
  return found == plan->constants.end() ? nullptr : &found->second;
}

Layout layout_of(const Graph& g, const QuantizationPlan* plan) {
  Layout l;
  std::vector<bool> used(g.values.size(), false);
  for (const Feature& f : g.features) used[f.value] = true;
  for (const Task& t : g.tasks) used[t.value] = true;
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    for (int v : n.inputs) used[v] = true;
    for (int v : n.outputs) used[v] = true;
  }
  l.tensor_of.assign(g.values.size(), -1);
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (!used[v]) continue;
    const Value& value = g.values[v];
    if (value.has_rows_symbol())
      throw ConversionError("internal error: constant '" + value.name + "' holding the row count reached the file");
    l.tensor_of[v] = static_cast<int>(l.values.size());
    l.values.push_back(static_cast<int>(v));
    l.row_params_of.push_back(-1);
    if (value.is_constant) {
      l.buffer_of.push_back(static_cast<int>(l.data.size()));
      const EncodedConstant* encoded = find_encoded(plan, static_cast<int>(v));
      l.data.push_back(encoded ? encoded->bytes : constant_bytes(value));
      if (encoded && !encoded->row_params.empty()) {  // the table's per-row parameters: the next buffer
        l.row_params_of.back() = static_cast<int>(l.data.size());
        l.data.push_back(encoded->row_params);
      }
    } else {
      l.buffer_of.push_back(-1);
    }
  }
  return l;
}

// Builds the FlatBuffer with constants placed from `weights_begin` on.
flatbuffers::DetachedBuffer build(const Graph& g, const Layout& l, uint64_t weights_begin,
                                  const QuantizationPlan* plan, const WriteOptions& options) {
  flatbuffers::FlatBufferBuilder b(1 << 16);
  // Equal names (a feature and its input tensor, the operators a stacked or
  // split FC became) are stored once.
  auto name = [&](const std::string& s) { return b.CreateSharedString(s); };
  // Without keep_names only feature input tensors keep their names (shared
  // with the feature's): the names of constants and intermediate activations
  // are debugging aids the runtime does not need.
  std::vector<bool> named(g.values.size(), options.keep_names);
  for (const Feature& f : g.features) named[f.value] = true;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (size_t t = 0; t < l.values.size(); ++t) {
    const Value& v = g.values[l.values[t]];
    const EncodedConstant* encoded = find_encoded(plan, l.values[t]);
    flatbuffers::Offset<fb::Quantization> quantization = 0;
    if (encoded && encoded->type == StoredType::kInt8)
      quantization = fb::CreateQuantizationDirect(b, &encoded->scales, nullptr, encoded->axis);
    auto tensor_name = named[l.values[t]] ? name(v.name) : flatbuffers::Offset<flatbuffers::String>();
    tensors.push_back(fb::CreateTensor(b, tensor_name, encoded ? to_schema(encoded->type) : to_schema(v.dtype),
                                       b.CreateVector(v.shape), l.buffer_of[t], quantization,
                                       l.row_params_of[t]));
  }
  std::vector<fb::Buffer> buffers;
  uint64_t offset = weights_begin;
  for (const auto& bytes : l.data) {
    buffers.emplace_back(offset, bytes.size());
    offset = align64(offset + bytes.size());
  }
  std::vector<flatbuffers::Offset<fb::Feature>> features;
  for (const Feature& f : g.features) {
    fb::FeatureKind kind = f.kind == FeatureKind::kId ? fb::FeatureKind::ID
                         : f.kind == FeatureKind::kIdList ? fb::FeatureKind::ID_LIST : fb::FeatureKind::DENSE;
    features.push_back(fb::CreateFeature(b, name(f.name), f.user ? fb::Side::USER : fb::Side::ITEM, kind, f.width,
                                               f.padding_id, f.table_size, l.tensor_of[f.value],
                                               f.kind == FeatureKind::kDense && f.accepts_nan,
                                               f.pad_before ? fb::ListPadding::BEFORE : fb::ListPadding::AFTER,
                                               f.keep_last));
  }
  std::vector<flatbuffers::Offset<fb::Task>> tasks;
  for (const Task& t : g.tasks)
    tasks.push_back(fb::CreateTask(b, name(t.name), t.probability ? fb::TaskKind::PROBABILITY : fb::TaskKind::VALUE,
                                         l.tensor_of[t.value], t.column));
  auto stage = [&](Side side) {
    std::vector<flatbuffers::Offset<fb::Operator>> ops;
    for (size_t index = 0; index < g.nodes.size(); ++index) {
      const Node& n = g.nodes[index];
      if (n.dead || n.stage != side) continue;
      std::vector<int32_t> inputs, outputs;
      for (int v : n.inputs) inputs.push_back(l.tensor_of[v]);
      for (int v : n.outputs) outputs.push_back(l.tensor_of[v]);
      const FullyConnectedQuantization* fc_quantization = nullptr;
      if (plan) {
        auto found = plan->fully_connected.find(static_cast<int>(index));
        if (found != plan->fully_connected.end()) fc_quantization = &found->second;
      }
      auto [type, options] = options_of(b, n, fc_quantization);
      auto input_vector = b.CreateVector(inputs);
      auto output_vector = b.CreateVector(outputs);
      auto op_name = name(n.name);
      ops.push_back(fb::CreateOperator(b, to_schema(n.op), input_vector, output_vector, type, options, op_name));
    }
    return fb::CreateStageDirect(b, &ops);
  };
  auto user_stage = stage(Side::kUser);
  auto item_stage = stage(Side::kItem);
  auto cross_stage = stage(Side::kCross);
  std::vector<int32_t> crossing, cached;
  for (int v : user_to_item(g)) crossing.push_back(l.tensor_of[v]);
  for (int v : item_to_cross(g)) cached.push_back(l.tensor_of[v]);
  std::vector<flatbuffers::Offset<fb::KeyValue>> metadata;
  for (const auto& [key, text] : options.metadata) metadata.push_back(fb::CreateKeyValueDirect(b, key.c_str(), text.c_str()));
  // The hashes are filled in by seal_checksums once the file is assembled;
  // `offset` is now the end of the file (the last constant's padded end).
  const fb::Checksums checksums(weights_begin, offset - weights_begin, 0, 0);
  auto model = fb::CreateModelDirect(b, kFormatVersion, kProducer, &tensors, &buffers, &features, &tasks, user_stage,
                                     item_stage, &crossing, metadata.empty() ? nullptr : &metadata, cross_stage,
                                     &cached, &checksums);
  fb::FinishModelBuffer(b, model);
  return b.Release();
}

}  // namespace

std::vector<uint8_t> write_model(const Graph& g, const QuantizationPlan* plan, const WriteOptions& options) {
  Layout l = layout_of(g, plan);
  // The FlatBuffer's size does not depend on the offsets (Buffer is a struct):
  // build once to learn where the weights start, then for real.
  const uint64_t weights_begin = align64(build(g, l, 0, plan, options).size());
  flatbuffers::DetachedBuffer fbuf = build(g, l, weights_begin, plan, options);
  if (align64(fbuf.size()) != weights_begin) throw ConversionError("internal error: FlatBuffer size changed");
  std::vector<uint8_t> file(fbuf.data(), fbuf.data() + fbuf.size());
  for (const auto& bytes : l.data) {
    file.resize(align64(file.size()), 0);
    file.insert(file.end(), bytes.begin(), bytes.end());
  }
  file.resize(align64(file.size()), 0);
  const Status sealed = seal_checksums(file.data(), file.size());
  if (!sealed.is_ok()) throw ConversionError(std::string("internal error: ") + sealed.message());
  return file;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw ConversionError("cannot write '" + path + "'");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ConversionError("error writing '" + path + "'");
}

}  // namespace edgemtl::converter
