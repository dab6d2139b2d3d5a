// Loading and verification of model files. Verification is exhaustive so that
// a Session can trust every index, shape, dtype and offset it reads.
#include "runtime/format/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "flatbuffers/flatbuffers.h"
#include "runtime/format/tensor_info.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr size_t kAlignment = 64;
// A FlatBuffer needs at least its root offset and file identifier.
constexpr size_t kMinFileSize = 8;

enum StageId : int { kUserStage = 0, kItemStage = 1 };
const char* stage_name(int stage) { return stage == kUserStage ? "user" : "item"; }

bool multiply_overflows(int64_t a, int64_t b, int64_t* out) { return __builtin_mul_overflow(a, b, out); }

// Where an operator is, for messages: "operator 3 (node 'Gemm_12') of the item stage".
struct OpLocation {
  char text[160];
  OpLocation(int stage, size_t index, const schema::Operator* op) {
    const char* node = op->name() ? op->name()->c_str() : "";
    std::snprintf(text, sizeof(text), "operator %zu (node '%s') of the %s stage", index, node, stage_name(stage));
  }
};

class ModelVerifier {
 public:
  ModelVerifier(const schema::Model* model, size_t file_size) : model_(model), file_size_(file_size) {}

  Status verify() {
    if (model_->format_version() != kFormatVersion)
      return Status::error(Error::kUnsupported, "model format_version %u is not supported (this runtime reads %u)",
                           model_->format_version(), kFormatVersion);
    num_tensors_ = model_->tensors() ? model_->tensors()->size() : 0;
    producer_stage_.assign(num_tensors_, -1);
    feature_of_tensor_.assign(num_tensors_, -1);
    in_user_cache_.assign(num_tensors_, false);
    EMTL_RETURN_IF_ERROR(verify_buffers());
    EMTL_RETURN_IF_ERROR(verify_tensors());
    EMTL_RETURN_IF_ERROR(verify_features());
    EMTL_RETURN_IF_ERROR(verify_stage(kUserStage, model_->user_stage()));
    EMTL_RETURN_IF_ERROR(verify_user_to_item());
    EMTL_RETURN_IF_ERROR(verify_stage(kItemStage, model_->item_stage()));
    return verify_tasks();
  }

 private:
  const schema::Tensor* tensor(int index) const { return model_->tensors()->Get(static_cast<uint32_t>(index)); }

  Status verify_buffers() {
    const auto* buffers = model_->buffers();
    if (!buffers) return Status::ok();
    for (uint32_t i = 0; i < buffers->size(); ++i) {
      const schema::Buffer* buffer = buffers->Get(i);
      const uint64_t offset = buffer->offset(), size = buffer->size();
      if (offset % kAlignment != 0)
        return Status::error(Error::kInvalidModel, "buffer %u: offset %llu is not a multiple of %zu", i,
                             static_cast<unsigned long long>(offset), kAlignment);
      if (offset > file_size_ || size > file_size_ - offset)
        return Status::error(Error::kInvalidModel,
                             "buffer %u: bytes [%llu, %llu + %llu) lie outside the file of %zu bytes", i,
                             static_cast<unsigned long long>(offset), static_cast<unsigned long long>(offset),
                             static_cast<unsigned long long>(size), file_size_);
    }
    return Status::ok();
  }

  Status verify_tensors() {
    const uint32_t num_buffers = model_->buffers() ? model_->buffers()->size() : 0;
    for (uint32_t i = 0; i < num_tensors_; ++i) {
      const schema::Tensor* t = tensor(static_cast<int>(i));
      const char* name = tensor_name(t);
      if (dtype_size(t->dtype()) == 0)
        return Status::error(Error::kUnsupported, "tensor %u ('%s'): unknown dtype %d", i, name,
                             static_cast<int>(t->dtype()));
      const auto* shape = t->shape();
      const uint32_t rank = shape ? shape->size() : 0;
      if (rank > static_cast<uint32_t>(kMaxRank))
        return Status::error(Error::kUnsupported, "tensor %u ('%s'): rank %u exceeds the maximum of %d", i, name,
                             rank, kMaxRank);
      if (t->buffer() >= 0) {
        if (static_cast<uint32_t>(t->buffer()) >= num_buffers)
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): buffer %d but the model has %u buffers", i,
                               name, t->buffer(), num_buffers);
        int64_t elements = 1;
        for (uint32_t d = 0; d < rank; ++d) {
          if (shape->Get(d) < 0)
            return Status::error(Error::kInvalidModel, "tensor %u ('%s'): constant with dimension %u = %lld", i, name,
                                 d, static_cast<long long>(shape->Get(d)));
          if (multiply_overflows(elements, shape->Get(d), &elements))
            return Status::error(Error::kInvalidModel, "tensor %u ('%s'): element count overflows", i, name);
        }
        int64_t bytes = 0;
        if (multiply_overflows(elements, static_cast<int64_t>(dtype_size(t->dtype())), &bytes))
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): byte size overflows", i, name);
        const uint64_t buffer_size = model_->buffers()->Get(static_cast<uint32_t>(t->buffer()))->size();
        if (static_cast<uint64_t>(bytes) != buffer_size)
          return Status::error(Error::kInvalidModel,
                               "tensor %u ('%s'): shape and dtype %s need %lld bytes but buffer %d holds %llu", i,
                               name, dtype_name(t->dtype()), static_cast<long long>(bytes), t->buffer(),
                               static_cast<unsigned long long>(buffer_size));
      } else {
        if (t->buffer() != -1)
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): buffer %d (must be >= 0, or -1)", i, name,
                               t->buffer());
        if (rank < 1 || shape->Get(0) != -1)
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): activation without leading row dimension -1",
                               i, name);
        int64_t elements = 1;
        for (uint32_t d = 1; d < rank; ++d) {
          if (shape->Get(d) < 0)
            return Status::error(Error::kInvalidModel, "tensor %u ('%s'): dimension %u = %lld (only dimension 0 may be -1)",
                                 i, name, d, static_cast<long long>(shape->Get(d)));
          if (multiply_overflows(elements, shape->Get(d), &elements) || elements > (int64_t{1} << 40))
            return Status::error(Error::kInvalidModel, "tensor %u ('%s'): row size is too large", i, name);
        }
      }
    }
    return Status::ok();
  }

  Status verify_features() {
    const auto* features = model_->features();
    if (!features) return Status::ok();
    for (uint32_t i = 0; i < features->size(); ++i) {
      const schema::Feature* f = features->Get(i);
      if (!f->name()) return Status::error(Error::kInvalidModel, "feature %u has no name", i);
      const char* name = f->name()->c_str();
      for (uint32_t j = 0; j < i; ++j)
        if (std::strcmp(features->Get(j)->name() ? features->Get(j)->name()->c_str() : "", name) == 0)
          return Status::error(Error::kInvalidModel, "features %u and %u are both named '%s'", j, i, name);
      if (f->side() != schema::Side::USER && f->side() != schema::Side::ITEM)
        return Status::error(Error::kUnsupported, "feature '%s': unknown side %d", name, static_cast<int>(f->side()));
      if (f->tensor() < 0 || static_cast<uint32_t>(f->tensor()) >= num_tensors_)
        return Status::error(Error::kInvalidModel, "feature '%s': tensor %d but the model has %u tensors", name,
                             f->tensor(), num_tensors_);
      const schema::Tensor* t = tensor(f->tensor());
      if (is_constant(t))
        return Status::error(Error::kInvalidModel, "feature '%s': tensor %d is a constant", name, f->tensor());
      if (feature_of_tensor_[f->tensor()] >= 0)
        return Status::error(Error::kInvalidModel, "feature '%s': tensor %d is already the input of feature '%s'",
                             name, f->tensor(), features->Get(feature_of_tensor_[f->tensor()])->name()->c_str());
      feature_of_tensor_[f->tensor()] = static_cast<int>(i);
      const Shape shape = declared_shape(t);
      if (f->width() < 1)
        return Status::error(Error::kInvalidModel, "feature '%s': width %lld < 1", name,
                             static_cast<long long>(f->width()));
      switch (f->kind()) {
        case schema::FeatureKind::ID:
          if (t->dtype() != schema::DType::INT64 || shape.rank != 1 || f->width() != 1)
            return Status::error(Error::kInvalidModel, "feature '%s' (ID): tensor %d must be INT64 [-1] with width 1",
                                 name, f->tensor());
          break;
        case schema::FeatureKind::ID_LIST:
          if (t->dtype() != schema::DType::INT64 || shape.rank != 2 || shape[1] != f->width())
            return Status::error(Error::kInvalidModel,
                                 "feature '%s' (ID_LIST): tensor %d must be INT64 [-1, %lld] (the width)", name,
                                 f->tensor(), static_cast<long long>(f->width()));
          break;
        case schema::FeatureKind::DENSE: {
          const bool scalar = shape.rank == 1 && f->width() == 1;
          const bool vector = shape.rank == 2 && shape[1] == f->width();
          if (t->dtype() != schema::DType::FLOAT32 || !(scalar || vector))
            return Status::error(Error::kInvalidModel,
                                 "feature '%s' (DENSE): tensor %d must be FLOAT32 [-1, %lld] (or [-1] for width 1)",
                                 name, f->tensor(), static_cast<long long>(f->width()));
          break;
        }
        default:
          return Status::error(Error::kUnsupported, "feature '%s': unknown kind %d", name, static_cast<int>(f->kind()));
      }
      if (f->kind() != schema::FeatureKind::DENSE && f->table_size() < 1)
        return Status::error(Error::kInvalidModel, "feature '%s': table_size %lld < 1", name,
                             static_cast<long long>(f->table_size()));
    }
    return Status::ok();
  }

  // May `stage` read tensor `index` at this point of its operator list?
  bool readable(int stage, int index) const {
    const schema::Tensor* t = tensor(index);
    if (is_constant(t)) return true;
    const int feature = feature_of_tensor_[index];
    if (feature >= 0) {
      const auto side = model_->features()->Get(static_cast<uint32_t>(feature))->side();
      if (side == (stage == kUserStage ? schema::Side::USER : schema::Side::ITEM)) return true;
      return stage == kItemStage && in_user_cache_[index];
    }
    if (producer_stage_[index] == stage) return true;
    return stage == kItemStage && producer_stage_[index] == kUserStage && in_user_cache_[index];
  }

  Status verify_stage(int stage, const schema::Stage* stage_table) {
    if (!stage_table || !stage_table->operators()) return Status::ok();
    const auto* operators = stage_table->operators();
    for (uint32_t i = 0; i < operators->size(); ++i) {
      const schema::Operator* op = operators->Get(i);
      OpLocation where(stage, i, op);
      if (op->type() > schema::OpType::MAX)
        return Status::error(Error::kUnsupported, "%s: unknown operator type %d", where.text,
                             static_cast<int>(op->type()));
      const auto* inputs = op->inputs();
      const auto* outputs = op->outputs();
      const uint32_t num_inputs = inputs ? inputs->size() : 0;
      if (!outputs || outputs->size() != 1)
        return Status::error(Error::kInvalidModel, "%s (%s): must have exactly 1 output, has %u", where.text,
                             schema::EnumNameOpType(op->type()), outputs ? outputs->size() : 0);
      bool reads_activation = false;
      for (uint32_t k = 0; k < num_inputs; ++k) {
        const int index = inputs->Get(k);
        if (index < 0 || static_cast<uint32_t>(index) >= num_tensors_)
          return Status::error(Error::kInvalidModel, "%s: input %u is tensor %d but the model has %u tensors",
                               where.text, k, index, num_tensors_);
        if (!readable(stage, index))
          return Status::error(Error::kInvalidModel,
                               "%s: input %u is tensor %d ('%s'), which is not a constant, a %s feature, a tensor "
                               "written earlier in this stage%s",
                               where.text, k, index, tensor_name(tensor(index)), stage_name(stage),
                               stage == kItemStage ? " or a user_to_item tensor" : "");
        if (!is_constant(tensor(index))) reads_activation = true;
      }
      const int output = outputs->Get(0);
      if (output < 0 || static_cast<uint32_t>(output) >= num_tensors_)
        return Status::error(Error::kInvalidModel, "%s: output 0 is tensor %d but the model has %u tensors", where.text,
                             output, num_tensors_);
      const schema::Tensor* out = tensor(output);
      if (is_constant(out) || feature_of_tensor_[output] >= 0 || producer_stage_[output] >= 0)
        return Status::error(Error::kInvalidModel,
                             "%s: output tensor %d ('%s') is a constant, a feature input or already written",
                             where.text, output, tensor_name(out));
      if (!reads_activation)
        return Status::error(Error::kInvalidModel, "%s: reads only constants (the converter must fold it)",
                             where.text);
      EMTL_RETURN_IF_ERROR(verify_operator(where.text, op));
      producer_stage_[output] = static_cast<int8_t>(stage);
    }
    return Status::ok();
  }

  Status verify_user_to_item() {
    const auto* cache = model_->user_to_item();
    if (!cache) return Status::ok();
    for (uint32_t i = 0; i < cache->size(); ++i) {
      const int index = cache->Get(i);
      if (index < 0 || static_cast<uint32_t>(index) >= num_tensors_)
        return Status::error(Error::kInvalidModel, "user_to_item[%u] is tensor %d but the model has %u tensors", i,
                             index, num_tensors_);
      const int feature = feature_of_tensor_[index];
      const bool user_feature =
          feature >= 0 && model_->features()->Get(static_cast<uint32_t>(feature))->side() == schema::Side::USER;
      if (producer_stage_[index] != kUserStage && !user_feature)
        return Status::error(Error::kInvalidModel,
                             "user_to_item[%u] is tensor %d ('%s'), which is neither written by the user stage nor a "
                             "user feature",
                             i, index, tensor_name(tensor(index)));
      in_user_cache_[index] = true;
    }
    return Status::ok();
  }

  Status verify_tasks() {
    const auto* tasks = model_->tasks();
    if (!tasks) return Status::ok();
    for (uint32_t i = 0; i < tasks->size(); ++i) {
      const schema::Task* task = tasks->Get(i);
      if (!task->name()) return Status::error(Error::kInvalidModel, "task %u has no name", i);
      const char* name = task->name()->c_str();
      for (uint32_t j = 0; j < i; ++j)
        if (std::strcmp(tasks->Get(j)->name() ? tasks->Get(j)->name()->c_str() : "", name) == 0)
          return Status::error(Error::kInvalidModel, "tasks %u and %u are both named '%s'", j, i, name);
      if (task->kind() != schema::TaskKind::PROBABILITY && task->kind() != schema::TaskKind::VALUE)
        return Status::error(Error::kUnsupported, "task '%s': unknown kind %d", name, static_cast<int>(task->kind()));
      const int index = task->tensor();
      if (index < 0 || static_cast<uint32_t>(index) >= num_tensors_)
        return Status::error(Error::kInvalidModel, "task '%s': tensor %d but the model has %u tensors", name, index,
                             num_tensors_);
      const schema::Tensor* t = tensor(index);
      if (producer_stage_[index] < 0)
        return Status::error(Error::kInvalidModel, "task '%s': tensor %d ('%s') is not written by any operator", name,
                             index, tensor_name(t));
      if (t->dtype() != schema::DType::FLOAT32)
        return Status::error(Error::kInvalidModel, "task '%s': tensor %d ('%s') is %s, not FLOAT32", name, index,
                             tensor_name(t), dtype_name(t->dtype()));
      const int64_t per_row = declared_shape(t).elements_from(1);
      if (task->column() < 0 || task->column() >= per_row)
        return Status::error(Error::kInvalidModel, "task '%s': column %lld outside the %lld values per row of tensor %d",
                             name, static_cast<long long>(task->column()), static_cast<long long>(per_row), index);
    }
    return Status::ok();
  }

  // ---- per-operator checks: arity, dtypes, options, shapes -----------------

  Status expect_dtype(const char* where, const char* role, int index, schema::DType want) const {
    const schema::DType have = tensor(index)->dtype();
    if (have == want) return Status::ok();
    const Error code = is_compute_dtype(have) ? Error::kInvalidModel : Error::kUnsupported;
    return Status::error(code, "%s: %s (tensor %d '%s') is %s, expected %s", where, role, index,
                         tensor_name(tensor(index)), dtype_name(have), dtype_name(want));
  }

  Status expect_compute_dtype(const char* where, const char* role, int index) const {
    const schema::DType have = tensor(index)->dtype();
    if (is_compute_dtype(have)) return Status::ok();
    return Status::error(Error::kUnsupported, "%s: %s (tensor %d '%s') has dtype %s, unsupported here", where, role,
                         index, tensor_name(tensor(index)), dtype_name(have));
  }

  Status expect_shape(const char* where, int output, const Shape& want) const {
    const Shape have = declared_shape(tensor(output));
    if (have == want) return Status::ok();
    char want_text[96], have_text[96];
    format_shape(want, want_text, sizeof(want_text));
    format_shape(have, have_text, sizeof(have_text));
    return Status::error(Error::kInvalidModel, "%s: output tensor %d ('%s') has shape %s, expected %s", where, output,
                         tensor_name(tensor(output)), have_text, want_text);
  }

  static void format_shape(const Shape& shape, char* text, size_t size) {
    size_t used = static_cast<size_t>(std::snprintf(text, size, "["));
    for (int i = 0; i < shape.rank && used < size; ++i)
      used += static_cast<size_t>(
          std::snprintf(text + used, size - used, i ? ", %lld" : "%lld", static_cast<long long>(shape[i])));
    if (used < size) std::snprintf(text + used, size - used, "]");
  }

  // Constants broadcast against rows only through a leading dim of 1.
  Status expect_row_like(const char* where, const char* role, int index) const {
    const schema::Tensor* t = tensor(index);
    const Shape shape = declared_shape(t);
    if (!is_constant(t) || (shape.rank >= 1 && shape[0] == 1)) return Status::ok();
    return Status::error(Error::kInvalidModel, "%s: %s (tensor %d '%s') must be an activation or a constant with 1 row",
                         where, role, index, tensor_name(t));
  }

  Status broadcast_all(const char* where, const flatbuffers::Vector<int32_t>* inputs, uint32_t first, uint32_t count,
                       Shape* out) const {
    Shape result = declared_shape(tensor(inputs->Get(first)));
    for (uint32_t k = first + 1; k < first + count; ++k) {
      if (!broadcast_shapes(result, declared_shape(tensor(inputs->Get(k))), &result))
        return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) does not broadcast with the others",
                             where, k, inputs->Get(k));
    }
    *out = result;
    return Status::ok();
  }

  template <typename Options>
  Status get_options(const char* where, const schema::Operator* op, schema::OpOptions want, bool required,
                     const Options** options) const {
    *options = nullptr;
    if (op->options_type() == schema::OpOptions::NONE) {
      if (required)
        return Status::error(Error::kInvalidModel, "%s (%s): options %s are missing", where,
                             schema::EnumNameOpType(op->type()), schema::EnumNameOpOptions(want));
      return Status::ok();
    }
    if (op->options_type() != want || !op->options())
      return Status::error(Error::kInvalidModel, "%s (%s): options are %s, expected %s", where,
                           schema::EnumNameOpType(op->type()), schema::EnumNameOpOptions(op->options_type()),
                           schema::EnumNameOpOptions(want));
    *options = static_cast<const Options*>(op->options());
    return Status::ok();
  }

  Status expect_no_options(const char* where, const schema::Operator* op) const {
    if (op->options_type() == schema::OpOptions::NONE) return Status::ok();
    return Status::error(Error::kInvalidModel, "%s (%s): takes no options but has %s", where,
                         schema::EnumNameOpType(op->type()), schema::EnumNameOpOptions(op->options_type()));
  }

  static Status check_activation(const char* where, schema::Activation activation) {
    if (activation >= schema::Activation::NONE && activation <= schema::Activation::LEAKY_RELU) return Status::ok();
    return Status::error(Error::kUnsupported, "%s: unknown activation %d", where, static_cast<int>(activation));
  }

  static Status check_axis(const char* where, int axis, int rank) {
    if (axis >= 1 && axis < rank) return Status::ok();
    return Status::error(Error::kInvalidModel, "%s: axis %d outside [1, %d)", where, axis, rank);
  }

  // ---- quantised constants (schema: FULLY_CONNECTED and EMBEDDING) ---------

  // Symmetric scales: `count` finite positive scales along `axis`, zero points absent or all 0.
  Status check_symmetric(const char* where, const char* role, int index, int axis, int64_t count) const {
    const schema::Quantization* q = tensor(index)->quantization();
    if (!q || !q->scale())
      return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) has no Quantization scales", where, role,
                           index);
    if (q->axis() != axis || static_cast<int64_t>(q->scale()->size()) != count)
      return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) needs %lld scale(s) on axis %d, has %u on axis %d",
                           where, role, index, static_cast<long long>(count), axis, q->scale()->size(), q->axis());
    for (uint32_t i = 0; i < q->scale()->size(); ++i)
      if (!(q->scale()->Get(i) > 0.0f && q->scale()->Get(i) < 3.4e38f))
        return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d): scale %u is %g, must be finite and > 0",
                             where, role, index, i, static_cast<double>(q->scale()->Get(i)));
    if (q->zero_point()) {
      if (q->zero_point()->size() != q->scale()->size())
        return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d): %u zero points for %u scales", where,
                             role, index, q->zero_point()->size(), q->scale()->size());
      for (uint32_t i = 0; i < q->zero_point()->size(); ++i)
        if (q->zero_point()->Get(i) != 0)
          return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) must be symmetric (zero point 0)",
                               where, role, index);
    }
    return Status::ok();
  }

  // One per-tensor activation quantisation: one finite scale > 0, one zero point in [-128, 127].
  static Status check_activation_quantization(const char* where, const char* role, const schema::Quantization* q) {
    if (!q || !q->scale() || !q->zero_point() || q->scale()->size() != 1 || q->zero_point()->size() != 1 ||
        q->axis() != -1)
      return Status::error(Error::kInvalidModel, "%s: %s must have exactly one scale and one zero point (axis -1)",
                           where, role);
    const float scale = q->scale()->Get(0);
    const int64_t zero_point = q->zero_point()->Get(0);
    if (!(scale > 0.0f && scale < 3.4e38f) || zero_point < -128 || zero_point > 127)
      return Status::error(Error::kInvalidModel, "%s: %s has scale %g and zero point %lld (need a finite scale > 0, "
                           "zero point in [-128, 127])", where, role, static_cast<double>(scale),
                           static_cast<long long>(zero_point));
    return Status::ok();
  }

  Status verify_weight_quantization(const char* where, const schema::Operator* op,
                                    const schema::FullyConnectedOptions* options, int64_t output_channels) const {
    const int weight = op->inputs()->Get(1);
    const bool int8 = tensor(weight)->dtype() == schema::DType::INT8;
    const bool has_activation_quantization =
        options && (options->input_quantization() || options->output_quantization());
    if (!int8) {
      if (tensor(weight)->quantization() || has_activation_quantization)
        return Status::error(Error::kInvalidModel, "%s: quantisation parameters on a %s weight", where,
                             dtype_name(tensor(weight)->dtype()));
      return Status::ok();
    }
    const schema::Quantization* q = tensor(weight)->quantization();
    const bool per_channel = q && q->axis() == 0;
    EMTL_RETURN_IF_ERROR(check_symmetric(where, "weight", weight, per_channel ? 0 : -1, per_channel ? output_channels : 1));
    if (!options) return Status::error(Error::kInvalidModel, "%s: INT8 weight without FullyConnectedOptions", where);
    EMTL_RETURN_IF_ERROR(check_activation_quantization(where, "input_quantization", options->input_quantization()));
    return check_activation_quantization(where, "output_quantization", options->output_quantization());
  }

  Status verify_table_quantization(const char* where, int table, int64_t rows) const {
    const schema::Tensor* t = tensor(table);
    if (t->dtype() == schema::DType::INT8)
      return check_symmetric(where, "table", table, 0, rows);
    if (t->quantization())
      return Status::error(Error::kInvalidModel, "%s: quantisation parameters on a %s table", where,
                           dtype_name(t->dtype()));
    return Status::ok();
  }

  Status verify_operator(const char* where, const schema::Operator* op) const {
    using schema::DType;
    using schema::OpOptions;
    using schema::OpType;
    const auto* in = op->inputs();
    const uint32_t n = in ? in->size() : 0;
    const int output = op->outputs()->Get(0);
    const schema::Tensor* out = tensor(output);
    auto arity = [&](uint32_t low, uint32_t high) -> Status {
      if (n >= low && n <= high) return Status::ok();
      if (low == high)
        return Status::error(Error::kInvalidModel, "%s (%s): takes %u inputs, has %u", where,
                             schema::EnumNameOpType(op->type()), low, n);
      return Status::error(Error::kInvalidModel, "%s (%s): takes %u to %u inputs, has %u", where,
                           schema::EnumNameOpType(op->type()), low, high, n);
    };
    auto input_shape = [&](uint32_t k) { return declared_shape(tensor(in->Get(k))); };
    auto expect_activation_input = [&](uint32_t k) -> Status {
      if (!is_constant(tensor(in->Get(k)))) return Status::ok();
      return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) must be an activation, not a constant",
                           where, k, in->Get(k));
    };
    auto expect_constant_input = [&](uint32_t k, const char* role) -> Status {
      if (is_constant(tensor(in->Get(k)))) return Status::ok();
      return Status::error(Error::kInvalidModel, "%s: %s (tensor %d) must be a constant", where, role, in->Get(k));
    };

    switch (op->type()) {
      case OpType::FULLY_CONNECTED: {
        EMTL_RETURN_IF_ERROR(arity(2, 3));
        const schema::FullyConnectedOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::FullyConnectedOptions, false, &options));
        if (options) EMTL_RETURN_IF_ERROR(check_activation(where, options->activation()));
        EMTL_RETURN_IF_ERROR(expect_activation_input(0));
        EMTL_RETURN_IF_ERROR(expect_constant_input(1, "weight"));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(0), DType::FLOAT32));
        const DType weight_dtype = tensor(in->Get(1))->dtype();
        if (weight_dtype != DType::FLOAT16 && weight_dtype != DType::INT8)
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "weight", in->Get(1), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape x = input_shape(0), w = input_shape(1);
        if (x.rank < 2 || w.rank != 2 || w[1] != x[x.rank - 1] || w[0] < 1 || w[1] < 1)
          return Status::error(Error::kInvalidModel, "%s: input [..., K] and weight [N, K] do not match", where);
        EMTL_RETURN_IF_ERROR(verify_weight_quantization(where, op, options, w[0]));
        if (n == 3) {
          EMTL_RETURN_IF_ERROR(expect_constant_input(2, "bias"));
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "bias", in->Get(2),
                                            weight_dtype == DType::INT8 ? DType::INT32 : DType::FLOAT32));
          if (tensor(in->Get(2))->quantization())
            return Status::error(Error::kInvalidModel, "%s: the INT32 bias has an implied scale, not a Quantization",
                                 where);
          const Shape b = input_shape(2);
          if (b.rank != 1 || b[0] != w[0])
            return Status::error(Error::kInvalidModel, "%s: bias must have shape [%lld]", where,
                                 static_cast<long long>(w[0]));
        }
        Shape y = x;
        y[y.rank - 1] = w[0];
        return expect_shape(where, output, y);
      }
      case OpType::EMBEDDING: {
        EMTL_RETURN_IF_ERROR(arity(2, 2));
        const schema::GatherOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::GatherOptions, false, &options));
        EMTL_RETURN_IF_ERROR(expect_constant_input(0, "table"));
        EMTL_RETURN_IF_ERROR(expect_activation_input(1));
        const DType table_dtype = tensor(in->Get(0))->dtype();
        if (table_dtype != DType::FLOAT16 && table_dtype != DType::INT8)
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "table", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "ids", in->Get(1), DType::INT64));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape table = input_shape(0), ids = input_shape(1);
        if (table.rank != 2 || table[0] < 1)
          return Status::error(Error::kInvalidModel, "%s: table must have shape [V, D] with V >= 1", where);
        EMTL_RETURN_IF_ERROR(verify_table_quantization(where, in->Get(0), table[0]));
        if (options && options->default_row() >= table[0])
          return Status::error(Error::kInvalidModel, "%s: default_row %lld outside the table of %lld rows", where,
                               static_cast<long long>(options->default_row()), static_cast<long long>(table[0]));
        if (ids.rank + 1 > kMaxRank)
          return Status::error(Error::kUnsupported, "%s: output rank exceeds %d", where, kMaxRank);
        Shape y = ids;
        y[y.rank++] = table[1];
        return expect_shape(where, output, y);
      }
      case OpType::EMBEDDING_MULTI: {
        if (n < 2)
          return Status::error(Error::kInvalidModel, "%s (EMBEDDING_MULTI): takes a table and at least one ids input, has %u inputs",
                               where, n);
        const schema::EmbeddingMultiOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::EmbeddingMultiOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_constant_input(0, "table"));
        const DType table_dtype = tensor(in->Get(0))->dtype();
        if (table_dtype != DType::FLOAT16 && table_dtype != DType::INT8)
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "table", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape table = input_shape(0);
        if (table.rank != 2 || table[0] < 1 || table[1] < 1)
          return Status::error(Error::kInvalidModel, "%s: table must have shape [V, D] with V, D >= 1", where);
        EMTL_RETURN_IF_ERROR(verify_table_quantization(where, in->Get(0), table[0]));
        const uint32_t k = n - 1;
        const auto* offsets = options->row_offsets();
        const auto* counts = options->row_counts();
        const auto* defaults = options->default_rows();
        if (!offsets || !counts || offsets->size() != k || counts->size() != k || (defaults && defaults->size() != k))
          return Status::error(Error::kInvalidModel,
                               "%s: row_offsets and row_counts (and default_rows if present) need %u entries, one per ids input",
                               where, k);
        for (uint32_t j = 0; j < k; ++j) {
          EMTL_RETURN_IF_ERROR(expect_activation_input(j + 1));
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "ids", in->Get(j + 1), DType::INT64));
          const Shape ids = input_shape(j + 1);
          if (ids.rank != 1)
            return Status::error(Error::kInvalidModel, "%s: ids input %u (tensor %d) must have shape [-1]", where, j + 1,
                                 in->Get(j + 1));
          const int64_t offset = offsets->Get(j), count = counts->Get(j);
          if (offset < 0 || count < 1 || offset > table[0] || count > table[0] - offset)
            return Status::error(Error::kInvalidModel, "%s: ids input %u: rows %lld + %lld outside the table of %lld rows",
                                 where, j + 1, static_cast<long long>(offset), static_cast<long long>(count),
                                 static_cast<long long>(table[0]));
          if (defaults && defaults->Get(j) >= count)
            return Status::error(Error::kInvalidModel, "%s: ids input %u: default row %lld outside its %lld rows", where,
                                 j + 1, static_cast<long long>(defaults->Get(j)), static_cast<long long>(count));
        }
        Shape y;
        y.rank = 2;
        y[0] = -1;
        y[1] = static_cast<int64_t>(k) * table[1];
        return expect_shape(where, output, y);
      }
      case OpType::MIX: {
        if (n < 2)
          return Status::error(Error::kInvalidModel, "%s (MIX): takes a gate and at least one expert, has %u inputs",
                               where, n);
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "gate", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_row_like(where, "gate", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape gate = input_shape(0);
        const uint32_t experts = n - 1;
        if (gate.rank != 2 || gate[1] != static_cast<int64_t>(experts))
          return Status::error(Error::kInvalidModel, "%s (MIX): gate (tensor %d) must have shape [-1, %u], one weight "
                               "per expert input", where, in->Get(0), experts);
        const Shape first = input_shape(1);
        if (first.rank != 2 || first[1] < 1)
          return Status::error(Error::kInvalidModel, "%s (MIX): expert input 1 (tensor %d) must have shape [-1, D] "
                               "with D >= 1", where, in->Get(1));
        for (uint32_t k = 1; k < n; ++k) {
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "expert", in->Get(k), DType::FLOAT32));
          EMTL_RETURN_IF_ERROR(expect_row_like(where, "expert", in->Get(k)));
          const Shape h = input_shape(k);
          if (h.rank != 2 || h[1] != first[1])
            return Status::error(Error::kInvalidModel, "%s (MIX): expert input %u (tensor %d) must have shape [-1, %lld] "
                                 "like expert input 1", where, k, in->Get(k), static_cast<long long>(first[1]));
        }
        Shape y;
        y.rank = 2;
        y[0] = -1;
        y[1] = first[1];
        return expect_shape(where, output, y);
      }
      case OpType::ADD: case OpType::SUB: case OpType::MUL: case OpType::DIV: case OpType::MAXIMUM: case OpType::MINIMUM: {
        EMTL_RETURN_IF_ERROR(arity(2, 2));
        const schema::BinaryOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::BinaryOptions, false, &options));
        if (options) EMTL_RETURN_IF_ERROR(check_activation(where, options->activation()));
        for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(k), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        Shape y;
        EMTL_RETURN_IF_ERROR(broadcast_all(where, in, 0, 2, &y));
        return expect_shape(where, output, y);
      }
      case OpType::EQUAL: {
        EMTL_RETURN_IF_ERROR(arity(2, 2));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input 0", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input 1", in->Get(1), tensor(in->Get(0))->dtype()));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::BOOL));
        Shape y;
        EMTL_RETURN_IF_ERROR(broadcast_all(where, in, 0, 2, &y));
        return expect_shape(where, output, y);
      }
      case OpType::NOT: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(0), DType::BOOL));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::BOOL));
        return expect_shape(where, output, input_shape(0));
      }
      case OpType::WHERE: {
        EMTL_RETURN_IF_ERROR(arity(3, 3));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "condition", in->Get(0), DType::BOOL));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input 1", in->Get(1)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input 2", in->Get(2), tensor(in->Get(1))->dtype()));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, tensor(in->Get(1))->dtype()));
        Shape y;
        EMTL_RETURN_IF_ERROR(broadcast_all(where, in, 0, 3, &y));
        return expect_shape(where, output, y);
      }
      case OpType::CAST: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        const schema::CastOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::CastOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "output", output));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, options->to()));
        return expect_shape(where, output, input_shape(0));
      }
      case OpType::RELU: case OpType::SIGMOID: case OpType::TANH: case OpType::LEAKY_RELU: case OpType::CLIP: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        if (op->type() == OpType::LEAKY_RELU) {
          const schema::ActivationOptions* options;
          EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::ActivationOptions, false, &options));
        } else if (op->type() == OpType::CLIP) {
          const schema::ClipOptions* options;
          EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::ClipOptions, false, &options));
          if (options && !(options->min() <= options->max()))
            return Status::error(Error::kInvalidModel, "%s: clip min %g > max %g", where, options->min(), options->max());
        } else {
          EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        }
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        return expect_shape(where, output, input_shape(0));
      }
      case OpType::PRELU: {
        EMTL_RETURN_IF_ERROR(arity(2, 2));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_activation_input(0));
        EMTL_RETURN_IF_ERROR(expect_constant_input(1, "slope"));
        for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(k), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        Shape y;
        EMTL_RETURN_IF_ERROR(broadcast_all(where, in, 0, 2, &y));
        if (y != input_shape(0))
          return Status::error(Error::kInvalidModel, "%s: slope must broadcast to the input's shape", where);
        return expect_shape(where, output, y);
      }
      case OpType::SOFTMAX: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        const schema::AxisOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::AxisOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(check_axis(where, options->axis(), input_shape(0).rank));
        return expect_shape(where, output, input_shape(0));
      }
      case OpType::REDUCE_SUM: case OpType::REDUCE_MEAN: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        const schema::ReduceOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::ReduceOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(0), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape x = input_shape(0);
        if (!options->axes() || options->axes()->size() == 0)
          return Status::error(Error::kInvalidModel, "%s: no axes to reduce", where);
        bool reduced[kMaxRank] = {false};
        for (uint32_t k = 0; k < options->axes()->size(); ++k) {
          const int axis = options->axes()->Get(k);
          EMTL_RETURN_IF_ERROR(check_axis(where, axis, x.rank));
          if (reduced[axis]) return Status::error(Error::kInvalidModel, "%s: axis %d listed twice", where, axis);
          reduced[axis] = true;
        }
        Shape y;
        for (int d = 0; d < x.rank; ++d) {
          if (!reduced[d]) y[y.rank++] = x[d];
          else if (options->keepdims()) y[y.rank++] = 1;
        }
        return expect_shape(where, output, y);
      }
      case OpType::CONCAT: {
        EMTL_RETURN_IF_ERROR(arity(1, 1024));
        const schema::AxisOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::AxisOptions, true, &options));
        const Shape y = declared_shape(out);
        EMTL_RETURN_IF_ERROR(check_axis(where, options->axis(), y.rank));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "output", output));
        int64_t axis_total = 0;
        for (uint32_t k = 0; k < n; ++k) {
          EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(k), out->dtype()));
          EMTL_RETURN_IF_ERROR(expect_row_like(where, "input", in->Get(k)));
          const Shape x = input_shape(k);
          bool match = x.rank == y.rank;
          for (int d = 1; match && d < y.rank; ++d)
            if (d != options->axis() && x[d] != y[d]) match = false;
          if (!match)
            return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) does not match the output shape "
                                 "outside axis %d", where, k, in->Get(k), options->axis());
          axis_total += x[options->axis()];
        }
        if (axis_total != y[options->axis()])
          return Status::error(Error::kInvalidModel, "%s: inputs add up to %lld along axis %d, output has %lld", where,
                               static_cast<long long>(axis_total), options->axis(),
                               static_cast<long long>(y[options->axis()]));
        return Status::ok();
      }
      case OpType::TAKE: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        const schema::TakeOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::TakeOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, tensor(in->Get(0))->dtype()));
        const Shape x = input_shape(0);
        EMTL_RETURN_IF_ERROR(check_axis(where, options->axis(), x.rank));
        const int axis = options->axis();
        int64_t count = 0;
        if (options->indices() && options->indices()->size() > 0) {
          if (options->count() != 0 || options->start() != 0)
            return Status::error(Error::kInvalidModel, "%s: both indices and a range (start, count)", where);
          count = options->indices()->size();
          for (uint32_t k = 0; k < options->indices()->size(); ++k) {
            const int64_t index = options->indices()->Get(k);
            if (index < -x[axis] || index >= x[axis])
              return Status::error(Error::kInvalidModel, "%s: index %lld outside [-%lld, %lld) of axis %d", where,
                                   static_cast<long long>(index), static_cast<long long>(x[axis]),
                                   static_cast<long long>(x[axis]), axis);
          }
        } else {
          // A contiguous range: start .. start + count - 1, all within the axis.
          count = options->count();
          const int64_t start = options->start();
          if (count < 1)
            return Status::error(Error::kInvalidModel, "%s: no indices and range count %lld (must be >= 1)", where,
                                 static_cast<long long>(count));
          if (start < 0 || start >= x[axis] || count > x[axis] - start)
            return Status::error(Error::kInvalidModel, "%s: range start %lld, count %lld outside [0, %lld) of axis %d",
                                 where, static_cast<long long>(start), static_cast<long long>(count),
                                 static_cast<long long>(x[axis]), axis);
        }
        Shape kept = x;
        kept[axis] = count;
        const Shape have = declared_shape(out);
        if (count == 1 && have.rank == x.rank - 1) {  // a scalar index: the axis is removed
          Shape removed;
          for (int d = 0; d < x.rank; ++d)
            if (d != axis) removed[removed.rank++] = x[d];
          return expect_shape(where, output, removed);
        }
        return expect_shape(where, output, kept);
      }
      case OpType::TRANSPOSE: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        const schema::TransposeOptions* options;
        EMTL_RETURN_IF_ERROR(get_options(where, op, OpOptions::TransposeOptions, true, &options));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, tensor(in->Get(0))->dtype()));
        const Shape x = input_shape(0);
        const auto* perm = options->perm();
        if (!perm || static_cast<int>(perm->size()) != x.rank)
          return Status::error(Error::kInvalidModel, "%s: perm must have %d entries", where, x.rank);
        bool used[kMaxRank] = {false};
        Shape y = x;
        for (int d = 0; d < x.rank; ++d) {
          const int source = perm->Get(static_cast<uint32_t>(d));
          if (source < 0 || source >= x.rank || used[source] || (d == 0 && source != 0))
            return Status::error(Error::kInvalidModel, "%s: perm is not a permutation with perm[0] == 0", where);
          used[source] = true;
          y[d] = x[source];
        }
        return expect_shape(where, output, y);
      }
      case OpType::MATMUL: {
        EMTL_RETURN_IF_ERROR(arity(2, 2));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        for (uint32_t k = 0; k < 2; ++k) EMTL_RETURN_IF_ERROR(expect_dtype(where, "input", in->Get(k), DType::FLOAT32));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, DType::FLOAT32));
        const Shape a = input_shape(0), b = input_shape(1);
        if (a.rank < 2 || b.rank < 2 || a[a.rank - 1] != b[b.rank - 2])
          return Status::error(Error::kInvalidModel, "%s: inputs [..., M, K] and [..., K, N] do not match", where);
        Shape a_batch = a, b_batch = b, y;
        a_batch.rank -= 2;
        b_batch.rank -= 2;
        if (!broadcast_shapes(a_batch, b_batch, &y) || y.rank + 2 > kMaxRank)
          return Status::error(Error::kInvalidModel, "%s: batch dimensions do not broadcast", where);
        y[y.rank++] = a[a.rank - 2];
        y[y.rank++] = b[b.rank - 1];
        return expect_shape(where, output, y);
      }
      case OpType::RESHAPE: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_activation_input(0));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, tensor(in->Get(0))->dtype()));
        const int64_t have = declared_shape(out).elements_from(1), want = input_shape(0).elements_from(1);
        if (have != want)
          return Status::error(Error::kInvalidModel, "%s: output has %lld values per row, input %lld", where,
                               static_cast<long long>(have), static_cast<long long>(want));
        return Status::ok();
      }
      case OpType::BROADCAST_ROWS: {
        EMTL_RETURN_IF_ERROR(arity(1, 1));
        EMTL_RETURN_IF_ERROR(expect_no_options(where, op));
        EMTL_RETURN_IF_ERROR(expect_activation_input(0));
        EMTL_RETURN_IF_ERROR(expect_compute_dtype(where, "input", in->Get(0)));
        EMTL_RETURN_IF_ERROR(expect_dtype(where, "output", output, tensor(in->Get(0))->dtype()));
        return expect_shape(where, output, input_shape(0));
      }
    }
    return Status::error(Error::kUnsupported, "%s: unknown operator type %d", where, static_cast<int>(op->type()));
  }

  const schema::Model* model_;
  size_t file_size_;
  uint32_t num_tensors_ = 0;
  std::vector<int8_t> producer_stage_;   // per tensor: stage writing it, or -1
  std::vector<int> feature_of_tensor_;   // per tensor: feature index, or -1
  std::vector<bool> in_user_cache_;      // per tensor: listed in user_to_item
};

}  // namespace

Result<std::unique_ptr<Model>> Model::load_file(const char* path) {
  if (!path) return Status::error(Error::kInvalidArgument, "load_file: path is null");
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(Error::kIoError, "cannot open '%s': %s", path, std::strerror(errno));
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int saved = errno;
    ::close(fd);
    return Status::error(Error::kIoError, "cannot stat '%s': %s", path, std::strerror(saved));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::error(Error::kIoError, "'%s' is not a regular file", path);
  }
  const size_t size = static_cast<size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return Status::error(Error::kInvalidModel, "'%s' is empty", path);
  }
  if (size < kMinFileSize) {
    ::close(fd);
    return Status::error(Error::kInvalidModel, "'%s' has %zu bytes, too small for a model file", path, size);
  }
  void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int saved = errno;
  ::close(fd);  // the mapping stays valid without the descriptor
  if (mapping == MAP_FAILED) return Status::error(Error::kIoError, "cannot map '%s': %s", path, std::strerror(saved));
  return adopt(static_cast<const uint8_t*>(mapping), size, mapping, size);
}

Result<std::unique_ptr<Model>> Model::load_buffer(const void* data, size_t size) {
  if (!data) return Status::error(Error::kInvalidArgument, "load_buffer: data is null");
  if (reinterpret_cast<uintptr_t>(data) % kAlignment != 0)
    return Status::error(Error::kInvalidArgument, "load_buffer: data must be %zu-byte aligned", kAlignment);
  if (size < kMinFileSize)
    return Status::error(Error::kInvalidModel, "model buffer has %zu bytes, too small for a model file", size);
  return adopt(static_cast<const uint8_t*>(data), size, nullptr, 0);
}

Result<std::unique_ptr<Model>> Model::adopt(const uint8_t* bytes, size_t size, void* mapping, size_t mapping_size) {
  // Own the mapping first so that every error path below unmaps it.
  std::unique_ptr<Model> model(new (std::nothrow) Model());
  if (!model) {
    if (mapping) ::munmap(mapping, mapping_size);
    return Status::error(Error::kOutOfMemory, "cannot allocate the Model");
  }
  model->bytes_ = bytes;
  model->size_ = size;
  model->mapping_ = mapping;
  model->mapping_size_ = mapping_size;

  if (!schema::ModelBufferHasIdentifier(bytes))
    return Status::error(Error::kInvalidModel, "not an edgemtl model: file identifier is not \"EMTL\"");
  // Writers pad the file to a multiple of 64 bytes (the weights' alignment),
  // which also catches most truncated copies before anything is parsed.
  if (size % kAlignment != 0)
    return Status::error(Error::kInvalidModel, "file size %zu is not a multiple of %zu: truncated?", size, kAlignment);
  // The FlatBuffer sits at the start; the weights after it are not its business,
  // and FlatBuffers cannot address more than 2 GiB anyway.
  const size_t flatbuffer_span = size < FLATBUFFERS_MAX_BUFFER_SIZE ? size : FLATBUFFERS_MAX_BUFFER_SIZE - 1;
  flatbuffers::Verifier verifier(bytes, flatbuffer_span);
  if (!schema::VerifyModelBuffer(verifier))
    return Status::error(Error::kInvalidModel, "the model FlatBuffer is corrupt or truncated (verifier failed)");
  model->root_ = schema::GetModel(bytes);
  ModelVerifier checks(model->root_, size);
  EMTL_RETURN_IF_ERROR(checks.verify());
  return Result<std::unique_ptr<Model>>(std::move(model));
}

Model::~Model() {
  if (mapping_) ::munmap(mapping_, mapping_size_);
}

size_t Model::num_features() const { return root_->features() ? root_->features()->size() : 0; }

FeatureInfo Model::feature(size_t index) const {
  const schema::Feature* f = root_->features()->Get(static_cast<uint32_t>(index));
  return FeatureInfo{f->name()->c_str(),
                     static_cast<Side>(f->side()),
                     static_cast<FeatureKind>(f->kind()),
                     f->width(),
                     f->padding_id(),
                     f->table_size()};
}

int Model::find_feature(const char* name) const {
  if (!name) return -1;
  for (size_t i = 0; i < num_features(); ++i)
    if (std::strcmp(root_->features()->Get(static_cast<uint32_t>(i))->name()->c_str(), name) == 0)
      return static_cast<int>(i);
  return -1;
}

size_t Model::num_tasks() const { return root_->tasks() ? root_->tasks()->size() : 0; }

TaskInfo Model::task(size_t index) const {
  const schema::Task* t = root_->tasks()->Get(static_cast<uint32_t>(index));
  return TaskInfo{t->name()->c_str(), static_cast<TaskKind>(t->kind())};
}

int Model::find_task(const char* name) const {
  if (!name) return -1;
  for (size_t i = 0; i < num_tasks(); ++i)
    if (std::strcmp(root_->tasks()->Get(static_cast<uint32_t>(i))->name()->c_str(), name) == 0)
      return static_cast<int>(i);
  return -1;
}

}  // namespace edgemtl
