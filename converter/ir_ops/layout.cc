// Operators that move elements without computing: CONCAT TAKE TRANSPOSE
// RESHAPE BROADCAST_ROWS. They carry kRowsSymbol through shape arithmetic.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

namespace edgemtl::converter {
namespace {

// `out` takes input element source[i] as its element i (either storage).
void gather_elements(const Value& in, const std::vector<int64_t>& source, Value* out) {
  if (in.dtype == DType::kFloat32) {
    out->floats.resize(source.size());
    for (size_t i = 0; i < source.size(); ++i) out->floats[i] = in.floats[source[i]];
  } else {
    out->ints.resize(source.size());
    for (size_t i = 0; i < source.size(); ++i) out->ints[i] = in.ints[source[i]];
  }
}

void infer_concat(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  const NodeOptions& o = call.options;
  require(!call.inputs.empty(), "CONCAT needs inputs");
  const Value& first = call.in(0);
  const bool any_activation = call.any_activation();
  require(o.axis >= 0 && o.axis < first.rank(), "concat axis out of range");
  if (any_activation) require(o.axis >= 1, "concat along the row dimension");
  std::vector<int64_t> result = first.shape;
  result[o.axis] = 0;
  for (size_t i = 0; i < call.inputs.size(); ++i) {
    const Value& v = call.in(i);
    require(v.dtype == first.dtype && v.rank() == first.rank(), "concat inputs differ in dtype or rank");
    if (any_activation) require(v.is_activation(), "constant input to a concat of activations (would need rows)");
    for (int64_t d = 0; d < v.rank(); ++d)
      if (d != o.axis) require(v.shape[d] == first.shape[d], "concat inputs differ in shape");
    result[o.axis] += v.shape[o.axis];
  }
  *dtype = first.dtype;
  *shape = result;
}

void evaluate_concat(const OpCall& call, Value* out) {
  const int64_t axis = call.options.axis;
  const int64_t outer = product(out->shape, 0, axis), inner = product(out->shape, axis + 1);
  for (int64_t a = 0; a < outer; ++a)
    for (int v : call.inputs) {
      const Value& x = call.graph.values[v];
      const int64_t chunk = x.shape[axis] * inner;
      if (out->dtype == DType::kFloat32)
        out->floats.insert(out->floats.end(), x.floats.begin() + a * chunk, x.floats.begin() + (a + 1) * chunk);
      else
        out->ints.insert(out->ints.end(), x.ints.begin() + a * chunk, x.ints.begin() + (a + 1) * chunk);
    }
}

void infer_take(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  const Value& x = call.in(0);
  const NodeOptions& o = call.options;
  require(o.axis >= 0 && o.axis < x.rank(), "take axis out of range");
  if (x.is_activation()) require(o.axis >= 1, "take along the row dimension");
  for (int64_t index : o.indices) require(index >= 0 && index < x.shape[o.axis], "take index out of range");
  *dtype = x.dtype;
  *shape = x.shape;
  (*shape)[o.axis] = static_cast<int64_t>(o.indices.size());
}

void evaluate_take(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const NodeOptions& o = call.options;
  const int64_t outer = product(x.shape, 0, o.axis), inner = product(x.shape, o.axis + 1), n = x.shape[o.axis];
  std::vector<int64_t> source;
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t index : o.indices)
      for (int64_t i = 0; i < inner; ++i) source.push_back((a * n + index) * inner + i);
  gather_elements(x, source, out);
}

void normalize_perm(int64_t rank, NodeOptions* o) {
  for (auto& a : o->axes) a = normalize_axis(a, rank);
}

void infer_transpose(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  const Value& x = call.in(0);
  const std::vector<int64_t>& perm = call.options.axes;
  require(static_cast<int64_t>(perm.size()) == x.rank(), "transpose perm has the wrong length");
  if (x.is_activation()) require(perm[0] == 0, "transpose moves the row dimension");
  std::vector<int64_t> result;
  std::vector<bool> seen(x.rank(), false);
  for (int64_t p : perm) {
    require(p >= 0 && p < x.rank() && !seen[p], "transpose perm is not a permutation");
    seen[p] = true;
    result.push_back(x.shape[p]);
  }
  *dtype = x.dtype;
  *shape = result;
}

void evaluate_transpose(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const std::vector<int64_t>& shape = out->shape;
  const int64_t total = product(shape);
  auto in_strides = strides_of(x.shape);
  std::vector<int64_t> source(total);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t e = 0; e < total; ++e) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) offset += index[d] * in_strides[call.options.axes[d]];
    source[e] = offset;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  gather_elements(x, source, out);
}

void infer_reshape(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  const Value& x = call.in(0);
  const std::vector<int64_t>& target = call.options.shape;
  bool target_rows = !target.empty() && target[0] == kRows;
  require(target_rows == x.is_activation(), "reshape would move the row dimension");
  for (size_t d = target_rows ? 1 : 0; d < target.size(); ++d)
    require(target[d] >= 0, "reshape to a negative dimension " + shape_string(target));
  int64_t elements = x.is_activation() ? product(target, 1) : product(target);
  require(elements == x.elements_per_row(),
          "reshape " + shape_string(x.shape) + " -> " + shape_string(target) + " changes the elements per row");
  *dtype = x.dtype;
  *shape = target;
}

void infer_broadcast_rows(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  require(call.in(0).is_activation(), "BROADCAST_ROWS of a constant");
  *dtype = call.in(0).dtype;
  *shape = call.in(0).shape;
}

// RESHAPE, BROADCAST_ROWS: the elements as they are.
void evaluate_copy(const OpCall& call, Value* out) {
  out->floats = call.in(0).floats;
  out->ints = call.in(0).ints;
}

// A contiguous slice (the usual case: columns of a stacked FC) is stored as
// (start, count) instead of 8 bytes per index.
FileOptions write_take_options(const OptionsWriter& w) {
  const NodeOptions& o = w.node.options;
  bool contiguous = !o.indices.empty() && o.indices[0] >= 0;
  for (size_t k = 1; contiguous && k < o.indices.size(); ++k) contiguous = o.indices[k] == o.indices[0] + int64_t(k);
  if (contiguous)
    return {schema::OpOptions::TakeOptions,
            schema::CreateTakeOptions(w.builder, static_cast<int32_t>(o.axis), 0, o.indices[0],
                                      static_cast<int64_t>(o.indices.size())).Union()};
  return {schema::OpOptions::TakeOptions,
          schema::CreateTakeOptionsDirect(w.builder, static_cast<int32_t>(o.axis), &o.indices).Union()};
}

FileOptions write_transpose_options(const OptionsWriter& w) {
  const std::vector<int32_t> perm = to_int32(w.node.options.axes);
  return {schema::OpOptions::TransposeOptions, schema::CreateTransposeOptionsDirect(w.builder, &perm).Union()};
}

}  // namespace

std::vector<OpRules> layout_op_rules() {
  return {
      {Op::kConcat, infer_concat, evaluate_concat, normalize_axis_option, kBroadcastsRows, write_axis_options},
      {Op::kTake, infer_take, evaluate_take, normalize_axis_option, 0, write_take_options},
      {Op::kTranspose, infer_transpose, evaluate_transpose, normalize_perm, 0, write_transpose_options},
      {Op::kReshape, infer_reshape, evaluate_copy},
      {Op::kBroadcastRows, infer_broadcast_rows, evaluate_copy},
  };
}

}  // namespace edgemtl::converter
