// REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN, REDUCE_PROD, REDUCE_L2 over axes
// other than the rows.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edgemtl::converter {
namespace {

void normalize_reduce(int64_t rank, NodeOptions* o) {
  for (auto& a : o->axes) a = normalize_axis(a, rank);
  std::sort(o->axes.begin(), o->axes.end());
  o->axes.erase(std::unique(o->axes.begin(), o->axes.end()), o->axes.end());
}

void infer_reduce(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(1, 1);
  const Value& x = call.in(0);
  const NodeOptions& o = call.options;
  require(x.dtype == DType::kFloat32 || !call.any_activation(), "reduction needs float32");
  require(x.dtype == DType::kFloat32 || call.op == Op::kReduceSum || call.op == Op::kReduceMean ||
              call.op == Op::kReduceMax || call.op == Op::kReduceMin,
          std::string(op_name(call.op)) + " needs float32");
  *dtype = x.dtype;
  std::vector<int64_t> result;
  for (int64_t i = 0; i < x.rank(); ++i) {
    bool reduced = std::find(o.axes.begin(), o.axes.end(), i) != o.axes.end();
    if (reduced && i == 0 && x.is_activation()) throw ConversionError("reduction over the row dimension");
    if (!reduced) result.push_back(x.shape[i]);
    else if (o.keepdims) result.push_back(1);
  }
  *shape = result;
}

void evaluate_reduce(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  check_no_symbol(x, call.op);
  std::vector<int64_t> kept_shape = x.shape;  // reduced dims become 1
  int64_t count = 1;
  for (int64_t a : call.options.axes) {
    count *= kept_shape[a];
    kept_shape[a] = 1;
  }
  auto strides = strides_of(kept_shape);
  const Op op = call.op;
  const double init = op == Op::kReduceMax    ? -std::numeric_limits<double>::infinity()
                      : op == Op::kReduceMin  ? std::numeric_limits<double>::infinity()
                      : op == Op::kReduceProd ? 1.0
                                              : 0.0;
  std::vector<double> acc(product(kept_shape), init);
  std::vector<int64_t> index(x.rank(), 0);
  for (int64_t e = 0; e < product(x.shape); ++e) {
    int64_t target = 0;
    for (int64_t d = 0; d < x.rank(); ++d) target += (kept_shape[d] == 1 ? 0 : index[d]) * strides[d];
    const double v = x.dtype == DType::kFloat32 ? x.floats[e] : static_cast<double>(x.ints[e]);
    double& a = acc[target];
    switch (op) {
      case Op::kReduceMax: a = v > a || std::isnan(v) ? v : a; break;
      case Op::kReduceMin: a = v < a || std::isnan(v) ? v : a; break;
      case Op::kReduceProd: a *= v; break;
      case Op::kReduceL2: a += v * v; break;
      default: a += v; break;
    }
    for (int64_t d = x.rank(); d-- > 0;) {
      if (++index[d] < x.shape[d]) break;
      index[d] = 0;
    }
  }
  for (double v : acc) {
    double r = op == Op::kReduceMean ? v / count : op == Op::kReduceL2 ? std::sqrt(v) : v;
    if (out->dtype == DType::kFloat32) out->floats.push_back(static_cast<float>(r));
    else out->ints.push_back(static_cast<int64_t>(r));
  }
}

FileOptions write_reduce_options(const OptionsWriter& w) {
  const std::vector<int32_t> axes = to_int32(w.node.options.axes);
  return {schema::OpOptions::ReduceOptions,
          schema::CreateReduceOptionsDirect(w.builder, &axes, w.node.options.keepdims).Union()};
}

}  // namespace

std::vector<OpRules> reduce_op_rules() {
  return {
      {Op::kReduceSum, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
      {Op::kReduceMean, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
      {Op::kReduceMax, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
      {Op::kReduceMin, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
      {Op::kReduceProd, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
      {Op::kReduceL2, infer_reduce, evaluate_reduce, normalize_reduce, 0, write_reduce_options},
  };
}

}  // namespace edgemtl::converter
