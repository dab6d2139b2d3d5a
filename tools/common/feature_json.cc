#include "tools/common/feature_json.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace edgemtl::tools {

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
  if (value.is_array()) {
    for (const nlohmann::json& element : value) elements.push_back(&element);
  } else {
    elements.push_back(&value);
  }
  if (static_cast<int64_t>(elements.size()) != info.width || (value.is_array() && info.kind == FeatureKind::kId)) {
    *error = name + ": expected " +
             (info.kind == FeatureKind::kId ? std::string("one id")
                                            : "a list of " + std::to_string(info.width) +
                                                  (is_id_kind(info.kind) ? " ids" : " numbers")) +
             ", got " + value.dump();
    return false;
  }
  for (const nlohmann::json* element : elements) {
    if (is_id_kind(info.kind)) {
      if (!element->is_number_integer()) {
        *error = name + ": ids are integers, got " + element->dump();
        return false;
      }
      column.ids.push_back(element->get<int64_t>());
    } else {
      if (!element->is_number()) {
        *error = name + ": expected numbers, got " + element->dump();
        return false;
      }
      column.values.push_back(element->get<float>());
    }
  }
  return true;
}

bool FeatureBatch::append_row(const nlohmann::json& primary, const nlohmann::json* fallback, std::string* error) {
  if (!primary.is_object()) {
    *error = "expected a JSON object of features, got " + primary.dump();
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

bool check_known_features(const Model& model, const nlohmann::json& object, std::string* error) {
  if (!object.is_object()) return true;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (model.find_feature(it.key().c_str()) < 0) {
      *error = "unknown feature '" + it.key() + "'; the model's features are:";
      for (size_t i = 0; i < model.num_features(); ++i) *error += std::string(" '") + model.feature(i).name + "'";
      return false;
    }
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

bool parse_json_line(const std::string& line, nlohmann::json* out, std::string* error) {
  *out = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    *error = "not valid JSON";
    return false;
  }
  return true;
}

}  // namespace edgemtl::tools
