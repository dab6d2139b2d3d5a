// Loading and verification of model files. Verification is exhaustive so that
// a Session can trust every index, shape, dtype and offset it reads.
#include "runtime/format/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "flatbuffers/flatbuffers.h"
#include "runtime/format/checksum.h"
#include "runtime/format/tensor_info.h"
#include "runtime/ops/registry.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr size_t kAlignment = 64;
// A FlatBuffer needs at least its root offset and file identifier.
constexpr size_t kMinFileSize = 8;

enum StageId : int { kUserStage = 0, kItemStage = 1, kCrossStage = 2 };
const char* stage_name(int stage) { return stage == kUserStage ? "user" : stage == kItemStage ? "item" : "cross"; }

bool multiply_overflows(int64_t a, int64_t b, int64_t* out) { return __builtin_mul_overflow(a, b, out); }

// FlatBuffers 2.0.8's verifier checks that a vector's length field is 4-byte
// aligned, not that its elements are: a [long] or [Buffer] vector at 4 mod 8
// would be read with misaligned 8-byte loads (undefined behaviour, a fault on
// some CPUs). The file starts 64-byte aligned, so the address decides. An
// empty vector is never read (FlatBufferBuilder does not align those).
template <typename T>
bool misaligned(const flatbuffers::Vector<T>* vector) {
  return vector && vector->size() > 0 && reinterpret_cast<uintptr_t>(vector->Data()) % 8 != 0;
}

// Names of a feature or task list (each present) are unique; sorted, so that a
// file with a million entries is checked in n log n, not n^2.
template <typename Table>
Status check_unique_names(const flatbuffers::Vector<flatbuffers::Offset<Table>>* list, const char* what) {
  std::vector<uint32_t> order(list->size());
  std::iota(order.begin(), order.end(), 0u);
  auto name = [&](uint32_t i) { return list->Get(i)->name()->c_str(); };
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return std::strcmp(name(a), name(b)) < 0; });
  for (size_t k = 1; k < order.size(); ++k)
    if (std::strcmp(name(order[k - 1]), name(order[k])) == 0)
      return Status::error(Error::kInvalidModel, "%s %u and %u are both named '%s'", what, order[k - 1], order[k],
                           name(order[k]));
  return Status::ok();
}

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
  ModelVerifier(const uint8_t* bytes, const schema::Model* model, size_t file_size)
      : bytes_(bytes), model_(model), file_size_(file_size) {}

  Status verify() {
    if (model_->format_version() != kFormatVersion)
      return Status::error(Error::kUnsupported, "model format_version %u is not supported (this runtime reads %u)",
                           model_->format_version(), kFormatVersion);
    num_tensors_ = model_->tensors() ? model_->tensors()->size() : 0;
    producer_stage_.assign(num_tensors_, -1);
    feature_of_tensor_.assign(num_tensors_, -1);
    in_user_cache_.assign(num_tensors_, false);
    in_item_cache_.assign(num_tensors_, false);
    // Three stages (cross_stage present): the user cache is read by the cross
    // stage; without (older files) by the item stage, which is item and cross in one.
    three_stages_ = model_->cross_stage() != nullptr;
    user_cache_reader_ = three_stages_ ? kCrossStage : kItemStage;
    if (!three_stages_ && model_->item_to_cross() && model_->item_to_cross()->size() > 0)
      return Status::error(Error::kInvalidModel, "item_to_cross is given but the model has no cross_stage");
    EMTL_RETURN_IF_ERROR(verify_alignment());
    EMTL_RETURN_IF_ERROR(verify_buffers());
    EMTL_RETURN_IF_ERROR(verify_tensors());
    EMTL_RETURN_IF_ERROR(verify_features());
    EMTL_RETURN_IF_ERROR(verify_stage(kUserStage, model_->user_stage()));
    EMTL_RETURN_IF_ERROR(verify_cache("user_to_item", model_->user_to_item(), kUserStage, schema::Side::USER, in_user_cache_));
    EMTL_RETURN_IF_ERROR(verify_stage(kItemStage, model_->item_stage()));
    EMTL_RETURN_IF_ERROR(
        verify_cache("item_to_cross", model_->item_to_cross(), kItemStage, schema::Side::ITEM, in_item_cache_));
    EMTL_RETURN_IF_ERROR(verify_stage(kCrossStage, model_->cross_stage()));
    return verify_tasks();
  }

 private:
  const schema::Tensor* tensor(int index) const { return model_->tensors()->Get(static_cast<uint32_t>(index)); }

  // Every vector of 8-byte elements the schema has, before anything reads one.
  Status verify_alignment() {
    if (misaligned(model_->buffers()))
      return Status::error(Error::kInvalidModel, "the buffers vector is not 8-byte aligned");
    for (uint32_t i = 0; i < num_tensors_; ++i) {
      const schema::Tensor* t = tensor(static_cast<int>(i));
      if (misaligned(t->shape()))
        return Status::error(Error::kInvalidModel, "tensor %u: its shape vector is not 8-byte aligned", i);
      if (t->quantization() && misaligned(t->quantization()->zero_point()))
        return Status::error(Error::kInvalidModel, "tensor %u: its zero_point vector is not 8-byte aligned", i);
    }
    const schema::Stage* stages[] = {model_->user_stage(), model_->item_stage(), model_->cross_stage()};
    for (int stage = kUserStage; stage <= kCrossStage; ++stage) {
      if (!stages[stage] || !stages[stage]->operators()) continue;
      const auto* operators = stages[stage]->operators();
      for (uint32_t i = 0; i < operators->size(); ++i) {
        const schema::Operator* op = operators->Get(i);
        bool bad = false;
        if (const auto* take = op->options_as_TakeOptions()) bad = misaligned(take->indices());
        if (const auto* multi = op->options_as_EmbeddingMultiOptions())
          bad = misaligned(multi->row_offsets()) || misaligned(multi->row_counts()) || misaligned(multi->default_rows());
        if (const auto* fc = op->options_as_FullyConnectedOptions())
          bad = (fc->input_quantization() && misaligned(fc->input_quantization()->zero_point())) ||
                (fc->output_quantization() && misaligned(fc->output_quantization()->zero_point()));
        if (bad)
          return Status::error(Error::kInvalidModel, "%s: a vector of its options is not 8-byte aligned",
                               OpLocation(stage, i, op).text);
      }
    }
    return Status::ok();
  }

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

  // A table with per-row parameters (INT8_ROW_F16, UINT4_ROW_F16, UINT4_ROW_CODEBOOK):
  // shape [V, D] and its row_params buffer of exactly V parameter rows (after the
  // codebook for UINT4_ROW_CODEBOOK). Sizes only, and the 256 codebook entries (1 KB
  // a table: finite, >= 0): the other values are covered by the weight checksum
  // (LoadOptions::verify_weights), and any index byte names an entry.
  Status verify_row_params(uint32_t i, const schema::Tensor* t, uint32_t num_buffers) const {
    const char* name = tensor_name(t);
    const auto* shape = t->shape();
    if (!shape || shape->size() != 2 || shape->Get(0) < 1 || shape->Get(1) < 1)
      return Status::error(Error::kInvalidModel, "tensor %u ('%s'): a %s table must have shape [V, D], V, D >= 1", i,
                           name, dtype_name(t->dtype()));
    if (t->quantization())
      return Status::error(Error::kInvalidModel, "tensor %u ('%s'): a %s table takes no Quantization", i, name,
                           dtype_name(t->dtype()));
    const int32_t params = t->row_params();
    if (params < 0 || static_cast<uint32_t>(params) >= num_buffers || params == t->buffer())
      return Status::error(Error::kInvalidModel, "tensor %u ('%s'): a %s table needs its row_params buffer (has %d)", i,
                           name, dtype_name(t->dtype()), params);
    const uint64_t have = model_->buffers()->Get(static_cast<uint32_t>(params))->size();
    const bool codebook = t->dtype() == schema::DType::UINT4_ROW_CODEBOOK;
    int64_t need = 0;
    if (multiply_overflows(shape->Get(0), row_params_bytes(t->dtype()), &need) ||
        __builtin_add_overflow(need, codebook ? kCodebookBytes : 0, &need) || static_cast<uint64_t>(need) != have)
      return Status::error(Error::kInvalidModel,
                           "tensor %u ('%s'): %s table of %lld rows needs %lld bytes of row parameters but buffer %d "
                           "holds %llu", i, name, dtype_name(t->dtype()), static_cast<long long>(shape->Get(0)),
                           static_cast<long long>(need), params, static_cast<unsigned long long>(have));
    if (codebook) {
      const uint8_t* entries = bytes_ + model_->buffers()->Get(static_cast<uint32_t>(params))->offset();
      for (int64_t k = 0; k < kCodebookEntries; ++k) {
        float value;
        std::memcpy(&value, entries + 4 * k, sizeof(value));
        if (!(value >= 0.0f && value <= FLT_MAX))  // NaN, negative or infinite
          return Status::error(Error::kInvalidModel,
                               "tensor %u ('%s'): codebook entry %lld of its %s table is %g (must be finite and >= 0)",
                               i, name, static_cast<long long>(k), dtype_name(t->dtype()), static_cast<double>(value));
      }
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
      if (t->row_params() != -1 && !has_row_params(t->dtype()))
        return Status::error(Error::kInvalidModel, "tensor %u ('%s'): row_params on a %s tensor", i, name,
                             dtype_name(t->dtype()));
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
        if (has_row_params(t->dtype())) {
          EMTL_RETURN_IF_ERROR(verify_row_params(i, t, num_buffers));
          elements = shape->Get(0);  // rows: row_bytes covers a row's elements
        }
        const int64_t unit = has_row_params(t->dtype()) ? row_bytes(t->dtype(), shape->Get(1))
                                                        : static_cast<int64_t>(dtype_size(t->dtype()));
        if (multiply_overflows(elements, unit, &bytes))
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): byte size overflows", i, name);
        const uint64_t buffer_size = model_->buffers()->Get(static_cast<uint32_t>(t->buffer()))->size();
        if (static_cast<uint64_t>(bytes) != buffer_size)
          return Status::error(Error::kInvalidModel,
                               "tensor %u ('%s'): shape and dtype %s need %lld bytes but buffer %d holds %llu", i,
                               name, dtype_name(t->dtype()), static_cast<long long>(bytes), t->buffer(),
                               static_cast<unsigned long long>(buffer_size));
      } else {
        if (has_row_params(t->dtype()))
          return Status::error(Error::kInvalidModel, "tensor %u ('%s'): %s is for constant tables only", i, name,
                               dtype_name(t->dtype()));
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
    for (uint32_t i = 0; i < features->size(); ++i)
      if (!features->Get(i)->name()) return Status::error(Error::kInvalidModel, "feature %u has no name", i);
    EMTL_RETURN_IF_ERROR(check_unique_names(features, "features"));
    for (uint32_t i = 0; i < features->size(); ++i) {
      const schema::Feature* f = features->Get(i);
      const char* name = f->name()->c_str();
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
      if (f->list_padding() != schema::ListPadding::AFTER && f->list_padding() != schema::ListPadding::BEFORE)
        return Status::error(Error::kInvalidModel, "feature '%s': unknown list_padding %d", name,
                             static_cast<int>(f->list_padding()));
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
      if (f->kind() != schema::FeatureKind::DENSE && f->accepts_nan())
        return Status::error(Error::kInvalidModel, "feature '%s': accepts_nan on a feature of ids", name);
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
      if (stage == kUserStage) return side == schema::Side::USER;
      if (stage == kItemStage && side == schema::Side::ITEM) return true;
      if (stage == kCrossStage && side == schema::Side::ITEM) return in_item_cache_[index];
      return stage == user_cache_reader_ && in_user_cache_[index];
    }
    if (producer_stage_[index] == stage) return true;
    if (producer_stage_[index] == kUserStage) return stage == user_cache_reader_ && in_user_cache_[index];
    return stage == kCrossStage && producer_stage_[index] == kItemStage && in_item_cache_[index];
  }

  Status verify_stage(int stage, const schema::Stage* stage_table) {
    if (!stage_table || !stage_table->operators()) return Status::ok();
    const auto* operators = stage_table->operators();
    for (uint32_t i = 0; i < operators->size(); ++i) {
      const schema::Operator* op = operators->Get(i);
      OpLocation where(stage, i, op);
      if (!find_op(op->type()))
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
                               where.text, k, index, tensor_name(tensor(index)), stage == kUserStage ? "user" : "item",
                               stage == kCrossStage ? ", a user_to_item or an item_to_cross tensor"
                               : stage == user_cache_reader_ ? " or a user_to_item tensor" : "");
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
      // Operator-specific rules (arity, dtypes, shapes, options) live with the operator.
      EMTL_RETURN_IF_ERROR(find_op(op->type())->verify(OpVerifier(model_, where.text, op)));
      producer_stage_[output] = static_cast<int8_t>(stage);
    }
    return Status::ok();
  }

  // A cache list (user_to_item, item_to_cross): each entry a tensor written by
  // `stage` or a feature of `side`; marks them in `listed`.
  Status verify_cache(const char* field, const flatbuffers::Vector<int32_t>* cache, int stage, schema::Side side,
                      std::vector<bool>& listed) {
    if (!cache) return Status::ok();
    const char* side_name = side == schema::Side::USER ? "a user" : "an item";
    for (uint32_t i = 0; i < cache->size(); ++i) {
      const int index = cache->Get(i);
      if (index < 0 || static_cast<uint32_t>(index) >= num_tensors_)
        return Status::error(Error::kInvalidModel, "%s[%u] is tensor %d but the model has %u tensors", field, i, index,
                             num_tensors_);
      const int feature = feature_of_tensor_[index];
      const bool side_feature = feature >= 0 && model_->features()->Get(static_cast<uint32_t>(feature))->side() == side;
      if (producer_stage_[index] != stage && !side_feature)
        return Status::error(Error::kInvalidModel,
                             "%s[%u] is tensor %d ('%s'), which is neither written by the %s stage nor %s feature",
                             field, i, index, tensor_name(tensor(index)), stage_name(stage), side_name);
      listed[index] = true;
    }
    return Status::ok();
  }

  Status verify_tasks() {
    const auto* tasks = model_->tasks();
    // A model scores its tasks: without one, every score() would return nothing.
    if (!tasks || tasks->size() == 0)
      return Status::error(Error::kInvalidModel, "the model has no tasks (nothing to score)");
    for (uint32_t i = 0; i < tasks->size(); ++i)
      if (!tasks->Get(i)->name()) return Status::error(Error::kInvalidModel, "task %u has no name", i);
    EMTL_RETURN_IF_ERROR(check_unique_names(tasks, "tasks"));
    for (uint32_t i = 0; i < tasks->size(); ++i) {
      const schema::Task* task = tasks->Get(i);
      const char* name = task->name()->c_str();
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
      // rank() runs only the cross stage: an item-stage task must be cached.
      if (three_stages_ && producer_stage_[index] == kItemStage && !in_item_cache_[index])
        return Status::error(Error::kInvalidModel, "task '%s': tensor %d ('%s') of the item stage is not in item_to_cross",
                             name, index, tensor_name(t));
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

  const uint8_t* bytes_;  // the whole file (verify_buffers: every buffer lies inside it)
  const schema::Model* model_;
  size_t file_size_;
  uint32_t num_tensors_ = 0;
  std::vector<int8_t> producer_stage_;   // per tensor: stage writing it, or -1
  std::vector<int> feature_of_tensor_;   // per tensor: feature index, or -1
  std::vector<bool> in_user_cache_;      // per tensor: listed in user_to_item
  std::vector<bool> in_item_cache_;      // per tensor: listed in item_to_cross
  bool three_stages_ = false;            // the file has a cross_stage
  int user_cache_reader_ = kItemStage;   // the stage reading user_to_item
};

}  // namespace

Result<std::unique_ptr<Model>> Model::load_file(const char* path, const LoadOptions& options) {
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
  return adopt(static_cast<const uint8_t*>(mapping), size, mapping, size, options);
}

Result<std::unique_ptr<Model>> Model::load_buffer(const void* data, size_t size, const LoadOptions& options) {
  if (!data) return Status::error(Error::kInvalidArgument, "load_buffer: data is null");
  if (reinterpret_cast<uintptr_t>(data) % kAlignment != 0)
    return Status::error(Error::kInvalidArgument, "load_buffer: data must be %zu-byte aligned", kAlignment);
  if (size < kMinFileSize)
    return Status::error(Error::kInvalidModel, "model buffer has %zu bytes, too small for a model file", size);
  return adopt(static_cast<const uint8_t*>(data), size, nullptr, 0, options);
}

Result<std::unique_ptr<Model>> Model::adopt(const uint8_t* bytes, size_t size, void* mapping, size_t mapping_size,
                                            const LoadOptions& options) {
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
  // A bit flipped in transit is reported as such before the checks below
  // report what it broke (or miss what it changed: a dimension, a table size).
  EMTL_RETURN_IF_ERROR(verify_flatbuffer_checksum(bytes, size, model->root_));
  if (options.verify_weights && !model->root_->checksums())
    return verify_weights_checksum(bytes, size, model->root_);  // kUnsupported, before the verifier's work
  ModelVerifier checks(bytes, model->root_, size);
  EMTL_RETURN_IF_ERROR(checks.verify());
  if (options.verify_weights) EMTL_RETURN_IF_ERROR(verify_weights_checksum(bytes, size, model->root_));
  return Result<std::unique_ptr<Model>>(std::move(model));
}

bool Model::has_checksums() const { return root_->checksums() != nullptr; }

Status Model::verify_weights() const { return verify_weights_checksum(bytes_, size_, root_); }

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
                     f->table_size(),
                     f->kind() == schema::FeatureKind::DENSE && f->accepts_nan(),
                     f->list_padding() == schema::ListPadding::BEFORE,
                     f->keep_last_ids()};
}

Status pad_id_list(const FeatureInfo& info, const int64_t* ids, size_t length, int64_t* row, const char* call) {
  const size_t width = static_cast<size_t>(info.width);
  if (length > width) {
    if (!info.keep_last_ids)
      return Status::error(Error::kInvalidArgument,
                           "%s: feature '%s' has a list of %zu ids, longer than its width %zu (convert with "
                           "--keep-last-ids to keep the last ones)",
                           call, info.name, length, width);
    ids += length - width;
    length = width;
  }
  const size_t padding = width - length;
  int64_t* first = row + (info.pad_before ? padding : 0);
  if (length > 0) std::memcpy(first, ids, length * sizeof(int64_t));
  int64_t* pad = info.pad_before ? row : row + length;
  for (size_t i = 0; i < padding; ++i) pad[i] = info.padding_id;
  return Status::ok();
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
