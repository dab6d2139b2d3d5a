// Session: plans the arena (runtime/planner), prepares every operator once
// through its registration (runtime/ops), then runs the stages. Knows no
// operator type: each one is a PreparedOp whose run function it calls.
//
// With threads > 1 a request's item tiles run in parallel, one Lane per thread
// (a tile's operators run one after the other on one core, its activations in
// that core's cache), when every item/cross operator can run in lanes: its
// state only read while it runs (PreparedOp::reentrant, shared by the lanes),
// or cheap to prepare once per lane (nothing packed or copied). Otherwise, and
// for requests of one tile, the GEMMs split their rows over the threads.
#include "runtime/executor/session.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/core/aligned_memory.h"
#include "runtime/format/tensor_info.h"
#include "runtime/kernels/xnn_operator.h"
#include "runtime/ops/registry.h"
#include "runtime/planner/allocation_info.h"
#include "runtime/planner/greedy_memory_planner.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace {

// After its last job pthreadpool's workers spin-wait (up to a million
// iterations, tens of ms of CPU per worker) for the next one. A last empty job
// flagged YIELD_WORKERS sends them straight to a futex wait, so an idle app
// costs no CPU between requests (XNNPACK of 2022 cannot pass the flag itself).
void park_workers(pthreadpool_t threadpool) {
  if (threadpool == nullptr) return;
  const size_t threads = pthreadpool_get_threads_count(threadpool);
  pthreadpool_parallelize_1d(threadpool, [](void*, size_t) {}, nullptr, threads, PTHREADPOOL_FLAG_YIELD_WORKERS);
}

// `bytes` of `what` fit in SessionOptions::max_arena_bytes.
Status check_bound(const char* what, size_t bytes, const SessionOptions& options) {
  if (bytes <= options.max_arena_bytes) return Status::ok();
  return Status::error(Error::kOutOfMemory,
                       "the model needs %s of %zu bytes (max_items %zu), more than SessionOptions::max_arena_bytes = %zu",
                       what, bytes, options.max_items, options.max_arena_bytes);
}

}  // namespace

// The candidate cache (AllocationInfo: the cached tensors' rows for max_items
// candidates): where one cached tensor (or a view of one) is bound.
struct CacheBinding {
  int tensor;                         // a cached tensor or a view of one
  uint8_t* arena_data;                // its bytes in the lane's arena
  size_t cache_offset;                // its first byte in the cache block (root's offset + view's columns)
  size_t row_bytes;                   // the root's row in the cache
};

// What running a tile writes, one per thread that runs tiles. Lane 0 also
// holds the user stage's tensors (the other lanes' slots point at them) and
// runs everything when the tiles do not run in parallel.
struct Lane {
  uint8_t* arena = nullptr;             // owned: the activation arena, planned for one tile
  std::vector<TensorSlot> tensors;      // data and run-time shape, per tensor
  std::vector<PreparedOp> item_ops, cross_ops;  // lanes > 0 borrow lane 0's reentrant states
  std::vector<int8_t> int8_scratch;     // int8 copies of x and y, shared by the INT8 fully-connected layers
  std::vector<float> input_scratch;     // x + addend, shared by the fully-connected layers that stage it
  RunContext run_context;               // what every run sees (points into the members above)
  std::vector<CacheBinding> cache_bindings;
  bool bound_to_cache = false;          // cache_bindings point into the cache (rank), else into the arena
  // A parallel run: the first tile that failed in this lane, and why; when
  // the lane ran out of tiles, and how many it ran.
  size_t failed_tile = 0;
  Status status;

  /// Sizes the layers' shared scratches (PrepareContext's largest needs) and points run_context at them.
  void allocate_scratch(const PrepareContext& context) {
    int8_scratch.resize(context.int8_scratch_bytes);
    input_scratch.resize(context.input_scratch_bytes / sizeof(float));
    run_context.int8_scratch = int8_scratch.data();
    run_context.input_scratch = input_scratch.data();
  }
  std::chrono::steady_clock::time_point claimed, finished;  // its first tile; its last done
  size_t tiles_run = 0;

  Lane() = default;
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;
  ~Lane() {
    item_ops.clear();
    cross_ops.clear();
    std::free(arena);
  }
};

struct Session::Impl {
  const Model* model = nullptr;
  const schema::Model* root = nullptr;
  SessionOptions options;
  pthreadpool_t threadpool = nullptr;   // XNNPACK's GEMMs (options.threads > 1)
  std::unique_ptr<ThreadPool> pool;     // the runtime's own kernels and the lanes (options.threads > 1)
  KernelThreads kernel_threads;         // {threadpool, pool}: a GEMM split over the threads
  size_t arena_size = 0;
  GreedyMemoryPlanner planner{kArenaAlignment};
  AllocationInfo allocation;            // lifetimes and views, per tensor
  std::vector<PreparedOp> user_ops;     // run by lane 0
  // lanes[0] always; one per thread when the tiles run in parallel. Lanes are
  // never moved (their run contexts point into them).
  std::vector<std::unique_ptr<Lane>> lanes;
  std::vector<void*> constant_copies;   // padded copies of constants XNNPACK reads
  std::vector<float> scores;            // max_items * num_tasks
  std::vector<uint8_t> feature_given;   // per feature, reset on every call
  std::vector<OperatorProfile> profile; // options.profile: user ops, item ops, then cross ops
  bool has_user_features = false;
  bool user_ready = false;
  std::vector<int> cached_tensors;      // the roots, ascending
  std::vector<int> user_tensors;        // written by the user stage: lanes > 0 read lane 0's
  uint8_t* cache = nullptr;
  size_t num_candidates = 0;
  size_t packed_bytes = 0;
  // Requests of several tiles still to run on one thread (no lanes) after
  // lanes were held up (a thread descheduled: another process on its core),
  // and how many the next such finding sets.
  size_t single_thread_requests = 0;
  size_t single_thread_backoff = kFirstBackoff;
  static constexpr size_t kFirstBackoff = 64, kMaxBackoff = 4096;
  size_t item_rows = 0;                 // rows the item stage runs on at once (its tensors' planned rows)
  size_t user_rows = 1;                 // rows of user-stage tensors: 1, or item_rows without the user cache

  ~Impl() {
    user_ops.clear();  // XNNPACK operators go before the threadpool
    lanes.clear();
    if (threadpool) pthreadpool_destroy(threadpool);
    std::free(cache);
    for (void* copy : constant_copies) std::free(copy);
  }

  Lane& primary() { return *lanes[0]; }
  Status plan_memory();
  /// Prepares `operators` into `prepared`; with `borrow_from` (lane 0's
  /// operators of the stage), a reentrant one shares that state instead.
  Status prepare_stage(const OperatorList* operators, int stage_id, std::vector<PreparedOp>& prepared,
                       PrepareContext& context, const std::vector<PreparedOp>* borrow_from = nullptr);
  /// Lanes 1 .. threads - 1, when every item and cross operator can run in
  /// lanes at no cost in weights (none packed or copied again); else none.
  Status add_lanes(PrepareContext& context);
  /// Checks `inputs`: every feature of `side` once, `rows` rows each. `call`
  /// names the API call in messages.
  Status check_features(const char* call, Side side, Span<const FeatureInput> inputs, size_t rows);
  /// Copies rows [first_row, first_row + copy_rows) of checked `inputs` into
  /// `lane`'s feature tensors (and checks that dense values are finite).
  Status copy_features(Lane& lane, const char* call, Span<const FeatureInput> inputs, size_t rows, size_t first_row,
                       size_t copy_rows);
  Status load_features(const char* call, Side side, Span<const FeatureInput> inputs, size_t rows, size_t first_row,
                       size_t copy_rows) {
    EMTL_RETURN_IF_ERROR(check_features(call, side, inputs, rows));
    return copy_features(primary(), call, inputs, rows, first_row, copy_rows);
  }
  Status require_user(const char* call);
  /// Points `lane`'s cached tensors (and their views) at cache rows
  /// [first_row, first_row + rows), with that many rows.
  void bind_cache(Lane& lane, size_t first_row, size_t rows);
  /// Points them back at the lane's arena (score, the item stage).
  void bind_arena(Lane& lane);
  /// Runs the item stage on `k` candidates, tile by tile, and copies what the
  /// cross stage reads into cache row positions[j] (row j when null).
  Status fill_cache(const char* call, Span<const FeatureInput> item_features, size_t k, const size_t* positions);
  /// Copies the scores of a tile's rows in `lane` into scores[first_row ..].
  void gather_scores(const Lane& lane, size_t first_row, size_t rows);
  Status run_stage(Lane& lane, std::vector<PreparedOp>& ops, int64_t stage_rows);
  Status run_stage_profiled(Lane& lane, std::vector<PreparedOp>& ops, int64_t stage_rows);
  Status rerun_user_stage(size_t rows);
  OperatorProfile* profile_of(const std::vector<PreparedOp>& ops);
  uint64_t flops_of(const Lane& lane, const PreparedOp& p) const;
  Status run_operator(Lane& lane, PreparedOp& prepared, int64_t stage_rows);
  /// Rows per tile of a request of `n` items: item_rows, or with lanes as
  /// many equal tiles as the lanes need to get the same number each.
  size_t tile_rows(size_t n) const;
  /// score (checked `item_features`) or rank (`from_cache`): runs every tile
  /// of `n` items, in parallel on the lanes when there are several tiles.
  Status run_tiles(const char* call, bool from_cache, Span<const FeatureInput> item_features, size_t n);
  /// After a parallel run: when a lane took more
  /// than 1.5x the fastest lane's time per tile (and 0.25 ms more), or the
  /// lanes finished more than two tiles' time and 0.5 ms apart, a thread was
  /// held up (its core taken by another process) and the others waited for
  /// it; the next single_thread_backoff requests then run on one thread, the
  /// backoff doubling while it recurs (kMaxBackoff at most) and reset by a
  /// request whose lanes kept pace. On a phone the cores are shared; two
  /// threads must not make a request slower than one would.
  void note_lane_balance();
  /// One tile of run_tiles on `lane`.
  Status run_tile(Lane& lane, const char* call, bool from_cache, Span<const FeatureInput> item_features, size_t n,
                  size_t first, size_t rows);
};

// Lifetimes and views from the planner, then one arena for the root tensors.
Status Session::Impl::plan_memory() {
  allocation.build(root, options.cache_user, op_planning);
  // XNNPACK kernels may read XNN_EXTRA_BYTES past an input's end.
  EMTL_RETURN_IF_ERROR(allocation.place_buffers(root, user_rows, item_rows, XNN_EXTRA_BYTES, options.max_items,
                                                &planner));
  arena_size = planner.total_size();
  if (arena_size > options.max_arena_bytes) {
    // Name the largest tensor: usually the one a bad file declares.
    const std::vector<TensorAllocation>& infos = allocation.tensors();
    size_t largest = 0;
    for (size_t t = 1; t < infos.size(); ++t)
      if (infos[t].planned_bytes > infos[largest].planned_bytes) largest = t;
    return Status::error(Error::kOutOfMemory,
                         "the model needs an activation arena of %zu bytes (max_items %zu, item tiles of %zu rows; "
                         "largest: tensor %zu ('%s'), %zu bytes), more than SessionOptions::max_arena_bytes = %zu",
                         arena_size, options.max_items, item_rows, largest,
                         tensor_name(root->tensors()->Get(static_cast<uint32_t>(largest))), infos[largest].planned_bytes,
                         options.max_arena_bytes);
  }
  // Allocated by the first set_candidates; refused now rather than then.
  EMTL_RETURN_IF_ERROR(check_bound("a candidate cache", allocation.cache_bytes(), options));
  Lane& lane = primary();
  std::vector<TensorSlot>& tensors = lane.tensors;
  lane.arena = static_cast<uint8_t*>(aligned_allocate(arena_size));
  if (!lane.arena) return Status::error(Error::kOutOfMemory, "cannot allocate an arena of %zu bytes", arena_size);
  const std::vector<TensorAllocation>& infos = allocation.tensors();
  for (size_t t = 0; t < infos.size(); ++t)
    if (infos[t].buffer >= 0) tensors[t].data = lane.arena + planner.offset(infos[t].buffer);
  for (size_t t = 0; t < infos.size(); ++t)
    if (infos[t].alias_of >= 0)
      tensors[t].data = tensors[static_cast<size_t>(infos[t].alias_of)].data + infos[t].column_offset * sizeof(float);
  // Every tensor whose root is cached reads the cache during rank().
  for (size_t t = 0; t < infos.size(); ++t) {
    const int root = allocation.root_of(static_cast<int>(t));
    if (infos[t].constant || !infos[static_cast<size_t>(root)].cached) continue;
    const TensorAllocation& cached = infos[static_cast<size_t>(root)];
    const size_t columns = static_cast<int>(t) == root ? 0 : infos[t].column_offset * sizeof(float);
    lane.cache_bindings.push_back({static_cast<int>(t), tensors[t].data, cached.cache_offset + columns, cached.row_bytes});
    if (static_cast<int>(t) == root) cached_tensors.push_back(root);
  }
  return Status::ok();
}

Status Session::Impl::prepare_stage(const OperatorList* operators, int stage_id, std::vector<PreparedOp>& prepared,
                                    PrepareContext& context, const std::vector<PreparedOp>* borrow_from) {
  if (!operators) return Status::ok();
  context.max_rows = stage_id == kUserStage ? user_rows : item_rows;
  prepared.resize(operators->size());
  for (uint32_t i = 0; i < operators->size(); ++i) {
    PreparedOp& p = prepared[i];
    p.op = operators->Get(i);
    p.registration = find_op(p.op->type());  // verified at load: known
    p.run = p.registration->run;
    p.stage = stage_id;
    p.index = i;
    p.output = p.op->outputs()->Get(0);
    if (borrow_from && (*borrow_from)[i].reentrant) {
      const PreparedOp& owner = (*borrow_from)[i];
      p.run = owner.run;
      p.reentrant = true;
      p.state.borrow(owner.state);
      continue;
    }
    if (p.registration->prepare) EMTL_RETURN_IF_ERROR(p.registration->prepare(context, p));
    // What the operators packed or copied so far: bounded by the file size
    // per operator, but many operators may share one large constant.
    EMTL_RETURN_IF_ERROR(
        check_bound("weights packed or copied for the session", context.packed_weight_bytes + context.copied_bytes, options));
  }
  return Status::ok();
}

Status Session::Impl::add_lanes(PrepareContext& context) {
  if (options.threads < 2 || options.profile || !options.cache_user) return Status::ok();
  Lane& first = primary();
  const size_t packed_before = context.packed_weight_bytes, copied_before = context.copied_bytes;
  const StageLists stages = stage_lists(root);
  std::vector<std::unique_ptr<Lane>> added;
  Status status = Status::ok();
  for (int k = 1; k < options.threads && status.is_ok(); ++k) {
    std::unique_ptr<Lane> lane(new (std::nothrow) Lane());
    if (!lane) return Status::error(Error::kOutOfMemory, "cannot allocate lane %d", k);
    lane->arena = static_cast<uint8_t*>(aligned_allocate(arena_size));
    if (!lane->arena) return Status::error(Error::kOutOfMemory, "cannot allocate an arena of %zu bytes", arena_size);
    // The same plan in the lane's own arena; user-stage tensors and constants stay shared.
    lane->tensors = first.tensors;
    for (size_t t = 0; t < lane->tensors.size(); ++t) {
      const TensorAllocation& info = allocation.tensor(static_cast<int>(t));
      uint8_t* data = first.tensors[t].data;
      if (info.constant || info.stage == kUserStage || data < first.arena || data >= first.arena + arena_size) continue;
      lane->tensors[t].data = lane->arena + (data - first.arena);
    }
    for (CacheBinding binding : first.cache_bindings) {
      binding.arena_data = lane->arena + (binding.arena_data - first.arena);
      lane->cache_bindings.push_back(binding);
    }
    context.slots = lane->tensors.data();
    status = prepare_stage(stages.item, kItemStage, lane->item_ops, context, &first.item_ops);
    if (status.is_ok()) status = prepare_stage(stages.cross, kCrossStage, lane->cross_ops, context, &first.cross_ops);
    lane->run_context = first.run_context;
    lane->run_context.slots = lane->tensors.data();
    lane->run_context.threads = KernelThreads{};
    lane->allocate_scratch(context);
    added.push_back(std::move(lane));
  }
  context.slots = first.tensors.data();
  EMTL_RETURN_IF_ERROR(status);
  // An operator that packs or copies its weights again per lane (XNNPACK's
  // GEMMs, on ARM): no lanes, the GEMMs split their rows instead.
  if (context.packed_weight_bytes != packed_before || context.copied_bytes != copied_before) {
    context.packed_weight_bytes = packed_before;
    context.copied_bytes = copied_before;
    return Status::ok();
  }
  for (std::unique_ptr<Lane>& lane : added) lanes.push_back(std::move(lane));
  for (size_t t = 0; t < first.tensors.size(); ++t) {
    const TensorAllocation& info = allocation.tensor(static_cast<int>(t));
    if (!info.constant && info.stage == kUserStage) user_tensors.push_back(static_cast<int>(t));
  }
  return Status::ok();
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
  impl->lanes.emplace_back(new (std::nothrow) Lane());
  if (!impl->lanes[0]) return Status::error(Error::kOutOfMemory, "cannot allocate the Session");
  Lane& lane = impl->primary();

  const uint32_t num_tensors = root->tensors() ? root->tensors()->size() : 0;
  lane.tensors.resize(num_tensors);
  for (uint32_t t = 0; t < num_tensors; ++t) {
    const schema::Tensor* tensor = root->tensors()->Get(t);
    TensorSlot& slot = lane.tensors[t];
    slot.shape = declared_shape(tensor);
    if (is_constant(tensor)) {
      const schema::Buffer* buffer = root->buffers()->Get(static_cast<uint32_t>(tensor->buffer()));
      slot.data = const_cast<uint8_t*>(model.bytes() + buffer->offset());  // never written
    }
  }
  EMTL_RETURN_IF_ERROR(impl->plan_memory());

  if (options.threads > 1) {
    impl->threadpool = pthreadpool_create(static_cast<size_t>(options.threads));
    if (!impl->threadpool) return Status::error(Error::kOutOfMemory, "cannot create a pool of %d threads", options.threads);
    park_workers(impl->threadpool);  // new workers spin too until their first job
    Result<std::unique_ptr<ThreadPool>> pool = ThreadPool::create(options.threads);
    EMTL_RETURN_IF_ERROR(pool.status());
    impl->pool = std::move(*pool);
  }
  impl->kernel_threads = KernelThreads{impl->threadpool, impl->pool.get()};
  PrepareContext prepare;
  prepare.model = root;
  prepare.file = model.bytes();
  prepare.allocation = &impl->allocation;
  prepare.slots = lane.tensors.data();
  prepare.map_out_of_range_ids = options.map_out_of_range_ids;
  prepare.int8_vnni = options.int8_vnni;
  prepare.f32_isa = options.f32_kernel == F32Kernel::kXnnpack ? F32Isa::kNone
                    : options.f32_kernel == F32Kernel::kAvx2  ? F32Isa::kAvx2
                                                              : F32Gemm::best_isa();
  prepare.constant_copies = &impl->constant_copies;
  const StageLists stages = stage_lists(root);
  EMTL_RETURN_IF_ERROR(impl->prepare_stage(stages.user, kUserStage, impl->user_ops, prepare));
  EMTL_RETURN_IF_ERROR(impl->prepare_stage(stages.item, kItemStage, lane.item_ops, prepare));
  EMTL_RETURN_IF_ERROR(impl->prepare_stage(stages.cross, kCrossStage, lane.cross_ops, prepare));
  EMTL_RETURN_IF_ERROR(check_bound("an int8 scratch", prepare.int8_scratch_bytes, options));
  EMTL_RETURN_IF_ERROR(check_bound("an input scratch", prepare.input_scratch_bytes, options));
  lane.run_context.tensors = impl->allocation.tensors().data();
  lane.run_context.slots = lane.tensors.data();
  lane.run_context.threads = impl->kernel_threads;
  lane.allocate_scratch(prepare);
  EMTL_RETURN_IF_ERROR(impl->add_lanes(prepare));
  impl->packed_bytes = prepare.packed_weight_bytes;

  if (options.profile) {
    for (const std::vector<PreparedOp>* ops : {&impl->user_ops, &lane.item_ops, &lane.cross_ops})
      for (const PreparedOp& p : *ops)
        impl->profile.push_back({p.op->name() ? p.op->name()->c_str() : "", schema::EnumNameOpType(p.op->type()),
                                 p.stage != kUserStage, 0, 0.0, 0, p.stage});
  }
  EMTL_RETURN_IF_ERROR(check_bound("scores", options.max_items * model.num_tasks() * sizeof(float), options));
  impl->scores.resize(options.max_items * model.num_tasks());
  impl->feature_given.resize(model.num_features());
  for (size_t f = 0; f < model.num_features(); ++f)
    if (model.feature(f).side == Side::kUser) impl->has_user_features = true;
  return Result<std::unique_ptr<Session>>(std::move(session));
}

Session::~Session() { delete impl_; }

namespace {

// One row of an id list (set_user, or score of one item) may have any length:
// padded on the model's side (pad_id_list).
bool is_one_list(const FeatureInfo& info, size_t rows, size_t count) {
  return info.kind == FeatureKind::kIdList && rows == 1 && count != static_cast<size_t>(info.width);
}

}  // namespace

Status Session::Impl::check_features(const char* call, Side side, Span<const FeatureInput> inputs, size_t rows) {
  std::fill(feature_given.begin(), feature_given.end(), uint8_t{0});  // memset on an empty vector's null data() is UB
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
    if (input.count != expected && !is_one_list(info, rows, input.count))
      return Status::error(Error::kInvalidArgument, "%s: feature '%s' has %zu values, expected %zu (%zu rows x width %lld)",
                           call, info.name, input.count, expected, rows, static_cast<long long>(info.width));
    if (info.kind == FeatureKind::kDense) {
      if (!input.values || input.ids)
        return Status::error(Error::kInvalidArgument, "%s: feature '%s' is dense: give `values`, not `ids`", call, info.name);
    } else if ((!input.ids && input.count > 0) || input.values) {
      return Status::error(Error::kInvalidArgument, "%s: feature '%s' holds ids: give `ids`, not `values`", call, info.name);
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

Status Session::Impl::copy_features(Lane& lane, const char* call, Span<const FeatureInput> inputs, size_t rows,
                                    size_t first_row, size_t copy_rows) {
  for (size_t k = 0; k < inputs.size(); ++k) {
    const FeatureInput& input = inputs[k];
    const FeatureInfo info = model->feature(static_cast<size_t>(input.feature));
    const bool one_list = is_one_list(info, rows, input.count);
    const int tensor = root->features()->Get(static_cast<uint32_t>(input.feature))->tensor();
    TensorSlot& slot = lane.tensors[static_cast<size_t>(tensor)];
    slot.shape = allocation.tensor(tensor).declared;
    slot.shape[0] = static_cast<int64_t>(copy_rows);
    const size_t begin = first_row * static_cast<size_t>(info.width);
    const size_t end = begin + copy_rows * static_cast<size_t>(info.width);
    if (info.kind == FeatureKind::kDense) {
      for (size_t i = begin; i < end; ++i)
        if (!std::isfinite(input.values[i]) && !(info.accepts_nan && std::isnan(input.values[i])))
          return Status::error(Error::kInvalidValue, "%s: feature '%s' has a non-finite value (%g) at row %zu", call,
                               info.name, static_cast<double>(input.values[i]), i / static_cast<size_t>(info.width));
      std::memcpy(slot.data, input.values + begin, (end - begin) * sizeof(float));
    } else if (one_list) {
      EMTL_RETURN_IF_ERROR(pad_id_list(info, input.ids, input.count, reinterpret_cast<int64_t*>(slot.data), call));
    } else {
      std::memcpy(slot.data, input.ids + begin, (end - begin) * sizeof(int64_t));
    }
  }
  return Status::ok();
}

Status Session::Impl::run_operator(Lane& lane, PreparedOp& p, int64_t stage_rows) {
  // Output rows: the stage's (BROADCAST_ROWS), else the most rows of any
  // activation input (a 1-row user tensor broadcasts against n item rows).
  int64_t rows = 1;
  const TensorAllocation* infos = lane.run_context.tensors;
  if (p.registration->rows_from_stage) {
    rows = stage_rows;
  } else {
    for (int input : *p.op->inputs())
      if (!infos[input].constant && lane.tensors[input].shape[0] > rows) rows = lane.tensors[input].shape[0];
  }
  TensorSlot& out = lane.tensors[p.output];
  out.shape = infos[p.output].declared;
  out.shape[0] = rows;
  return p.run(lane.run_context, p);
}

Status Session::Impl::run_stage(Lane& lane, std::vector<PreparedOp>& ops, int64_t stage_rows) {
  if (options.profile) return run_stage_profiled(lane, ops, stage_rows);
  for (PreparedOp& p : ops) {
    Status status = run_operator(lane, p, stage_rows);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

// The same loop with a clock around every operator (kept apart so the plain
// loop stays as it is). Profiled Sessions have one lane.
Status Session::Impl::run_stage_profiled(Lane& lane, std::vector<PreparedOp>& ops, int64_t stage_rows) {
  OperatorProfile* records = profile_of(ops);
  for (size_t i = 0; i < ops.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    Status status = run_operator(lane, ops[i], stage_rows);
    records[i].seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++records[i].calls;
    records[i].flops += flops_of(lane, ops[i]);
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

OperatorProfile* Session::Impl::profile_of(const std::vector<PreparedOp>& ops) {
  if (&ops == &user_ops) return profile.data();
  const Lane& lane = *lanes[0];
  return profile.data() + user_ops.size() + (&ops == &lane.item_ops ? 0 : lane.item_ops.size());
}

uint64_t Session::Impl::flops_of(const Lane& lane, const PreparedOp& p) const {
  return p.registration->flops ? p.registration->flops(lane.run_context, p) : 0;
}

// Without the user cache: the user's features repeated on `rows` rows and
// the user stage run on them, as for a model with no user/item split.
Status Session::Impl::rerun_user_stage(size_t rows) {
  Lane& lane = primary();
  for (size_t t = 0; t < lane.tensors.size(); ++t) {
    const TensorAllocation& info = allocation.tensor(static_cast<int>(t));
    if (info.feature < 0 || info.stage != kUserStage) continue;
    TensorSlot& slot = lane.tensors[t];
    const size_t row_bytes = static_cast<size_t>(info.declared.elements_from(1)) * dtype_size(info.dtype);
    for (size_t r = 1; r < rows; ++r) std::memcpy(slot.data + r * row_bytes, slot.data, row_bytes);
    slot.shape[0] = static_cast<int64_t>(rows);
  }
  return run_stage(lane, user_ops, static_cast<int64_t>(rows));
}

Status Session::set_user(Span<const FeatureInput> user_features) {
  impl_->user_ready = false;
  EMTL_RETURN_IF_ERROR(impl_->load_features("set_user", Side::kUser, user_features, 1, 0, 1));
  if (!impl_->options.cache_user) {  // score() runs the user stage
    impl_->user_ready = true;
    return Status::ok();
  }
  Status status = impl_->run_stage(impl_->primary(), impl_->user_ops, 1);
  park_workers(impl_->threadpool);
  EMTL_RETURN_IF_ERROR(status);
  impl_->user_ready = true;
  return Status::ok();
}

Status Session::Impl::require_user(const char* call) {
  if (user_ready) return Status::ok();
  if (has_user_features)
    return Status::error(Error::kInvalidState, "%s: call set_user first (the model has user features)", call);
  Status status = Status::ok();
  if (options.cache_user) status = run_stage(primary(), user_ops, 1);
  user_ready = status.is_ok();
  return status;
}

void Session::Impl::gather_scores(const Lane& lane, size_t first_row, size_t rows) {
  const size_t num_tasks = model->num_tasks();
  for (size_t t = 0; t < num_tasks; ++t) {
    const schema::Task* task = root->tasks()->Get(static_cast<uint32_t>(t));
    const TensorSlot& slot = lane.tensors[static_cast<size_t>(task->tensor())];
    const float* values = reinterpret_cast<const float*>(slot.data);
    const size_t per_row = static_cast<size_t>(allocation.tensor(task->tensor()).declared.elements_from(1));
    const bool one_row = slot.shape[0] == 1;  // a user-stage or broadcast tensor (or a 1-row tile)
    for (size_t row = 0; row < rows; ++row)
      scores[(first_row + row) * num_tasks + t] = values[(one_row ? 0 : row) * per_row + static_cast<size_t>(task->column())];
  }
}

void Session::Impl::bind_cache(Lane& lane, size_t first_row, size_t rows) {
  for (const CacheBinding& b : lane.cache_bindings) {
    TensorSlot& slot = lane.tensors[static_cast<size_t>(b.tensor)];
    slot.data = cache + b.cache_offset + first_row * b.row_bytes;
    slot.shape = allocation.tensor(b.tensor).declared;
    slot.shape[0] = static_cast<int64_t>(rows);
  }
  lane.bound_to_cache = true;
}

void Session::Impl::bind_arena(Lane& lane) {
  if (!lane.bound_to_cache) return;
  for (const CacheBinding& b : lane.cache_bindings) lane.tensors[static_cast<size_t>(b.tensor)].data = b.arena_data;
  lane.bound_to_cache = false;
}

Status Session::Impl::fill_cache(const char* call, Span<const FeatureInput> item_features, size_t k,
                                 const size_t* positions) {
  if (!cache && allocation.cache_bytes() > 0) {
    cache = static_cast<uint8_t*>(aligned_allocate(allocation.cache_bytes()));
    if (!cache)
      return Status::error(Error::kOutOfMemory, "%s: cannot allocate a candidate cache of %zu bytes", call,
                           allocation.cache_bytes());
  }
  Lane& lane = primary();
  bind_arena(lane);
  Status status = check_features(call, Side::kItem, item_features, k);
  for (size_t first = 0; first < k && status.is_ok(); first += item_rows) {
    const size_t rows = std::min(item_rows, k - first);
    status = copy_features(lane, call, item_features, k, first, rows);
    if (status.is_ok()) status = run_stage(lane, lane.item_ops, static_cast<int64_t>(rows));
    if (!status.is_ok()) break;
    // Cached tensors are roots with dense rows in the arena, alive until the cross stage reads them.
    for (int t : cached_tensors) {
      const TensorAllocation& info = allocation.tensor(t);
      const uint8_t* source = lane.tensors[static_cast<size_t>(t)].data;
      uint8_t* target = cache + info.cache_offset;
      if (!positions) {
        std::memcpy(target + first * info.row_bytes, source, rows * info.row_bytes);
        continue;
      }
      for (size_t j = 0; j < rows; ++j)
        std::memcpy(target + positions[first + j] * info.row_bytes, source + j * info.row_bytes, info.row_bytes);
    }
  }
  park_workers(threadpool);
  return status;
}

Status Session::set_candidates(Span<const FeatureInput> item_features, size_t n) {
  Impl& impl = *impl_;
  impl.num_candidates = 0;
  if (n < 1 || n > impl.options.max_items)
    return Status::error(Error::kInvalidArgument, "set_candidates: n = %zu, must be in [1, max_items = %zu]", n,
                         impl.options.max_items);
  EMTL_RETURN_IF_ERROR(impl.fill_cache("set_candidates", item_features, n, nullptr));
  impl.num_candidates = n;
  return Status::ok();
}

Status Session::replace_candidates(Span<const size_t> positions, Span<const FeatureInput> item_features) {
  Impl& impl = *impl_;
  const size_t n = impl.num_candidates;
  if (n == 0) return Status::error(Error::kInvalidState, "replace_candidates: call set_candidates first");
  if (positions.size() < 1 || positions.size() > n)
    return Status::error(Error::kInvalidArgument, "replace_candidates: %zu positions, must be in [1, %zu candidates]",
                         positions.size(), n);
  for (size_t j = 0; j < positions.size(); ++j)
    if (positions[j] >= n)
      return Status::error(Error::kInvalidArgument, "replace_candidates: positions[%zu] = %zu, there are %zu candidates",
                           j, positions[j], n);
  impl.num_candidates = 0;  // until every row is in place
  EMTL_RETURN_IF_ERROR(impl.fill_cache("replace_candidates", item_features, positions.size(), positions.data()));
  impl.num_candidates = n;
  return Status::ok();
}

size_t Session::Impl::tile_rows(size_t n) const {
  const size_t count = lanes.size();
  if (count == 1) return item_rows;
  // Tiles of fewer rows than this gain less from a second core than the hand-over costs.
  constexpr size_t kMinLaneTileRows = 16;
  size_t tiles = (n + item_rows - 1) / item_rows;
  tiles = (tiles + count - 1) / count * count;
  const size_t rows = (n + tiles - 1) / tiles;
  return rows < kMinLaneTileRows ? std::min(n, item_rows) : rows;
}

Status Session::Impl::run_tile(Lane& lane, const char* call, bool from_cache, Span<const FeatureInput> item_features,
                               size_t n, size_t first, size_t rows) {
  if (!options.cache_user) EMTL_RETURN_IF_ERROR(rerun_user_stage(rows));  // one lane only
  if (from_cache) {
    bind_cache(lane, first, rows);
  } else {
    bind_arena(lane);
    EMTL_RETURN_IF_ERROR(copy_features(lane, call, item_features, n, first, rows));
    EMTL_RETURN_IF_ERROR(run_stage(lane, lane.item_ops, static_cast<int64_t>(rows)));
  }
  EMTL_RETURN_IF_ERROR(run_stage(lane, lane.cross_ops, static_cast<int64_t>(rows)));
  gather_scores(lane, first, rows);
  return Status::ok();
}

namespace {

// The tiles of one request, claimed one at a time by the lanes.
struct TileRun {
  Session::Impl* impl;
  const char* call;
  bool from_cache;
  Span<const FeatureInput> item_features;
  size_t n, rows_per_tile, tiles;
  std::atomic<size_t> next_tile{0};
  std::atomic<bool> failed{false};
};

}  // namespace

Status Session::Impl::run_tiles(const char* call, bool from_cache, Span<const FeatureInput> item_features, size_t n) {
  const size_t rows_per_tile = tile_rows(n);
  const size_t tiles = (n + rows_per_tile - 1) / rows_per_tile;
  Lane& first_lane = primary();
  const bool parallel = tiles > 1 && lanes.size() > 1;
  if (!parallel || single_thread_requests > 0) {
    // One lane. Its GEMMs split their rows over the threads, unless this
    // request backs off after one slowed down by a held-up lane: one thread.
    const bool backing_off = parallel;
    if (backing_off) --single_thread_requests;
    first_lane.run_context.threads = backing_off ? KernelThreads{} : kernel_threads;
    Status status = Status::ok();
    for (size_t first = 0; first < n && status.is_ok(); first += rows_per_tile)
      status = run_tile(first_lane, call, from_cache, item_features, n, first, std::min(rows_per_tile, n - first));
    first_lane.run_context.threads = kernel_threads;
    return status;
  }
  first_lane.run_context.threads = KernelThreads{};  // its thread is busy with its own tiles
  for (size_t k = 1; k < lanes.size(); ++k)  // the user stage's rows, as set_user left them
    for (int t : user_tensors) lanes[k]->tensors[static_cast<size_t>(t)].shape = first_lane.tensors[static_cast<size_t>(t)].shape;
  TileRun run{this, call, from_cache, item_features, n, rows_per_tile, tiles};
  for (std::unique_ptr<Lane>& lane : lanes) {
    lane->failed_tile = tiles;
    lane->tiles_run = 0;
  }
  pool->parallel_for(
      lanes.size(),
      [](void* context, size_t index) {
        TileRun& r = *static_cast<TileRun*>(context);
        Lane& lane = *r.impl->lanes[index];
        while (!r.failed.load(std::memory_order_relaxed)) {
          const size_t tile = r.next_tile.fetch_add(1, std::memory_order_relaxed);
          if (tile >= r.tiles) break;
          const size_t first = tile * r.rows_per_tile;
          if (lane.tiles_run == 0) lane.claimed = std::chrono::steady_clock::now();
          Status status = r.impl->run_tile(lane, r.call, r.from_cache, r.item_features, r.n, first,
                                           std::min(r.rows_per_tile, r.n - first));
          ++lane.tiles_run;
          if (!status.is_ok()) {
            lane.failed_tile = tile;
            lane.status = status;
            r.failed.store(true, std::memory_order_relaxed);
          }
        }
        lane.finished = std::chrono::steady_clock::now();
      },
      &run);
  first_lane.run_context.threads = kernel_threads;
  note_lane_balance();
  // The error of the first failing tile, as one lane would have reported it.
  const Lane* failed = nullptr;
  for (const std::unique_ptr<Lane>& lane : lanes)
    if (lane->failed_tile < tiles && (!failed || lane->failed_tile < failed->failed_tile)) failed = lane.get();
  return failed ? failed->status : Status::ok();
}

void Session::Impl::note_lane_balance() {
  std::chrono::steady_clock::time_point first = {}, last = {};
  // Time per tile of the fastest and the slowest lane, from its first tile (a
  // worker's wake-up is not its tiles' time).
  std::chrono::steady_clock::duration fastest = {}, slowest = {};
  bool any = false;
  for (const std::unique_ptr<Lane>& lane : lanes) {
    if (lane->tiles_run == 0) continue;
    const auto per_tile = (lane->finished - lane->claimed) / static_cast<int64_t>(lane->tiles_run);
    if (!any || lane->finished < first) first = lane->finished;
    if (!any || lane->finished > last) last = lane->finished;
    if (!any || per_tile < fastest) fastest = per_tile;
    if (!any || per_tile > slowest) slowest = per_tile;
    any = true;
  }
  if (!any) return;
  // Lanes that keep pace finish within about one tile of each other, at about
  // the same time per tile (the tiles are equal). A thread held up by the OS
  // loses time slices of about a millisecond: its tiles take far longer, or
  // it finishes far behind. Hiccups of an idle machine (a wake-up, an
  // interrupt: tens of us) must not count: they would cost the next requests
  // their second thread.
  constexpr std::chrono::microseconds kHeldUp{500};
  const bool slow_lane = slowest > fastest + fastest / 2 && slowest - fastest > kHeldUp / 2;
  if (!slow_lane && last - first <= 2 * fastest + kHeldUp) {
    single_thread_backoff = kFirstBackoff;
    return;
  }
  // At once: waiting for a second held-up request let R500 requests of twice
  // the 1-thread time through (measured); a false alarm costs 64 requests
  // their second thread, never more time than one thread takes.
  single_thread_requests = single_thread_backoff;
  single_thread_backoff = std::min(2 * single_thread_backoff, kMaxBackoff);
}

Result<Span<const float>> Session::rank() {
  Impl& impl = *impl_;
  const size_t n = impl.num_candidates;
  if (n == 0) return Status::error(Error::kInvalidState, "rank: call set_candidates first");
  EMTL_RETURN_IF_ERROR(impl.require_user("rank"));
  // The tiles of score(): the cross stage reads the cached rows of each.
  Status status = impl.run_tiles("rank", true, Span<const FeatureInput>(), n);
  park_workers(impl.threadpool);
  EMTL_RETURN_IF_ERROR(status);
  return Span<const float>(impl.scores.data(), n * impl.model->num_tasks());
}

Result<Span<const float>> Session::score(Span<const FeatureInput> item_features, size_t n) {
  Impl& impl = *impl_;
  if (n < 1 || n > impl.options.max_items)
    return Status::error(Error::kInvalidArgument, "score: n = %zu, must be in [1, max_items = %zu]", n,
                         impl.options.max_items);
  EMTL_RETURN_IF_ERROR(impl.require_user("score"));
  EMTL_RETURN_IF_ERROR(impl.check_features("score", Side::kItem, item_features, n));
  // The item and cross stages run on tiles of at most item_rows items (every
  // operator is row-wise), so their activations stay in cache.
  Status status = impl.run_tiles("score", false, item_features, n);
  park_workers(impl.threadpool);
  EMTL_RETURN_IF_ERROR(status);
  return Span<const float>(impl.scores.data(), n * impl.model->num_tasks());
}

size_t Session::num_candidates() const { return impl_->num_candidates; }

size_t Session::candidate_cache_bytes() const { return impl_->allocation.cache_bytes(); }

size_t Session::arena_bytes() const { return impl_->arena_size; }

size_t Session::tile_lanes() const { return impl_->lanes.size(); }

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
  std::fprintf(out,
               "steps: 0 user inputs, 1..%zu user operators, %zu item inputs, %zu item operators, %zu cross "
               "operators, %d tasks\n",
               impl.user_ops.size(), impl.user_ops.size() + 1, impl.lanes[0]->item_ops.size(), impl.lanes[0]->cross_ops.size(),
               impl.allocation.end_step());
  std::fprintf(out, "%6s %-32s %5s %6s %6s %12s %12s\n", "tensor", "name", "stage", "first", "last", "offset", "bytes");
  for (size_t t = 0; t < impl.lanes[0]->tensors.size(); ++t) {
    const TensorAllocation& slot = impl.allocation.tensor(static_cast<int>(t));
    if (slot.constant || slot.stage == kNoStage) continue;
    const char* name = tensor_name(impl.root->tensors()->Get(static_cast<uint32_t>(t)));
    const char* stage = slot.stage == kUserStage ? "user" : slot.stage == kItemStage ? "item" : "cross";
    if (slot.alias_of >= 0) {
      std::fprintf(out, "%6zu %-32s %5s %6d %6d   alias of tensor %d\n", t, name, stage, slot.first_use, slot.last_use,
                   slot.alias_of);
    } else {
      std::fprintf(out, "%6zu %-32s %5s %6d %6d %12zu %12zu%s\n", t, name, stage, slot.first_use, slot.last_use,
                   impl.planner.offset(slot.buffer), slot.planned_bytes, slot.cached ? "  cached" : "");
    }
  }
  std::fprintf(out, "arena: %zu bytes (max_items = %zu, item tiles of %zu rows); packed weights: %zu bytes\n",
               impl.arena_size, impl.options.max_items, impl.item_rows, impl.packed_bytes);
  std::fprintf(out, "candidate cache: %zu bytes for %zu candidates (%zu tensors, allocated by the first set_candidates)\n",
               impl.allocation.cache_bytes(), impl.options.max_items, impl.cached_tensors.size());
}

}  // namespace edgemtl
