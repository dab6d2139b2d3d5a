// Checks on a Status in the runtime's doctest tests (header only: the C API
// test, which links the ModelBuilder, has no doctest).
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "runtime/core/error.h"

namespace edgemtl {
namespace test {

/// `status`'s message holds `text`; prints the message when it does not.
inline bool contains(const Status& status, const std::string& text) {
  const bool found = std::strstr(status.message(), text.c_str()) != nullptr;
  if (!found) MESSAGE("message: ", std::string(status.message()));
  return found;
}

}  // namespace test
}  // namespace edgemtl
