// Gemm and MatMul: FULLY_CONNECTED when the right-hand side is a constant.
#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

// Transposes a constant [K,N] matrix into the FC weight layout [N,K].
std::vector<float> transpose_2d(const Value& m) {
  const int64_t rows = m.shape[0], cols = m.shape[1];
  std::vector<float> t(m.floats.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = m.floats[r * cols + c];
  return t;
}

void lower_gemm(Importer& node) {
  const Value& a = node.val(node.in(0));
  const Value b = node.val(node.in(1));  // a copy: emitting may reallocate the value list
  const float alpha = node.attr_float("alpha", 1.0f), beta = node.attr_float("beta", 1.0f);
  const bool trans_a = node.attr_int("transA", 0) != 0, trans_b = node.attr_int("transB", 0) != 0;
  if (a.rank() != 2 || b.rank() != 2) throw ConversionError("Gemm inputs must be matrices");
  if (a.is_activation() && trans_a) throw ConversionError("Gemm transposes the rows of its input");
  if (!b.is_constant) throw ConversionError("Gemm with a run-time right-hand side is not supported");
  if (b.dtype != DType::kFloat32) throw ConversionError("Gemm needs float32");
  int x = node.in(0);
  if (a.is_constant && trans_a) {
    NodeOptions o;
    o.axes = {1, 0};
    x = node.emit_tmp(Op::kTranspose, {x}, o);
  }
  // weight [N,K]
  const int64_t n = trans_b ? b.shape[0] : b.shape[1], k = trans_b ? b.shape[1] : b.shape[0];
  std::vector<float> w = trans_b ? b.floats : transpose_2d(b);
  if (alpha != 1.0f)
    for (float& v : w) v *= alpha;
  int weight = node.float_constant({n, k}, w, "_weight");
  std::vector<int> inputs = {x, weight};
  int bias_activation = -1;
  if (node.has_input(2)) {
    const Value& c = node.val(node.in(2));
    bool per_column = c.is_constant && c.dtype == DType::kFloat32 &&
                      (c.floats.size() == 1 || (!c.shape.empty() && c.shape.back() == n && product(c.shape) == n));
    if (per_column) {
      std::vector<float> bias(n);
      for (int64_t j = 0; j < n; ++j) bias[j] = beta * c.floats[c.floats.size() == 1 ? 0 : j];
      inputs.push_back(node.float_constant({n}, bias, "_bias"));
    } else {
      bias_activation = node.in(2);
    }
  }
  if (bias_activation < 0) {
    node.set_output(0, node.emit(Op::kFullyConnected, inputs));
    return;
  }
  int product_value = node.emit_tmp(Op::kFullyConnected, inputs);
  int c = bias_activation;
  if (beta != 1.0f) c = node.emit_tmp(Op::kMul, {c, node.float_constant({}, {beta}, "_beta")});
  node.set_output(0, node.emit(Op::kAdd, {product_value, c}));
}

void lower_matmul(Importer& node) {
  const Value& a = node.val(node.in(0));
  const Value& b = node.val(node.in(1));
  const std::vector<int64_t> a_shape = a.shape;
  if (a.dtype != DType::kFloat32 || b.dtype != DType::kFloat32) throw ConversionError("MatMul needs float32");
  if (a.rank() == 0 || b.rank() == 0) throw ConversionError("MatMul of a scalar");
  if (a.is_activation() && b.is_constant && b.rank() <= 2) {
    if (b.rank() == 2) {
      int weight = node.float_constant({b.shape[1], b.shape[0]}, transpose_2d(b), "_weight");
      node.set_output(0, node.emit(Op::kFullyConnected, {node.in(0), weight}));
    } else {
      int weight = node.float_constant({1, b.shape[0]}, b.floats, "_weight");
      int fc = node.emit_tmp(Op::kFullyConnected, {node.in(0), weight});
      std::vector<int64_t> shape(a_shape.begin(), a_shape.end() - 1);
      node.set_output(0, node.reshape(fc, shape));
    }
    return;
  }
  if (a.rank() < 2 || b.rank() < 2)
    throw ConversionError("MatMul of vectors is only supported with a constant right-hand side");
  node.set_output(0, node.emit(Op::kMatMul, {node.in(0), node.in(1)}));
}

}  // namespace

std::vector<OnnxOp> gemm_matmul_onnx_ops() {
  return {
      {"Gemm", lower_gemm},
      {"MatMul", lower_matmul},
  };
}

}  // namespace edgemtl::converter
