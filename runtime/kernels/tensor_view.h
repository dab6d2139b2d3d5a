// TensorView: what a kernel sees of a tensor (data, dtype, actual shape).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/shape.h"
#include "runtime/format/tensor_info.h"

namespace edgemtl {

/// Non-owning. `shape` holds the run-time dimensions (dims[0] is the actual
/// row count of an activation). The data belongs to the arena or the Model.
struct TensorView {
  void* data = nullptr;
  schema::DType dtype = schema::DType::FLOAT32;
  Shape shape;

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
  size_t num_elements() const { return static_cast<size_t>(shape.num_elements()); }
  size_t element_size() const { return dtype_size(dtype); }
  size_t byte_size() const { return num_elements() * element_size(); }
};

/// Calls fn(output_index, input_offsets) for every element of a numpy
/// broadcast of `N` inputs into `out`; input_offsets[k] is the element offset
/// in input k. Plain loop for kernels XNNPACK does not cover.
template <int N, typename Fn>
void for_each_broadcast(const Shape& out, const Shape* const (&inputs)[N], Fn&& fn) {
  int64_t strides[N][kMaxRank];
  for (int k = 0; k < N; ++k) broadcast_strides(*inputs[k], out.rank, strides[k]);
  int64_t index[kMaxRank] = {0};
  int64_t offsets[N] = {0};
  const int64_t total = out.num_elements();
  for (int64_t i = 0; i < total; ++i) {
    fn(i, static_cast<const int64_t*>(offsets));
    for (int d = out.rank - 1; d >= 0; --d) {
      ++index[d];
      for (int k = 0; k < N; ++k) offsets[k] += strides[k][d];
      if (index[d] < out.dims[d]) break;
      for (int k = 0; k < N; ++k) offsets[k] -= strides[k][d] * out.dims[d];
      index[d] = 0;
    }
  }
}

}  // namespace edgemtl
