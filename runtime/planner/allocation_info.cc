#include "runtime/planner/allocation_info.h"

#include <algorithm>

#include "runtime/format/tensor_info.h"

namespace edgemtl {
namespace {

const OperatorList* operators_of(const schema::Stage* stage) { return stage ? stage->operators() : nullptr; }

int count_of(const OperatorList* ops) { return ops ? static_cast<int>(ops->size()) : 0; }

}  // namespace

StageLists stage_lists(const schema::Model* model) {
  StageLists stages;
  stages.user = operators_of(model->user_stage());
  if (model->cross_stage()) {
    stages.item = operators_of(model->item_stage());
    stages.cross = operators_of(model->cross_stage());
    if (model->item_to_cross()) stages.cached.assign(model->item_to_cross()->begin(), model->item_to_cross()->end());
  } else {
    stages.cross = operators_of(model->item_stage());
    if (model->features())
      for (const schema::Feature* f : *model->features())
        if (f->side() == schema::Side::ITEM) stages.cached.push_back(f->tensor());
  }
  std::sort(stages.cached.begin(), stages.cached.end());
  stages.cached.erase(std::unique(stages.cached.begin(), stages.cached.end()), stages.cached.end());
  return stages;
}

void AllocationInfo::build(const schema::Model* model, bool cache_user, OpPlanningOf planning_of) {
  const uint32_t num_tensors = model->tensors() ? model->tensors()->size() : 0;
  tensors_.assign(num_tensors, TensorAllocation());
  for (uint32_t t = 0; t < num_tensors; ++t) {
    const schema::Tensor* tensor = model->tensors()->Get(t);
    tensors_[t].dtype = tensor->dtype();
    tensors_[t].declared = declared_shape(tensor);
    tensors_[t].constant = is_constant(tensor);
  }
  const StageLists stages = stage_lists(model);
  const OperatorList* user = stages.user;
  const OperatorList* item = stages.item;
  const int num_user = count_of(user);
  end_step_ = num_user + count_of(item) + count_of(stages.cross) + 2;
  for (int tensor : stages.cached) tensors_[tensor].cached = true;

  // Lifetimes: defined at the writing step, extended by every read.
  auto define = [&](int tensor, int step) {
    tensors_[tensor].first_use = step;
    tensors_[tensor].last_use = step;
  };
  if (model->features()) {
    for (uint32_t i = 0; i < model->features()->size(); ++i) {
      const schema::Feature* f = model->features()->Get(i);
      TensorAllocation& slot = tensors_[f->tensor()];
      slot.stage = f->side() == schema::Side::USER ? kUserStage : kItemStage;
      slot.feature = static_cast<int>(i);
      define(f->tensor(), slot.stage == kUserStage ? 0 : num_user + 1);
    }
  }
  auto walk = [&](const OperatorList* ops, int stage, int first_step) {
    if (!ops) return;
    for (uint32_t i = 0; i < ops->size(); ++i) {
      const schema::Operator* op = ops->Get(i);
      const int step = first_step + static_cast<int>(i);
      if (op->inputs())
        for (int input : *op->inputs())
          if (!tensors_[input].constant && tensors_[input].last_use < step) tensors_[input].last_use = step;
      const int output = op->outputs()->Get(0);
      tensors_[output].stage = stage;
      define(output, step);
      // A cached output is a root: its RESHAPE copies (the run function copies between distinct bytes).
      if (planning_of(op->type()).output_aliases_input && !tensors_[output].cached)
        tensors_[output].alias_of = root_of(op->inputs()->Get(0));
    }
  };
  walk(user, kUserStage, 1);
  walk(item, kItemStage, num_user + 2);
  walk(stages.cross, kCrossStage, num_user + 2 + count_of(item));
  if (model->user_to_item())
    for (int tensor : *model->user_to_item()) tensors_[tensor].last_use = end_step_;
  if (model->tasks())
    for (uint32_t i = 0; i < model->tasks()->size(); ++i) tensors_[model->tasks()->Get(i)->tensor()].last_use = end_step_;
  if (!cache_user)
    for (TensorAllocation& slot : tensors_)
      if (slot.feature >= 0 && slot.stage == kUserStage) slot.last_use = end_step_;
  find_column_views(model, planning_of);
  // An alias keeps its root alive; the root is written first, so extend it only.
  for (TensorAllocation& slot : tensors_)
    if (slot.alias_of >= 0 && tensors_[slot.alias_of].last_use < slot.last_use)
      tensors_[slot.alias_of].last_use = slot.last_use;
  find_in_place_outputs(model, planning_of);
  // Views of an in-place output now hang off its input: point every view at
  // its final root (offsets add up) and keep that root alive for all of them.
  for (TensorAllocation& slot : tensors_) {
    while (slot.alias_of >= 0 && tensors_[slot.alias_of].alias_of >= 0) {
      slot.column_offset += tensors_[slot.alias_of].column_offset;
      slot.alias_of = tensors_[slot.alias_of].alias_of;
    }
    if (slot.alias_of >= 0 && tensors_[slot.alias_of].last_use < slot.last_use)
      tensors_[slot.alias_of].last_use = slot.last_use;
  }
}

// A column window of a [rows, W] FLOAT32 activation becomes a view of its
// root when every reader reads column views (FULLY_CONNECTED reads rows with
// stride W, so the stacked experts' slices are never copied). Runs once every
// read is known: a tensor the caller or the item stage reads later (task, user
// cache) lives until the end and stays a copy.
void AllocationInfo::find_column_views(const schema::Model* model, OpPlanningOf planning_of) {
  std::vector<int> readers(tensors_.size(), 0), view_readers(tensors_.size(), 0);
  const StageLists stages = stage_lists(model);
  for (const OperatorList* ops : {stages.user, stages.item, stages.cross}) {
    if (!ops) continue;
    for (const schema::Operator* op : *ops) {
      if (!op->inputs()) continue;
      const bool reads_view = planning_of(op->type()).reads_column_view;
      for (uint32_t k = 0; k < op->inputs()->size(); ++k) {
        const int input = op->inputs()->Get(k);
        ++readers[input];
        if (k == 0 && reads_view) ++view_readers[input];
      }
    }
  }
  for (const OperatorList* ops : {stages.user, stages.item, stages.cross}) {
    if (!ops) continue;
    for (const schema::Operator* op : *ops) {
      const auto column_window = planning_of(op->type()).column_window;
      int64_t first_column = 0;
      if (!column_window || !column_window(op, &first_column)) continue;
      const int input = op->inputs()->Get(0), output = op->outputs()->Get(0);
      const TensorAllocation& in = tensors_[input];
      TensorAllocation& out = tensors_[output];
      if (in.constant || in.dtype != schema::DType::FLOAT32 || in.declared.rank != 2 || out.declared.rank != 2 ||
          in.row_stride != 0 || out.last_use == end_step_ || out.cached || readers[output] == 0 ||
          readers[output] != view_readers[output])
        continue;
      out.column_offset = static_cast<size_t>(first_column);
      out.row_stride = static_cast<size_t>(in.declared[1]);
      out.alias_of = root_of(input);
    }
  }
}

// In place: an op that allows it writes over its full-shape input when that
// input dies at the op: the split's ADD then reuses the first layer's output
// instead of doubling the widest tile in cache.
void AllocationInfo::find_in_place_outputs(const schema::Model* model, OpPlanningOf planning_of) {
  const StageLists stages = stage_lists(model);
  auto in_place = [&](const OperatorList* ops, int first_step) {
    if (!ops) return;
    for (uint32_t i = 0; i < ops->size(); ++i) {
      const schema::Operator* op = ops->Get(i);
      if (!planning_of(op->type()).may_run_in_place) continue;
      const int step = first_step + static_cast<int>(i);
      const int output = op->outputs()->Get(0);
      TensorAllocation& out = tensors_[output];
      if (out.cached) continue;
      for (int input : *op->inputs()) {
        TensorAllocation& in = tensors_[input];
        if (in.constant || in.feature >= 0 || in.alias_of >= 0 || in.cached || in.last_use != step || in.stage != out.stage ||
            in.dtype != out.dtype || !(in.declared == out.declared))
          continue;
        out.alias_of = input;
        in.last_use = std::max(in.last_use, out.last_use);
        break;
      }
    }
  };
  in_place(stages.user, 1);
  in_place(stages.item, count_of(stages.user) + 2);
  in_place(stages.cross, count_of(stages.user) + 2 + count_of(stages.item));
}

Status AllocationInfo::place_buffers(const schema::Model* model, size_t user_rows, size_t item_rows,
                                     size_t extra_bytes, size_t max_items, MemoryPlanner* planner) {
  for (size_t t = 0; t < tensors_.size(); ++t) {
    TensorAllocation& slot = tensors_[t];
    if (slot.constant || slot.stage == kNoStage || slot.alias_of >= 0) continue;
    const int64_t row_elements = slot.declared.elements_from(1);
    const uint64_t rows = slot.stage == kUserStage ? user_rows : item_rows;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(row_elements) * dtype_size(slot.dtype), rows, &bytes) ||
        bytes > (uint64_t{1} << 46))
      return Status::error(Error::kOutOfMemory, "tensor %zu ('%s'): %lld elements per row x %llu rows is too large "
                           "(max_items = %zu)", t, tensor_name(model->tensors()->Get(static_cast<uint32_t>(t))),
                           static_cast<long long>(row_elements), static_cast<unsigned long long>(rows), max_items);
    slot.planned_bytes = static_cast<size_t>(bytes) + extra_bytes;
    Result<int> buffer = planner->add_buffer(slot.planned_bytes, slot.first_use, slot.last_use);
    if (!buffer.ok()) return buffer.status();
    slot.buffer = buffer.value();
  }
  cache_bytes_ = 0;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    TensorAllocation& slot = tensors_[t];
    if (!slot.cached) continue;
    slot.row_bytes = static_cast<size_t>(slot.declared.elements_from(1)) * dtype_size(slot.dtype);
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(slot.row_bytes), static_cast<uint64_t>(max_items), &bytes) ||
        bytes > (uint64_t{1} << 46))
      return Status::error(Error::kOutOfMemory, "cached tensor %zu ('%s'): %zu bytes per row x %zu rows (max_items) "
                           "is too large", t, tensor_name(model->tensors()->Get(static_cast<uint32_t>(t))),
                           slot.row_bytes, max_items);
    slot.cache_offset = cache_bytes_;
    cache_bytes_ += (static_cast<size_t>(bytes) + extra_bytes + 63) / 64 * 64;
  }
  return planner->plan();
}

}  // namespace edgemtl
