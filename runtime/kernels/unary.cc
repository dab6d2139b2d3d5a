#include "runtime/kernels/unary.h"

#include <cmath>

#include "runtime/kernels/cpu_features.h"
#include "runtime/kernels/x86_exp.h"

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

#if defined(__x86_64__)
// GELU 16 at a time (libm's erff took 9 ns an element): with a = |x| / sqrt 2,
// 1 + erf(x / sqrt 2) is erfc(a) for x < 0 and 2 - erfc(a) otherwise (no
// cancellation in the negative tail), erfc(a) = exp(-a^2) R(t), t = 1 / (1 + a / 2),
// R a degree-10 polynomial fitted (least squares on relative error, Chebyshev
// nodes; scripts/fit_gelu_erfc.py prints kR) to erfc(a) e^(a^2) over a in
// [0, 10]: 2.4e-7 relative in float. a^2 is
// x^2 / 2 with x^2 split into a rounded product and its fma remainder, so that
// exp's argument carries no rounding of 1 / sqrt 2. Within 4e-7 of GELU over
// [-20, 20] (the scalar loop's 1 + erf cancels to 0 below about -5.5); |x| is
// capped at 20 inside erfc, whose value is 0 there; NaN stays NaN, +inf gives
// +inf and -inf NaN, as the scalar loop.
struct Gelu16 {
  static constexpr float kR[] = {2.916046605e-02f,  -2.176054418e-01f, 6.589779854e-01f, -9.913491607e-01f,
                                 7.052550912e-01f,  -2.638104260e-01f, 2.897853553e-01f, 2.222766578e-01f,
                                 2.854722142e-01f,  2.818281054e-01f,  9.178994333e-06f};
  EMTL_EXP16_TARGET __m512 operator()(__m512 v) const {
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    const __m512 magnitude = _mm512_min_ps(_mm512_abs_ps(v), _mm512_set1_ps(20.0f));
    const __m512 a = _mm512_mul_ps(magnitude, _mm512_set1_ps(0.70710678118654752f));
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(a, half, one));
    __m512 r = _mm512_set1_ps(kR[0]);
    for (int k = 1; k < 11; ++k) r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(kR[k]));
    const __m512 square = _mm512_mul_ps(magnitude, magnitude);
    const __m512 square_low = _mm512_fmsub_ps(magnitude, magnitude, square);
    const __m512 decay = _mm512_mul_ps(exp16(_mm512_mul_ps(square, _mm512_set1_ps(-0.5f))),
                                       _mm512_fnmadd_ps(square_low, half, one));  // exp(-hi / 2) (1 - lo / 2)
    const __m512 erfc = _mm512_mul_ps(decay, r);
    const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 one_plus_erf = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
    return _mm512_mul_ps(_mm512_mul_ps(half, v), one_plus_erf);
  }
};

// GELU_TANH 16 at a time (libm's tanhf took 20 ns an element): 0.5 x (1 + tanh(u))
// is x / (1 + exp(-2u)), u = sqrt(2 / pi) (x + 0.044715 x^3), which needs no
// tanh and does not cancel for negative u. Within 1e-6 of the definition down
// to results of 1e-3, within 2e-5 below (u's rounding in float, amplified by
// exp), where the scalar loop's 1 + tanh cancels to 0; NaN stays NaN, +inf
// gives +inf, -inf gives -inf (the scalar loop: NaN).
struct GeluTanh16 {
  EMTL_EXP16_TARGET __m512 operator()(__m512 v) const {
    const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), v), _mm512_mul_ps(v, v));
    const __m512 minus_2u = _mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.79788456080286536f), _mm512_add_ps(v, cube));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(minus_2u)));
  }
};

EMTL_EXP16_TARGET void gelu_avx512(const float* x, float* y, size_t count) { map16(x, y, count, Gelu16{}); }
EMTL_EXP16_TARGET void gelu_tanh_avx512(const float* x, float* y, size_t count) { map16(x, y, count, GeluTanh16{}); }
#endif

// A function's AVX-512F loop (null where there is none), used when the CPU has AVX-512F.
using VectorLoop = void (*)(const float*, float*, size_t);
#if defined(__x86_64__)
constexpr VectorLoop kGeluAvx512 = gelu_avx512, kGeluTanhAvx512 = gelu_tanh_avx512;
#else
constexpr VectorLoop kGeluAvx512 = nullptr, kGeluTanhAvx512 = nullptr;
#endif

template <typename F>
void apply(VectorLoop avx512, const float* x, float* y, size_t count, F f) {
  if (avx512 != nullptr && cpu_features().avx512f) return avx512(x, y, count);
  apply(x, y, count, f);
}

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
    case UnaryFunction::GELU: apply(kGeluAvx512, x, y, count, gelu); return;
    case UnaryFunction::GELU_TANH: apply(kGeluTanhAvx512, x, y, count, gelu_tanh); return;
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
