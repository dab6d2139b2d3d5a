// The stored forms of quantised constants and activations: fp16 rounding,
// symmetric int8 scales, int32 biases, affine activation ranges.
#include "converter/quantize/encode.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/kernels/half.h"

namespace edgemtl::converter {

const char* stored_type_name(StoredType type) {
  switch (type) {
    case StoredType::kFloat16: return "FLOAT16";
    case StoredType::kInt8: return "INT8";
    case StoredType::kInt32: return "INT32";
    case StoredType::kInt8RowF16: return "INT8_ROW_F16";
    case StoredType::kUint4RowF16: return "UINT4_ROW_F16";
    case StoredType::kUint4Codebook: return "UINT4_ROW_CODEBOOK";
  }
  return "?";
}

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exponent = (bits >> 23) & 0xFFu;
  uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFFu) return sign | 0x7C00u | (mantissa ? 0x200u : 0u);  // inf, NaN stays NaN
  const int half_exponent = static_cast<int>(exponent) - 127 + 15;
  if (half_exponent >= 31) return sign | 0x7C00u;  // too large: inf
  if (half_exponent <= 0) {
    if (half_exponent < -10) return sign;  // below half the smallest subnormal: zero
    mantissa |= 0x800000u;                 // implicit leading 1
    const int shift = 14 - half_exponent;  // to a subnormal half mantissa
    uint32_t result = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t result = (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // a carry may reach inf: correct
  return static_cast<uint16_t>(sign | result);
}

EncodedConstant encode_float16(const std::vector<float>& values) {
  EncodedConstant e;
  e.type = StoredType::kFloat16;
  e.bytes.resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = float_to_half(values[i]);
    std::memcpy(e.bytes.data() + 2 * i, &h, 2);
  }
  return e;
}

namespace {

int8_t quantize_symmetric(float value, float scale) {
  const float q = std::nearbyint(value / scale);
  return static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, q)));
}

}  // namespace

EncodedConstant encode_int8_per_row(const std::vector<float>& values, int64_t rows, int64_t cols) {
  EncodedConstant e;
  e.type = StoredType::kInt8;
  e.axis = 0;
  e.scales.assign(static_cast<size_t>(rows), 0.0f);
  float largest = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(values[r * cols + c]));
    e.scales[r] = m / 127.0f;
    largest = std::max(largest, e.scales[r]);
  }
  for (float& s : e.scales)
    if (!(s > 0.0f)) s = largest > 0.0f ? largest : 1.0f;  // an all-zero row: any scale stores it exactly
  e.bytes.resize(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      e.bytes[r * cols + c] = static_cast<uint8_t>(quantize_symmetric(values[r * cols + c], e.scales[r]));
  return e;
}

namespace {

constexpr float kHalfMax = 65504.0f;

void put_half(std::vector<uint8_t>* bytes, uint16_t h) {
  bytes->push_back(static_cast<uint8_t>(h & 0xFFu));
  bytes->push_back(static_cast<uint8_t>(h >> 8));
}

}  // namespace

bool encode_int8_rows_f16(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out) {
  EncodedConstant e;
  e.type = StoredType::kInt8RowF16;
  e.bytes.resize(values.size());
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(values[r * cols + c]));
    if (!(m / 127.0f <= kHalfMax)) return false;
    uint16_t h = float_to_half(m > 0.0f ? m / 127.0f : 1.0f);  // an all-zero row: any scale stores it exactly
    if (half_to_float(h) == 0.0f) h = 1;  // below the smallest half: its values round to 0 anyway
    const float scale = half_to_float(h);
    put_half(&e.row_params, h);
    for (int64_t c = 0; c < cols; ++c)
      e.bytes[r * cols + c] = static_cast<uint8_t>(quantize_symmetric(values[r * cols + c], scale));
  }
  *out = std::move(e);
  return true;
}

bool encode_uint4_rows_f16(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out) {
  EncodedConstant e;
  e.type = StoredType::kUint4RowF16;
  const int64_t row_bytes = (cols + 1) / 2;
  e.bytes.assign(static_cast<size_t>(rows * row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * cols;
    const auto [low, high] = std::minmax_element(row, row + cols);
    if (!(std::fabs(*low) <= kHalfMax && std::fabs(*high) <= kHalfMax)) return false;
    const uint16_t offset_half = float_to_half(*low);
    const float offset = half_to_float(offset_half);
    uint16_t scale_half = float_to_half((*high - offset) / 15.0f);
    if (15.0f * half_to_float(scale_half) + offset < *high) ++scale_half;  // round up: the maximum stays in range
    const float scale = half_to_float(scale_half);
    if (!(scale <= kHalfMax)) return false;
    put_half(&e.row_params, scale_half);
    put_half(&e.row_params, offset_half);
    for (int64_t c = 0; c < cols; ++c) {
      const float q = scale > 0.0f ? std::nearbyint((row[c] - offset) / scale) : 0.0f;
      const uint8_t nibble = static_cast<uint8_t>(std::min(15.0f, std::max(0.0f, q)));
      e.bytes[r * row_bytes + c / 2] |= static_cast<uint8_t>(c % 2 ? nibble << 4 : nibble);
    }
  }
  *out = std::move(e);
  return true;
}

size_t table_row_bytes(StoredType type, int64_t cols) {
  switch (type) {
    case StoredType::kFloat16: return static_cast<size_t>(2 * cols);
    case StoredType::kInt8: return static_cast<size_t>(cols + 4);
    case StoredType::kInt8RowF16: return static_cast<size_t>(cols + 2);
    case StoredType::kUint4RowF16: return static_cast<size_t>((cols + 1) / 2 + 4);
    case StoredType::kUint4Codebook: return static_cast<size_t>((cols + 1) / 2 + 1);
    case StoredType::kInt32: break;
  }
  return static_cast<size_t>(4 * cols);
}

size_t table_bytes(StoredType type, int64_t rows, int64_t cols) {
  return static_cast<size_t>(rows) * table_row_bytes(type, cols) +
         (type == StoredType::kUint4Codebook ? 4 * kCodebookEntries : 0);
}

namespace {

// The smallest entry of the ascending `entries` >= `needed` (the last when none is).
size_t entry_at_least(const std::vector<float>& entries, float needed) {
  const size_t k = static_cast<size_t>(std::lower_bound(entries.begin(), entries.end(), needed) - entries.begin());
  return std::min(k, entries.size() - 1);
}

// Sum over rows of the entry each would take: the rows' squared rounding error
// grows with entry², so the smaller sum is the better codebook.
double codebook_cost(const std::vector<float>& entries, const std::vector<float>& needed) {
  double sum = 0.0;
  for (float s : needed) {
    const double c = entries[entry_at_least(entries, s)];
    sum += c * c;
  }
  return sum;
}

// `count` ascending entries for the ascending nonzero needed scales `sorted`
// (more distinct ones than `count`), the last one the largest scale.
std::vector<float> quantile_entries(const std::vector<float>& sorted, size_t count) {
  std::vector<float> entries;
  const size_t n = sorted.size();
  for (size_t k = 0; k < count; ++k) entries.push_back(sorted[((k + 1) * n + count - 1) / count - 1]);
  return entries;
}

std::vector<float> geometric_entries(const std::vector<float>& sorted, size_t count) {
  const double low = sorted.front(), high = sorted.back();
  std::vector<float> entries;
  for (size_t k = 0; k < count; ++k) {
    const double value = low * std::pow(high / low, double(k) / double(count - 1));
    entries.push_back(k + 1 == count ? sorted.back() : std::min(sorted.back(), static_cast<float>(value)));
  }
  return entries;
}

}  // namespace

bool encode_uint4_codebook(const std::vector<float>& values, int64_t rows, int64_t cols, EncodedConstant* out) {
  std::vector<float> needed(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      const float x = values[r * cols + c];
      if (!std::isfinite(x)) return false;
      m = std::max(m, std::fabs(x));
    }
    needed[r] = m / 7.5f;  // a subnormal row may give 0: it is then stored as zeros
  }
  std::vector<float> sorted;
  for (float s : needed)
    if (s > 0.0f) sorted.push_back(s);
  std::sort(sorted.begin(), sorted.end());
  const bool zero_row = sorted.size() < needed.size();
  const size_t room = kCodebookEntries - (zero_row ? 1 : 0);
  std::vector<float> distinct = sorted;
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<float> entries;
  if (distinct.size() <= room) {
    entries = distinct;
  } else {
    entries = quantile_entries(sorted, room);
    std::vector<float> geometric = geometric_entries(sorted, room);
    if (codebook_cost(geometric, sorted) < codebook_cost(entries, sorted)) entries = std::move(geometric);
  }
  if (zero_row) entries.insert(entries.begin(), 0.0f);
  if (entries.empty()) entries.push_back(0.0f);  // not reached: rows >= 1
  EncodedConstant e;
  e.type = StoredType::kUint4Codebook;
  e.row_params.resize(4 * kCodebookEntries + static_cast<size_t>(rows), 0);
  std::memcpy(e.row_params.data(), entries.data(), entries.size() * sizeof(float));  // the rest: entries 0
  const int64_t row_bytes = (cols + 1) / 2;
  e.bytes.assign(static_cast<size_t>(rows * row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const size_t index = needed[r] > 0.0f ? entry_at_least(entries, needed[r]) : 0;
    e.row_params[4 * kCodebookEntries + static_cast<size_t>(r)] = static_cast<uint8_t>(index);
    const float scale = entries[index];
    for (int64_t c = 0; c < cols; ++c) {
      const float x = values[r * cols + c];
      int q = 8;  // a zero scale: 0 * (8 - 7.5) = +0
      if (scale > 0.0f) {
        q = static_cast<int>(std::min(15.0f, std::max(0.0f, std::nearbyint(x / scale + 7.5f))));
        // The nearest level as the runtime computes it (the division above rounds).
        for (int other : {q - 1, q + 1})
          if (other >= 0 && other <= 15 &&
              std::fabs(scale * (static_cast<float>(other) - 7.5f) - x) < std::fabs(scale * (static_cast<float>(q) - 7.5f) - x))
            q = other;
      }
      e.bytes[r * row_bytes + c / 2] |= static_cast<uint8_t>(c % 2 ? q << 4 : q);
    }
  }
  *out = std::move(e);
  return true;
}

EncodedConstant encode_int8_per_tensor(const std::vector<float>& values) {
  EncodedConstant e = encode_int8_per_row(values, 1, static_cast<int64_t>(values.size()));
  e.axis = -1;
  return e;
}

EncodedConstant encode_int32_bias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales) {
  EncodedConstant e;
  e.type = StoredType::kInt32;
  e.bytes.resize(bias.size() * 4);
  for (size_t c = 0; c < bias.size(); ++c) {
    const double scale = double(input_scale) * weight_scales[weight_scales.size() == 1 ? 0 : c];
    const double q = std::nearbyint(bias[c] / scale);
    const int32_t v = static_cast<int32_t>(std::min<double>(INT32_MAX, std::max<double>(INT32_MIN, q)));
    std::memcpy(e.bytes.data() + 4 * c, &v, 4);
  }
  return e;
}

ActivationQuantization quantize_range(float low, float high) {
  low = std::min(low, 0.0f);
  high = std::max(high, 0.0f);
  if (!(high - low > 1e-12f)) high = low + 1e-6f;  // a constant-zero tensor
  ActivationQuantization q;
  q.scale = (high - low) / 255.0f;
  const double zero_point = std::nearbyint(-128.0 - double(low) / q.scale);
  q.zero_point = static_cast<int64_t>(std::min(127.0, std::max(-128.0, zero_point)));
  return q;
}

std::pair<float, float> estimate_range(std::vector<float> values, RangeEstimator estimator) {
  if (values.empty()) return {0.0f, 0.0f};
  if (estimator == RangeEstimator::kMinMax) {
    auto [low, high] = std::minmax_element(values.begin(), values.end());
    return {*low, *high};
  }
  const size_t last = values.size() - 1;
  const size_t low_index = static_cast<size_t>(std::floor(last * 0.0001));
  const size_t high_index = static_cast<size_t>(std::ceil(last * 0.9999));
  std::nth_element(values.begin(), values.begin() + low_index, values.end());
  const float low = values[low_index];
  std::nth_element(values.begin(), values.begin() + high_index, values.end());
  return {low, values[high_index]};
}

}  // namespace edgemtl::converter
