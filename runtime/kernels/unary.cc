#include "runtime/kernels/unary.h"

#include <cmath>

namespace edgemtl {

namespace {

using schema::UnaryFunction;

template <typename F>
void apply(const float* x, float* y, size_t count, F f) {
  for (size_t i = 0; i < count; ++i) y[i] = f(x[i]);
}

// log(1 + exp(x)) without overflow: x + log1p(exp(-x)) for large x.
float softplus(float v) { return v > 0.0f ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

float gelu(float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); }

float gelu_tanh(float v) {
  const float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
  return 0.5f * v * (1.0f + std::tanh(inner));
}

template <typename T, typename F>
void compare_typed(const TensorView& a, const TensorView& b, const TensorView& out, F f) {
  const T* x = a.as<const T>();
  const T* y = b.as<const T>();
  uint8_t* z = out.as<uint8_t>();
  const Shape* inputs[2] = {&a.shape, &b.shape};
  for_each_broadcast<2>(out.shape, inputs, [&](int64_t i, const int64_t* offsets) {
    z[i] = f(x[offsets[0]], y[offsets[1]]) ? 1 : 0;
  });
}

template <typename T>
void compare_as(schema::ComparePredicate predicate, const TensorView& a, const TensorView& b, const TensorView& out) {
  switch (predicate) {
    case schema::ComparePredicate::GREATER: compare_typed<T>(a, b, out, [](T p, T q) { return p > q; }); return;
    case schema::ComparePredicate::LESS: compare_typed<T>(a, b, out, [](T p, T q) { return p < q; }); return;
    case schema::ComparePredicate::GREATER_EQUAL: compare_typed<T>(a, b, out, [](T p, T q) { return p >= q; }); return;
    case schema::ComparePredicate::LESS_EQUAL: compare_typed<T>(a, b, out, [](T p, T q) { return p <= q; }); return;
  }
}

}  // namespace

void unary_f32(UnaryFunction function, float exponent, const float* x, float* y, size_t count) {
  switch (function) {
    case UnaryFunction::LOG: apply(x, y, count, [](float v) { return std::log(v); }); return;
    case UnaryFunction::EXP: apply(x, y, count, [](float v) { return std::exp(v); }); return;
    case UnaryFunction::SQRT: apply(x, y, count, [](float v) { return std::sqrt(v); }); return;
    case UnaryFunction::RECIPROCAL: apply(x, y, count, [](float v) { return 1.0f / v; }); return;
    case UnaryFunction::ABS: apply(x, y, count, [](float v) { return std::fabs(v); }); return;
    case UnaryFunction::NEG: apply(x, y, count, [](float v) { return -v; }); return;
    case UnaryFunction::POW:
      if (exponent == 2.0f) apply(x, y, count, [](float v) { return v * v; });  // powf(v, 2) is exactly v * v
      else apply(x, y, count, [exponent](float v) { return std::pow(v, exponent); });
      return;
    case UnaryFunction::ERF: apply(x, y, count, [](float v) { return std::erf(v); }); return;
    case UnaryFunction::SOFTPLUS: apply(x, y, count, softplus); return;
    case UnaryFunction::FLOOR: apply(x, y, count, [](float v) { return std::floor(v); }); return;
    case UnaryFunction::CEIL: apply(x, y, count, [](float v) { return std::ceil(v); }); return;
    case UnaryFunction::GELU: apply(x, y, count, gelu); return;
    case UnaryFunction::GELU_TANH: apply(x, y, count, gelu_tanh); return;
  }
}

Status Unary::create(UnaryFunction function, float exponent) {
  function_ = function;
  exponent_ = exponent;
  using Create = xnn_status (*)(size_t, size_t, size_t, uint32_t, xnn_operator_t*);
  Create create = nullptr;
  switch (function) {
    case UnaryFunction::ABS: create = xnn_create_abs_nc_f32; setup_ = xnn_setup_abs_nc_f32; break;
    case UnaryFunction::NEG: create = xnn_create_negate_nc_f32; setup_ = xnn_setup_negate_nc_f32; break;
    case UnaryFunction::FLOOR: create = xnn_create_floor_nc_f32; setup_ = xnn_setup_floor_nc_f32; break;
    case UnaryFunction::CEIL: create = xnn_create_ceiling_nc_f32; setup_ = xnn_setup_ceiling_nc_f32; break;
    case UnaryFunction::SQRT: create = xnn_create_square_root_nc_f32; setup_ = xnn_setup_square_root_nc_f32; break;
    default: return Status::ok();  // a plain loop
  }
  EMTL_RETURN_IF_ERROR(ensure_xnnpack_initialized());
  // One channel, a batch of every element: the shape does not matter.
  return xnn_status_to_error(create(1, 1, 1, 0, op_.out()), "xnn_create (unary)");
}

Status Unary::run(const TensorView& x, const TensorView& y) const {
  const size_t count = x.num_elements();
  if (!op_.get() || count == 0) {
    unary_f32(function_, exponent_, x.as<const float>(), y.as<float>(), count);
    return Status::ok();
  }
  EMTL_RETURN_IF_ERROR(
      xnn_status_to_error(setup_(op_.get(), count, x.as<const float>(), y.as<float>(), nullptr), "xnn_setup (unary)"));
  return xnn_status_to_error(xnn_run_operator(op_.get(), nullptr), "unary");
}

void is_nan(const TensorView& x, const TensorView& out) {
  const float* in = x.as<const float>();
  uint8_t* result = out.as<uint8_t>();
  for (size_t i = 0, n = x.num_elements(); i < n; ++i) result[i] = std::isnan(in[i]) ? 1 : 0;
}

void is_inf(const TensorView& x, bool positive, bool negative, const TensorView& out) {
  const float* in = x.as<const float>();
  uint8_t* result = out.as<uint8_t>();
  for (size_t i = 0, n = x.num_elements(); i < n; ++i)
    result[i] = std::isinf(in[i]) && (in[i] > 0 ? positive : negative) ? 1 : 0;
}

void compare(schema::ComparePredicate predicate, const TensorView& a, const TensorView& b, const TensorView& out) {
  if (a.dtype == schema::DType::INT64) compare_as<int64_t>(predicate, a, b, out);
  else compare_as<float>(predicate, a, b, out);
}

void logical(schema::LogicalFunction function, const TensorView& a, const TensorView& b, const TensorView& out) {
  switch (function) {
    case schema::LogicalFunction::AND:
      compare_typed<uint8_t>(a, b, out, [](uint8_t p, uint8_t q) { return p && q; });
      return;
    case schema::LogicalFunction::OR:
      compare_typed<uint8_t>(a, b, out, [](uint8_t p, uint8_t q) { return p || q; });
      return;
    case schema::LogicalFunction::XOR:
      compare_typed<uint8_t>(a, b, out, [](uint8_t p, uint8_t q) { return (p != 0) != (q != 0); });
      return;
  }
}

}  // namespace edgemtl
