#include "requests/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgemtl::requests {

RequestScorer::RequestScorer(const Model& model, Session& session, size_t max_items)
    : model_(model), session_(session), max_items_(max_items), user_(model, Side::kUser), items_(model, Side::kItem) {
  for (size_t f = 0; f < model.num_features(); ++f) has_user_features_ |= model.feature(f).side == Side::kUser;
}

bool RequestScorer::load(const Request& request, size_t first, size_t n, std::string* error) {
  user_.clear();
  if (has_user_features_ && !user_.append_row(request.user, nullptr, error)) return false;
  return load_items(request, first, n, error);
}

bool RequestScorer::load_items(const Request& request, size_t first, size_t n, std::string* error) {
  items_.clear();
  for (size_t i = first; i < first + n && i < request.items.size(); ++i) {
    if (!items_.append_row(request.items[i], &request.user, error)) {
      if (request.items.size() > 1) *error = "item " + std::to_string(i) + ": " + *error;
      return false;
    }
  }
  return true;
}

Status RequestScorer::run_user() { return has_user_features_ ? session_.set_user(user_.inputs()) : Status::ok(); }

Result<Span<const float>> RequestScorer::run_items() { return session_.score(items_.inputs(), items_.rows()); }

bool RequestScorer::score(const Request& request, std::vector<float>* scores, std::string* error) {
  const size_t tasks = model_.num_tasks();
  // The user row is read and its stage run once; the items go in chunks of max_items.
  if (!load(request, 0, std::min(max_items_, request.items.size()), error)) return false;
  const Status status = run_user();
  if (!status.is_ok()) {
    *error = status.message();
    return false;
  }
  for (size_t first = 0; first < request.items.size(); first += max_items_) {
    const size_t n = std::min(max_items_, request.items.size() - first);
    if (first > 0 && !load_items(request, first, n, error)) return false;
    auto result = run_items();
    if (!result.ok()) {
      *error = result.status().message();
      return false;
    }
    scores->insert(scores->end(), result->data(), result->data() + n * tasks);
  }
  return true;
}

void append_task_scores(const Model& model, const float* scores, std::string* out) {
  out->push_back('{');
  char number[32];
  for (size_t t = 0; t < model.num_tasks(); ++t) {
    if (t > 0) out->append(", ");
    out->append(nlohmann::json(model.task(t).name).dump());
    out->append(": ");
    if (std::isfinite(scores[t])) {
      std::snprintf(number, sizeof(number), "%.9g", static_cast<double>(scores[t]));
      out->append(number);
    } else {
      out->append("null");  // JSON has no NaN; the runtime rejects NaN inputs, so this flags a model problem
    }
  }
  out->push_back('}');
}

}  // namespace edgemtl::requests
