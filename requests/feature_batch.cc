#include "requests/feature_batch.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace edgemtl::requests {

FeatureBatch::FeatureBatch(const Model& model, Side side) {
  for (size_t i = 0; i < model.num_features(); ++i) {
    FeatureInfo info = model.feature(i);
    if (info.side == side) columns_.push_back(Column{static_cast<int32_t>(i), info, {}, {}});
  }
}

void FeatureBatch::clear() {
  for (Column& column : columns_) {
    column.ids.clear();
    column.values.clear();
  }
  rows_ = 0;
}

static bool is_id_kind(FeatureKind kind) { return kind == FeatureKind::kId || kind == FeatureKind::kIdList; }

bool FeatureBatch::append_value(Column& column, const nlohmann::json& value, std::string* error) {
  const FeatureInfo& info = column.info;
  const std::string name = std::string("feature '") + info.name + "'";
  // A scalar is accepted for width-1 features; otherwise a list of exactly `width` numbers.
  std::vector<const nlohmann::json*> elements;
  if (value.is_null() && info.kind == FeatureKind::kDense) {
    // A whole missing dense feature: every value missing (NaN), accepted by the
    // runtime only when the model tests the feature for NaN.
    column.values.insert(column.values.end(), static_cast<size_t>(info.width), std::nanf(""));
    return true;
  }
  if (value.is_array()) {
    for (const nlohmann::json& element : value) elements.push_back(&element);
  } else {
    elements.push_back(&value);
  }
  if (info.kind == FeatureKind::kIdList && value.is_array()) return append_list(column, value, error);
  if (static_cast<int64_t>(elements.size()) != info.width || (value.is_array() && info.kind == FeatureKind::kId)) {
    *error = name + ": expected " +
             (info.kind == FeatureKind::kId ? std::string("one id")
                                            : "a list of " + std::to_string(info.width) +
                                                  (is_id_kind(info.kind) ? " ids" : " numbers")) +
             ", got " + describe(value);
    return false;
  }
  for (const nlohmann::json* element : elements) {
    if (is_id_kind(info.kind)) {
      if (!element->is_number_integer()) {
        *error = name + ": ids are integers, got " + describe(*element);
        return false;
      }
      // Above INT64_MAX (parsed as unsigned): would wrap to a negative id.
      if (element->is_number_unsigned() && element->get<uint64_t>() > uint64_t{INT64_MAX}) {
        *error = name + ": id " + describe(*element) + " is larger than any table";
        return false;
      }
      column.ids.push_back(element->get<int64_t>());
    } else {
      if (element->is_null()) {  // a missing dense value: NaN
        column.values.push_back(std::nanf(""));
        continue;
      }
      if (!element->is_number()) {
        *error = name + ": expected numbers, got " + describe(*element);
        return false;
      }
      column.values.push_back(element->get<float>());
    }
  }
  return true;
}

// An id list of any length 0..width, padded on the model's side (pad_id_list).
bool FeatureBatch::append_list(Column& column, const nlohmann::json& value, std::string* error) {
  std::vector<int64_t> ids;
  for (const nlohmann::json& element : value) {
    if (!element.is_number_integer()) {
      *error = std::string("feature '") + column.info.name + "': ids are integers, got " + describe(element);
      return false;
    }
    ids.push_back(element.get<int64_t>());
  }
  const size_t at = column.ids.size();
  column.ids.resize(at + static_cast<size_t>(column.info.width));
  const Status status = pad_id_list(column.info, ids.data(), ids.size(), column.ids.data() + at, "request");
  if (!status.is_ok()) {
    column.ids.resize(at);
    *error = status.message();
    return false;
  }
  return true;
}

bool FeatureBatch::append_row(const nlohmann::json& primary, const nlohmann::json* fallback, std::string* error) {
  if (!primary.is_object()) {
    *error = "expected a JSON object of features, got " + describe(primary);
    return false;
  }
  for (Column& column : columns_) {
    const nlohmann::json* value = nullptr;
    auto found = primary.find(column.info.name);
    if (found != primary.end()) {
      value = &*found;
    } else if (fallback != nullptr && fallback->is_object()) {
      auto fallback_found = fallback->find(column.info.name);
      if (fallback_found != fallback->end()) value = &*fallback_found;
    }
    if (value == nullptr) {
      *error = std::string("missing feature '") + column.info.name + "'";
      drop_partial_row();
      return false;
    }
    if (!append_value(column, *value, error)) {
      drop_partial_row();
      return false;
    }
  }
  ++rows_;
  return true;
}

void FeatureBatch::drop_partial_row() {
  for (Column& column : columns_) {
    column.ids.resize(rows_ * (is_id_kind(column.info.kind) ? column.info.width : 0));
    column.values.resize(rows_ * (is_id_kind(column.info.kind) ? 0 : column.info.width));
  }
}

Span<const FeatureInput> FeatureBatch::inputs() {
  inputs_.clear();
  for (const Column& column : columns_) {
    FeatureInput input;
    input.feature = column.feature;
    if (is_id_kind(column.info.kind)) {
      input.ids = column.ids.data();
      input.count = column.ids.size();
    } else {
      input.values = column.values.data();
      input.count = column.values.size();
    }
    inputs_.push_back(input);
  }
  return Span<const FeatureInput>(inputs_.data(), inputs_.size());
}

std::string describe(const nlohmann::json& value) {
  constexpr size_t kMaxText = 80;
  // Invalid UTF-8 in a string is replaced, not thrown about.
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxText) text = text.substr(0, kMaxText - 3) + "...";
  return text;
}

}  // namespace edgemtl::requests
