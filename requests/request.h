// Requests as the host tools read them: JSON Lines of
//   {"user": {feature: value, ...}, "items": [{feature: value, ...}, ...]}
// or of rows (one full feature row per line, a request of one item whose user
// object is the row itself). Reading is bounded: line length, JSON nesting and
// items per request have limits, checked before anything large is built.
// Host side (edgemtl-run, the converter's calibration and validation, the
// examples, the tests); not part of the runtime.
#pragma once

#include <cstddef>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/format/model.h"

namespace edgemtl::requests {

/// One user and its candidate items. `items` are objects; a feature an item
/// lacks is looked up in `user` (so one file serves split and unsplit models).
struct Request {
  nlohmann::json user = nlohmann::json::object();
  std::vector<nlohmann::json> items;
};

enum class LineFormat {
  kRequests,  ///< every line is a request
  kRows,      ///< every line is one full row
  kEither,    ///< a line with only "items" (and "user") is a request, any other object a row
};

/// Bounds on what one line may hold. The defaults serve any real request.
struct ReadLimits {
  size_t max_line_bytes = size_t{64} << 20;  ///< longer lines are refused without being held in memory
  int max_depth = 16;                        ///< JSON nesting (a request needs 4)
  size_t max_items = 100000;                 ///< items in one request
};

/// Reads requests line by line from a stream it does not own.
class RequestReader {
 public:
  RequestReader(std::istream& in, LineFormat format, ReadLimits limits = {});

  enum class Next {
    kRequest,  ///< `request` holds the line's request
    kBlank,    ///< the line is blank
    kError,    ///< `error` says why; the line is consumed and reading may go on
    kEnd,      ///< no more lines
  };
  Next next(Request* request, std::string* error);
  /// 1-based number of the line last read.
  size_t line_number() const { return line_number_; }

 private:
  bool read_line(std::string* error);

  std::istream& in_;
  LineFormat format_;
  ReadLimits limits_;
  std::string line_;
  size_t line_number_ = 0;
};

/// Every request of the file at `path`; blank lines are skipped. Returns false
/// with `error` ("PATH:LINE: why") on the first bad line or an empty file.
bool read_request_file(const std::string& path, LineFormat format, std::vector<Request>* requests,
                       std::string* error, ReadLimits limits = {});

/// Checks the feature names of a request against `model`: every key names a
/// feature, and (with `separate_user`, i.e. for requests rather than rows) no
/// item carries a feature of the user side, which would otherwise be ignored.
bool check_request(const Model& model, const Request& request, bool separate_user, std::string* error);

/// Number of items over all `requests`.
size_t count_items(const std::vector<Request>& requests);

}  // namespace edgemtl::requests
