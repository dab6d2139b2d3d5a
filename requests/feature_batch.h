// Feature values from JSON objects into the columnar buffers a Session takes.
// Host side (tools, converter, examples, tests); not part of the runtime.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/executor/session.h"

namespace edgemtl::requests {

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
  bool append_list(Column& column, const nlohmann::json& value, std::string* error);
  /// Keeps the batch rectangular after a row failed half-way.
  void drop_partial_row();

  std::vector<Column> columns_;
  std::vector<FeatureInput> inputs_;
  size_t rows_ = 0;
};

/// Short JSON text of `value` for error messages: at most about 80 characters,
/// so a message never echoes a whole id list.
std::string describe(const nlohmann::json& value);

}  // namespace edgemtl::requests
