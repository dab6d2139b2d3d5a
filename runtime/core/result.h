// Result<T>: a value or a Status, for functions that return something and can fail.
#pragma once

#include <new>
#include <utility>

#include "runtime/core/error.h"

namespace edgemtl {

/// Holds either a T (when status().is_ok()) or an error Status. Reading value()
/// of an error Result is a programming error (checked by the caller with ok()).
template <typename T>
class Result {
 public:
  Result(T value) : has_value_(true) { new (&value_) T(std::move(value)); }  // NOLINT: implicit by design
  Result(Status status) : status_(status) {                                // NOLINT
    if (status_.is_ok()) status_ = Status::error(Error::kInternal, "Result built from an ok Status without a value");
  }
  Result(Result&& other) noexcept : status_(other.status_), has_value_(other.has_value_) {
    if (has_value_) new (&value_) T(std::move(other.value_));
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result& operator=(Result&&) = delete;
  ~Result() {
    if (has_value_) value_.~T();
  }

  bool ok() const { return has_value_; }
  const Status& status() const { return status_; }
  Error error() const { return status_.code(); }

  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  T* operator->() { return &value_; }
  const T* operator->() const { return &value_; }
  T& operator*() & { return value_; }

 private:
  union {
    T value_;
  };
  Status status_;
  bool has_value_ = false;
};

}  // namespace edgemtl
