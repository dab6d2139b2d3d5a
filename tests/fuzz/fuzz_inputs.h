// Valid feature values for any model, derived from its own metadata, shared by
// the model fuzz targets of the C++ and the C API. Host side, fuzzing only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/format/checksum.h"

namespace edgemtl::fuzz {

/// What the targets need of one feature (FeatureInfo or emtl_feature_info).
struct FeatureSpec {
  bool user;
  int kind;  ///< 0 id, 1 id list, 2 dense (FeatureKind and emtl_feature_kind agree)
  int64_t width;
  int64_t padding_id;
  int64_t table_size;
};

/// Values of one feature for some rows; ids or values, as its kind needs.
struct FeatureValues {
  int32_t feature;
  std::vector<int64_t> ids;
  std::vector<float> values;
};

/// Values per call beyond which the harness itself would allocate too much:
/// a model declaring such widths is still loaded and a session still created,
/// only not fed.
constexpr int64_t kMaxValuesPerFeature = int64_t{1} << 16;

/// Fills every feature of one side with `rows` rows of valid values (ids in
/// [0, table_size), list slots sometimes padding, dense values in [-1, 1]).
/// Returns false when a width is too large to feed.
inline bool fill_side(const std::vector<FeatureSpec>& specs, bool user, size_t rows, uint32_t seed,
                      std::vector<FeatureValues>* out) {
  out->clear();
  uint32_t state = seed * 2654435761u + 1;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  for (size_t f = 0; f < specs.size(); ++f) {
    const FeatureSpec& spec = specs[f];
    if (spec.user != user) continue;
    if (spec.width < 0 || spec.width > kMaxValuesPerFeature / static_cast<int64_t>(rows)) return false;
    FeatureValues& values = out->emplace_back();
    values.feature = static_cast<int32_t>(f);
    const size_t count = static_cast<size_t>(spec.width) * rows;
    if (spec.kind == 2) {
      values.values.resize(count);
      for (float& v : values.values) v = static_cast<float>(next() % 2001) / 1000.0f - 1.0f;
    } else {
      values.ids.resize(count);
      const uint64_t table = spec.table_size > 0 ? static_cast<uint64_t>(spec.table_size) : 1;
      for (int64_t& id : values.ids) {
        id = static_cast<int64_t>(next() % table);
        if (spec.kind == 1 && next() % 4 == 0) id = spec.padding_id;
      }
    }
  }
  return true;
}

/// `size` bytes copied into 64-byte aligned memory (models are used in place).
class AlignedBytes {
 public:
  AlignedBytes(const uint8_t* data, size_t size)
      : data_(static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64 + 64))), size_(size) {
    if (size > 0) std::memcpy(data_, data, size);
  }
  ~AlignedBytes() { std::free(data_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  const uint8_t* data() const { return data_; }
  uint8_t* mutable_data() { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

/// A mutated model file almost never keeps its checksums, and the loader
/// stops there. Re-seals `bytes` (seal_checksums) so that the target can also
/// run what lies behind the checksum: true when that changed them (false for
/// a file without Checksums, one that does not verify, or an intact one).
inline bool reseal(AlignedBytes* bytes) {
  if (bytes->size() == 0) return false;
  std::vector<uint8_t> before(bytes->data(), bytes->data() + bytes->size());
  if (!seal_checksums(bytes->mutable_data(), bytes->size()).is_ok()) return false;
  return std::memcmp(before.data(), bytes->data(), before.size()) != 0;
}

/// A seed for the value generator from the input bytes (deterministic).
inline uint32_t seed_of(const uint8_t* data, size_t size) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < size; i += 97) hash = (hash ^ data[i]) * 16777619u;
  return hash ^ static_cast<uint32_t>(size);
}

}  // namespace edgemtl::fuzz
