// Error codes and Status: how every fallible runtime call reports failure.
// The runtime builds without exceptions; nothing here allocates.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>

namespace edgemtl {

/// What went wrong. Values are stable: the C API exposes them as EMTL_ERROR_*.
enum class Error : uint32_t {
  kOk = 0,
  kInvalidArgument = 1,   ///< a caller's argument is wrong (null, size, count, n > max_items)
  kInvalidModel = 2,      ///< the model file is corrupt or inconsistent
  kUnsupported = 3,       ///< valid but not supported by this runtime (version, op, dtype)
  kMissingFeature = 4,    ///< a feature the stage needs was not given
  kIdOutOfRange = 5,      ///< an id outside its embedding table
  kInvalidValue = 6,      ///< NaN or infinity in a dense feature
  kNotFound = 7,          ///< no feature or task of that name
  kIoError = 8,           ///< the file could not be opened or mapped
  kOutOfMemory = 9,
  kInvalidState = 10,     ///< e.g. score() before set_user() on a model with user features
  kInternal = 11,         ///< a kernel library failed unexpectedly
};

/// Short stable name of an error code, e.g. "InvalidModel".
const char* error_name(Error error);

/// An error code with a human-readable message in a fixed buffer (no heap).
class Status {
 public:
  static constexpr size_t kMaxMessage = 240;

  Status() = default;
  static Status ok() { return Status(); }
  /// printf-style message; truncated to kMaxMessage - 1 characters.
  static Status error(Error code, const char* format, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
      ;

  bool is_ok() const { return code_ == Error::kOk; }
  explicit operator bool() const { return is_ok(); }
  Error code() const { return code_; }
  /// Empty for ok; valid as long as this Status lives.
  const char* message() const { return message_; }

 private:
  Error code_ = Error::kOk;
  char message_[kMaxMessage] = {0};
};

}  // namespace edgemtl

/// Returns the Status of `expr` from the enclosing function if it is an error.
#define EMTL_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::edgemtl::Status emtl_status_ = (expr);    \
    if (!emtl_status_.is_ok()) return emtl_status_; \
  } while (0)
