// Shape: a small fixed-capacity tensor shape (no heap), and numpy broadcasting.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgemtl {

/// Highest tensor rank the runtime accepts (XNNPACK's limit for nd operators).
constexpr int kMaxRank = 6;

/// Dimensions of a tensor. In a model file the leading dimension of an
/// activation is -1 (its row count); at run time it holds the actual rows.
struct Shape {
  int rank = 0;
  int64_t dims[kMaxRank] = {0};

  int64_t operator[](int i) const { return dims[i]; }
  int64_t& operator[](int i) { return dims[i]; }
  /// Product of dims[first..rank). Only meaningful when those dims are >= 0.
  int64_t elements_from(int first) const {
    int64_t product = 1;
    for (int i = first; i < rank; ++i) product *= dims[i];
    return product;
  }
  int64_t num_elements() const { return elements_from(0); }
  bool operator==(const Shape& other) const {
    if (rank != other.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != other.dims[i]) return false;
    return true;
  }
  bool operator!=(const Shape& other) const { return !(*this == other); }
};

/// Numpy broadcasting of `a` and `b` (aligned on the right) into `out`.
/// A dimension of -1 (symbolic rows) broadcasts with 1 and with -1 only.
/// Returns false when the shapes are incompatible or the rank exceeds kMaxRank.
inline bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out) {
  const int rank = a.rank > b.rank ? a.rank : b.rank;
  if (rank > kMaxRank) return false;
  Shape result;
  result.rank = rank;
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank - rank + i, ib = b.rank - rank + i;
    const int64_t da = ia >= 0 ? a.dims[ia] : 1;
    const int64_t db = ib >= 0 ? b.dims[ib] : 1;
    if (da == db || db == 1) {
      result.dims[i] = da;
    } else if (da == 1) {
      result.dims[i] = db;
    } else {
      return false;
    }
  }
  *out = result;
  return true;
}

/// Row-major element strides of `shape` as seen from a broadcast output of
/// rank `out_rank`: leading missing dims and dims of size 1 get stride 0.
inline void broadcast_strides(const Shape& shape, int out_rank, int64_t strides[kMaxRank]) {
  int64_t stride = 1;
  for (int i = out_rank - 1; i >= 0; --i) {
    const int source = shape.rank - out_rank + i;
    if (source < 0) {
      strides[i] = 0;
      continue;
    }
    strides[i] = shape.dims[source] == 1 ? 0 : stride;
    stride *= shape.dims[source];
  }
}

}  // namespace edgemtl
