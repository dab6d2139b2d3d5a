// Session: scores items with one Model; one Session per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "runtime/core/result.h"
#include "runtime/core/span.h"
#include "runtime/format/model.h"

namespace edgemtl {

/// Which kernels run the FLOAT32 (and FLOAT16, widened) fully-connected layers.
enum class F32Kernel {
  kAuto,     ///< the runtime's own on x86-64 (AVX-512, else AVX2+FMA3, from the CPU), XNNPACK elsewhere
  kXnnpack,  ///< XNNPACK always (edgemtl-bench --no-own-f32, to compare)
  kAvx2,     ///< the own AVX2+FMA3 kernel even on an AVX-512 CPU (XNNPACK without AVX2; for tests)
};

struct SessionOptions {
  /// Largest n accepted by score().
  size_t max_items = 4096;
  /// score() runs the item stage on tiles of at most this many items, so
  /// that its activations stay in cache; the arena is planned for one tile.
  /// 0: all n items at once (arena planned for max_items). 72 is a
  /// multiple of 4, 6 and 8, the row blocks of the runtime's own GEMMs (f32:
  /// 8 AVX-512, 6 AVX2; int8 VNNI: 8) and of XNNPACK's on ARM (4, 6 or 8),
  /// so that no layer ends on a partial block; requests of up to 72 items are
  /// one tile. Against 168 rows (whose first R500 layer output, 1.4 MB, did
  /// not stay in a 1 MB L2), 72 measured 1.02-1.05x faster on the R500
  /// benchmark's item stage on Zen 4 (docs/PERFORMANCE.md, "The harness and the item tiles").
  size_t item_tile_rows = 72;
  /// Threads, the caller's included (1: everything on the calling thread).
  /// A score() or rank() of several tiles runs whole tiles in parallel, one
  /// per thread ("lanes": all of a tile's operators on one core, so a layer's
  /// output is read where it was written), the tiles then of equal size
  /// (500 items on 2 threads: 4 tiles of 125). Each lane has its own
  /// activation arena (threads x arena_bytes()) and shares the weights. A
  /// request of one tile, set_user, set_candidates, and Sessions whose layers
  /// cannot share their packed weights between threads (XNNPACK's GEMMs: ARM),
  /// or with `profile` or without `cache_user`, split each large GEMM's rows
  /// over the threads instead. The Session owns threads - 1 workers
  /// (ThreadPool: few large tasks, a worker the OS has not scheduled is never
  /// waited for, spinning bounded to 300 us) and a pthreadpool for XNNPACK's
  /// GEMMs (its workers sleep between calls). The scores are bitwise
  /// identical for any number of threads.
  int threads = 1;
  /// An id outside its table reads the default row chosen at conversion
  /// (converter option --oov-row) instead of failing. Fails anyway when the
  /// model has no default row.
  bool map_out_of_range_ids = false;
  /// false: no user cache. set_user only keeps the features; every score()
  /// repeats them on each item row and runs the user stage on those rows, as
  /// a model without the user/item split would (same results). For measuring
  /// what the cache saves (edgemtl-bench --no-user-cache).
  bool cache_user = true;
  /// INT8 fully-connected layers run on an AVX-512 VNNI kernel of the runtime
  /// when the CPU has it (x86-64; about 2x XNNPACK's int8 GEMM there), else
  /// on XNNPACK. false: XNNPACK always (edgemtl-bench --no-vnni, to compare).
  bool int8_vnni = true;
  /// FLOAT32 / FLOAT16 fully-connected layers: the runtime's own AVX-512 or
  /// AVX2 micro-kernels on x86-64 (1.2-1.5x XNNPACK's f32 GEMM on Zen 5,
  /// docs/PERFORMANCE.md), XNNPACK elsewhere; kXnnpack forces XNNPACK.
  F32Kernel f32_kernel = F32Kernel::kAuto;
  /// Records the time and calls of every operator (Session::profile()).
  /// Off: no cost beyond one branch per stage run.
  bool profile = false;
  /// The most a Session allocates for each block whose size comes from the
  /// model file: the activation arena (arena_bytes()), the candidate cache
  /// (candidate_cache_bytes()), the int8 scratch, the scores (max_items x
  /// tasks) and, together, the weights it packs or copies (packed_weight_bytes()).
  /// create() refuses a model needing more with Error::kOutOfMemory and the
  /// sizes in the message, before allocating the block (the packed weights: as
  /// soon as the operator that crosses the bound is prepared). A file of a few
  /// hundred bytes can declare a tensor of terabytes; the default, 1 GiB, is
  /// far above what the R500 benchmark models need (a few MB).
  size_t max_arena_bytes = size_t{1} << 30;
};

/// What SessionOptions::profile records for one operator, accumulated over
/// every set_user / score call since create or reset_profile().
struct OperatorProfile {
  const char* name;      ///< the operator's name in the file ("" if none); lives as long as the Model
  const char* type;      ///< its OpType, e.g. "FULLY_CONNECTED"
  bool item_stage;       ///< false: user stage; true: item or cross stage (see `stage`)
  uint64_t calls;
  double seconds;
  uint64_t flops;        ///< 2 * multiply-adds of FULLY_CONNECTED and MATMUL; 0 for the others
  int stage;             ///< 0 user, 1 item, 2 cross (a file without a cross stage runs its item stage as cross)
};

/// Values of one feature for `rows` rows, row-major: rows * width values.
/// `ids` for kId/kIdList features, `values` for kDense; the other stays null.
/// Points at caller memory, read during the call only.
struct FeatureInput {
  int32_t feature;              ///< Model::find_feature index
  const int64_t* ids = nullptr;
  const float* values = nullptr;
  size_t count = 0;             ///< number of ids or values given: rows * width, except that in a
                                ///< one-row call an ID_LIST takes any list of 0..width ids, padded
                                ///< with its padding id on the model's side (pad_id_list); a longer
                                ///< list fails unless the model keeps the last ids
};

/// Owns the activation arena, the XNNPACK operators (with their packed copy
/// of the fully-connected weights), the user cache and the candidate cache.
/// Not thread-safe: use one Session per thread. Once warm (after the first
/// set_user/score, or set_candidates for the candidate cache), scoring and
/// re-ranking do no heap allocation. The Model must outlive the Session.
///
/// Two ways to score. score(items, n) runs the item and cross stages on n
/// items at once. For re-ranking the same candidates after every user action:
/// set_candidates(items, n) once (item stage, cached), then set_user + rank()
/// as often as the user changes (cross stage only); replace_candidates swaps a
/// few of them. rank() is bitwise equal to score() of the same user and items.
class Session {
 public:
  static Result<std::unique_ptr<Session>> create(const Model& model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Runs the user stage on one row of user features (every USER feature
  /// exactly once) and caches its results for the following score() calls.
  Status set_user(Span<const FeatureInput> user_features);

  /// Runs the item stage on `n` items (1 <= n <= max_items) given every ITEM
  /// feature with n rows. Returns n * num_tasks scores, row-major (item, task),
  /// owned by the Session and valid until the next call on it.
  Result<Span<const float>> score(Span<const FeatureInput> item_features, size_t n);

  /// Runs the item stage on `n` candidates (1 <= n <= max_items; every ITEM
  /// feature with n rows, read during the call only) and keeps, for each, what
  /// the cross stage reads: the candidate cache (candidate_cache_bytes(), for
  /// max_items rows, allocated by the first call and owned by the Session).
  /// Needs no user. Replaces the previous candidates; on failure none are kept.
  Status set_candidates(Span<const FeatureInput> item_features, size_t n);

  /// Replaces the candidates at `positions` (k = positions.size() >= 1, each
  /// < num_candidates()) by k new ones given with k rows per ITEM feature: row
  /// j becomes candidate positions[j] (a position given twice keeps its last
  /// row). Runs the item stage on those k rows only; the others stay cached.
  /// On failure no candidates are kept (set_candidates again).
  Status replace_candidates(Span<const size_t> positions, Span<const FeatureInput> item_features);

  /// Runs only the cross stage over the cached candidates with the user of the
  /// last set_user. Returns num_candidates() * num_tasks scores, row-major
  /// (candidate, task), bitwise equal to score() of the same user and items;
  /// owned by the Session and valid until the next call on it.
  Result<Span<const float>> rank();

  /// Candidates in the cache (0 before set_candidates or after a failed one).
  size_t num_candidates() const;
  /// Bytes of the candidate cache (max_items rows of every tensor the cross
  /// stage reads from the item stage), allocated by the first set_candidates.
  size_t candidate_cache_bytes() const;

  const Model& model() const { return model_; }
  /// Bytes of the activation arena (planned for one item tile, see
  /// item_tile_rows); each lane has one (SessionOptions::threads).
  size_t arena_bytes() const;
  /// Lanes that run a request's tiles in parallel (SessionOptions::threads):
  /// threads, or 1 when this Session splits each GEMM over the threads instead.
  size_t tile_lanes() const;
  /// Bytes of weights packed by XNNPACK (or the int8 VNNI kernel) for this Session (beyond the Model).
  size_t packed_weight_bytes() const;
  /// Prints the memory plan (tensor, lifetime, offset, size) to `out`.
  void print_plan(FILE* out) const;
  /// One record per operator, user stage, item stage then cross stage, in
  /// execution order; empty unless SessionOptions::profile.
  Span<const OperatorProfile> profile() const;
  /// Sets every record's calls, seconds and flops back to zero.
  void reset_profile();

  struct Impl;

 private:
  Session(const Model& model) : model_(model) {}
  const Model& model_;
  Impl* impl_ = nullptr;
};

}  // namespace edgemtl
