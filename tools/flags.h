// Command-line flag values for the tools: whole numbers in a range, with a
// message that says what is wrong ("--threads 0: must be an integer >= 1").
// Header-only (edgemtl-bench links nothing but the runtime).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "edgemtl.h"

namespace edgemtl::tools {

/// Parses `text` as a whole decimal integer in [min, max] into *out; on
/// failure returns false with `error` = "FLAG TEXT: must be an integer >= MIN[ and <= MAX]".
inline bool parse_integer_flag(const char* flag, const char* text, long long min, long long max, long long* out,
                               std::string* error) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno == ERANGE || value < min || value > max) {
    *error = std::string(flag) + " " + text + ": must be an integer >= " + std::to_string(min);
    if (max != __LONG_LONG_MAX__) *error += " and <= " + std::to_string(max);
    return false;
  }
  *out = value;
  return true;
}

/// Same for a number > `above` (e.g. a time budget).
inline bool parse_number_flag(const char* flag, const char* text, double above, double* out, std::string* error) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (*text == '\0' || *end != '\0' || !(value > above) || value > 1e12) {
    *error = std::string(flag) + " " + text + ": must be a number > " + std::to_string(above).substr(0, 3);
    return false;
  }
  *out = value;
  return true;
}

/// "TOOL 0.2.0 (reads model format 1)" for --version.
inline void print_version(const char* tool) {
  std::printf("%s %s (reads model format %u)\n", tool, emtl_version(), emtl_format_version());
}

}  // namespace edgemtl::tools
