// Data movement, any compute dtype: CONCAT, TAKE, TRANSPOSE, RESHAPE,
// BROADCAST_ROWS. RESHAPE's output always shares its input's bytes; a TAKE of
// consecutive columns may (a column view, decided by the planner).
#include <cstring>
#include <vector>

#include "runtime/kernels/layout.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

// Input and output of the same compute dtype (TAKE, TRANSPOSE, RESHAPE, BROADCAST_ROWS).
Status verify_same_dtype(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("input", v.input(0)));
  return v.expect_dtype("output", v.output(), v.dtype(v.input(0)));
}

// ---- CONCAT -------------------------------------------------------------------

Status verify_concat(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1024));
  const schema::AxisOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::AxisOptions, true, &options));
  const Shape y = v.output_shape();
  EMTL_RETURN_IF_ERROR(v.check_axis(options->axis(), y.rank));
  EMTL_RETURN_IF_ERROR(v.expect_compute_dtype("output", v.output()));
  int64_t axis_total = 0;
  for (uint32_t k = 0; k < v.num_inputs(); ++k) {
    EMTL_RETURN_IF_ERROR(v.expect_dtype("input", v.input(k), v.dtype(v.output())));
    EMTL_RETURN_IF_ERROR(v.expect_row_like("input", v.input(k)));
    const Shape x = v.input_shape(k);
    bool match = x.rank == y.rank;
    for (int d = 1; match && d < y.rank; ++d)
      if (d != options->axis() && x[d] != y[d]) match = false;
    if (!match)
      return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) does not match the output shape "
                           "outside axis %d", v.where(), k, v.input(k), options->axis());
    axis_total += x[options->axis()];
  }
  if (axis_total != y[options->axis()])
    return Status::error(Error::kInvalidModel, "%s: inputs add up to %lld along axis %d, output has %lld", v.where(),
                         static_cast<long long>(axis_total), options->axis(),
                         static_cast<long long>(y[options->axis()]));
  return Status::ok();
}

Status run_concat(const RunContext& context, PreparedOp& p) {
  std::vector<TensorView>& views = p.state.get<std::vector<TensorView>>();
  for (uint32_t k = 0; k < views.size(); ++k) views[k] = context.input(p, k);
  concat(Span<const TensorView>(views.data(), views.size()), p.op->options_as_AxisOptions()->axis(),
         context.output(p));
  return Status::ok();
}

// ---- TAKE ---------------------------------------------------------------------

Status verify_take(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::TakeOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::TakeOptions, true, &options));
  EMTL_RETURN_IF_ERROR(verify_same_dtype(v));
  const Shape x = v.input_shape(0);
  EMTL_RETURN_IF_ERROR(v.check_axis(options->axis(), x.rank));
  const int axis = options->axis();
  int64_t count = 0;
  if (options->indices() && options->indices()->size() > 0) {
    if (options->count() != 0 || options->start() != 0)
      return Status::error(Error::kInvalidModel, "%s: both indices and a range (start, count)", v.where());
    count = options->indices()->size();
    for (uint32_t k = 0; k < options->indices()->size(); ++k) {
      const int64_t index = options->indices()->Get(k);
      if (index < -x[axis] || index >= x[axis])
        return Status::error(Error::kInvalidModel, "%s: index %lld outside [-%lld, %lld) of axis %d", v.where(),
                             static_cast<long long>(index), static_cast<long long>(x[axis]),
                             static_cast<long long>(x[axis]), axis);
    }
  } else {
    // A contiguous range: start .. start + count - 1, all within the axis.
    count = options->count();
    const int64_t start = options->start();
    if (count < 1)
      return Status::error(Error::kInvalidModel, "%s: no indices and range count %lld (must be >= 1)", v.where(),
                           static_cast<long long>(count));
    if (start < 0 || start >= x[axis] || count > x[axis] - start)
      return Status::error(Error::kInvalidModel, "%s: range start %lld, count %lld outside [0, %lld) of axis %d",
                           v.where(), static_cast<long long>(start), static_cast<long long>(count),
                           static_cast<long long>(x[axis]), axis);
  }
  Shape kept = x;
  kept[axis] = count;
  if (count == 1 && v.output_shape().rank == x.rank - 1) {  // a scalar index: the axis is removed
    Shape removed;
    for (int d = 0; d < x.rank; ++d)
      if (d != axis) removed[removed.rank++] = x[d];
    return v.expect_shape(removed);
  }
  return v.expect_shape(kept);
}

bool take_is_column_window(const schema::Operator* op, int64_t* first_column) {
  const auto* options = op->options_as_TakeOptions();
  const bool range = !options->indices() || options->indices()->size() == 0;
  if (!range || options->axis() != 1) return false;
  *first_column = options->start();
  return true;
}

Status run_take(const RunContext& context, PreparedOp& p) {
  if (context.tensors[p.output].row_stride != 0) return Status::ok();  // a column view: its readers read the root
  const auto* options = p.op->options_as_TakeOptions();
  if (options->indices() && options->indices()->size() > 0)
    take(context.input(p, 0), options->axis(), options->indices()->data(), options->indices()->size(),
         context.output(p));
  else
    take_range(context.input(p, 0), options->axis(), options->start(), options->count(), context.output(p));
  return Status::ok();
}

// ---- TRANSPOSE ----------------------------------------------------------------

struct TransposeState {
  int perm[kMaxRank] = {0};
};

Status verify_transpose(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  const schema::TransposeOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::TransposeOptions, true, &options));
  EMTL_RETURN_IF_ERROR(verify_same_dtype(v));
  const Shape x = v.input_shape(0);
  const auto* perm = options->perm();
  if (!perm || static_cast<int>(perm->size()) != x.rank)
    return Status::error(Error::kInvalidModel, "%s: perm must have %d entries", v.where(), x.rank);
  bool used[kMaxRank] = {false};
  Shape y = x;
  for (int d = 0; d < x.rank; ++d) {
    const int source = perm->Get(static_cast<uint32_t>(d));
    if (source < 0 || source >= x.rank || used[source] || (d == 0 && source != 0))
      return Status::error(Error::kInvalidModel, "%s: perm is not a permutation with perm[0] == 0", v.where());
    used[source] = true;
    y[d] = x[source];
  }
  return v.expect_shape(y);
}

Status prepare_transpose(PrepareContext&, PreparedOp& p) {
  auto* state = p.state.emplace<TransposeState>();
  if (!state) return Status::error(Error::kOutOfMemory, "cannot allocate a transpose");
  const auto* perm = p.op->options_as_TransposeOptions()->perm();
  for (uint32_t d = 0; d < perm->size(); ++d) state->perm[d] = perm->Get(d);
  return Status::ok();
}

Status run_transpose(const RunContext& context, PreparedOp& p) {
  transpose(context.input(p, 0), p.state.get<TransposeState>().perm, context.output(p));
  return Status::ok();
}

// ---- RESHAPE, BROADCAST_ROWS ---------------------------------------------------

Status verify_reshape(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  EMTL_RETURN_IF_ERROR(verify_same_dtype(v));
  const int64_t have = v.output_shape().elements_from(1), want = v.input_shape(0).elements_from(1);
  if (have != want)
    return Status::error(Error::kInvalidModel, "%s: output has %lld values per row, input %lld", v.where(),
                         static_cast<long long>(have), static_cast<long long>(want));
  return Status::ok();
}

Status run_reshape(const RunContext& context, PreparedOp& p) {
  // Shares its input's bytes (planned as an alias): nothing to move.
  const TensorView out = context.output(p), x = context.input(p, 0);
  if (out.data != x.data) std::memcpy(out.data, x.data, out.byte_size());
  return Status::ok();
}

Status verify_broadcast_rows(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(1, 1));
  EMTL_RETURN_IF_ERROR(v.expect_no_options());
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(0));
  EMTL_RETURN_IF_ERROR(verify_same_dtype(v));
  return v.expect_shape(v.input_shape(0));
}

Status run_broadcast_rows(const RunContext& context, PreparedOp& p) {
  broadcast_rows(context.input(p, 0), context.output(p));
  return Status::ok();
}

}  // namespace

extern const OpRegistration kConcatOp = {
    schema::OpType::CONCAT, verify_concat, prepare_input_views, run_concat, nullptr, false, {}};
extern const OpRegistration kTakeOp = {
    schema::OpType::TAKE, verify_take, nullptr, run_take, nullptr, false, {false, false, false, take_is_column_window}};
extern const OpRegistration kTransposeOp = {
    schema::OpType::TRANSPOSE, verify_transpose, prepare_transpose, run_transpose, nullptr, false, {}};
extern const OpRegistration kReshapeOp = {
    schema::OpType::RESHAPE, verify_reshape, nullptr, run_reshape, nullptr, false, {true, false, false, nullptr}};
extern const OpRegistration kBroadcastRowsOp = {
    schema::OpType::BROADCAST_ROWS, verify_broadcast_rows, nullptr, run_broadcast_rows, nullptr, true, {}};

}  // namespace edgemtl
