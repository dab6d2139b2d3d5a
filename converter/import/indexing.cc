// Gather (column taking, or an embedding lookup with run-time ids), Slice and
// Split: TAKE with explicit indices along an axis other than the rows.
#include "converter/import/importer.h"

#include <algorithm>

namespace edgemtl::converter {
namespace {

// A value's name, dtype and shape without its data.
Value described(const Value& v) {
  Value d;
  d.name = v.name;
  d.dtype = v.dtype;
  d.shape = v.shape;
  d.is_constant = v.is_constant;
  return d;
}

void lower_gather(Importer& node) {
  const int data = node.in(0), indices = node.in(1);
  // Copies without data: emitting below may reallocate the value list.
  const Value d = described(node.val(data));
  const Value idx = node.val(indices).is_constant ? node.val(indices) : described(node.val(indices));
  int64_t axis = normalize_axis(node.attr_int("axis", 0), d.rank());
  if (idx.dtype != DType::kInt64) throw ConversionError("gather indices must be integers");
  if (idx.is_constant) {
    // Column taking (or shape element picking): TAKE, then RESHAPE to the index shape.
    std::vector<int64_t> flat;
    for (int64_t i : idx.ints) {
      int64_t n = i < 0 ? i + d.shape[axis] : i;
      if (n < 0 || n >= d.shape[axis]) throw ConversionError("gather index out of range");
      flat.push_back(n);
    }
    std::vector<int64_t> out_shape(d.shape.begin(), d.shape.begin() + axis);
    out_shape.insert(out_shape.end(), idx.shape.begin(), idx.shape.end());
    out_shape.insert(out_shape.end(), d.shape.begin() + axis + 1, d.shape.end());
    bool plain = idx.rank() == 1;
    int taken = node.take(data, axis, flat, 0, plain);
    node.set_output(0, plain ? taken : node.reshape(taken, out_shape));
    return;
  }
  // Embedding lookup: a constant table indexed by ids computed at run time.
  if (!d.is_constant) throw ConversionError("gather of an activation with run-time indices is not supported");
  if (axis != 0) throw ConversionError("embedding lookup must gather along axis 0 of the table");
  if (d.dtype != DType::kFloat32) throw ConversionError("embedding table must be float32");
  int table = data;
  std::vector<int64_t> row_shape(d.shape.begin() + 1, d.shape.end());
  if (d.rank() != 2) {
    NodeOptions o;
    o.shape = {d.shape[0], product(row_shape)};
    table = node.graph().emit(Op::kReshape, {data}, o, node.name(), d.name + "_2d");
  }
  int looked_up =
      d.rank() == 2 ? node.emit(Op::kEmbedding, {table, indices}) : node.emit_tmp(Op::kEmbedding, {table, indices});
  if (d.rank() != 2) {
    std::vector<int64_t> shape = idx.shape;
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    looked_up = node.reshape(looked_up, shape);
  }
  node.set_output(0, looked_up);
}

// Python-style slice of a dimension of size `dim`.
std::vector<int64_t> slice_indices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (step == 0) throw ConversionError("slice step 0");
  std::vector<int64_t> out;
  if (step > 0) {
    start = start < 0 ? std::max<int64_t>(start + dim, 0) : std::min(start, dim);
    end = end < 0 ? std::max<int64_t>(end + dim, 0) : std::min(end, dim);
    for (int64_t i = start; i < end; i += step) out.push_back(i);
  } else {
    start = start < 0 ? std::max<int64_t>(start + dim, -1) : std::min(start, dim - 1);
    end = end < 0 ? std::max<int64_t>(end + dim, -1) : std::min(end, dim - 1);
    for (int64_t i = start; i > end; i += step) out.push_back(i);
  }
  return out;
}

void lower_slice(Importer& node) {
  const Value& x = node.val(node.in(0));
  auto starts = node.int_list_input(1, "Slice starts");
  auto ends = node.int_list_input(2, "Slice ends");
  std::vector<int64_t> axes, steps;
  if (node.has_input(3)) axes = node.int_list_input(3, "Slice axes");
  else for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (node.has_input(4)) steps = node.int_list_input(4, "Slice steps");
  else steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw ConversionError("Slice parameters differ in length");
  int current = node.in(0);
  std::vector<std::pair<int64_t, std::vector<int64_t>>> takes;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = normalize_axis(axes[i], x.rank());
    if (x.is_activation() && axis == 0) {
      bool whole = steps[i] == 1 && starts[i] == 0 && ends[i] >= (int64_t(1) << 31) - 1;
      if (!whole) throw ConversionError("slice along the row dimension");
      continue;
    }
    auto idx = slice_indices(x.shape[axis], starts[i], ends[i], steps[i]);
    bool identity = static_cast<int64_t>(idx.size()) == x.shape[axis];
    for (size_t j = 0; j < idx.size() && identity; ++j) identity = idx[j] == static_cast<int64_t>(j);
    if (!identity) takes.emplace_back(axis, idx);
  }
  for (size_t i = 0; i < takes.size(); ++i)
    current = node.take(current, takes[i].first, takes[i].second, 0, i + 1 == takes.size());
  node.set_output(0, current);
}

void lower_split(Importer& node) {
  const Value& x = node.val(node.in(0));
  const int outputs = node.proto().output_size();
  if (outputs < 1) throw ConversionError("Split without outputs");
  int64_t axis = normalize_axis(node.attr_int("axis", 0), x.rank());
  if (x.is_activation() && axis == 0) throw ConversionError("Split along the row dimension");
  std::vector<int64_t> sizes;
  if (auto s = node.attr_ints("split")) sizes = *s;
  else if (node.has_input(1)) sizes = node.int_list_input(1, "Split sizes");
  else {
    int64_t parts = outputs;
    if (x.shape[axis] % parts != 0) throw ConversionError("uneven Split without sizes");
    sizes.assign(parts, x.shape[axis] / parts);
  }
  if (static_cast<int>(sizes.size()) != outputs) throw ConversionError("Split sizes do not match outputs");
  const int64_t dim = x.shape[axis];
  // Checked before any index list is made: a 37 KB file may ask for sizes of 2^40.
  int64_t total = 0;
  bool fits = true;
  for (int64_t size : sizes) fits = fits && size >= 0 && !__builtin_add_overflow(total, size, &total) && total <= dim;
  if (!fits || total != dim)
    throw ConversionError("Split sizes " + shape_string(sizes) + " do not add up to dimension " +
                          std::to_string(axis) + " of size " + std::to_string(dim));
  int64_t begin = 0;
  for (size_t o = 0; o < sizes.size(); ++o) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < sizes[o]; ++i) idx.push_back(begin + i);
    begin += sizes[o];
    node.set_output(o, node.take(node.in(0), axis, idx, o, true));
  }
}

}  // namespace

std::vector<OnnxOp> indexing_onnx_ops() {
  return {
      {"Gather", lower_gather},
      {"Slice", lower_slice},
      {"Split", lower_split},
  };
}

}  // namespace edgemtl::converter
