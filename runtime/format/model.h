// Model: a verified, immutable edgemtl model file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/core/result.h"
#include "runtime/core/span.h"

namespace edgemtl {

namespace schema {
struct Model;
}

enum class Side : uint8_t { kUser = 0, kItem = 1 };
enum class FeatureKind : uint8_t { kId = 0, kIdList = 1, kDense = 2 };
enum class TaskKind : uint8_t { kProbability = 0, kValue = 1 };

/// One input feature. Strings point into the model and live as long as it.
struct FeatureInfo {
  const char* name;
  Side side;
  FeatureKind kind;
  int64_t width;       ///< values per row: 1 for kId, L for kIdList, d for kDense
  int64_t padding_id;  ///< kIdList only
  int64_t table_size;  ///< ids only: valid ids are [0, table_size)
  bool accepts_nan = false;    ///< kDense only: NaN means "missing" (the model tests it with IsNaN)
  bool pad_before = false;     ///< kIdList: a short list is padded before its ids (else after)
  bool keep_last_ids = false;  ///< kIdList: a long list keeps its last `width` ids (else an error)
};

/// One row of an ID_LIST feature from a list of any length: `length` <= width
/// ids are padded with padding_id on the feature's side; a longer list keeps
/// its last `width` ids if the feature says so, else fails (kInvalidArgument,
/// naming the feature, with `call` before it). Writes `width` ids to `row`.
Status pad_id_list(const FeatureInfo& info, const int64_t* ids, size_t length, int64_t* row, const char* call);

/// One output task.
struct TaskInfo {
  const char* name;
  TaskKind kind;
};

/// How a file is loaded.
struct LoadOptions {
  /// Also checks the weight segment against its checksum (XXH3-64 of every
  /// weight byte through the memory map: about one read of the file, 10-20 ms
  /// for 24 MB on the measuring VM, docs/ROBUSTNESS.md): a flipped bit
  /// in a weight or an embedding row is then Error::kInvalidModel ("checksum
  /// mismatch ...") instead of silently different scores. A file without
  /// checksums (written before they were added) is then refused with
  /// Error::kUnsupported. Off: weights are used unread until scored. The
  /// FlatBuffer part's checksum is checked on every load.
  bool verify_weights = false;
};

/// A loaded model file. Load verifies the FlatBuffer (its checksum, when the
/// file has checksums, then its structure) and then every index, shape, offset,
/// dtype and operator arity, so that a Session never reads out of bounds.
/// Immutable after load: share one Model between any number of threads and
/// Sessions; it must outlive them all.
class Model {
 public:
  /// Memory-maps the file at `path` (read-only). Weights are used in place.
  static Result<std::unique_ptr<Model>> load_file(const char* path, const LoadOptions& options = {});
  /// Uses `data` in place: the caller keeps it alive and unchanged for the
  /// Model's lifetime. `data` must be 64-byte aligned (weights are used in place).
  static Result<std::unique_ptr<Model>> load_buffer(const void* data, size_t size, const LoadOptions& options = {});

  /// The file holds checksums (Model.checksums): its FlatBuffer part was
  /// checked at load and verify_weights() can check its weights.
  bool has_checksums() const;
  /// Checks the weight segment against its checksum, as LoadOptions::verify_weights
  /// does at load (e.g. later, or periodically, on a long-lived Model).
  /// kInvalidModel on a mismatch, kUnsupported for a file without checksums.
  Status verify_weights() const;

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  size_t num_features() const;
  FeatureInfo feature(size_t index) const;
  /// Index of the feature named `name`, or -1.
  int find_feature(const char* name) const;
  size_t num_tasks() const;
  TaskInfo task(size_t index) const;
  /// Index of the task named `name`, or -1.
  int find_task(const char* name) const;

  /// The verified FlatBuffer root; valid for the Model's lifetime.
  const schema::Model* root() const { return root_; }
  /// Start of the file bytes (for constant buffers' absolute offsets).
  const uint8_t* bytes() const { return bytes_; }
  size_t size() const { return size_; }

 private:
  Model() = default;
  static Result<std::unique_ptr<Model>> adopt(const uint8_t* bytes, size_t size, void* mapping, size_t mapping_size,
                                              const LoadOptions& options);

  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // owned mmap, or null for caller buffers
  size_t mapping_size_ = 0;
  const schema::Model* root_ = nullptr;
};

}  // namespace edgemtl
