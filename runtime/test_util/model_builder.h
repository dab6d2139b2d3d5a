// ModelBuilder (tests only): writes .emtl bytes for tiny hand-made models,
// following the file contract: the FlatBuffer first, then each constant's
// bytes at an absolute, 64-byte aligned offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace test {

/// Bytes of a model file in 64-byte aligned memory (for Model::load_buffer).
struct ModelBytes {
  std::shared_ptr<uint8_t> data;
  size_t size = 0;
  uint8_t* get() const { return data.get(); }
  /// Copies `size` bytes of `source` into fresh aligned memory.
  static ModelBytes copy_of(const uint8_t* source, size_t size);
  /// Writes the bytes to `path`; returns false on failure.
  bool write_file(const std::string& path) const;
};

class ModelBuilder {
 public:
  using OptionsFn = std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)>;
  enum Stage { kUser = 0, kItem = 1 };

  /// An activation; `shape` includes the leading -1.
  int add_activation(const std::string& name, schema::DType dtype, std::vector<int64_t> shape);
  /// A constant whose bytes are stored in the weight segment.
  int add_constant(const std::string& name, schema::DType dtype, std::vector<int64_t> shape, const void* data,
                   size_t bytes);
  int add_constant_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values);
  /// A Buffer entry with a literal offset and size (for corrupt-file tests);
  /// returns the buffer index. Use with add_constant_on_buffer.
  int add_raw_buffer(uint64_t offset, uint64_t size);
  int add_constant_on_buffer(const std::string& name, schema::DType dtype, std::vector<int64_t> shape, int buffer);

  /// Stores `bytes` bytes of `data` in a buffer of their own and makes it the
  /// per-row parameters (Tensor.row_params) of `tensor`; returns the buffer.
  int add_row_params(int tensor, const void* data, size_t bytes);

  /// Gives tensor `tensor` a Quantization (scales, zero points, axis; empty
  /// zero_points writes none).
  void set_quantization(int tensor, std::vector<float> scales, std::vector<int64_t> zero_points, int axis);

  /// A feature and its input tensor (created here with the matching shape).
  int add_feature(const std::string& name, schema::Side side, schema::FeatureKind kind, int64_t width = 1,
                  int64_t table_size = 0, int64_t padding_id = 0);
  /// Input tensor of feature `feature` (from add_feature).
  int feature_tensor(int feature) const { return features_[static_cast<size_t>(feature)].tensor; }
  /// Marks DENSE feature `feature` as accepting NaN (missing values).
  void set_accepts_nan(int feature) { features_[static_cast<size_t>(feature)].accepts_nan = true; }
  void add_task(const std::string& name, schema::TaskKind kind, int tensor, int64_t column = 0);

  void add_op(Stage stage, schema::OpType type, std::vector<int> inputs, std::vector<int> outputs,
              schema::OpOptions options_type = schema::OpOptions::NONE, OptionsFn options = nullptr,
              const std::string& name = "");
  void add_user_to_item(int tensor) { user_to_item_.push_back(tensor); }

  uint32_t format_version = 1;
  /// Writes Model.checksums (sealed, like the converter's files); false: a
  /// file as written before checksums.
  bool checksums = true;

  ModelBytes finish() const;

 private:
  struct TensorSpec {
    std::string name;
    schema::DType dtype;
    std::vector<int64_t> shape;
    int buffer;
  };
  struct QuantizationSpec {
    std::vector<float> scales;
    std::vector<int64_t> zero_points;
    int axis;
  };
  struct BufferSpec {
    std::vector<uint8_t> bytes;  // stored in the weight segment
    bool raw = false;            // literal offset/size instead
    uint64_t raw_offset = 0, raw_size = 0;
  };
  struct FeatureSpec {
    std::string name;
    schema::Side side;
    schema::FeatureKind kind;
    int64_t width, table_size, padding_id;
    int tensor;
    bool accepts_nan = false;
  };
  struct TaskSpec {
    std::string name;
    schema::TaskKind kind;
    int tensor;
    int64_t column;
  };
  struct OpSpec {
    Stage stage;
    schema::OpType type;
    std::vector<int> inputs, outputs;
    schema::OpOptions options_type;
    OptionsFn options;
    std::string name;
  };
  std::vector<uint8_t> build_flatbuffer(uint64_t weights_start, uint64_t file_size) const;

  std::vector<TensorSpec> tensors_;
  std::map<int, QuantizationSpec> quantization_;  // by tensor
  std::map<int, int> row_params_;                  // tensor -> buffer
  std::vector<BufferSpec> buffers_;
  std::vector<FeatureSpec> features_;
  std::vector<TaskSpec> tasks_;
  std::vector<OpSpec> ops_;
  std::vector<int> user_to_item_;
};

// Option helpers for add_op.
ModelBuilder::OptionsFn fc_options(schema::Activation activation, float alpha = 0.01f);
/// FullyConnectedOptions of an INT8 weight: per-tensor input and output quantisation.
ModelBuilder::OptionsFn quantized_fc_options(schema::Activation activation, float input_scale,
                                             int64_t input_zero_point, float output_scale, int64_t output_zero_point);
/// FullyConnectedOptions of a float layer with an addend (4th input): `input_activation` of x + its
/// columns from `addend_offset` (LEAKY_RELU with slope `input_alpha`).
ModelBuilder::OptionsFn fc_addend_options(schema::Activation activation, schema::Activation input_activation,
                                          int64_t addend_offset, float input_alpha = 0.01f);
/// FullyConnectedOptions of a dynamic INT8 layer (input_mode DYNAMIC_ROW, no activation quantisation).
ModelBuilder::OptionsFn dynamic_fc_options(schema::Activation activation);
ModelBuilder::OptionsFn binary_options(schema::Activation activation, float alpha = 0.01f);
ModelBuilder::OptionsFn gather_options(int64_t default_row);
ModelBuilder::OptionsFn axis_options(int axis);
ModelBuilder::OptionsFn take_options(int axis, std::vector<int64_t> indices);
/// TakeOptions with the range start .. start + count - 1 (and, to test the
/// verifier, optional indices as well).
ModelBuilder::OptionsFn take_range_options(int axis, int64_t start, int64_t count,
                                           std::vector<int64_t> indices = {});
ModelBuilder::OptionsFn reduce_options(std::vector<int> axes, bool keepdims);
ModelBuilder::OptionsFn transpose_options(std::vector<int> perm);
ModelBuilder::OptionsFn cast_options(schema::DType to);
ModelBuilder::OptionsFn activation_options(float alpha);
ModelBuilder::OptionsFn clip_options(float min, float max);
ModelBuilder::OptionsFn unary_options(schema::UnaryFunction function, float exponent = 1.0f);
ModelBuilder::OptionsFn compare_options(schema::ComparePredicate predicate);
ModelBuilder::OptionsFn logical_options(schema::LogicalFunction function);
ModelBuilder::OptionsFn is_inf_options(bool positive, bool negative);
ModelBuilder::OptionsFn layer_norm_options(int axis, float epsilon);

/// Loads `bytes` with Model::load_buffer and returns only the outcome, for
/// verifier tests that check which error a file gets.
Status load_status(const ModelBytes& bytes);

}  // namespace test
}  // namespace edgemtl
