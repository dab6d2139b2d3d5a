// Shape ONNX ops: Shape (its values carry the row count as kRowsSymbol),
// Reshape Flatten Squeeze Unsqueeze (-> RESHAPE), Expand, ConstantOfShape,
// Concat, Transpose.
#include "converter/import/importer.h"

#include <algorithm>

namespace edgemtl::converter {
namespace {

// IR shape of a tensor given as int64 shape data (kRowsSymbol -> kRows).
std::vector<int64_t> dims_from_shape_data(const std::vector<int64_t>& data) {
  std::vector<int64_t> dims;
  for (int64_t d : data) dims.push_back(d == kRowsSymbol ? kRows : d);
  return dims;
}

void lower_shape(Importer& node) {
  const Value& x = node.val(node.in(0));
  std::vector<int64_t> data;
  for (int64_t d : x.shape) data.push_back(d == kRows ? kRowsSymbol : d);
  if (x.row_broadcast) data[0] = kRowsSymbol;
  int64_t rank = x.rank();
  int64_t start = node.attr_int("start", 0), end = node.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, start, rank);
  data = std::vector<int64_t>(data.begin() + start, data.begin() + end);
  int64_t n = static_cast<int64_t>(data.size());
  node.set_output(0, node.graph().add_int_constant(node.out_name(), DType::kInt64, {n}, data));
}

void lower_unsqueeze(Importer& node) {
  auto axes = node.axes_from("axes", 1);
  if (!axes) throw ConversionError("Unsqueeze without axes");
  const Value& x = node.val(node.in(0));
  int64_t out_rank = x.rank() + static_cast<int64_t>(axes->size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : *axes) {
    int64_t n = normalize_axis(a, out_rank);
    if (inserted[n]) throw ConversionError("Unsqueeze axes repeat");
    inserted[n] = true;
  }
  if (x.is_activation() && inserted[0]) throw ConversionError("unsqueeze before the row dimension");
  std::vector<int64_t> shape;
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) shape.push_back(inserted[d] ? 1 : x.shape[next++]);
  node.set_output(0, node.reshape(node.in(0), shape));
}

void lower_squeeze(Importer& node) {
  auto axes = node.axes_from("axes", 1);
  const Value& x = node.val(node.in(0));
  std::vector<bool> removed(x.rank(), false);
  if (axes) {
    for (int64_t a : *axes) {
      int64_t n = normalize_axis(a, x.rank());
      if (x.is_activation() && n == 0) throw ConversionError("squeeze of the row dimension");
      if (x.shape[n] != 1) throw ConversionError("squeeze of a dimension that is not 1");
      removed[n] = true;
    }
  } else {
    for (int64_t d = x.is_activation() ? 1 : 0; d < x.rank(); ++d) removed[d] = x.shape[d] == 1;
  }
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (!removed[d]) shape.push_back(x.shape[d]);
  node.set_output(0, node.reshape(node.in(0), shape));
}

void lower_reshape(Importer& node) {
  const Value& x = node.val(node.in(0));
  std::vector<int64_t> target = node.int_list_input(1, "Reshape shape");
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (static_cast<int64_t>(i) >= x.rank()) throw ConversionError("reshape copies a dimension the input lacks");
      target[i] = x.shape[i] == kRows ? kRowsSymbol : x.shape[i];
    }
  }
  int64_t inferred = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == kRowsSymbol && i != 0) throw ConversionError("reshape moves the row count away from dimension 0");
    if (target[i] == -1) {
      if (inferred >= 0) throw ConversionError("reshape with two -1");
      inferred = static_cast<int64_t>(i);
    }
  }
  if (x.is_activation()) {
    if (target.empty()) throw ConversionError("reshape of an activation to a scalar");
    std::vector<int64_t> rest(target.begin() + 1, target.end());
    const int64_t per_row = x.elements_per_row();
    if (inferred == 0) {
      // view(-1, d...): the -1 is the row count only when the rest is one row.
      if (product(rest) != per_row)
        throw ConversionError("reshape " + shape_string(x.shape) + " -> [-1," + shape_string(rest).substr(1) +
                              " changes the number of rows");
    } else if (target[0] != kRowsSymbol) {
      throw ConversionError("reshape does not keep the row count in dimension 0 (use x.view(x.size(0), ...))");
    } else if (inferred > 0) {
      int64_t known = 1;
      for (size_t i = 1; i < target.size(); ++i)
        if (static_cast<int64_t>(i) != inferred) known *= target[i];
      if (known == 0 || per_row % known != 0) throw ConversionError("reshape sizes do not divide");
      target[inferred] = per_row / known;
    }
    target[0] = kRows;
  } else {
    if (std::find(target.begin(), target.end(), kRowsSymbol) != target.end())
      throw ConversionError("reshape of a constant to a shape with the row count");
    if (inferred >= 0) {
      int64_t known = 1;
      for (size_t i = 0; i < target.size(); ++i)
        if (static_cast<int64_t>(i) != inferred) known *= target[i];
      if (known == 0 || product(x.shape) % known != 0) throw ConversionError("reshape sizes do not divide");
      target[inferred] = product(x.shape) / known;
    }
  }
  node.set_output(0, node.reshape(node.in(0), target));
}

void lower_flatten(Importer& node) {
  const Value& x = node.val(node.in(0));
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += x.rank();
  if (axis < 0 || axis > x.rank()) throw ConversionError("flatten axis out of range");
  if (x.is_activation() && (axis == 0 || product(x.shape, 1, axis) != 1))
    throw ConversionError("flatten would merge the row dimension with others");
  std::vector<int64_t> shape;
  if (x.is_activation()) shape = {kRows, product(x.shape, axis)};
  else shape = {product(x.shape, 0, axis), product(x.shape, axis)};
  node.set_output(0, node.reshape(node.in(0), shape));
}

void lower_expand(Importer& node) {
  const Value& x = node.val(node.in(0));
  auto target = dims_from_shape_data(node.int_list_input(1, "Expand shape"));
  std::vector<int64_t> out;
  // Expand broadcasts both ways (a target dim of 1 keeps the input's).
  {
    std::vector<int64_t> t = target, s = x.shape;
    size_t rank = std::max(t.size(), s.size());
    t.insert(t.begin(), rank - t.size(), 1);
    s.insert(s.begin(), rank - s.size(), 1);
    for (size_t i = 0; i < rank; ++i) {
      if (s[i] == t[i] || t[i] == 1) out.push_back(s[i]);
      else if (s[i] == 1) out.push_back(t[i]);
      else throw ConversionError("Expand shapes do not broadcast");
    }
  }
  if (out == x.shape) {
    node.set_output(0, node.in(0));
    return;
  }
  if (x.row_broadcast) throw ConversionError("Expand of a constant with equal rows is not supported");
  // A constant expanded to the rows has equal rows: keep one (see ConstantOfShape).
  const bool row_broadcast = x.is_constant && !out.empty() && out[0] == kRows;
  if (row_broadcast) out[0] = 1;
  if (std::find(out.begin(), out.end(), kRows) != out.end() &&
      (x.is_constant || out.size() != x.shape.size() || out[0] != kRows))
    throw ConversionError("Expand creates or moves the row dimension");
  if (x.is_constant) {
    checked_element_count(out, "Expand", kMaxComputedElements);
    auto offsets = broadcast_offsets(x.shape, out);
    Value v;
    v.is_constant = true;
    v.dtype = x.dtype;
    v.shape = out;
    for (int64_t o : offsets) {
      if (x.dtype == DType::kFloat32) v.floats.push_back(x.floats[o]);
      else v.ints.push_back(x.ints[o]);
    }
    v.row_broadcast = row_broadcast;
    node.set_output(0, node.add_output_constant(std::move(v)));
    return;
  }
  if (x.dtype != DType::kFloat32) throw ConversionError("Expand of a non-float activation is not supported");
  // x + 0 broadcast to the target shape is exactly the expansion.
  std::vector<int64_t> zeros_shape = out;
  zeros_shape[0] = 1;
  const int64_t count = checked_element_count(zeros_shape, "Expand", kMaxComputedElements);
  int zeros = node.float_constant(zeros_shape, std::vector<float>(count, 0.0f), "_zeros");
  node.set_output(0, node.emit(Op::kAdd, {node.in(0), zeros}));
}

void lower_constant_of_shape(Importer& node) {
  auto shape = node.int_list_input(0, "ConstantOfShape shape");
  // The row count can only be dimension 0; the rows are all equal, so one row
  // broadcast by the elementwise ops that read it is exact.
  bool row_broadcast = !shape.empty() && shape[0] == kRowsSymbol;
  if (row_broadcast) shape[0] = 1;
  for (int64_t d : shape)
    if (d == kRowsSymbol || d < 0)
      throw ConversionError("ConstantOfShape shape " + shape_string(dims_from_shape_data(shape)) + " is not supported");
  Value fill;
  if (auto a = node.attr("value")) fill = constant_from_tensor(a->t());
  else { fill.dtype = DType::kFloat32; fill.floats = {0.0f}; }
  const int64_t n = checked_element_count(shape, "ConstantOfShape", kMaxComputedElements);
  Graph& g = node.graph();
  int v = fill.dtype == DType::kFloat32
              ? g.add_float_constant(node.out_name(), shape, std::vector<float>(n, fill.floats.at(0)))
              : g.add_int_constant(node.out_name(), fill.dtype, shape, std::vector<int64_t>(n, fill.ints.at(0)));
  g.values[v].row_broadcast = row_broadcast;
  node.set_output(0, v);
}

void lower_concat(Importer& node) {
  std::vector<int> inputs;
  for (int i = 0; i < node.proto().input_size(); ++i)
    if (node.has_input(i)) inputs.push_back(node.in(i));
  // Shape chains concatenate empty tensors sometimes: they add nothing.
  auto empty = [&](int v) {
    const Value& x = node.val(v);
    return x.is_constant && x.rank() == 1 && x.shape[0] == 0 && inputs.size() > 1;
  };
  inputs.erase(std::remove_if(inputs.begin(), inputs.end(), empty), inputs.end());
  NodeOptions o;
  o.axis = node.attr_int("axis", 0);
  node.set_output(0, inputs.size() == 1 ? inputs[0] : node.emit(Op::kConcat, inputs, o));
}

void lower_transpose(Importer& node) {
  const Value& x = node.val(node.in(0));
  NodeOptions o;
  if (auto perm = node.attr_ints("perm")) o.axes = *perm;
  else for (int64_t d = x.rank(); d-- > 0;) o.axes.push_back(d);
  bool identity = true;
  for (size_t d = 0; d < o.axes.size(); ++d) identity &= o.axes[d] == static_cast<int64_t>(d);
  node.set_output(0, identity ? node.in(0) : node.emit(Op::kTranspose, {node.in(0)}, o));
}

}  // namespace

std::vector<OnnxOp> shape_onnx_ops() {
  return {
      {"Shape", lower_shape},
      {"Reshape", lower_reshape},
      {"Flatten", lower_flatten},
      {"Squeeze", lower_squeeze},
      {"Unsqueeze", lower_unsqueeze},
      {"Expand", lower_expand},
      {"ConstantOfShape", lower_constant_of_shape},
      {"Concat", lower_concat},
      {"Transpose", lower_transpose},
  };
}

}  // namespace edgemtl::converter
