#include "runtime/kernels/layout.h"

#include <cstring>

namespace edgemtl {
namespace {

template <size_t kBytes>
void copy_fixed_blocks(uint8_t* dst, size_t dst_stride, const uint8_t* src, size_t src_stride, size_t count) {
  for (size_t i = 0; i < count; ++i) std::memcpy(dst + i * dst_stride, src + i * src_stride, kBytes);
}

// `count` blocks of `bytes`, block i from src + i * src_stride to
// dst + i * dst_stride. The narrow columns of gates and task outputs (4 to 64
// bytes a row) get a fixed-size copy the compiler inlines: a memcpy call per
// block made a CONCAT or TAKE of such columns cost microseconds per request.
void copy_blocks(uint8_t* dst, size_t dst_stride, const uint8_t* src, size_t src_stride, size_t count,
                 size_t bytes) {
  switch (bytes) {
    case 4: return copy_fixed_blocks<4>(dst, dst_stride, src, src_stride, count);
    case 8: return copy_fixed_blocks<8>(dst, dst_stride, src, src_stride, count);
    case 16: return copy_fixed_blocks<16>(dst, dst_stride, src, src_stride, count);
    case 32: return copy_fixed_blocks<32>(dst, dst_stride, src, src_stride, count);
    case 64: return copy_fixed_blocks<64>(dst, dst_stride, src, src_stride, count);
    default:
      for (size_t i = 0; i < count; ++i) std::memcpy(dst + i * dst_stride, src + i * src_stride, bytes);
  }
}

}  // namespace

void concat(Span<const TensorView> inputs, int axis, const TensorView& out) {
  const size_t element = out.element_size();
  const auto rows = static_cast<size_t>(out.shape[0]);
  // Per row, the output is `outer` blocks; each block is the inputs' slices
  // along the axis, one after the other. Input by input: its slices are
  // `block` bytes apart in the output.
  const auto outer = static_cast<size_t>(out.shape.elements_from(1) / out.shape.elements_from(axis));
  const auto inner = static_cast<size_t>(out.shape.elements_from(axis + 1));
  const size_t block = static_cast<size_t>(out.shape[axis]) * inner * element;
  size_t offset = 0;  // of this input's slice within a block
  for (const TensorView& in : inputs) {
    const size_t chunk = static_cast<size_t>(in.shape[axis]) * inner * element;
    uint8_t* dst = out.as<uint8_t>() + offset;
    const uint8_t* src = in.as<const uint8_t>();
    if (in.shape[0] == 1 && rows > 1) {  // its one row's slices again for every output row
      for (size_t r = 0; r < rows; ++r) copy_blocks(dst + r * outer * block, block, src, chunk, outer, chunk);
    } else {  // its slices one after the other
      copy_blocks(dst, block, src, chunk, rows * outer, chunk);
    }
    offset += chunk;
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
    copy_blocks(to, out_row, from, static_cast<size_t>(axis_size * inner) * element, static_cast<size_t>(outer),
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
  copy_blocks(dst, out_row, src, in_row, static_cast<size_t>(outer), out_row);
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
