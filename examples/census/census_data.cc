#include "examples/census/census_data.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <nlohmann/json.hpp>

namespace edgemtl::census {

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

Split split_of(uint64_t row_index, uint64_t seed) {
  switch (splitmix64(row_index ^ seed) % 4) {
    case 0:
    case 1:
      return Split::kTrain;
    case 2:
      return Split::kValidation;
    default:
      return Split::kTest;
  }
}

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
  }
  return "?";
}

int64_t CategoricalColumn::id_of(std::string_view value) const {
  auto found = vocabulary.find(std::string(value));
  return found == vocabulary.end() ? 0 : found->second;
}

float NumericColumn::normalise(double x) const {
  double transformed = log1p ? std::log1p(x) : x;
  return static_cast<float>((transformed - mean) / std);
}

namespace {

// Index of `name` among the file's columns, or false with `error` set.
bool column_index(const std::vector<std::string>& columns, const std::string& name, size_t* index,
                  std::string* error) {
  auto found = std::find(columns.begin(), columns.end(), name);
  if (found == columns.end()) {
    *error = "preprocessing: '" + name + "' is not one of the columns";
    return false;
  }
  *index = static_cast<size_t>(found - columns.begin());
  return true;
}

bool parse_preprocessing(const nlohmann::json& json, Preprocessing* out, std::string* error) {
  out->columns = json.at("columns").get<std::vector<std::string>>();
  out->split_seed = json.at("split").at("seed").get<uint64_t>();
  out->numeric_input = json.at("numeric_input").get<std::string>();
  out->categorical.clear();
  for (const auto& entry : json.at("categorical")) {
    CategoricalColumn column;
    column.name = entry.at("column").get<std::string>();
    if (!column_index(out->columns, column.name, &column.column, error)) return false;
    column.table_size = entry.at("table_size").get<int64_t>();
    for (const auto& [value, id] : entry.at("vocabulary").items()) {
      int64_t number = id.get<int64_t>();
      if (number < 1 || number >= column.table_size) {
        *error = "preprocessing: " + column.name + ": id " + std::to_string(number) + " of '" + value +
                 "' outside [1, table_size)";
        return false;
      }
      column.vocabulary.emplace(value, number);
    }
    out->categorical.push_back(std::move(column));
  }
  out->numeric.clear();
  for (const auto& entry : json.at("numeric")) {
    NumericColumn column;
    column.name = entry.at("column").get<std::string>();
    if (!column_index(out->columns, column.name, &column.column, error)) return false;
    std::string transform = entry.at("transform").get<std::string>();
    if (transform != "log1p" && transform != "none") {
      *error = "preprocessing: " + column.name + ": unknown transform '" + transform + "'";
      return false;
    }
    column.log1p = transform == "log1p";
    column.mean = entry.at("mean").get<double>();
    column.std = entry.at("std").get<double>();
    if (!(column.std > 0.0)) {
      *error = "preprocessing: " + column.name + ": std must be > 0";
      return false;
    }
    out->numeric.push_back(std::move(column));
  }
  out->labels.clear();
  for (const auto& entry : json.at("labels")) {
    Label label;
    label.task = entry.at("task").get<std::string>();
    if (!column_index(out->columns, entry.at("column").get<std::string>(), &label.column, error)) return false;
    label.positive = entry.at("positive").get<std::string>();
    out->labels.push_back(std::move(label));
  }
  return true;
}

}  // namespace

bool load_preprocessing(const std::string& path, Preprocessing* out, std::string* error) {
  std::ifstream file(path);
  if (!file) {
    *error = "cannot open " + path;
    return false;
  }
  nlohmann::json json = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    *error = path + ": not valid JSON";
    return false;
  }
  try {
    if (!parse_preprocessing(json, out, error)) {
      *error = path + ": " + *error;
      return false;
    }
  } catch (const nlohmann::json::exception& e) {
    *error = path + ": missing or mistyped entry: " + e.what();
    return false;
  }
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t begin = 0;
  while (true) {
    size_t end = line.find(", ", begin);
    std::string_view field = line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    size_t first = field.find_first_not_of(' ');
    field = first == std::string_view::npos ? std::string_view() : field.substr(first, field.find_last_not_of(' ') - first + 1);
    fields.push_back(field);
    if (end == std::string_view::npos) break;
    begin = end + 2;
  }
  return fields;
}

void EncodedRows::reset(const Preprocessing& preprocessing) {
  rows = 0;
  ids.assign(preprocessing.categorical.size(), {});
  numeric.clear();
  labels.assign(preprocessing.labels.size(), {});
  row_index.clear();
}

bool encode_row(const Preprocessing& preprocessing, const std::vector<std::string_view>& fields, uint64_t row_index,
                EncodedRows* out, std::string* error) {
  if (fields.size() != preprocessing.columns.size()) {
    *error = std::to_string(fields.size()) + " fields, expected " + std::to_string(preprocessing.columns.size());
    return false;
  }
  // Parse the numbers first, so that a bad row leaves `out` unchanged.
  std::vector<float> numeric(preprocessing.numeric.size());
  for (size_t k = 0; k < numeric.size(); ++k) {
    const NumericColumn& column = preprocessing.numeric[k];
    std::string text(fields[column.column]);
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) {
      *error = column.name + ": '" + text + "' is not a finite number";
      return false;
    }
    numeric[k] = column.normalise(x);
    if (!std::isfinite(numeric[k])) {
      *error = column.name + ": '" + text + "' is outside the transform's domain";
      return false;
    }
  }
  for (size_t k = 0; k < preprocessing.categorical.size(); ++k) {
    const CategoricalColumn& column = preprocessing.categorical[k];
    out->ids[k].push_back(column.id_of(fields[column.column]));
  }
  out->numeric.insert(out->numeric.end(), numeric.begin(), numeric.end());
  for (size_t k = 0; k < preprocessing.labels.size(); ++k) {
    const Label& label = preprocessing.labels[k];
    out->labels[k].push_back(fields[label.column] == label.positive ? 1 : 0);
  }
  out->row_index.push_back(row_index);
  ++out->rows;
  return true;
}

bool read_rows(const std::string& path, const Preprocessing& preprocessing, Split split, bool all_splits,
               EncodedRows* out, std::string* error) {
  out->reset(preprocessing);
  // gzread reads plain files too (transparently).
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = "cannot open " + path;
    return false;
  }
  std::string line;
  std::vector<char> buffer(1 << 16);
  uint64_t row_index = 0, line_number = 0;
  bool ok = true;
  auto finish_line = [&]() {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return true;
    uint64_t index = row_index++;
    std::vector<std::string_view> fields = split_fields(line);
    std::string row_error;
    // Every row's shape is checked, so that a damaged file fails whatever the split.
    if (fields.size() != preprocessing.columns.size()) {
      *error = path + ":" + std::to_string(line_number) + ": " + std::to_string(fields.size()) + " fields, expected " +
               std::to_string(preprocessing.columns.size());
      return false;
    }
    if (!all_splits && split_of(index, preprocessing.split_seed) != split) return true;
    if (!encode_row(preprocessing, fields, index, out, &row_error)) {
      *error = path + ":" + std::to_string(line_number) + ": " + row_error;
      return false;
    }
    return true;
  };
  while (ok) {
    int got = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (got < 0) {
      int code = 0;
      *error = path + ": read error: " + gzerror(file, &code);
      ok = false;
      break;
    }
    if (got == 0) break;
    for (int i = 0; i < got && ok; ++i) {
      if (buffer[i] == '\n') {
        ok = finish_line();
        line.clear();
      } else {
        line.push_back(buffer[i]);
      }
    }
  }
  if (ok && !line.empty()) ok = finish_line();  // a last line without "\n"
  gzclose(file);
  return ok;
}

double auc(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  const size_t n = scores.size();
  // NaN has no place in an order (and would break the sort's contract).
  for (float score : scores)
    if (std::isnan(score)) return std::nan("");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0.0;
  size_t positives = 0;
  for (size_t begin = 0; begin < n;) {
    size_t end = begin + 1;  // [begin, end): one run of equal scores
    while (end < n && scores[order[end]] == scores[order[begin]]) ++end;
    double mean_rank = 0.5 * static_cast<double>(begin + 1 + end);  // mean of ranks begin+1 .. end
    for (size_t k = begin; k < end; ++k) {
      if (labels[order[k]]) {
        positive_rank_sum += mean_rank;
        ++positives;
      }
    }
    begin = end;
  }
  const double p = static_cast<double>(positives), negatives = static_cast<double>(n - positives);
  if (positives == 0 || positives == n) return std::nan("");
  return (positive_rank_sum - p * (p + 1.0) / 2.0) / (p * negatives);
}

}  // namespace edgemtl::census
