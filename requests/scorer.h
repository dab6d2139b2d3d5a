// Scoring requests with a Session: the one loop every host tool, the
// converter's calibration and the examples share.
#pragma once

#include <string>
#include <vector>

#include "requests/feature_batch.h"
#include "requests/request.h"
#include "runtime/executor/session.h"

namespace edgemtl::requests {

/// Runs requests through one Session. Holds the feature buffers, so a scorer
/// reused across requests stops allocating once they have grown.
class RequestScorer {
 public:
  /// `model` and `session` are borrowed and must outlive the scorer.
  /// `max_items` is the session's SessionOptions::max_items.
  RequestScorer(const Model& model, Session& session, size_t max_items);

  /// Scores every item of `request`: the user stage once (when the model has
  /// user features), then the items in chunks of at most max_items. Appends
  /// items x tasks scores to `scores`; on failure returns false with `error`
  /// ("item I: ..." when the request has several items).
  bool score(const Request& request, std::vector<float>* scores, std::string* error);

  /// The two steps of score(), for callers that time the runtime alone:
  /// load() fills the feature buffers with the user and items [first, first + n)
  /// of `request` (n <= max_items); then run_user() runs the user stage (nothing
  /// when the model has no user features) and run_items() the item stage, as
  /// often as wanted. The scores stay valid until the next call on the session.
  bool load(const Request& request, size_t first, size_t n, std::string* error);
  Status run_user();
  Result<Span<const float>> run_items();

  bool has_user_features() const { return has_user_features_; }

 private:
  /// Fills the item buffers alone (the user row stays as loaded).
  bool load_items(const Request& request, size_t first, size_t n, std::string* error);

  const Model& model_;
  Session& session_;
  size_t max_items_;
  bool has_user_features_ = false;
  FeatureBatch user_, items_;
};

/// Appends `{"task": score, ...}` for one item, tasks in model order, floats
/// printed exactly (9 significant digits), non-finite scores as null.
void append_task_scores(const Model& model, const float* scores, std::string* out);

}  // namespace edgemtl::requests
