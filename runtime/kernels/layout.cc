#include "runtime/kernels/layout.h"

#include <cstring>

namespace edgemtl {

void concat(Span<const TensorView> inputs, int axis, const TensorView& out) {
  const size_t element = out.element_size();
  const int64_t rows = out.shape[0];
  // Per row, the output is `outer` blocks; each block is the inputs' slices
  // along the axis, one after the other.
  const int64_t outer = out.shape.elements_from(1) / out.shape.elements_from(axis);
  const int64_t inner = out.shape.elements_from(axis + 1);
  uint8_t* dst = out.as<uint8_t>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < outer; ++o) {
      for (const TensorView& in : inputs) {
        const int64_t in_row = in.shape[0] == 1 ? 0 : r;
        const size_t chunk = static_cast<size_t>(in.shape[axis] * inner) * element;
        const uint8_t* src = in.as<const uint8_t>() +
                             static_cast<size_t>(in_row * in.shape.elements_from(1)) * element + o * chunk;
        std::memcpy(dst, src, chunk);
        dst += chunk;
      }
    }
  }
}

void take(const TensorView& x, int axis, const int64_t* indices, size_t count, const TensorView& out) {
  const size_t element = x.element_size();
  const int64_t axis_size = x.shape[axis];
  const int64_t inner = x.shape.elements_from(axis + 1);
  const int64_t outer = x.shape.num_elements() / (axis_size * inner);
  const size_t chunk = static_cast<size_t>(inner) * element;
  const uint8_t* src = x.as<const uint8_t>();
  uint8_t* dst = out.as<uint8_t>();
  // Consecutive indices (the usual column slice) move as one block: one
  // memcpy per run and outer row instead of one per index; runs are found once.
  auto resolved = [&](size_t j) { return indices[j] < 0 ? indices[j] + axis_size : indices[j]; };
  const size_t out_row = count * chunk;
  for (size_t j = 0; j < count;) {
    const int64_t index = resolved(j);
    size_t run = 1;
    while (j + run < count && resolved(j + run) == index + static_cast<int64_t>(run)) ++run;
    const uint8_t* from = src + static_cast<size_t>(index * inner) * element;
    uint8_t* to = dst + j * chunk;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(to + static_cast<size_t>(o) * out_row, from + static_cast<size_t>(o * axis_size * inner) * element,
                  chunk * run);
    j += run;
  }
}

void take_range(const TensorView& x, int axis, int64_t start, int64_t count, const TensorView& out) {
  const size_t element = x.element_size();
  const int64_t axis_size = x.shape[axis];
  const int64_t inner = x.shape.elements_from(axis + 1);
  const int64_t outer = x.shape.num_elements() / (axis_size * inner);
  const size_t in_row = static_cast<size_t>(axis_size * inner) * element;
  const size_t out_row = static_cast<size_t>(count * inner) * element;
  const uint8_t* src = x.as<const uint8_t>() + static_cast<size_t>(start * inner) * element;
  uint8_t* dst = out.as<uint8_t>();
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + static_cast<size_t>(o) * out_row, src + static_cast<size_t>(o) * in_row, out_row);
}

void transpose(const TensorView& x, const int* perm, const TensorView& out) {
  const int rank = x.shape.rank;
  const size_t element = x.element_size();
  int64_t x_strides[kMaxRank];
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    x_strides[d] = stride;
    stride *= x.shape[d];
  }
  // Walk the output in order; source offset follows the permuted strides.
  int64_t source_strides[kMaxRank];
  for (int d = 0; d < rank; ++d) source_strides[d] = x_strides[perm[d]];
  int64_t index[kMaxRank] = {0};
  int64_t source = 0;
  const uint8_t* src = x.as<const uint8_t>();
  uint8_t* dst = out.as<uint8_t>();
  const int64_t total = out.shape.num_elements();
  for (int64_t i = 0; i < total; ++i) {
    std::memcpy(dst + i * static_cast<int64_t>(element), src + source * static_cast<int64_t>(element), element);
    for (int d = rank - 1; d >= 0; --d) {
      ++index[d];
      source += source_strides[d];
      if (index[d] < out.shape[d]) break;
      source -= source_strides[d] * out.shape[d];
      index[d] = 0;
    }
  }
}

void broadcast_rows(const TensorView& x, const TensorView& out) {
  if (x.shape[0] == out.shape[0]) {
    std::memcpy(out.data, x.data, x.byte_size());
    return;
  }
  const size_t row_bytes = x.byte_size();  // x has one row
  for (int64_t r = 0; r < out.shape[0]; ++r)
    std::memcpy(out.as<uint8_t>() + static_cast<size_t>(r) * row_bytes, x.data, row_bytes);
}

}  // namespace edgemtl
