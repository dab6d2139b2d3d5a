// Embedding lookup: out[i, :] = table[ids[i], :] (dequantised to f32 for
// FLOAT16, INT8, INT8_ROW_F16, UINT4_ROW_F16 and UINT4_ROW_CODEBOOK tables).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/error.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

struct EmbeddingTable {
  const void* data;  ///< [rows, dim], row-major, of `dtype` (4-bit: (dim + 1) / 2 bytes a row)
  int64_t rows;
  int64_t dim;
  /// FLOAT32, FLOAT16, INT8, INT8_ROW_F16, UINT4_ROW_F16 or UINT4_ROW_CODEBOOK
  schema::DType dtype = schema::DType::FLOAT32;
  const float* row_scales = nullptr;  ///< INT8: one scale per row
  /// INT8_ROW_F16: one half scale per row; UINT4_ROW_F16: (scale, offset) halves per row.
  const uint16_t* row_params = nullptr;
  /// UINT4_ROW_CODEBOOK: 256 scales, and one index into them per row.
  const float* codebook = nullptr;
  const uint8_t* scale_index = nullptr;
};

/// The instruction sets of dequantize_row. kPortable: C++ (and SSE2, the
/// x86-64 baseline, for 4-bit codes); kAvx2: AVX2 + F16C, picked at run time;
/// kNeon: arm64. Every set gives the same bits as kPortable.
enum class LookupIsa { kPortable, kAvx2, kNeon };
/// The widest set this CPU runs (checked once).
LookupIsa best_lookup_isa();
/// True when this CPU runs `isa` (kPortable: always).
bool lookup_isa_supported(LookupIsa isa);
/// "portable", "avx2+f16c" or "neon".
const char* lookup_isa_name(LookupIsa isa);

/// Elements begin .. begin + count - 1 of row `row` as f32: the dequantisation
/// of each table dtype (schema/edgemtl.fbs, EMBEDDING), shared by the three
/// lookups below (which use best_lookup_isa()). `begin` must be even for the
/// 4-bit tables; `isa` must be supported.
void dequantize_row(const EmbeddingTable& table, size_t row, size_t begin, size_t count, float* out,
                    LookupIsa isa = best_lookup_isa());

/// Looks up `count` ids. An id outside [0, table.rows) reads `default_row`
/// when it is >= 0, else fails with kIdOutOfRange naming `what` (e.g.
/// "feature 'user_id'") and the row (i / ids_per_row) of the bad id.
Status embedding_lookup(const EmbeddingTable& table, const int64_t* ids, size_t count, size_t ids_per_row,
                        int64_t default_row, const char* what, float* out);

/// EMBEDDING_MULTI: input j looks up `ids[j]` (one id per row, `id_rows[j]`
/// rows: `rows` or 1, broadcast) in the rows offsets[j] .. offsets[j] +
/// counts[j] - 1 of `table` and writes row i's result to out[i, j·D .. j·D + D).
/// An id outside [0, counts[j]) reads default_rows[j] (relative to its rows)
/// when it is >= 0, else fails with kIdOutOfRange naming whats[j].
Status embedding_multi_lookup(const EmbeddingTable& table, size_t k, const int64_t* const* ids, const size_t* id_rows,
                              size_t rows, const int64_t* offsets, const int64_t* counts,
                              const int64_t* default_rows, const char* const* whats, float* out);

/// BAG: per output row r (of `rows`), the `length` ids of row r of `ids`
/// (`id_rows` rows: `rows` or 1, broadcast) reduced over the list: kSum adds
/// weight · table row (weight 1 when `weights` is null; `weight_rows` rows as
/// for ids), kMean divides that sum by `length`, kMax takes the elementwise
/// maximum. Positions are added in order, in f32. Ids out of range as for
/// embedding_lookup (row and position named).
enum class BagMode { kSum = 0, kMean = 1, kMax = 2 };
Status embedding_bag(const EmbeddingTable& table, BagMode mode, const int64_t* ids, size_t id_rows,
                     const float* weights, size_t weight_rows, size_t rows, size_t length, int64_t default_row,
                     const char* what, float* out);

}  // namespace edgemtl
