// FULLY_CONNECTED and MATMUL.
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

namespace edgemtl::converter {
namespace {

void infer_fully_connected(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 4);
  const Value& x = call.in(0);
  const Value& w = call.in(1);
  require(w.is_constant && w.rank() == 2 && w.dtype == DType::kFloat32, "fully-connected weight must be a constant [N,K]");
  require(x.dtype == DType::kFloat32, "fully-connected input must be float32");
  require(x.rank() >= (x.is_activation() ? 2 : 1), "fully-connected would contract the row dimension");
  require(x.shape.back() == w.shape[1], "fully-connected: input width " + std::to_string(x.shape.back()) +
                                            " does not match weight " + shape_string(w.shape));
  if (call.inputs.size() >= 3)
    require(call.in(2).is_constant && call.in(2).dtype == DType::kFloat32 &&
                call.in(2).shape == std::vector<int64_t>{w.shape[0]},
            "fully-connected bias must be a float constant [N]");
  if (call.inputs.size() == 4) {
    const Value& a = call.in(3);
    const int64_t offset = call.options.addend_offset;
    require(a.is_activation() && a.dtype == DType::kFloat32 && a.rank() == 2 && x.rank() == 2 && offset >= 0 &&
                offset + w.shape[1] <= a.shape[1],
            "fully-connected addend must be a float activation [rows, A] with addend_offset + K <= A, x 2-D");
    const Activation input_activation = call.options.input_activation;
    require(input_activation == Activation::kNone || input_activation == Activation::kRelu ||
                input_activation == Activation::kLeakyRelu,
            "fully-connected input_activation must be NONE, RELU or LEAKY_RELU");
  }
  *dtype = DType::kFloat32;
  *shape = x.shape;
  shape->back() = w.shape[0];
}

void evaluate_fully_connected(const OpCall& call, Value* out) {
  const Value& x = call.in(0);
  const Value& w = call.in(1);
  const NodeOptions& o = call.options;
  const int64_t n = w.shape[0], k = w.shape[1], rows = product(x.shape) / k;
  // With an addend: x + addend (one row of it for all rows when it has one), then input_activation.
  std::vector<float> input = x.floats;
  if (call.inputs.size() == 4) {
    const Value& a = call.in(3);
    const int64_t width = a.shape[1], addend_rows = product(a.shape) / width;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < k; ++i) {
        const float sum = x.floats[r * k + i] + a.floats[(addend_rows == 1 ? 0 : r) * width + o.addend_offset + i];
        input[r * k + i] = apply_activation(sum, o.input_activation, o.input_alpha);
      }
  }
  out->floats.resize(product(out->shape));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double acc = call.inputs.size() >= 3 ? call.in(2).floats[j] : 0.0;
      for (int64_t i = 0; i < k; ++i) acc += double(input[r * k + i]) * w.floats[j * k + i];
      out->floats[r * n + j] = apply_activation(static_cast<float>(acc), o.activation, o.alpha);
    }
}

void infer_matmul(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 2);
  const Value& a = call.in(0);
  const Value& b = call.in(1);
  require(a.dtype == DType::kFloat32 && b.dtype == DType::kFloat32, "matmul needs float32");
  require(a.rank() >= 2 && b.rank() >= 2, "matmul of vectors is not supported");
  if (call.any_activation()) require(a.rank() >= 3 && b.rank() >= 3, "matmul would contract the row dimension");
  require(a.shape.back() == b.shape[b.rank() - 2], "matmul inner dimensions differ");
  std::vector<int64_t> batch_a(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> batch_b(b.shape.begin(), b.shape.end() - 2);
  std::vector<int64_t> result = broadcast_shapes({batch_a, batch_b});
  result.push_back(a.shape[a.rank() - 2]);
  result.push_back(b.shape.back());
  *dtype = DType::kFloat32;
  *shape = result;
}

void evaluate_matmul(const OpCall& call, Value* out) {
  const Value& a = call.in(0);
  const Value& b = call.in(1);
  const std::vector<int64_t>& shape = out->shape;
  const int64_t m = a.shape[a.rank() - 2], k = a.shape.back(), n = b.shape.back();
  std::vector<int64_t> batch(shape.begin(), shape.end() - 2);
  std::vector<int64_t> a_batch_shape(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> b_batch_shape(b.shape.begin(), b.shape.end() - 2);
  auto a_off = broadcast_offsets(a_batch_shape, batch);
  auto b_off = broadcast_offsets(b_batch_shape, batch);
  out->floats.assign(product(shape), 0.0f);
  for (size_t p = 0; p < a_off.size(); ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q)
          acc += double(a.floats[a_off[p] * m * k + i * k + q]) * b.floats[b_off[p] * k * n + q * n + j];
        out->floats[p * m * n + i * n + j] = static_cast<float>(acc);
      }
}

// A static INT8 layer also carries its input's and output's quantisation, a dynamic one its input_mode.
FileOptions write_fully_connected_options(const OptionsWriter& w) {
  const NodeOptions& o = w.node.options;
  flatbuffers::Offset<schema::Quantization> input, output;
  const bool dynamic = w.fc_quantization && w.fc_quantization->dynamic;
  if (w.fc_quantization && !dynamic) {
    auto quantization = [&](const ActivationQuantization& q) {
      std::vector<float> scale{q.scale};
      std::vector<int64_t> zero_point{q.zero_point};
      return schema::CreateQuantizationDirect(w.builder, &scale, &zero_point, -1);
    };
    input = quantization(w.fc_quantization->input);
    output = quantization(w.fc_quantization->output);
  }
  return {schema::OpOptions::FullyConnectedOptions,
          schema::CreateFullyConnectedOptions(w.builder, to_schema(o.activation), o.alpha, input, output,
                                              dynamic ? schema::InputQuantizationMode::DYNAMIC_ROW
                                                      : schema::InputQuantizationMode::STATIC,
                                              to_schema(o.input_activation), o.addend_offset, o.input_alpha)
              .Union()};
}

}  // namespace

std::vector<OpRules> linear_op_rules() {
  return {
      {Op::kFullyConnected, infer_fully_connected, evaluate_fully_connected, nullptr, 0, write_fully_connected_options},
      {Op::kMatMul, infer_matmul, evaluate_matmul, nullptr, kBroadcastsRows},
  };
}

}  // namespace edgemtl::converter
