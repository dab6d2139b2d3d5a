#include "runtime/ops/op_verifier.h"

#include <cstdio>

namespace edgemtl {
namespace {

void format_shape(const Shape& shape, char* text, size_t size) {
  size_t used = static_cast<size_t>(std::snprintf(text, size, "["));
  for (int i = 0; i < shape.rank && used < size; ++i)
    used += static_cast<size_t>(
        std::snprintf(text + used, size - used, i ? ", %lld" : "%lld", static_cast<long long>(shape[i])));
  if (used < size) std::snprintf(text + used, size - used, "]");
}

}  // namespace

Status OpVerifier::arity(uint32_t low, uint32_t high) const {
  const uint32_t n = num_inputs();
  if (n >= low && n <= high) return Status::ok();
  if (low == high)
    return Status::error(Error::kInvalidModel, "%s (%s): takes %u inputs, has %u", where_, type_name(), low, n);
  return Status::error(Error::kInvalidModel, "%s (%s): takes %u to %u inputs, has %u", where_, type_name(), low, high,
                       n);
}

Status OpVerifier::expect_dtype(const char* role, int index, schema::DType want) const {
  const schema::DType have = dtype(index);
  if (have == want) return Status::ok();
  const Error code = is_compute_dtype(have) ? Error::kInvalidModel : Error::kUnsupported;
  return Status::error(code, "%s: %s (tensor %d '%s') is %s, expected %s", where_, role, index,
                       tensor_name(tensor(index)), dtype_name(have), dtype_name(want));
}

Status OpVerifier::expect_compute_dtype(const char* role, int index) const {
  const schema::DType have = dtype(index);
  if (is_compute_dtype(have)) return Status::ok();
  return Status::error(Error::kUnsupported, "%s: %s (tensor %d '%s') has dtype %s, unsupported here", where_, role,
                       index, tensor_name(tensor(index)), dtype_name(have));
}

Status OpVerifier::expect_shape(const Shape& want) const {
  const Shape have = output_shape();
  if (have == want) return Status::ok();
  char want_text[96], have_text[96];
  format_shape(want, want_text, sizeof(want_text));
  format_shape(have, have_text, sizeof(have_text));
  return Status::error(Error::kInvalidModel, "%s: output tensor %d ('%s') has shape %s, expected %s", where_, output(),
                       tensor_name(tensor(output())), have_text, want_text);
}

Status OpVerifier::expect_row_like(const char* role, int index) const {
  const schema::Tensor* t = tensor(index);
  const Shape shape = declared_shape(t);
  if (!is_constant(t) || (shape.rank >= 1 && shape[0] == 1)) return Status::ok();
  return Status::error(Error::kInvalidModel, "%s: %s (tensor %d '%s') must be an activation or a constant with 1 row",
                       where_, role, index, tensor_name(t));
}

Status OpVerifier::expect_activation_input(uint32_t k) const {
  if (!is_constant(tensor(input(k)))) return Status::ok();
  return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) must be an activation, not a constant", where_,
                       k, input(k));
}

Status OpVerifier::expect_constant_input(uint32_t k, const char* role) const {
  if (is_constant(tensor(input(k)))) return Status::ok();
  return Status::error(Error::kInvalidModel, "%s: %s (tensor %d) must be a constant", where_, role, input(k));
}

Status OpVerifier::broadcast_inputs(uint32_t first, uint32_t count, Shape* out) const {
  Shape result = input_shape(first);
  for (uint32_t k = first + 1; k < first + count; ++k) {
    if (!broadcast_shapes(result, input_shape(k), &result))
      return Status::error(Error::kInvalidModel, "%s: input %u (tensor %d) does not broadcast with the others", where_,
                           k, input(k));
  }
  *out = result;
  return Status::ok();
}

Status OpVerifier::check_options_type(schema::OpOptions want, bool required, bool* present) const {
  *present = false;
  if (op_->options_type() == schema::OpOptions::NONE) {
    if (required)
      return Status::error(Error::kInvalidModel, "%s (%s): options %s are missing", where_, type_name(),
                           schema::EnumNameOpOptions(want));
    return Status::ok();
  }
  if (op_->options_type() != want || !op_->options())
    return Status::error(Error::kInvalidModel, "%s (%s): options are %s, expected %s", where_, type_name(),
                         schema::EnumNameOpOptions(op_->options_type()), schema::EnumNameOpOptions(want));
  *present = true;
  return Status::ok();
}

Status OpVerifier::expect_no_options() const {
  if (op_->options_type() == schema::OpOptions::NONE) return Status::ok();
  return Status::error(Error::kInvalidModel, "%s (%s): takes no options but has %s", where_, type_name(),
                       schema::EnumNameOpOptions(op_->options_type()));
}

Status OpVerifier::check_activation(schema::Activation activation) const {
  if (activation >= schema::Activation::NONE && activation <= schema::Activation::LEAKY_RELU) return Status::ok();
  return Status::error(Error::kUnsupported, "%s: unknown activation %d", where_, static_cast<int>(activation));
}

Status OpVerifier::check_axis(int axis, int rank) const {
  if (axis >= 1 && axis < rank) return Status::ok();
  return Status::error(Error::kInvalidModel, "%s: axis %d outside [1, %d)", where_, axis, rank);
}

Status OpVerifier::check_symmetric(const char* role, int index, int axis, int64_t count) const {
  const schema::Quantization* q = tensor(index)->quantization();
  if (!q || !q->scale())
    return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) has no Quantization scales", where_, role,
                         index);
  if (q->axis() != axis || static_cast<int64_t>(q->scale()->size()) != count)
    return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) needs %lld scale(s) on axis %d, has %u on axis %d",
                         where_, role, index, static_cast<long long>(count), axis, q->scale()->size(), q->axis());
  for (uint32_t i = 0; i < q->scale()->size(); ++i)
    if (!(q->scale()->Get(i) > 0.0f && q->scale()->Get(i) < 3.4e38f))
      return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d): scale %u is %g, must be finite and > 0",
                           where_, role, index, i, static_cast<double>(q->scale()->Get(i)));
  if (q->zero_point()) {
    if (q->zero_point()->size() != q->scale()->size())
      return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d): %u zero points for %u scales", where_, role,
                           index, q->zero_point()->size(), q->scale()->size());
    for (uint32_t i = 0; i < q->zero_point()->size(); ++i)
      if (q->zero_point()->Get(i) != 0)
        return Status::error(Error::kInvalidModel, "%s: INT8 %s (tensor %d) must be symmetric (zero point 0)", where_,
                             role, index);
  }
  return Status::ok();
}

Status OpVerifier::check_activation_quantization(const char* role, const schema::Quantization* q) const {
  if (!q || !q->scale() || !q->zero_point() || q->scale()->size() != 1 || q->zero_point()->size() != 1 ||
      q->axis() != -1)
    return Status::error(Error::kInvalidModel, "%s: %s must have exactly one scale and one zero point (axis -1)",
                         where_, role);
  const float scale = q->scale()->Get(0);
  const int64_t zero_point = q->zero_point()->Get(0);
  if (!(scale > 0.0f && scale < 3.4e38f) || zero_point < -128 || zero_point > 127)
    return Status::error(Error::kInvalidModel, "%s: %s has scale %g and zero point %lld (need a finite scale > 0, "
                         "zero point in [-128, 127])", where_, role, static_cast<double>(scale),
                         static_cast<long long>(zero_point));
  return Status::ok();
}

Status OpVerifier::check_table_quantization(int table, int64_t rows) const {
  const schema::Tensor* t = tensor(table);
  if (t->dtype() == schema::DType::INT8) return check_symmetric("table", table, 0, rows);
  if (t->quantization())
    return Status::error(Error::kInvalidModel, "%s: quantisation parameters on a %s table", where_,
                         dtype_name(t->dtype()));
  return Status::ok();
}

}  // namespace edgemtl
