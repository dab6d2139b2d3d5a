// Reading feature values from JSON (the request/row formats of edgemtl-run)
// into the columnar buffers a Session takes. Host-side tools and tests only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/executor/session.h"

namespace edgemtl::tools {

/// The values of every feature of one side of a model, for a growing number of
/// rows. Rows are appended from JSON objects `{feature name: value}`; a value is a
/// number, or a list of numbers for list and vector features.
class FeatureBatch {
 public:
  FeatureBatch(const Model& model, Side side);

  /// Appends one row. Each feature of this side is looked up in `primary`, then
  /// in `fallback` (may be null): a request's item rows fall back to its user
  /// object, so one request file serves split and unsplit models alike.
  /// Returns false with `error` set when a feature is missing or malformed.
  bool append_row(const nlohmann::json& primary, const nlohmann::json* fallback, std::string* error);
  void clear();

  size_t rows() const { return rows_; }
  /// Inputs for Session::set_user / score; valid until the batch changes.
  Span<const FeatureInput> inputs();

 private:
  struct Column {
    int32_t feature;
    FeatureInfo info;
    std::vector<int64_t> ids;
    std::vector<float> values;
  };
  bool append_value(Column& column, const nlohmann::json& value, std::string* error);
  /// Keeps the batch rectangular after a row failed half-way.
  void drop_partial_row();

  std::vector<Column> columns_;
  std::vector<FeatureInput> inputs_;
  size_t rows_ = 0;
};

/// Checks that every key of `object` names a feature of `model`; returns false
/// with `error` naming the first unknown key.
bool check_known_features(const Model& model, const nlohmann::json& object, std::string* error);

/// Writes `{"task": score, ...}` for one item, tasks in model order, floats
/// printed exactly (9 significant digits).
void append_task_scores(const Model& model, const float* scores, std::string* out);

/// Parses one JSON line; returns false with `error` set on a syntax error.
bool parse_json_line(const std::string& line, nlohmann::json* out, std::string* error);

}  // namespace edgemtl::tools
