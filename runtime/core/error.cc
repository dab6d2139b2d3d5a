#include "runtime/core/error.h"

#include <cstdio>

namespace edgemtl {

const char* error_name(Error error) {
  switch (error) {
    case Error::kOk: return "Ok";
    case Error::kInvalidArgument: return "InvalidArgument";
    case Error::kInvalidModel: return "InvalidModel";
    case Error::kUnsupported: return "Unsupported";
    case Error::kMissingFeature: return "MissingFeature";
    case Error::kIdOutOfRange: return "IdOutOfRange";
    case Error::kInvalidValue: return "InvalidValue";
    case Error::kNotFound: return "NotFound";
    case Error::kIoError: return "IoError";
    case Error::kOutOfMemory: return "OutOfMemory";
    case Error::kInvalidState: return "InvalidState";
    case Error::kInternal: return "Internal";
  }
  return "Unknown";
}

Status Status::error(Error code, const char* format, ...) {
  Status status;
  status.code_ = code;
  va_list args;
  va_start(args, format);
  std::vsnprintf(status.message_, kMaxMessage, format, args);
  va_end(args);
  return status;
}

}  // namespace edgemtl
