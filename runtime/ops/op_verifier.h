// OpVerifier: the checks an operator's verify function is built from, with
// the messages the verifier has always given. Made by the model verifier
// (format/model.cc) for one operator whose input and output indices are
// already known to be valid.
#pragma once

#include <cstdint>

#include "runtime/core/error.h"
#include "runtime/core/shape.h"
#include "runtime/format/tensor_info.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

class OpVerifier {
 public:
  /// `where` names the operator in messages ("operator 3 (node 'x') of the item
  /// stage"); all three pointers must outlive the verifier.
  OpVerifier(const schema::Model* model, const char* where, const schema::Operator* op)
      : model_(model), where_(where), op_(op) {}

  const char* where() const { return where_; }
  const schema::Operator* op() const { return op_; }
  const char* type_name() const { return schema::EnumNameOpType(op_->type()); }
  uint32_t num_inputs() const { return op_->inputs() ? op_->inputs()->size() : 0; }
  /// Tensor index of input k / of the output.
  int input(uint32_t k) const { return op_->inputs()->Get(k); }
  int output() const { return op_->outputs()->Get(0); }
  const schema::Tensor* tensor(int index) const { return model_->tensors()->Get(static_cast<uint32_t>(index)); }
  schema::DType dtype(int index) const { return tensor(index)->dtype(); }
  Shape input_shape(uint32_t k) const { return declared_shape(tensor(input(k))); }
  Shape output_shape() const { return declared_shape(tensor(output())); }

  /// "(TYPE): takes N inputs, has n" unless low <= n <= high.
  Status arity(uint32_t low, uint32_t high) const;
  Status expect_dtype(const char* role, int index, schema::DType want) const;
  Status expect_compute_dtype(const char* role, int index) const;
  /// The output's declared shape must be `want`.
  Status expect_shape(const Shape& want) const;
  /// Constants broadcast against rows only through a leading dim of 1.
  Status expect_row_like(const char* role, int index) const;
  Status expect_activation_input(uint32_t k) const;
  Status expect_constant_input(uint32_t k, const char* role) const;
  /// The numpy broadcast of inputs first .. first + count - 1.
  Status broadcast_inputs(uint32_t first, uint32_t count, Shape* out) const;
  /// `*options`: the operator's options of type `want`, or null when absent
  /// and not `required`.
  template <typename Options>
  Status get_options(schema::OpOptions want, bool required, const Options** options) const {
    *options = nullptr;
    bool present = false;
    EMTL_RETURN_IF_ERROR(check_options_type(want, required, &present));
    if (present) *options = static_cast<const Options*>(op_->options());
    return Status::ok();
  }
  Status expect_no_options() const;
  Status check_activation(schema::Activation activation) const;
  Status check_axis(int axis, int rank) const;

  // Quantised constants (FULLY_CONNECTED weights, EMBEDDING tables).
  /// `count` finite positive scales along `axis`, zero points absent or all 0.
  Status check_symmetric(const char* role, int index, int axis, int64_t count) const;
  /// One finite scale > 0 and one zero point in [-128, 127], axis -1.
  Status check_activation_quantization(const char* role, const schema::Quantization* q) const;
  /// An INT8 table has one scale per row; other tables have no Quantization.
  Status check_table_quantization(int table, int64_t rows) const;

 private:
  Status check_options_type(schema::OpOptions want, bool required, bool* present) const;

  const schema::Model* model_;
  const char* where_;
  const schema::Operator* op_;
};

}  // namespace edgemtl
