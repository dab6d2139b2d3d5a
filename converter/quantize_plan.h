// How constants are stored and FCs computed when a model is quantised: the
// result of quantize.cc, read by the writer. An empty plan writes plain f32.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace edgemtl::converter {

// kInt8RowF16 and kUint4RowF16: embedding tables with per-row half parameters
// (schema DTypes INT8_ROW_F16, UINT4_ROW_F16); kUint4Codebook: 4-bit rows with a
// scale index per row into the table's codebook (UINT4_ROW_CODEBOOK).
enum class StoredType { kFloat16, kInt8, kInt32, kInt8RowF16, kUint4RowF16, kUint4Codebook };
const char* stored_type_name(StoredType type);

/// One constant in a non-f32 form: its bytes and, for INT8, symmetric scales
/// (zero points 0, written as absent).
struct EncodedConstant {
  StoredType type = StoredType::kFloat16;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;  // INT8 only: one per index of `axis`, or one for axis -1
  int axis = -1;
  // kInt8RowF16 / kUint4RowF16: the per-row halves; kUint4Codebook: the codebook
  // (256 f32) and the per-row indices. Their own buffer.
  std::vector<uint8_t> row_params;
};

/// Per-tensor affine quantisation of an activation: real = scale * (q - zero_point).
struct ActivationQuantization {
  float scale = 1.0f;
  int64_t zero_point = 0;
};

/// The int8 form of one FULLY_CONNECTED node (its weight and bias are in `constants`).
/// `dynamic`: each input row quantised with its own range at run time (input_mode
/// DYNAMIC_ROW): `input` and `output` unused, the bias stays f32.
struct FullyConnectedQuantization {
  ActivationQuantization input, output;
  bool dynamic = false;
};

struct QuantizationPlan {
  std::map<int, EncodedConstant> constants;                 // value index -> stored form
  std::map<int, FullyConnectedQuantization> fully_connected;  // node index -> activation quantisation
  bool empty() const { return constants.empty() && fully_connected.empty(); }
};

}  // namespace edgemtl::converter
