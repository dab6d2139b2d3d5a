#include "requests/request.h"

#include <algorithm>
#include <fstream>

#include "requests/feature_batch.h"

namespace edgemtl::requests {
namespace {

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

// What a scan of a line's text tells before it is parsed.
struct LineShape {
  int depth = 0;           ///< deepest nesting of arrays and objects (stops counting past the limit)
  size_t top_lists = 0;    ///< most elements in one list directly inside the top-level value
};

// Scans `text` outside strings, stopping once the nesting passes `depth_limit`.
// Checked before parsing because the JSON library parses and destroys nested
// values recursively (a line of a million '[' would overflow the stack), and
// because parsing a million items takes seconds and hundreds of megabytes
// before their number could be checked.
LineShape scan_line(const std::string& text, int depth_limit) {
  LineShape shape;
  int depth = 0;
  bool in_string = false, escaped = false, in_top_list = false, top_list_empty = true;
  size_t elements = 0;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (in_top_list && depth == 2 && top_list_empty && c != ' ' && c != '\t' && c != '\r' && c != ']') {
      top_list_empty = false;
      elements = 1;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      shape.depth = std::max(shape.depth, ++depth);
      if (shape.depth > depth_limit) return shape;
      if (depth == 2 && c == '[') in_top_list = true, top_list_empty = true, elements = 0;
    } else if (c == ']' || c == '}') {
      if (depth == 2 && in_top_list) {
        shape.top_lists = std::max(shape.top_lists, elements);
        in_top_list = false;
      }
      --depth;
    } else if (c == ',' && depth == 2 && in_top_list) {
      ++elements;
    }
  }
  if (in_top_list) shape.top_lists = std::max(shape.top_lists, elements);  // unterminated: parsing fails anyway
  return shape;
}

bool looks_like_request(const nlohmann::json& object) {
  auto items = object.find("items");
  return items != object.end() && items->is_array() && object.size() == (object.contains("user") ? 2u : 1u);
}

}  // namespace

RequestReader::RequestReader(std::istream& in, LineFormat format, ReadLimits limits)
    : in_(in), format_(format), limits_(limits) {}

// std::getline would hold a line of any length; this stops storing at the
// limit and skips the rest of the line.
bool RequestReader::read_line(std::string* error) {
  line_.clear();
  std::streambuf* buffer = in_.rdbuf();
  bool too_long = false;
  for (;;) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      if (line_.empty() && !too_long) {
        in_.setstate(std::ios::eofbit);
        return false;
      }
      break;
    }
    if (c == '\n') break;
    if (line_.size() < limits_.max_line_bytes) line_.push_back(static_cast<char>(c));
    else too_long = true;
  }
  ++line_number_;
  if (too_long) {
    *error = "line longer than " + std::to_string(limits_.max_line_bytes) + " bytes";
    line_.clear();
  }
  return true;
}

RequestReader::Next RequestReader::next(Request* request, std::string* error) {
  error->clear();
  if (!read_line(error)) return Next::kEnd;
  if (!error->empty()) return Next::kError;
  if (is_blank(line_)) return Next::kBlank;
  const LineShape shape = scan_line(line_, limits_.max_depth);
  if (shape.depth > limits_.max_depth) {
    *error = "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels";
    return Next::kError;
  }
  // In a requests file the only list at the top level is "items" (rows hold
  // feature lists there, which this limit is not about).
  if (format_ == LineFormat::kRequests && shape.top_lists > limits_.max_items) {
    *error = "request has " + std::to_string(shape.top_lists) + " items, more than the limit of " +
             std::to_string(limits_.max_items);
    return Next::kError;
  }
  nlohmann::json object = nlohmann::json::parse(line_, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    *error = "not valid JSON";
    return Next::kError;
  }
  if (!object.is_object()) {
    *error = "expected a JSON object, got " + describe(object);
    return Next::kError;
  }
  const bool is_request = format_ == LineFormat::kRequests || (format_ == LineFormat::kEither && looks_like_request(object));
  *request = Request{};
  if (!is_request) {
    request->user = object;
    request->items.push_back(std::move(object));
    return Next::kRequest;
  }
  auto user = object.find("user");
  auto items = object.find("items");
  if (items == object.end() || !items->is_array() || items->empty()) {
    *error = "a request needs \"items\": a non-empty list of item objects";
    return Next::kError;
  }
  if (items->size() > limits_.max_items) {
    *error = "request has " + std::to_string(items->size()) + " items, more than the limit of " +
             std::to_string(limits_.max_items);
    return Next::kError;
  }
  if (user != object.end()) {
    if (!user->is_object()) {
      *error = "\"user\" must be an object of features, got " + describe(*user);
      return Next::kError;
    }
    request->user = std::move(*user);
  }
  request->items.reserve(items->size());
  for (nlohmann::json& item : *items) request->items.push_back(std::move(item));
  return Next::kRequest;
}

bool read_request_file(const std::string& path, LineFormat format, std::vector<Request>* requests, std::string* error,
                       ReadLimits limits) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read '" + path + "'";
    return false;
  }
  RequestReader reader(in, format, limits);
  requests->clear();
  Request request;
  for (;;) {
    const RequestReader::Next next = reader.next(&request, error);
    if (next == RequestReader::Next::kEnd) break;
    if (next == RequestReader::Next::kBlank) continue;
    if (next == RequestReader::Next::kError) {
      *error = path + ":" + std::to_string(reader.line_number()) + ": " + *error;
      return false;
    }
    requests->push_back(std::move(request));
  }
  if (requests->empty()) {
    *error = "'" + path + "' holds no rows";
    return false;
  }
  return true;
}

bool check_request(const Model& model, const Request& request, bool separate_user, std::string* error) {
  auto check_names = [&](const nlohmann::json& object, const std::string& where) {
    if (!object.is_object()) return true;  // FeatureBatch reports it
    for (auto it = object.begin(); it != object.end(); ++it) {
      const int index = model.find_feature(it.key().c_str());
      if (index < 0) {
        *error = where + "unknown feature '" + it.key() + "'; the model's features are:";
        for (size_t i = 0; i < model.num_features(); ++i) *error += std::string(" '") + model.feature(i).name + "'";
        return false;
      }
      if (separate_user && !where.empty() && model.feature(static_cast<size_t>(index)).side == Side::kUser) {
        *error = where + "feature '" + it.key() + "' is a user feature: give it in \"user\"";
        return false;
      }
    }
    return true;
  };
  if (!check_names(request.user, "")) return false;
  for (size_t i = 0; i < request.items.size(); ++i)
    if (!check_names(request.items[i], separate_user ? "item " + std::to_string(i) + ": " : "")) return false;
  return true;
}

size_t count_items(const std::vector<Request>& requests) {
  size_t n = 0;
  for (const Request& request : requests) n += request.items.size();
  return n;
}

}  // namespace edgemtl::requests
