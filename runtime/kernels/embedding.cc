#include "runtime/kernels/embedding.h"

#include <cstring>

namespace edgemtl {

Status embedding_lookup(const EmbeddingTable& table, const int64_t* ids, size_t count, size_t ids_per_row,
                        int64_t default_row, const char* what, float* out) {
  const size_t row_bytes = static_cast<size_t>(table.dim) * sizeof(float);
  for (size_t i = 0; i < count; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= table.rows) {
      if (default_row < 0)
        return Status::error(Error::kIdOutOfRange, "%s: id %lld at row %zu (position %zu) is outside [0, %lld)", what,
                             static_cast<long long>(id), ids_per_row ? i / ids_per_row : 0,
                             ids_per_row ? i % ids_per_row : 0, static_cast<long long>(table.rows));
      id = default_row;
    }
    std::memcpy(out + i * static_cast<size_t>(table.dim), table.data + id * table.dim, row_bytes);
  }
  return Status::ok();
}

}  // namespace edgemtl
