// ONNX LSTM and GRU -> RECURRENT, and the time-major tensors around them.
//
// ONNX recurrences are time-major (X [T, rows, D], Y [T, dirs, rows, H], Y_h
// [dirs, rows, H]) and torch's batch_first layers wrap them in Transposes and
// a zero state ConstantOfShape([dirs, rows, H]). The IR keeps the rows first,
// so such a tensor is stored row-first and the importer remembers the axis of
// its ONNX shape that holds the rows (Importer::row_axis): the ONNX shape is
// the IR shape with dimension 0 moved to that axis, the others in order.
// Transpose, Squeeze, Unsqueeze, Reshape, Gather and Shape know how to read
// and make these; RECURRENT reads its sequence and states row-first directly.
#include <algorithm>

#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

// The IR axis of ONNX axis i of a tensor whose rows are at ONNX axis `a`.
int64_t ir_axis(int64_t a, int64_t i) { return i == a ? 0 : (i < a ? i + 1 : i); }

std::vector<int64_t> onnx_shape(const std::vector<int64_t>& ir, int64_t a) {
  std::vector<int64_t> shape;
  for (int64_t i = 0; i < static_cast<int64_t>(ir.size()); ++i) shape.push_back(ir[ir_axis(a, i)]);
  return shape;
}

// IR shape of an ONNX shape whose rows are at `a`: dimension a first.
std::vector<int64_t> ir_shape(const std::vector<int64_t>& onnx, int64_t a) {
  std::vector<int64_t> shape = {onnx[a]};
  for (int64_t i = 0; i < static_cast<int64_t>(onnx.size()); ++i)
    if (i != a) shape.push_back(onnx[i]);
  return shape;
}

bool is_identity(const std::vector<int64_t>& perm) {
  for (size_t d = 0; d < perm.size(); ++d)
    if (perm[d] != static_cast<int64_t>(d)) return false;
  return true;
}

bool any_moved_input(const Importer& node) {
  for (int i = 0; i < node.proto().input_size(); ++i)
    if (node.in_row_axis(static_cast<size_t>(i)) != 0) return true;
  return false;
}

void lower_moved_transpose(Importer& node) {
  const int x = node.in(0);
  const int64_t a = node.in_row_axis(0), rank = node.val(x).rank();
  std::vector<int64_t> perm;
  if (auto p = node.attr_ints("perm")) perm = *p;
  else for (int64_t d = rank; d-- > 0;) perm.push_back(d);
  if (static_cast<int64_t>(perm.size()) != rank) throw ConversionError("Transpose perm does not match the rank");
  int64_t out_axis = -1;
  std::vector<int64_t> ir_perm = {0};
  for (int64_t j = 0; j < rank; ++j) {
    const int64_t from = normalize_axis(perm[j], rank);
    if (from == a) out_axis = j;
    else ir_perm.push_back(ir_axis(a, from));
  }
  NodeOptions o;
  o.axes = ir_perm;
  const int v = is_identity(ir_perm) ? x : node.emit(Op::kTranspose, {x}, o);
  node.set_moved_output(0, v, out_axis);
}

void lower_moved_squeeze(Importer& node) {
  const int x = node.in(0);
  const int64_t a = node.in_row_axis(0);
  const std::vector<int64_t> shape = onnx_shape(node.val(x).shape, a);
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> removed(rank, false);
  if (auto axes = node.axes_from("axes", 1)) {
    for (int64_t ax : *axes) {
      const int64_t n = normalize_axis(ax, rank);
      if (n == a) throw ConversionError("squeeze of the row dimension");
      if (shape[n] != 1) throw ConversionError("squeeze of a dimension that is not 1");
      removed[n] = true;
    }
  } else {
    for (int64_t d = 0; d < rank; ++d) removed[d] = d != a && shape[d] == 1;
  }
  std::vector<int64_t> out;
  int64_t out_axis = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (removed[d]) continue;
    if (d == a) out_axis = static_cast<int64_t>(out.size());
    out.push_back(shape[d]);
  }
  node.set_moved_output(0, node.reshape(x, ir_shape(out, out_axis)), out_axis);
}

void lower_moved_unsqueeze(Importer& node) {
  const int x = node.in(0);
  const int64_t a = node.in_row_axis(0);
  auto axes = node.axes_from("axes", 1);
  if (!axes) throw ConversionError("Unsqueeze without axes");
  const std::vector<int64_t> shape = onnx_shape(node.val(x).shape, a);
  const int64_t out_rank = static_cast<int64_t>(shape.size() + axes->size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t ax : *axes) {
    const int64_t n = normalize_axis(ax, out_rank);
    if (inserted[n]) throw ConversionError("Unsqueeze axes repeat");
    inserted[n] = true;
  }
  std::vector<int64_t> out;
  int64_t out_axis = 0;
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) {
    if (inserted[d]) {
      out.push_back(1);
      continue;
    }
    if (static_cast<int64_t>(next) == a) out_axis = d;
    out.push_back(shape[next++]);
  }
  node.set_moved_output(0, node.reshape(x, ir_shape(out, out_axis)), out_axis);
}

// Reshape keeping every dimension up to the rows (time-major [T, rows, dirs, H] -> [T, rows, dirs·H]).
void lower_moved_reshape(Importer& node) {
  const int x = node.in(0);
  const int64_t a = node.in_row_axis(0);
  const std::vector<int64_t> shape = onnx_shape(node.val(x).shape, a);
  std::vector<int64_t> target = node.int_list_input(1, "Reshape shape");
  const bool allow_zero = node.attr_int("allowzero", 0) != 0;
  if (static_cast<int64_t>(target.size()) <= a) throw ConversionError("reshape moves the row dimension");
  for (int64_t i = 0; i <= a; ++i) {
    const int64_t want = i == a ? kRowsSymbol : shape[i];
    if (!((target[i] == 0 && !allow_zero) || target[i] == want))
      throw ConversionError("reshape of a time-major tensor must keep the dimensions up to the rows");
    target[i] = i == a ? kRows : shape[i];
  }
  const int64_t per_row = product(shape, a + 1);
  int64_t known = 1, inferred = -1;
  for (size_t i = a + 1; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero && static_cast<int64_t>(i) < static_cast<int64_t>(shape.size())) target[i] = shape[i];
    if (target[i] == -1) {
      if (inferred >= 0) throw ConversionError("reshape with two -1");
      inferred = static_cast<int64_t>(i);
    } else {
      if (target[i] < 1) throw ConversionError("reshape to an unsupported shape");
      known *= target[i];
    }
  }
  if (inferred >= 0) {
    if (per_row % known != 0) throw ConversionError("reshape sizes do not divide");
    target[inferred] = per_row / known;
  } else if (known != per_row) {
    throw ConversionError("reshape changes the number of elements");
  }
  node.set_moved_output(0, node.reshape(x, ir_shape(target, a)), a);
}

// Gather of constant indices along an axis other than the rows (h_n[-1]).
void lower_moved_gather(Importer& node) {
  const int x = node.in(0);
  const int64_t a = node.in_row_axis(0);
  const std::vector<int64_t> shape = onnx_shape(node.val(x).shape, a);
  const int64_t axis = normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(shape.size()));
  if (axis == a) throw ConversionError("gather along the row dimension");
  const Value& idx = node.constant_input(1, "gather indices of a time-major tensor");
  if (idx.dtype != DType::kInt64 || idx.rank() > 1) throw ConversionError("gather indices must be a scalar or a list");
  std::vector<int64_t> flat;
  for (int64_t i : idx.ints) {
    const int64_t n = i < 0 ? i + shape[axis] : i;
    if (n < 0 || n >= shape[axis]) throw ConversionError("gather index out of range");
    flat.push_back(n);
  }
  const bool scalar = idx.rank() == 0;
  int v = node.take(x, ir_axis(a, axis), flat, 0, !scalar);
  int64_t out_axis = a;
  if (scalar) {
    std::vector<int64_t> out = shape;
    out.erase(out.begin() + axis);
    if (axis < a) --out_axis;
    v = node.reshape(v, ir_shape(out, out_axis));
  }
  node.set_moved_output(0, v, out_axis);
}

void lower_moved_shape(Importer& node) {
  const Value& x = node.val(node.in(0));
  std::vector<int64_t> data = onnx_shape(x.shape, node.in_row_axis(0));
  for (int64_t& d : data) d = d == kRows ? kRowsSymbol : d;
  if (node.attr("start") || node.attr("end")) throw ConversionError("Shape with start or end of a time-major tensor");
  const int64_t n = static_cast<int64_t>(data.size());
  node.set_output(0, node.graph().add_int_constant(node.out_name(), DType::kInt64, {n}, data));
}

// ConstantOfShape([dirs, rows, H]): the zero state, equal rows kept as one (row_broadcast).
void lower_moved_constant_of_shape(Importer& node) {
  std::vector<int64_t> shape = node.int_list_input(0, "ConstantOfShape shape");
  const int64_t a = std::find(shape.begin(), shape.end(), kRowsSymbol) - shape.begin();
  shape[a] = 1;
  for (int64_t d : shape)
    if (d == kRowsSymbol || d < 0) throw ConversionError("ConstantOfShape shape with the row count twice");
  float fill = 0.0f;
  if (auto at = node.attr("value")) {
    const Value v = constant_from_tensor(at->t());
    if (v.dtype != DType::kFloat32) throw ConversionError("ConstantOfShape with the rows away from axis 0 must be float");
    fill = v.floats.at(0);
  }
  const std::vector<int64_t> ir = ir_shape(shape, a);
  const int v = node.graph().add_float_constant(node.out_name(), ir, std::vector<float>(product(ir), fill));
  node.graph().values[v].row_broadcast = true;
  node.set_moved_output(0, v, a);
}

bool activation_input(const Importer& node) { return node.has_input(0) && node.val(node.in(0)).is_activation(); }

// ---- LSTM, GRU ---------------------------------------------------------------

// A state input (initial_h / initial_c [dirs, rows, H]) as IR [rows|1, dirs, H]; -1 when absent or all zeros.
int state_input(Importer& node, size_t i, int64_t dirs, int64_t H, bool batch_first) {
  if (!node.has_input(i)) return -1;
  const int v = node.in(i);
  const Value& s = node.val(v);
  if (s.is_constant && std::all_of(s.floats.begin(), s.floats.end(), [](float f) { return f == 0.0f; }) &&
      s.dtype == DType::kFloat32)
    return -1;
  const int64_t a = node.in_row_axis(i);
  const bool row_first = s.is_activation() || s.row_broadcast;
  if (!row_first || a != (batch_first ? 0 : 1) || s.rank() != 3 || s.shape[1] != dirs || s.shape[2] != H)
    throw ConversionError("initial state must be [num_directions, rows, hidden_size] computed from the rows");
  return v;
}

void check_default_activations(Importer& node, bool lstm) {
  if (auto a = node.attr("activations")) {
    const char* defaults[] = {"Sigmoid", "Tanh", "Tanh"};
    const int per_direction = lstm ? 3 : 2;
    for (int k = 0; k < a->strings_size(); ++k)
      if (a->strings(k) != defaults[k % per_direction])
        throw ConversionError("activations other than the defaults are not supported");
  }
  if (node.attr("clip")) throw ConversionError("clip is not supported");
  if (node.attr_int("input_forget", 0) != 0) throw ConversionError("input_forget is not supported");
}

void lower_recurrent(Importer& node, bool lstm) {
  check_default_activations(node, lstm);
  const bool batch_first = node.attr_int("layout", 0) == 1;
  std::string direction = "forward";
  if (auto d = node.attr("direction")) direction = d->s();
  NodeOptions o;
  o.lstm = lstm;
  o.direction = direction == "forward" ? 0 : direction == "reverse" ? 1 : direction == "bidirectional" ? 2 : -1;
  if (o.direction < 0) throw ConversionError("unknown direction '" + direction + "'");
  o.linear_before_reset = !lstm && node.attr_int("linear_before_reset", 0) != 0;
  const int64_t dirs = o.direction == 2 ? 2 : 1, G = lstm ? 4 : 3;
  o.hidden_size = node.attr_int("hidden_size", 0);
  const int64_t H = o.hidden_size;

  const int x = node.in(0);
  if (node.in_row_axis(0) != (batch_first ? 0 : 1) || !node.val(x).is_activation() || node.val(x).rank() != 3)
    throw ConversionError(batch_first ? "the sequence must be [rows, T, D]"
                                      : "the sequence must be [T, rows, D] (x.transpose(0, 1) of [rows, T, D])");
  const int64_t T = node.val(x).shape[1];
  const Value& w = node.constant_input(1, "W");
  const Value& r = node.constant_input(2, "R");
  if (H < 1 || w.rank() != 3 || w.shape[0] != dirs || w.shape[1] != G * H || r.shape != std::vector<int64_t>{dirs, G * H, H})
    throw ConversionError("W or R does not match hidden_size and direction");
  int b = node.has_input(3) ? node.in(3) : node.float_constant({dirs, 2 * G * H}, std::vector<float>(dirs * 2 * G * H, 0.0f), "_B");
  if (lstm && node.has_input(7)) {
    const Value& p = node.constant_input(7, "P");
    if (!std::all_of(p.floats.begin(), p.floats.end(), [](float f) { return f == 0.0f; }))
      throw ConversionError("peephole weights are not supported");
  }
  std::vector<int> inputs = {x, node.in(1), node.in(2), b};
  int h0 = state_input(node, 5, dirs, H, batch_first);
  int c0 = lstm ? state_input(node, 6, dirs, H, batch_first) : -1;
  if (h0 >= 0 || c0 >= 0) {
    o.initial_state = true;
    // A state that is the same for every row (the zeros of an absent one, or a constant with equal
    // rows) is a plain 1-row constant: RECURRENT uses a 1-row state for every row.
    auto one_row = [&](int state, const char* suffix) {
      if (state >= 0 && !node.val(state).is_constant) return state;
      std::vector<float> data(dirs * H, 0.0f);
      if (state >= 0) {
        const std::vector<float>& given = node.val(state).floats;
        if (static_cast<int64_t>(given.size()) != dirs * H)
          throw ConversionError("a constant initial state must be the same for every row");
        data = given;
      }
      return node.float_constant({1, dirs, H}, data, suffix);
    };
    inputs.push_back(one_row(h0, "_h0"));
    if (lstm) inputs.push_back(one_row(c0, "_c0"));
  }
  if (node.has_input(4)) {
    const int lens = node.in(4);
    const Value& l = node.val(lens);
    if (l.is_constant) {
      if (!std::all_of(l.ints.begin(), l.ints.end(), [&](int64_t n) { return n == T; }))
        throw ConversionError("constant sequence_lens other than T are not supported");
    } else {
      if (l.dtype != DType::kInt64 || l.rank() != 1 || node.in_row_axis(4) != 0)
        throw ConversionError("sequence_lens must be int64 [rows]");
      o.sequence_lens = true;
      inputs.push_back(lens);
    }
  }
  const int packed = node.emit_tmp(Op::kRecurrent, inputs, o);
  // Y: steps 0 .. T-1 as [rows, T, dirs, H] (ONNX [T, dirs, rows, H]); Y_h, Y_c: [rows, dirs, H].
  auto output = [&](size_t i, std::vector<int64_t> steps, bool keep_axis) {
    if (static_cast<int>(i) >= node.proto().output_size() || node.proto().output(i).empty()) return;
    const int taken = node.take(packed, 1, std::move(steps), i, false);
    const std::vector<int64_t> shape = keep_axis ? std::vector<int64_t>{kRows, T, dirs, H} : std::vector<int64_t>{kRows, dirs, H};
    node.set_moved_output(i, node.reshape(taken, shape, i), batch_first ? 0 : (keep_axis ? 2 : 1));
  };
  std::vector<int64_t> all_steps(T);
  for (int64_t t = 0; t < T; ++t) all_steps[t] = t;
  output(0, all_steps, true);
  output(1, {T}, false);
  if (lstm) output(2, {T + 1}, false);
}

void lower_lstm(Importer& node) { lower_recurrent(node, true); }
void lower_gru(Importer& node) { lower_recurrent(node, false); }

}  // namespace

bool moves_rows(const Importer& node) {
  const std::string& type = node.proto().op_type();
  if (type == "LSTM" || type == "GRU") return false;
  const bool moved = any_moved_input(node);
  const bool reader = type == "Transpose" || type == "Squeeze" || type == "Unsqueeze" || type == "Reshape" ||
                      type == "Gather" || type == "Shape";
  if (moved && !reader) {
    for (int i = 0; i < node.proto().input_size(); ++i)
      if (node.in_row_axis(static_cast<size_t>(i)) != 0)
        throw ConversionError("reads '" + node.proto().input(i) + "', a tensor with its rows at axis " +
                              std::to_string(node.in_row_axis(static_cast<size_t>(i))) +
                              " (time-major); only Transpose, Squeeze, Unsqueeze, Reshape, Gather, Shape, LSTM "
                              "and GRU read one");
  }
  if (moved) return true;
  if (type == "Transpose" && activation_input(node)) {
    auto perm = node.attr_ints("perm");
    return !perm || (!perm->empty() && (*perm)[0] != 0);
  }
  if (type == "Unsqueeze" && activation_input(node)) {
    auto axes = node.axes_from("axes", 1);
    const int64_t out_rank = node.val(node.in(0)).rank() + (axes ? static_cast<int64_t>(axes->size()) : 0);
    if (axes)
      for (int64_t ax : *axes)
        if (normalize_axis(ax, out_rank) == 0) return true;
  }
  if (type == "ConstantOfShape" && node.has_input(0) && node.val(node.in(0)).is_constant) {
    const std::vector<int64_t>& shape = node.val(node.in(0)).ints;
    return std::count(shape.begin(), shape.end(), kRowsSymbol) == 1 && shape[0] != kRowsSymbol;
  }
  return false;
}

void lower_moved_rows(Importer& node) {
  const std::string& type = node.proto().op_type();
  if (type == "Transpose") lower_moved_transpose(node);
  else if (type == "Squeeze") lower_moved_squeeze(node);
  else if (type == "Unsqueeze") lower_moved_unsqueeze(node);
  else if (type == "Reshape") lower_moved_reshape(node);
  else if (type == "Gather") lower_moved_gather(node);
  else if (type == "Shape") lower_moved_shape(node);
  else if (type == "ConstantOfShape") lower_moved_constant_of_shape(node);
  else throw ConversionError("internal error: no lowering of moved rows for " + type);
}

std::vector<OnnxOp> recurrent_onnx_ops() {
  return {
      {"LSTM", lower_lstm,
       "one layer; forward, reverse or bidirectional; default activations, no clip, input_forget 0, peepholes "
       "absent or zero; X [T, rows, D] (batch_first's transpose) or layout 1; W, R, B constants; initial_h / "
       "initial_c absent, zero or given; sequence_lens absent or int64 [rows] -> one RECURRENT"},
      {"GRU", lower_gru,
       "one layer; forward, reverse or bidirectional; default activations, no clip; linear_before_reset 0 or 1; "
       "X [T, rows, D] (batch_first's transpose) or layout 1; W, R, B constants; initial_h absent, zero or given; "
       "sequence_lens absent or int64 [rows] -> one RECURRENT"},
  };
}

}  // namespace edgemtl::converter
