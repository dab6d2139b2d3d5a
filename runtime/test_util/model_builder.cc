#include "runtime/test_util/model_builder.h"

#include "runtime/format/checksum.h"
#include "runtime/format/model.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace edgemtl {
namespace test {
namespace {

constexpr uint64_t kAlign = 64;
uint64_t round_up(uint64_t value) { return (value + kAlign - 1) / kAlign * kAlign; }

}  // namespace

ModelBytes ModelBytes::copy_of(const uint8_t* source, size_t size) {
  ModelBytes bytes;
  const size_t allocated = round_up(size == 0 ? 1 : size);
  bytes.data = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(std::aligned_alloc(kAlign, allocated)), std::free);
  if (size) std::memcpy(bytes.data.get(), source, size);
  bytes.size = size;
  return bytes;
}

bool ModelBytes::write_file(const std::string& path) const {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return false;
  const bool ok = std::fwrite(data.get(), 1, size, file) == size;
  return std::fclose(file) == 0 && ok;
}

int ModelBuilder::add_activation(const std::string& name, schema::DType dtype, std::vector<int64_t> shape) {
  tensors_.push_back({name, dtype, std::move(shape), -1});
  return static_cast<int>(tensors_.size() - 1);
}

int ModelBuilder::add_constant(const std::string& name, schema::DType dtype, std::vector<int64_t> shape,
                               const void* data, size_t bytes) {
  BufferSpec buffer;
  buffer.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
  buffers_.push_back(std::move(buffer));
  tensors_.push_back({name, dtype, std::move(shape), static_cast<int>(buffers_.size() - 1)});
  return static_cast<int>(tensors_.size() - 1);
}

int ModelBuilder::add_constant_f32(const std::string& name, std::vector<int64_t> shape,
                                   const std::vector<float>& values) {
  return add_constant(name, schema::DType::FLOAT32, std::move(shape), values.data(), values.size() * sizeof(float));
}

void ModelBuilder::set_quantization(int tensor, std::vector<float> scales, std::vector<int64_t> zero_points, int axis) {
  quantization_[tensor] = QuantizationSpec{std::move(scales), std::move(zero_points), axis};
}

int ModelBuilder::add_row_params(int tensor, const void* data, size_t bytes) {
  BufferSpec buffer;
  buffer.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
  buffers_.push_back(std::move(buffer));
  row_params_[tensor] = static_cast<int>(buffers_.size() - 1);
  return row_params_[tensor];
}

int ModelBuilder::add_raw_buffer(uint64_t offset, uint64_t size) {
  BufferSpec buffer;
  buffer.raw = true;
  buffer.raw_offset = offset;
  buffer.raw_size = size;
  buffers_.push_back(std::move(buffer));
  return static_cast<int>(buffers_.size() - 1);
}

int ModelBuilder::add_constant_on_buffer(const std::string& name, schema::DType dtype, std::vector<int64_t> shape,
                                         int buffer) {
  tensors_.push_back({name, dtype, std::move(shape), buffer});
  return static_cast<int>(tensors_.size() - 1);
}

int ModelBuilder::add_feature(const std::string& name, schema::Side side, schema::FeatureKind kind, int64_t width,
                              int64_t table_size, int64_t padding_id) {
  std::vector<int64_t> shape = {-1};
  schema::DType dtype = kind == schema::FeatureKind::DENSE ? schema::DType::FLOAT32 : schema::DType::INT64;
  if (kind == schema::FeatureKind::ID_LIST || (kind == schema::FeatureKind::DENSE && width > 1))
    shape.push_back(width);
  const int tensor = add_activation(name, dtype, shape);
  features_.push_back({name, side, kind, width, table_size, padding_id, tensor});
  return static_cast<int>(features_.size() - 1);
}

void ModelBuilder::add_task(const std::string& name, schema::TaskKind kind, int tensor, int64_t column) {
  tasks_.push_back({name, kind, tensor, column});
}

void ModelBuilder::add_op(Stage stage, schema::OpType type, std::vector<int> inputs, std::vector<int> outputs,
                          schema::OpOptions options_type, OptionsFn options, const std::string& name) {
  ops_.push_back({stage, type, std::move(inputs), std::move(outputs), options_type, std::move(options), name});
}

std::vector<uint8_t> ModelBuilder::build_flatbuffer(uint64_t weights_start, uint64_t file_size) const {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<schema::Tensor>> tensors;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const TensorSpec& t = tensors_[i];
    flatbuffers::Offset<schema::Quantization> quantization = 0;
    auto q = quantization_.find(static_cast<int>(i));
    if (q != quantization_.end())
      quantization = schema::CreateQuantizationDirect(
          fbb, &q->second.scales, q->second.zero_points.empty() ? nullptr : &q->second.zero_points, q->second.axis);
    auto params = row_params_.find(static_cast<int>(i));
    tensors.push_back(schema::CreateTensorDirect(fbb, t.name.c_str(), t.dtype, &t.shape, t.buffer, quantization,
                                                 params == row_params_.end() ? -1 : params->second));
  }
  std::vector<schema::Buffer> buffers;
  uint64_t offset = weights_start;
  for (const BufferSpec& b : buffers_) {
    if (b.raw) {
      buffers.emplace_back(b.raw_offset, b.raw_size);
    } else {
      buffers.emplace_back(offset, b.bytes.size());
      offset = round_up(offset + b.bytes.size());
    }
  }
  std::vector<flatbuffers::Offset<schema::Feature>> features;
  for (const FeatureSpec& f : features_)
    features.push_back(schema::CreateFeatureDirect(fbb, f.name.c_str(), f.side, f.kind, f.width, f.padding_id,
                                                   f.table_size, f.tensor, f.accepts_nan));
  std::vector<flatbuffers::Offset<schema::Task>> tasks;
  for (const TaskSpec& t : tasks_)
    tasks.push_back(schema::CreateTaskDirect(fbb, t.name.c_str(), t.kind, t.tensor, t.column));
  std::vector<flatbuffers::Offset<schema::Operator>> stage_ops[2];
  for (const OpSpec& op : ops_) {
    const flatbuffers::Offset<void> options = op.options ? op.options(fbb) : flatbuffers::Offset<void>();
    stage_ops[op.stage].push_back(schema::CreateOperatorDirect(fbb, op.type, &op.inputs, &op.outputs, op.options_type,
                                                               options, op.name.c_str()));
  }
  const auto user_stage = schema::CreateStageDirect(fbb, &stage_ops[0]);
  const auto item_stage = schema::CreateStageDirect(fbb, &stage_ops[1]);
  // Hashes filled in by seal_checksums in finish().
  const schema::Checksums sums(weights_start, file_size - weights_start, 0, 0);
  const auto root = schema::CreateModelDirect(fbb, format_version, "model_builder", &tensors, &buffers, &features,
                                              &tasks, user_stage, item_stage, &user_to_item_, nullptr, 0, nullptr,
                                              checksums ? &sums : nullptr);
  schema::FinishModelBuffer(fbb, root);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

ModelBytes ModelBuilder::finish() const {
  // The FlatBuffer's size does not depend on the offset values it stores, so
  // build once to learn where the weights start, then again with real offsets.
  const uint64_t weights_start = round_up(build_flatbuffer(0, 0).size());
  // The file ends padded to a multiple of 64, like the converter writes it.
  uint64_t total = weights_start;
  for (const BufferSpec& b : buffers_)
    if (!b.raw) total = round_up(total + b.bytes.size());
  const std::vector<uint8_t> flatbuffer = build_flatbuffer(weights_start, total);
  std::vector<uint8_t> file(total, 0);
  std::memcpy(file.data(), flatbuffer.data(), flatbuffer.size());
  uint64_t offset = weights_start;
  for (const BufferSpec& b : buffers_) {
    if (b.raw) continue;
    if (!b.bytes.empty()) std::memcpy(file.data() + offset, b.bytes.data(), b.bytes.size());
    offset = round_up(offset + b.bytes.size());
  }
  ModelBytes bytes = ModelBytes::copy_of(file.data(), file.size());
  // A file the verifier refuses may still seal (a bad index, a bad shape);
  // one whose FlatBuffer does not verify keeps zero hashes.
  if (checksums) (void)seal_checksums(bytes.get(), bytes.size);
  return bytes;
}

ModelBuilder::OptionsFn fc_options(schema::Activation activation, float alpha) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateFullyConnectedOptions(fbb, activation, alpha).Union();
  };
}
ModelBuilder::OptionsFn fc_addend_options(schema::Activation activation, schema::Activation input_activation,
                                          int64_t addend_offset, float input_alpha) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateFullyConnectedOptions(fbb, activation, 0.01f, 0, 0, schema::InputQuantizationMode::STATIC,
                                               input_activation, addend_offset, input_alpha)
        .Union();
  };
}
ModelBuilder::OptionsFn quantized_fc_options(schema::Activation activation, float input_scale,
                                             int64_t input_zero_point, float output_scale, int64_t output_zero_point) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    std::vector<float> in_scale{input_scale}, out_scale{output_scale};
    std::vector<int64_t> in_zero{input_zero_point}, out_zero{output_zero_point};
    auto input = schema::CreateQuantizationDirect(fbb, &in_scale, &in_zero, -1);
    auto output = schema::CreateQuantizationDirect(fbb, &out_scale, &out_zero, -1);
    return schema::CreateFullyConnectedOptions(fbb, activation, 0.01f, input, output).Union();
  };
}
ModelBuilder::OptionsFn dynamic_fc_options(schema::Activation activation) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateFullyConnectedOptions(fbb, activation, 0.01f, 0, 0, schema::InputQuantizationMode::DYNAMIC_ROW)
        .Union();
  };
}
ModelBuilder::OptionsFn binary_options(schema::Activation activation, float alpha) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateBinaryOptions(fbb, activation, alpha).Union(); };
}
ModelBuilder::OptionsFn gather_options(int64_t default_row) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateGatherOptions(fbb, default_row).Union(); };
}
ModelBuilder::OptionsFn axis_options(int axis) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateAxisOptions(fbb, axis).Union(); };
}
ModelBuilder::OptionsFn take_options(int axis, std::vector<int64_t> indices) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateTakeOptionsDirect(fbb, axis, &indices).Union();
  };
}
ModelBuilder::OptionsFn take_range_options(int axis, int64_t start, int64_t count, std::vector<int64_t> indices) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    auto list = indices.empty() ? flatbuffers::Offset<flatbuffers::Vector<int64_t>>() : fbb.CreateVector(indices);
    return schema::CreateTakeOptions(fbb, axis, list, start, count).Union();
  };
}
ModelBuilder::OptionsFn reduce_options(std::vector<int> axes, bool keepdims) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) {
    return schema::CreateReduceOptionsDirect(fbb, &axes, keepdims).Union();
  };
}
ModelBuilder::OptionsFn transpose_options(std::vector<int> perm) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateTransposeOptionsDirect(fbb, &perm).Union(); };
}
ModelBuilder::OptionsFn cast_options(schema::DType to) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateCastOptions(fbb, to).Union(); };
}
ModelBuilder::OptionsFn activation_options(float alpha) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateActivationOptions(fbb, alpha).Union(); };
}
ModelBuilder::OptionsFn clip_options(float min, float max) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateClipOptions(fbb, min, max).Union(); };
}
ModelBuilder::OptionsFn unary_options(schema::UnaryFunction function, float exponent) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateUnaryOptions(fbb, function, exponent).Union(); };
}
ModelBuilder::OptionsFn compare_options(schema::ComparePredicate predicate) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateCompareOptions(fbb, predicate).Union(); };
}
ModelBuilder::OptionsFn logical_options(schema::LogicalFunction function) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateLogicalOptions(fbb, function).Union(); };
}
ModelBuilder::OptionsFn is_inf_options(bool positive, bool negative) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateIsInfOptions(fbb, positive, negative).Union(); };
}
ModelBuilder::OptionsFn layer_norm_options(int axis, float epsilon) {
  return [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateLayerNormOptions(fbb, axis, epsilon).Union(); };
}

Status load_status(const ModelBytes& bytes) {
  auto loaded = Model::load_buffer(bytes.get(), bytes.size);
  return loaded.ok() ? Status::ok() : loaded.status();
}

}  // namespace test
}  // namespace edgemtl
