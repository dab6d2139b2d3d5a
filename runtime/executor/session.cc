// Session: plans the arena, creates the kernels once, then runs the stages.
//
// Execution steps (for lifetimes in the memory plan):
//   0                 user features are copied in
//   1 .. U            user operators
//   U + 1             item features are copied in
//   U + 2 .. U + 1 + I item operators
//   U + 2 + I         task outputs are gathered (the end)
// Tensors the item stage reads from the user stage (user_to_item) and task
// tensors live until the end, so the user cache survives any number of score()
// calls; everything else is reused as soon as it is dead.
//
// Views share another tensor's bytes instead of a buffer of their own: a
// RESHAPE's output, and a TAKE of consecutive columns of a [rows, W] tensor
// that only FULLY_CONNECTEDs read (XNNPACK reads their rows with stride W, so
// the stacked experts' slices are never copied).
#include "runtime/executor/session.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/format/tensor_info.h"
#include "runtime/kernels/activation.h"
#include "runtime/kernels/binary.h"
#include "runtime/kernels/elementwise.h"
#include "runtime/kernels/embedding.h"
#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/half.h"
#include "runtime/kernels/layout.h"
#include "runtime/kernels/matmul.h"
#include "runtime/kernels/mix.h"
#include "runtime/kernels/quantized_fully_connected.h"
#include "runtime/kernels/reduce.h"
#include "runtime/kernels/softmax.h"
#include "runtime/planner/greedy_memory_planner.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace {

constexpr size_t kArenaAlignment = 64;
constexpr int kNoStage = -1;
constexpr int kUserStage = 0;
constexpr int kItemStage = 1;

struct TensorSlot {
  uint8_t* data = nullptr;  // arena, Model bytes, or a padded constant copy
  schema::DType dtype = schema::DType::FLOAT32;
  Shape declared;           // as in the file (rows -1)
  Shape shape;              // at run time (rows filled in when written)
  bool constant = false;
  int stage = kNoStage;     // stage writing it (feature inputs: their side)
  int feature = -1;         // feature index when it is a feature input
  int alias_of = -1;        // a view's root tensor (RESHAPE output, or column view)
  size_t column_offset = 0; // column view: its first column in the root's rows
  size_t row_stride = 0;    // column view: the root's row width in elements; 0: dense rows
  int first_use = 0, last_use = 0;
  int buffer = -1;          // planner buffer id (roots only)
  size_t planned_bytes = 0;
};

struct PreparedOp {
  const schema::Operator* op = nullptr;
  schema::OpType type = schema::OpType::FULLY_CONNECTED;
  int stage = kUserStage;
  uint32_t index = 0;
  int output = -1;
  FullyConnected fully_connected;
  QuantizedFullyConnected quantized_fully_connected;  // FULLY_CONNECTED with an INT8 weight
  bool quantized = false;
  BinaryElementwise binary;
  Sigmoid sigmoid;
  Softmax softmax;
  int64_t default_row = -1;        // EMBEDDING: row for out-of-range ids, or -1
  char what[112] = {0};            // EMBEDDING: "feature 'x'" or "tensor 'y'" for messages
  bool reduced[kMaxRank] = {false};
  int perm[kMaxRank] = {0};
  std::vector<TensorView> views;   // CONCAT and MIX inputs, sized at create
  // EMBEDDING_MULTI, per ids input: what to name in messages, default row (or -1)
  std::vector<std::string> whats;
  std::vector<const char*> what_pointers;
  std::vector<int64_t> default_rows;
  std::vector<const int64_t*> id_pointers;
  std::vector<size_t> id_rows;
};

// After its last job pthreadpool's workers spin-wait (up to a million
// iterations, tens of ms of CPU per worker) for the next one. A last empty job
// flagged YIELD_WORKERS sends them straight to a futex wait, so an idle app
// costs no CPU between requests (XNNPACK of 2022 cannot pass the flag itself).
void park_workers(pthreadpool_t threadpool) {
  if (threadpool == nullptr) return;
  const size_t threads = pthreadpool_get_threads_count(threadpool);
  pthreadpool_parallelize_1d(threadpool, [](void*, size_t) {}, nullptr, threads, PTHREADPOOL_FLAG_YIELD_WORKERS);
}

void* aligned_allocate(size_t bytes) {
  const size_t rounded = (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  return std::aligned_alloc(kArenaAlignment, rounded == 0 ? kArenaAlignment : rounded);
}

}  // namespace

struct Session::Impl {
  const Model* model = nullptr;
  const schema::Model* root = nullptr;
  SessionOptions options;
  pthreadpool_t threadpool = nullptr;
  uint8_t* arena = nullptr;
  size_t arena_size = 0;
  GreedyMemoryPlanner planner{kArenaAlignment};
  std::vector<TensorSlot> tensors;
  std::vector<PreparedOp> user_ops, item_ops;
  std::vector<void*> constant_copies;   // padded copies of constants XNNPACK reads
  std::vector<int8_t> int8_scratch;     // int8 copies of x and y, shared by the INT8 fully-connected layers
  std::vector<float> scores;            // max_items * num_tasks
  std::vector<uint8_t> feature_given;   // per feature, reset on every call
  std::vector<OperatorProfile> profile; // options.profile: user ops then item ops
  bool has_user_features = false;
  bool user_ready = false;
  size_t packed_bytes = 0;
  size_t item_rows = 0;                 // rows the item stage runs on at once (its tensors' planned rows)
  size_t user_rows = 1;                 // rows of user-stage tensors: 1, or item_rows without the user cache
  int end_step = 0;

  ~Impl() {
    user_ops.clear();  // XNNPACK operators go before the threadpool
    item_ops.clear();
    if (threadpool) pthreadpool_destroy(threadpool);
    std::free(arena);
    for (void* copy : constant_copies) std::free(copy);
  }

  int root_of(int tensor) const { return tensors[tensor].alias_of >= 0 ? tensors[tensor].alias_of : tensor; }

  TensorView view(int index) const {
    const TensorSlot& slot = tensors[static_cast<size_t>(index)];
    TensorView v;
    v.data = slot.data;
    v.dtype = slot.dtype;
    v.shape = slot.shape;
    return v;
  }

  void find_column_views();
  Status plan_memory();
  Status prepare_operator(PreparedOp& prepared);
  /// Checks `inputs` (every feature of `side`, `rows` rows each) and copies
  /// rows [first_row, first_row + copy_rows) into the feature tensors.
  Status load_features(Side side, Span<const FeatureInput> inputs, size_t rows, size_t first_row, size_t copy_rows);
  Status run_stage(std::vector<PreparedOp>& ops, int64_t stage_rows);
  Status run_stage_profiled(std::vector<PreparedOp>& ops, int64_t stage_rows);
  Status rerun_user_stage(size_t rows);
  uint64_t flops_of(const PreparedOp& p) const;
  Status run_operator(PreparedOp& prepared, int64_t stage_rows);
};

// Makes the TAKE outputs that can be column views (see the top of the file)
// views of their input's root. Part of plan_memory, once every read is known:
// a tensor the caller or the item stage reads later (task, user cache) lives
// until end_step and stays a copy.
void Session::Impl::find_column_views() {
  std::vector<int> readers(tensors.size(), 0), fc_readers(tensors.size(), 0);
  for (const schema::Stage* stage : {root->user_stage(), root->item_stage()}) {
    if (!stage || !stage->operators()) continue;
    for (const schema::Operator* op : *stage->operators()) {
      if (!op->inputs()) continue;
      for (uint32_t k = 0; k < op->inputs()->size(); ++k) {
        const int input = op->inputs()->Get(k);
        ++readers[input];
        if (k == 0 && op->type() == schema::OpType::FULLY_CONNECTED) ++fc_readers[input];
      }
    }
  }
  for (const schema::Stage* stage : {root->user_stage(), root->item_stage()}) {
    if (!stage || !stage->operators()) continue;
    for (const schema::Operator* op : *stage->operators()) {
      if (op->type() != schema::OpType::TAKE) continue;
      const auto* options = op->options_as_TakeOptions();
      const int input = op->inputs()->Get(0), output = op->outputs()->Get(0);
      const TensorSlot& in = tensors[input];
      const bool range = !options->indices() || options->indices()->size() == 0;
      if (!range || in.constant || in.dtype != schema::DType::FLOAT32 || in.declared.rank != 2 ||
          options->axis() != 1 || tensors[output].declared.rank != 2 || in.row_stride != 0 ||
          tensors[output].last_use == end_step || readers[output] == 0 || readers[output] != fc_readers[output])
        continue;
      tensors[output].column_offset = static_cast<size_t>(options->start());
      tensors[output].row_stride = static_cast<size_t>(in.declared[1]);
      tensors[output].alias_of = root_of(input);
    }
  }
}

Status Session::Impl::plan_memory() {
  const auto* user = root->user_stage() ? root->user_stage()->operators() : nullptr;
  const auto* item = root->item_stage() ? root->item_stage()->operators() : nullptr;
  const int num_user = user ? static_cast<int>(user->size()) : 0;
  const int num_item = item ? static_cast<int>(item->size()) : 0;
  end_step = num_user + num_item + 2;

  // Lifetimes: defined at the writing step, extended by every read.
  auto define = [&](int tensor, int step) {
    tensors[tensor].first_use = step;
    tensors[tensor].last_use = step;
  };
  if (root->features()) {
    for (uint32_t i = 0; i < root->features()->size(); ++i) {
      const schema::Feature* f = root->features()->Get(i);
      TensorSlot& slot = tensors[f->tensor()];
      slot.stage = f->side() == schema::Side::USER ? kUserStage : kItemStage;
      slot.feature = static_cast<int>(i);
      define(f->tensor(), slot.stage == kUserStage ? 0 : num_user + 1);
    }
  }
  auto walk = [&](const flatbuffers::Vector<flatbuffers::Offset<schema::Operator>>* ops, int stage, int first_step) {
    if (!ops) return;
    for (uint32_t i = 0; i < ops->size(); ++i) {
      const schema::Operator* op = ops->Get(i);
      const int step = first_step + static_cast<int>(i);
      if (op->inputs())
        for (int input : *op->inputs())
          if (!tensors[input].constant && tensors[input].last_use < step) tensors[input].last_use = step;
      const int output = op->outputs()->Get(0);
      tensors[output].stage = stage;
      define(output, step);
      if (op->type() == schema::OpType::RESHAPE) tensors[output].alias_of = root_of(op->inputs()->Get(0));
    }
  };
  walk(user, kUserStage, 1);
  walk(item, kItemStage, num_user + 2);
  if (root->user_to_item())
    for (int tensor : *root->user_to_item()) tensors[tensor].last_use = end_step;
  if (root->tasks())
    for (uint32_t i = 0; i < root->tasks()->size(); ++i) tensors[root->tasks()->Get(i)->tensor()].last_use = end_step;
  // Without the user cache every score() runs the user stage again from the user features.
  if (!options.cache_user)
    for (TensorSlot& slot : tensors)
      if (slot.feature >= 0 && slot.stage == kUserStage) slot.last_use = end_step;
  find_column_views();
  // An alias keeps its root alive; the root is written first, so extend it only.
  for (TensorSlot& slot : tensors)
    if (slot.alias_of >= 0 && tensors[slot.alias_of].last_use < slot.last_use)
      tensors[slot.alias_of].last_use = slot.last_use;

  // In place: a binary op whose full-shape input dies at that op writes over
  // it (XNNPACK's elementwise kernels allow it): the split's ADD then reuses
  // the first layer's output instead of doubling the widest tile in cache.
  auto in_place = [&](const flatbuffers::Vector<flatbuffers::Offset<schema::Operator>>* ops, int first_step) {
    if (!ops) return;
    for (uint32_t i = 0; i < ops->size(); ++i) {
      const schema::Operator* op = ops->Get(i);
      const schema::OpType type = op->type();
      if (type != schema::OpType::ADD && type != schema::OpType::SUB && type != schema::OpType::MUL &&
          type != schema::OpType::DIV && type != schema::OpType::MAXIMUM && type != schema::OpType::MINIMUM)
        continue;
      const int step = first_step + static_cast<int>(i);
      const int output = op->outputs()->Get(0);
      TensorSlot& out = tensors[output];
      for (int input : *op->inputs()) {
        TensorSlot& in = tensors[input];
        if (in.constant || in.feature >= 0 || in.alias_of >= 0 || in.last_use != step || in.stage != out.stage ||
            in.dtype != out.dtype || !(in.declared == out.declared))
          continue;
        out.alias_of = input;
        in.last_use = std::max(in.last_use, out.last_use);
        break;
      }
    }
  };
  in_place(user, 1);
  in_place(item, num_user + 2);
  // Views of an in-place output now hang off its input: point every view at
  // its final root (offsets add up) and keep that root alive for all of them.
  for (TensorSlot& slot : tensors) {
    while (slot.alias_of >= 0 && tensors[slot.alias_of].alias_of >= 0) {
      slot.column_offset += tensors[slot.alias_of].column_offset;
      slot.alias_of = tensors[slot.alias_of].alias_of;
    }
    if (slot.alias_of >= 0 && tensors[slot.alias_of].last_use < slot.last_use)
      tensors[slot.alias_of].last_use = slot.last_use;
  }

  // Sizes: one row for user-stage tensors, item_rows (one tile) for item-stage ones.
  for (size_t t = 0; t < tensors.size(); ++t) {
    TensorSlot& slot = tensors[t];
    if (slot.constant || slot.stage == kNoStage || slot.alias_of >= 0) continue;
    const int64_t row_elements = slot.declared.elements_from(1);
    const uint64_t rows = slot.stage == kUserStage ? user_rows : item_rows;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(row_elements) * dtype_size(slot.dtype), rows, &bytes) ||
        bytes > (uint64_t{1} << 46))
      return Status::error(Error::kOutOfMemory, "tensor %zu ('%s') is too large for max_items = %zu", t,
                           tensor_name(root->tensors()->Get(static_cast<uint32_t>(t))), options.max_items);
    // XNNPACK kernels may read XNN_EXTRA_BYTES past an input's end.
    slot.planned_bytes = static_cast<size_t>(bytes) + XNN_EXTRA_BYTES;
    Result<int> buffer = planner.add_buffer(slot.planned_bytes, slot.first_use, slot.last_use);
    if (!buffer.ok()) return buffer.status();
    slot.buffer = buffer.value();
  }
  EMTL_RETURN_IF_ERROR(planner.plan());
  arena_size = planner.total_size();
  arena = static_cast<uint8_t*>(aligned_allocate(arena_size));
  if (!arena) return Status::error(Error::kOutOfMemory, "cannot allocate an arena of %zu bytes", arena_size);
  for (TensorSlot& slot : tensors)
    if (slot.buffer >= 0) slot.data = arena + planner.offset(slot.buffer);
  for (TensorSlot& slot : tensors)
    if (slot.alias_of >= 0) slot.data = tensors[slot.alias_of].data + slot.column_offset * sizeof(float);
  return Status::ok();
}

Status Session::Impl::prepare_operator(PreparedOp& prepared) {
  using schema::OpType;
  const schema::Operator* op = prepared.op;
  const auto* in = op->inputs();
  auto input = [&](uint32_t k) { return in->Get(k); };
  switch (prepared.type) {
    case OpType::FULLY_CONNECTED: {
      const auto* options = op->options_as_FullyConnectedOptions();
      const TensorSlot& weight = tensors[input(1)];
      const float* bias = in->size() > 2 ? reinterpret_cast<const float*>(tensors[input(2)].data) : nullptr;
      const size_t output_channels = static_cast<size_t>(weight.declared[0]);
      const size_t input_channels = static_cast<size_t>(weight.declared[1]);
      const size_t input_stride = tensors[input(0)].row_stride != 0 ? tensors[input(0)].row_stride : input_channels;
      if (weight.dtype == schema::DType::INT8) {
        const size_t rows_per_row = static_cast<size_t>(tensors[input(0)].declared.elements_from(1)) / input_channels;
        const size_t max_rows = rows_per_row * (prepared.stage == kUserStage ? user_rows : item_rows);
        EMTL_RETURN_IF_ERROR(create_quantized_fully_connected(
            op, root->tensors()->Get(static_cast<uint32_t>(input(1))), weight.data,
            in->size() > 2 ? tensors[input(2)].data : nullptr, max_rows, input_stride,
            &prepared.quantized_fully_connected, this->options.int8_vnni));
        prepared.quantized = true;
        packed_bytes += prepared.quantized_fully_connected.packed_weight_bytes();
        if (int8_scratch.size() < prepared.quantized_fully_connected.scratch_bytes())
          int8_scratch.resize(prepared.quantized_fully_connected.scratch_bytes());
        return Status::ok();
      }
      std::vector<float> widened;  // FLOAT16: XNNPACK packs its own f32 copy, this one goes after create
      if (weight.dtype == schema::DType::FLOAT16) {
        widened.resize(output_channels * input_channels);
        half_to_float_n(weight.data, widened.data(), widened.size());
      }
      EMTL_RETURN_IF_ERROR(prepared.fully_connected.create(
          input_channels, input_stride, output_channels,
          widened.empty() ? reinterpret_cast<const float*>(weight.data) : widened.data(), bias,
          options ? options->activation() : schema::Activation::NONE, options ? options->alpha() : 0.01f));
      packed_bytes += prepared.fully_connected.packed_weight_bytes();
      return Status::ok();
    }
    case OpType::EMBEDDING: {
      const auto* options = op->options_as_GatherOptions();
      prepared.default_row =
          options && options->default_row() >= 0 && this->options.map_out_of_range_ids ? options->default_row() : -1;
      const TensorSlot& ids = tensors[input(1)];
      if (ids.feature >= 0)
        std::snprintf(prepared.what, sizeof(prepared.what), "feature '%s'",
                      root->features()->Get(static_cast<uint32_t>(ids.feature))->name()->c_str());
      else
        std::snprintf(prepared.what, sizeof(prepared.what), "tensor '%s' (node '%s')",
                      tensor_name(root->tensors()->Get(static_cast<uint32_t>(input(1)))),
                      op->name() ? op->name()->c_str() : "");
      return Status::ok();
    }
    case OpType::ADD: case OpType::SUB: case OpType::MUL: case OpType::DIV: case OpType::MAXIMUM:
    case OpType::MINIMUM: {
      // XNNPACK may read past the end of an input: give constants padded copies.
      for (uint32_t k = 0; k < 2; ++k) {
        TensorSlot& slot = tensors[input(k)];
        if (!slot.constant) continue;
        const size_t bytes = static_cast<size_t>(slot.declared.num_elements()) * sizeof(float);
        void* copy = aligned_allocate(bytes + XNN_EXTRA_BYTES);
        if (!copy) return Status::error(Error::kOutOfMemory, "cannot copy a constant of %zu bytes", bytes);
        std::memcpy(copy, slot.data, bytes);
        constant_copies.push_back(copy);
        slot.data = static_cast<uint8_t*>(copy);
      }
      const auto* options = op->options_as_BinaryOptions();
      return prepared.binary.create(prepared.type, options ? options->activation() : schema::Activation::NONE,
                                    options ? options->alpha() : 0.01f);
    }
    case OpType::SIGMOID:
      return prepared.sigmoid.create();
    case OpType::SOFTMAX:
      return prepared.softmax.create(tensors[input(0)].declared, op->options_as_AxisOptions()->axis());
    case OpType::REDUCE_SUM: case OpType::REDUCE_MEAN:
      for (int axis : *op->options_as_ReduceOptions()->axes()) prepared.reduced[axis] = true;
      return Status::ok();
    case OpType::TRANSPOSE: {
      const auto* perm = op->options_as_TransposeOptions()->perm();
      for (uint32_t d = 0; d < perm->size(); ++d) prepared.perm[d] = perm->Get(d);
      return Status::ok();
    }
    case OpType::CONCAT: case OpType::MIX:
      prepared.views.resize(in->size());
      return Status::ok();
    case OpType::EMBEDDING_MULTI: {
      const auto* options = op->options_as_EmbeddingMultiOptions();
      const uint32_t k = in->size() - 1;
      for (uint32_t j = 0; j < k; ++j) {
        const TensorSlot& ids = tensors[input(j + 1)];
        char what[112];
        if (ids.feature >= 0)
          std::snprintf(what, sizeof(what), "feature '%s'",
                        root->features()->Get(static_cast<uint32_t>(ids.feature))->name()->c_str());
        else
          std::snprintf(what, sizeof(what), "tensor '%s' (node '%s')",
                        tensor_name(root->tensors()->Get(static_cast<uint32_t>(input(j + 1)))),
                        op->name() ? op->name()->c_str() : "");
        prepared.whats.push_back(what);
        const int64_t default_row = options->default_rows() ? options->default_rows()->Get(j) : -1;
        prepared.default_rows.push_back(default_row >= 0 && this->options.map_out_of_range_ids ? default_row : -1);
      }
      for (const std::string& w : prepared.whats) prepared.what_pointers.push_back(w.c_str());
      prepared.id_pointers.resize(k);
      prepared.id_rows.resize(k);
      return Status::ok();
    }
    default:
      return Status::ok();
  }
}

Result<std::unique_ptr<Session>> Session::create(const Model& model, const SessionOptions& options) {
  constexpr size_t kMaxItemsLimit = size_t{1} << 24;  // keeps every size computation far from overflow
  if (options.max_items < 1 || options.max_items > kMaxItemsLimit)
    return Status::error(Error::kInvalidArgument, "SessionOptions.max_items = %zu, must be in [1, %zu]",
                         options.max_items, kMaxItemsLimit);
  if (options.threads < 1) return Status::error(Error::kInvalidArgument, "SessionOptions.threads must be >= 1");
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  std::unique_ptr<Session> session(new (std::nothrow) Session(model));
  Impl* impl = session ? new (std::nothrow) Impl() : nullptr;
  if (!impl) return Status::error(Error::kOutOfMemory, "cannot allocate the Session");
  session->impl_ = impl;
  impl->model = &model;
  impl->root = model.root();
  impl->options = options;
  impl->item_rows = options.item_tile_rows == 0 ? options.max_items : std::min(options.max_items, options.item_tile_rows);
  impl->user_rows = options.cache_user ? 1 : impl->item_rows;
  const schema::Model* root = model.root();

  const uint32_t num_tensors = root->tensors() ? root->tensors()->size() : 0;
  impl->tensors.resize(num_tensors);
  for (uint32_t t = 0; t < num_tensors; ++t) {
    const schema::Tensor* tensor = root->tensors()->Get(t);
    TensorSlot& slot = impl->tensors[t];
    slot.dtype = tensor->dtype();
    slot.declared = declared_shape(tensor);
    slot.shape = slot.declared;
    slot.constant = is_constant(tensor);
    if (slot.constant) {
      const schema::Buffer* buffer = root->buffers()->Get(static_cast<uint32_t>(tensor->buffer()));
      slot.data = const_cast<uint8_t*>(model.bytes() + buffer->offset());  // never written
    }
  }
  EMTL_RETURN_IF_ERROR(impl->plan_memory());

  if (options.threads > 1) {
    impl->threadpool = pthreadpool_create(static_cast<size_t>(options.threads));
    if (!impl->threadpool) return Status::error(Error::kOutOfMemory, "cannot create a pool of %d threads", options.threads);
    park_workers(impl->threadpool);  // new workers spin too until their first job
  }
  auto prepare_stage = [&](const schema::Stage* stage, int stage_id, std::vector<PreparedOp>& prepared) -> Status {
    if (!stage || !stage->operators()) return Status::ok();
    prepared.resize(stage->operators()->size());
    for (uint32_t i = 0; i < stage->operators()->size(); ++i) {
      PreparedOp& p = prepared[i];
      p.op = stage->operators()->Get(i);
      p.type = p.op->type();
      p.stage = stage_id;
      p.index = i;
      p.output = p.op->outputs()->Get(0);
      EMTL_RETURN_IF_ERROR(impl->prepare_operator(p));
    }
    return Status::ok();
  };
  EMTL_RETURN_IF_ERROR(prepare_stage(root->user_stage(), kUserStage, impl->user_ops));
  EMTL_RETURN_IF_ERROR(prepare_stage(root->item_stage(), kItemStage, impl->item_ops));

  if (options.profile) {
    for (const std::vector<PreparedOp>* ops : {&impl->user_ops, &impl->item_ops})
      for (const PreparedOp& p : *ops)
        impl->profile.push_back({p.op->name() ? p.op->name()->c_str() : "", schema::EnumNameOpType(p.type),
                                 p.stage == kItemStage, 0, 0.0, 0});
  }
  impl->scores.resize(options.max_items * model.num_tasks());
  impl->feature_given.resize(model.num_features());
  for (size_t f = 0; f < model.num_features(); ++f)
    if (model.feature(f).side == Side::kUser) impl->has_user_features = true;
  return Result<std::unique_ptr<Session>>(std::move(session));
}

Session::~Session() { delete impl_; }

Status Session::Impl::load_features(Side side, Span<const FeatureInput> inputs, size_t rows, size_t first_row,
                                    size_t copy_rows) {
  const char* call = side == Side::kUser ? "set_user" : "score";
  std::memset(feature_given.data(), 0, feature_given.size());
  const size_t num_features = feature_given.size();
  for (size_t k = 0; k < inputs.size(); ++k) {
    const FeatureInput& input = inputs[k];
    if (input.feature < 0 || static_cast<size_t>(input.feature) >= num_features)
      return Status::error(Error::kInvalidArgument, "%s: input %zu names feature index %d, the model has %zu features",
                           call, k, input.feature, num_features);
    const FeatureInfo info = model->feature(static_cast<size_t>(input.feature));
    if (info.side != side)
      return Status::error(Error::kInvalidArgument, "%s: feature '%s' is a%s feature", call, info.name,
                           info.side == Side::kUser ? " user" : "n item");
    if (feature_given[static_cast<size_t>(input.feature)])
      return Status::error(Error::kInvalidArgument, "%s: feature '%s' is given twice", call, info.name);
    feature_given[static_cast<size_t>(input.feature)] = 1;
    const size_t expected = rows * static_cast<size_t>(info.width);
    if (input.count != expected)
      return Status::error(Error::kInvalidArgument, "%s: feature '%s' has %zu values, expected %zu (%zu rows x width %lld)",
                           call, info.name, input.count, expected, rows, static_cast<long long>(info.width));
    TensorSlot& slot = tensors[static_cast<size_t>(root->features()->Get(static_cast<uint32_t>(input.feature))->tensor())];
    slot.shape = slot.declared;
    slot.shape[0] = static_cast<int64_t>(copy_rows);
    const size_t begin = first_row * static_cast<size_t>(info.width);
    const size_t end = begin + copy_rows * static_cast<size_t>(info.width);
    if (info.kind == FeatureKind::kDense) {
      if (!input.values || input.ids)
        return Status::error(Error::kInvalidArgument, "%s: feature '%s' is dense: give `values`, not `ids`", call, info.name);
      for (size_t i = begin; i < end; ++i)
        if (!std::isfinite(input.values[i]))
          return Status::error(Error::kInvalidValue, "%s: feature '%s' has a non-finite value (%g) at row %zu", call,
                               info.name, static_cast<double>(input.values[i]), i / static_cast<size_t>(info.width));
      std::memcpy(slot.data, input.values + begin, (end - begin) * sizeof(float));
    } else {
      if (!input.ids || input.values)
        return Status::error(Error::kInvalidArgument, "%s: feature '%s' holds ids: give `ids`, not `values`", call, info.name);
      std::memcpy(slot.data, input.ids + begin, (end - begin) * sizeof(int64_t));
    }
  }
  for (size_t f = 0; f < num_features; ++f) {
    const FeatureInfo info = model->feature(f);
    if (info.side == side && !feature_given[f])
      return Status::error(Error::kMissingFeature, "%s: %s feature '%s' is missing", call,
                           side == Side::kUser ? "user" : "item", info.name);
  }
  return Status::ok();
}

Status Session::Impl::run_operator(PreparedOp& p, int64_t stage_rows) {
  using schema::OpType;
  const auto* in = p.op->inputs();
  // Output rows: the stage's for BROADCAST_ROWS, else the most rows of any
  // activation input (a 1-row user tensor broadcasts against n item rows).
  int64_t rows = 1;
  if (p.type == OpType::BROADCAST_ROWS) {
    rows = stage_rows;
  } else {
    for (int input : *in)
      if (!tensors[input].constant && tensors[input].shape[0] > rows) rows = tensors[input].shape[0];
  }
  TensorSlot& out_slot = tensors[p.output];
  out_slot.shape = out_slot.declared;
  out_slot.shape[0] = rows;
  const TensorView out = view(p.output);
  auto x = [&](uint32_t k) { return view(in->Get(k)); };
  const size_t count = out.num_elements();

  switch (p.type) {
    case OpType::FULLY_CONNECTED: {
      const TensorView input = x(0);
      const size_t gemm_rows = input.num_elements() / static_cast<size_t>(input.shape[input.shape.rank - 1]);
      if (p.quantized)
        return p.quantized_fully_connected.run(input.as<const float>(), gemm_rows, out.as<float>(),
                                               int8_scratch.data(), threadpool);
      return p.fully_connected.run(input.as<const float>(), gemm_rows, out.as<float>(), threadpool);
    }
    case OpType::EMBEDDING: {
      const TensorView table = x(0), ids = x(1);
      const schema::Quantization* q = root->tensors()->Get(static_cast<uint32_t>(in->Get(0)))->quantization();
      const EmbeddingTable lookup{table.data, table.shape[0], table.shape[1], table.dtype,
                                  q && q->scale() ? q->scale()->data() : nullptr};
      const size_t ids_per_row = static_cast<size_t>(ids.shape.elements_from(1));
      return embedding_lookup(lookup, ids.as<const int64_t>(), ids.num_elements(), ids_per_row, p.default_row, p.what,
                              out.as<float>());
    }
    case OpType::EMBEDDING_MULTI: {
      const TensorView table = x(0);
      const schema::Quantization* q = root->tensors()->Get(static_cast<uint32_t>(in->Get(0)))->quantization();
      const EmbeddingTable lookup{table.data, table.shape[0], table.shape[1], table.dtype,
                                  q && q->scale() ? q->scale()->data() : nullptr};
      const auto* options = p.op->options_as_EmbeddingMultiOptions();
      const size_t k = in->size() - 1;
      for (size_t j = 0; j < k; ++j) {
        const TensorView ids = x(static_cast<uint32_t>(j + 1));
        p.id_pointers[j] = ids.as<const int64_t>();
        p.id_rows[j] = static_cast<size_t>(ids.shape[0]);
      }
      return embedding_multi_lookup(lookup, k, p.id_pointers.data(), p.id_rows.data(),
                                    static_cast<size_t>(out.shape[0]), options->row_offsets()->data(),
                                    options->row_counts()->data(), p.default_rows.data(), p.what_pointers.data(),
                                    out.as<float>());
    }
    case OpType::ADD: case OpType::SUB: case OpType::MUL: case OpType::DIV: case OpType::MAXIMUM:
    case OpType::MINIMUM:
      return p.binary.run(x(0), x(1), out, threadpool);
    case OpType::EQUAL: equal(x(0), x(1), out); return Status::ok();
    case OpType::NOT: logical_not(x(0), out); return Status::ok();
    case OpType::WHERE: where(x(0), x(1), x(2), out); return Status::ok();
    case OpType::CAST: cast(x(0), out); return Status::ok();
    case OpType::RELU: relu_f32(x(0).as<const float>(), out.as<float>(), count); return Status::ok();
    case OpType::SIGMOID: return p.sigmoid.run(x(0), out, threadpool);
    case OpType::TANH: tanh_f32(x(0).as<const float>(), out.as<float>(), count); return Status::ok();
    case OpType::LEAKY_RELU: {
      const auto* options = p.op->options_as_ActivationOptions();
      leaky_relu_f32(x(0).as<const float>(), out.as<float>(), count, options ? options->alpha() : 0.01f);
      return Status::ok();
    }
    case OpType::CLIP: {
      const auto* options = p.op->options_as_ClipOptions();
      clip_f32(x(0).as<const float>(), out.as<float>(), count, options ? options->min() : -3.4e38f,
               options ? options->max() : 3.4e38f);
      return Status::ok();
    }
    case OpType::PRELU: prelu(x(0), x(1), out); return Status::ok();
    case OpType::SOFTMAX: return p.softmax.run(x(0), out, threadpool);
    case OpType::REDUCE_SUM: case OpType::REDUCE_MEAN:
      reduce_f32(x(0), p.reduced, p.type == OpType::REDUCE_MEAN, out);
      return Status::ok();
    case OpType::CONCAT: {
      for (uint32_t k = 0; k < in->size(); ++k) p.views[k] = x(k);
      concat(Span<const TensorView>(p.views.data(), p.views.size()), p.op->options_as_AxisOptions()->axis(), out);
      return Status::ok();
    }
    case OpType::MIX: {
      for (uint32_t k = 0; k < in->size(); ++k) p.views[k] = x(k);
      mix_f32(Span<const TensorView>(p.views.data(), p.views.size()), out);
      return Status::ok();
    }
    case OpType::TAKE: {
      if (out_slot.row_stride != 0) return Status::ok();  // a column view: its readers read the root
      const auto* options = p.op->options_as_TakeOptions();
      if (options->indices() && options->indices()->size() > 0)
        take(x(0), options->axis(), options->indices()->data(), options->indices()->size(), out);
      else
        take_range(x(0), options->axis(), options->start(), options->count(), out);
      return Status::ok();
    }
    case OpType::TRANSPOSE: transpose(x(0), p.perm, out); return Status::ok();
    case OpType::MATMUL: matmul_f32(x(0), x(1), out); return Status::ok();
    case OpType::RESHAPE:
      // Shares its input's bytes (planned as an alias): nothing to move.
      if (out.data != x(0).data) std::memcpy(out.data, x(0).data, out.byte_size());
      return Status::ok();
    case OpType::BROADCAST_ROWS: broadcast_rows(x(0), out); return Status::ok();
  }
  return Status::error(Error::kUnsupported, "operator type %d", static_cast<int>(p.type));
}

Status Session::Impl::run_stage(std::vector<PreparedOp>& ops, int64_t stage_rows) {
  if (options.profile) return run_stage_profiled(ops, stage_rows);
  for (PreparedOp& p : ops) {
    Status status = run_operator(p, stage_rows);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

// The same loop with a clock around every operator (kept apart so the plain
// loop stays as it is).
Status Session::Impl::run_stage_profiled(std::vector<PreparedOp>& ops, int64_t stage_rows) {
  OperatorProfile* records = profile.data() + (&ops == &item_ops ? user_ops.size() : 0);
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    Status status = run_operator(ops[i], stage_rows);
    records[i].seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++records[i].calls;
    records[i].flops += flops_of(ops[i]);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

uint64_t Session::Impl::flops_of(const PreparedOp& p) const {
  // 2 * (output elements) * (reduction length), from the shapes just run.
  const Shape& out = tensors[static_cast<size_t>(p.output)].shape;
  const auto output_elements = static_cast<uint64_t>(out.num_elements());
  if (p.type == schema::OpType::FULLY_CONNECTED)
    return 2 * output_elements * static_cast<uint64_t>(tensors[p.op->inputs()->Get(1)].declared[1]);
  if (p.type == schema::OpType::MATMUL) {
    const Shape& a = tensors[p.op->inputs()->Get(0)].shape;
    return 2 * output_elements * static_cast<uint64_t>(a[a.rank - 1]);
  }
  return 0;
}

// Without the user cache: the user's features repeated on `rows` rows and
// the user stage run on them, as for a model with no user/item split.
Status Session::Impl::rerun_user_stage(size_t rows) {
  for (TensorSlot& slot : tensors) {
    if (slot.feature < 0 || slot.stage != kUserStage) continue;
    const size_t row_bytes = static_cast<size_t>(slot.declared.elements_from(1)) * dtype_size(slot.dtype);
    for (size_t r = 1; r < rows; ++r) std::memcpy(slot.data + r * row_bytes, slot.data, row_bytes);
    slot.shape[0] = static_cast<int64_t>(rows);
  }
  return run_stage(user_ops, static_cast<int64_t>(rows));
}

Status Session::set_user(Span<const FeatureInput> user_features) {
  impl_->user_ready = false;
  EMTL_RETURN_IF_ERROR(impl_->load_features(Side::kUser, user_features, 1, 0, 1));
  if (!impl_->options.cache_user) {  // score() runs the user stage
    impl_->user_ready = true;
    return Status::ok();
  }
  Status status = impl_->run_stage(impl_->user_ops, 1);
  park_workers(impl_->threadpool);
  EMTL_RETURN_IF_ERROR(status);
  impl_->user_ready = true;
  return Status::ok();
}

Result<Span<const float>> Session::score(Span<const FeatureInput> item_features, size_t n) {
  Impl& impl = *impl_;
  if (n < 1 || n > impl.options.max_items)
    return Status::error(Error::kInvalidArgument, "score: n = %zu, must be in [1, max_items = %zu]", n,
                         impl.options.max_items);
  if (!impl.user_ready) {
    if (impl.has_user_features)
      return Status::error(Error::kInvalidState, "score: call set_user first (the model has user features)");
    EMTL_RETURN_IF_ERROR(set_user(Span<const FeatureInput>()));
  }
  // The item stage runs on tiles of at most item_rows items (every item
  // operator is row-wise), so its activations stay in cache.
  const size_t num_tasks = impl.model->num_tasks();
  Status status = Status::ok();
  for (size_t first = 0; first < n && status.is_ok(); first += impl.item_rows) {
    const size_t rows = std::min(impl.item_rows, n - first);
    if (!impl.options.cache_user) status = impl.rerun_user_stage(rows);
    if (status.is_ok()) status = impl.load_features(Side::kItem, item_features, n, first, rows);
    if (status.is_ok()) status = impl.run_stage(impl.item_ops, static_cast<int64_t>(rows));
    if (!status.is_ok()) break;
    for (size_t t = 0; t < num_tasks; ++t) {
      const schema::Task* task = impl.root->tasks()->Get(static_cast<uint32_t>(t));
      const TensorSlot& slot = impl.tensors[static_cast<size_t>(task->tensor())];
      const float* values = reinterpret_cast<const float*>(slot.data);
      const size_t per_row = static_cast<size_t>(slot.declared.elements_from(1));
      const bool one_row = slot.shape[0] == 1;  // a user-stage or broadcast tensor (or a 1-row tile)
      for (size_t row = 0; row < rows; ++row)
        impl.scores[(first + row) * num_tasks + t] =
            values[(one_row ? 0 : row) * per_row + static_cast<size_t>(task->column())];
    }
  }
  park_workers(impl.threadpool);
  EMTL_RETURN_IF_ERROR(status);
  return Span<const float>(impl.scores.data(), n * num_tasks);
}

size_t Session::arena_bytes() const { return impl_->arena_size; }

size_t Session::packed_weight_bytes() const { return impl_->packed_bytes; }

Span<const OperatorProfile> Session::profile() const {
  return Span<const OperatorProfile>(impl_->profile.data(), impl_->profile.size());
}

void Session::reset_profile() {
  for (OperatorProfile& record : impl_->profile) {
    record.calls = 0;
    record.seconds = 0.0;
    record.flops = 0;
  }
}

void Session::print_plan(FILE* out) const {
  const Impl& impl = *impl_;
  std::fprintf(out, "steps: 0 user inputs, 1..%zu user operators, %zu item inputs, then item operators, %d tasks\n",
               impl.user_ops.size(), impl.user_ops.size() + 1, impl.end_step);
  std::fprintf(out, "%6s %-32s %5s %6s %6s %12s %12s\n", "tensor", "name", "stage", "first", "last", "offset", "bytes");
  for (size_t t = 0; t < impl.tensors.size(); ++t) {
    const TensorSlot& slot = impl.tensors[t];
    if (slot.constant || slot.stage == kNoStage) continue;
    const char* name = tensor_name(impl.root->tensors()->Get(static_cast<uint32_t>(t)));
    const char* stage = slot.stage == kUserStage ? "user" : "item";
    if (slot.alias_of >= 0) {
      std::fprintf(out, "%6zu %-32s %5s %6d %6d   alias of tensor %d\n", t, name, stage, slot.first_use, slot.last_use,
                   slot.alias_of);
    } else {
      std::fprintf(out, "%6zu %-32s %5s %6d %6d %12zu %12zu\n", t, name, stage, slot.first_use, slot.last_use,
                   impl.planner.offset(slot.buffer), slot.planned_bytes);
    }
  }
  std::fprintf(out, "arena: %zu bytes (max_items = %zu, item tiles of %zu rows); packed weights: %zu bytes\n",
               impl.arena_size, impl.options.max_items, impl.item_rows, impl.packed_bytes);
}

}  // namespace edgemtl
