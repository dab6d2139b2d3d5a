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

struct SessionOptions {
  /// Largest n accepted by score(); the arena is planned for it.
  size_t max_items = 4096;
  /// Worker threads for kernels (1: run on the calling thread).
  int threads = 1;
  /// An id outside its table reads the default row chosen at conversion
  /// (converter option --oov-row) instead of failing. Fails anyway when the
  /// model has no default row.
  bool map_out_of_range_ids = false;
};

/// Values of one feature for `rows` rows, row-major: rows * width values.
/// `ids` for kId/kIdList features, `values` for kDense; the other stays null.
/// Points at caller memory, read during the call only.
struct FeatureInput {
  int32_t feature;              ///< Model::find_feature index
  const int64_t* ids = nullptr;
  const float* values = nullptr;
  size_t count = 0;             ///< number of ids or values given
};

/// Owns the activation arena, the XNNPACK operators (with their packed copy
/// of the fully-connected weights) and the user cache. Not thread-safe: use
/// one Session per thread. Once warm (after the first set_user/score), scoring
/// does no heap allocation. The Model must outlive the Session.
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

  const Model& model() const { return model_; }
  /// Bytes of the activation arena (planned for max_items).
  size_t arena_bytes() const;
  /// Bytes of weights packed by XNNPACK for this Session (beyond the Model).
  size_t packed_weight_bytes() const;
  /// Prints the memory plan (tensor, lifetime, offset, size) to `out`.
  void print_plan(FILE* out) const;

  struct Impl;

 private:
  Session(const Model& model) : model_(model) {}
  const Model& model_;
  Impl* impl_ = nullptr;
};

}  // namespace edgemtl
