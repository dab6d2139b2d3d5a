// EMBEDDING (one table, ids of any shape) and EMBEDDING_MULTI (merged
// lookups: k ids inputs, each in its own rows of one stacked table). The
// table, its dtype and its per-row INT8 scales are fixed at prepare, as are the
// names messages give to out-of-range ids and the default rows.
#include <string>
#include <vector>

#include "runtime/format/tensor_info.h"
#include "runtime/kernels/embedding.h"
#include "runtime/ops/registry.h"

namespace edgemtl {
namespace {

using schema::DType;

// Table dtypes: FLOAT32, FLOAT16, INT8 (per-row f32 scales), INT8_ROW_F16,
// UINT4_ROW_F16 (per-row half parameters) and UINT4_ROW_CODEBOOK (a scale index
// per row into the table's codebook): their row_params checked at load.
Status verify_table_dtype(const OpVerifier& v) {
  const DType table_dtype = v.dtype(v.input(0));
  if (table_dtype != DType::FLOAT16 && table_dtype != DType::INT8 && table_dtype != DType::INT8_ROW_F16 &&
      table_dtype != DType::UINT4_ROW_F16 && table_dtype != DType::UINT4_ROW_CODEBOOK)
    return v.expect_dtype("table", v.input(0), DType::FLOAT32);
  return Status::ok();
}

// EMBEDDING and BAG: a constant table, run-time INT64 ids (input 1), a FLOAT32 output.
Status verify_table_and_ids(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.expect_constant_input(0, "table"));
  EMTL_RETURN_IF_ERROR(v.expect_activation_input(1));
  EMTL_RETURN_IF_ERROR(verify_table_dtype(v));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("ids", v.input(1), DType::INT64));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  return Status::ok();
}

// EMBEDDING and BAG: a default row (-1: none) inside the table.
Status check_default_row(const OpVerifier& v, int64_t default_row, int64_t table_rows) {
  if (default_row >= table_rows)
    return Status::error(Error::kInvalidModel, "%s: default_row %lld outside the table of %lld rows", v.where(),
                         static_cast<long long>(default_row), static_cast<long long>(table_rows));
  return Status::ok();
}

EmbeddingTable table_of(const PrepareContext& context, const PreparedOp& p) {
  const int table = p.input(0);
  const Shape& shape = context.tensor(table).declared;
  const schema::Tensor* file_tensor = context.file_tensor(table);
  const schema::Quantization* q = file_tensor->quantization();
  const uint8_t* params_bytes = nullptr;
  if (file_tensor->row_params() >= 0) {  // sizes verified at load; Buffer offsets are multiples of 64
    const schema::Buffer* params = context.model->buffers()->Get(static_cast<uint32_t>(file_tensor->row_params()));
    params_bytes = context.file + params->offset();
  }
  EmbeddingTable result{context.slots[table].data, shape[0], shape[1], context.tensor(table).dtype,
                        q && q->scale() ? q->scale()->data() : nullptr};
  if (result.dtype == DType::UINT4_ROW_CODEBOOK) {  // the codebook (256 f32), then one index byte a row
    result.codebook = reinterpret_cast<const float*>(params_bytes);
    result.scale_index = params_bytes + kCodebookBytes;
  } else {
    result.row_params = reinterpret_cast<const uint16_t*>(params_bytes);
  }
  return result;
}

// ---- EMBEDDING ----------------------------------------------------------------

struct EmbeddingState {
  EmbeddingTable table;
  int64_t default_row = -1;  // row for out-of-range ids, or -1
  char what[112] = {0};      // "feature 'x'" or "tensor 'y'" for messages
};

Status verify_embedding(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 2));
  const schema::GatherOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::GatherOptions, false, &options));
  EMTL_RETURN_IF_ERROR(verify_table_and_ids(v));
  const Shape table = v.input_shape(0), ids = v.input_shape(1);
  if (table.rank != 2 || table[0] < 1)
    return Status::error(Error::kInvalidModel, "%s: table must have shape [V, D] with V >= 1", v.where());
  EMTL_RETURN_IF_ERROR(v.check_table_quantization(v.input(0), table[0]));
  if (options) EMTL_RETURN_IF_ERROR(check_default_row(v, options->default_row(), table[0]));
  if (ids.rank + 1 > kMaxRank) return Status::error(Error::kUnsupported, "%s: output rank exceeds %d", v.where(), kMaxRank);
  Shape y = ids;
  y[y.rank++] = table[1];
  return v.expect_shape(y);
}

Status prepare_embedding(PrepareContext& context, PreparedOp& p) {
  auto* state = p.state.emplace<EmbeddingState>();
  if (!state) return Status::error(Error::kOutOfMemory, "cannot allocate an embedding lookup");
  state->table = table_of(context, p);
  const auto* options = p.op->options_as_GatherOptions();
  state->default_row =
      options && options->default_row() >= 0 && context.map_out_of_range_ids ? options->default_row() : -1;
  context.describe_ids(p.input(1), p.op, state->what, sizeof(state->what));
  return Status::ok();
}

Status run_embedding(const RunContext& context, PreparedOp& p) {
  const EmbeddingState& state = p.state.get<EmbeddingState>();
  const TensorView ids = context.input(p, 1);
  const size_t ids_per_row = static_cast<size_t>(ids.shape.elements_from(1));
  return embedding_lookup(state.table, ids.as<const int64_t>(), ids.num_elements(), ids_per_row, state.default_row,
                          state.what, context.output(p).as<float>());
}

// ---- EMBEDDING_MULTI ----------------------------------------------------------

// Per ids input, sized at prepare; run only fills id_pointers and id_rows.
struct EmbeddingMultiState {
  EmbeddingTable table;
  std::vector<std::string> whats;  // what to name in messages
  std::vector<const char*> what_pointers;
  std::vector<int64_t> default_rows;  // or -1
  std::vector<const int64_t*> id_pointers;
  std::vector<size_t> id_rows;
};

Status verify_embedding_multi(const OpVerifier& v) {
  const uint32_t n = v.num_inputs();
  if (n < 2)
    return Status::error(Error::kInvalidModel,
                         "%s (EMBEDDING_MULTI): takes a table and at least one ids input, has %u inputs", v.where(), n);
  const schema::EmbeddingMultiOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::EmbeddingMultiOptions, true, &options));
  EMTL_RETURN_IF_ERROR(v.expect_constant_input(0, "table"));
  EMTL_RETURN_IF_ERROR(verify_table_dtype(v));
  EMTL_RETURN_IF_ERROR(v.expect_dtype("output", v.output(), DType::FLOAT32));
  const Shape table = v.input_shape(0);
  if (table.rank != 2 || table[0] < 1 || table[1] < 1)
    return Status::error(Error::kInvalidModel, "%s: table must have shape [V, D] with V, D >= 1", v.where());
  EMTL_RETURN_IF_ERROR(v.check_table_quantization(v.input(0), table[0]));
  const uint32_t k = n - 1;
  const auto* offsets = options->row_offsets();
  const auto* counts = options->row_counts();
  const auto* defaults = options->default_rows();
  if (!offsets || !counts || offsets->size() != k || counts->size() != k || (defaults && defaults->size() != k))
    return Status::error(Error::kInvalidModel,
                         "%s: row_offsets and row_counts (and default_rows if present) need %u entries, one per ids input",
                         v.where(), k);
  for (uint32_t j = 0; j < k; ++j) {
    EMTL_RETURN_IF_ERROR(v.expect_activation_input(j + 1));
    EMTL_RETURN_IF_ERROR(v.expect_dtype("ids", v.input(j + 1), DType::INT64));
    const Shape ids = v.input_shape(j + 1);
    if (ids.rank != 1)
      return Status::error(Error::kInvalidModel, "%s: ids input %u (tensor %d) must have shape [-1]", v.where(), j + 1,
                           v.input(j + 1));
    const int64_t offset = offsets->Get(j), count = counts->Get(j);
    if (offset < 0 || count < 1 || offset > table[0] || count > table[0] - offset)
      return Status::error(Error::kInvalidModel, "%s: ids input %u: rows %lld + %lld outside the table of %lld rows",
                           v.where(), j + 1, static_cast<long long>(offset), static_cast<long long>(count),
                           static_cast<long long>(table[0]));
    if (defaults && defaults->Get(j) >= count)
      return Status::error(Error::kInvalidModel, "%s: ids input %u: default row %lld outside its %lld rows", v.where(),
                           j + 1, static_cast<long long>(defaults->Get(j)), static_cast<long long>(count));
  }
  Shape y;
  y.rank = 2;
  y[0] = -1;
  y[1] = static_cast<int64_t>(k) * table[1];
  return v.expect_shape(y);
}

Status prepare_embedding_multi(PrepareContext& context, PreparedOp& p) {
  auto* state = p.state.emplace<EmbeddingMultiState>();
  if (!state) return Status::error(Error::kOutOfMemory, "cannot allocate a merged embedding lookup");
  state->table = table_of(context, p);
  const auto* options = p.op->options_as_EmbeddingMultiOptions();
  const uint32_t k = p.num_inputs() - 1;
  for (uint32_t j = 0; j < k; ++j) {
    char what[112];
    context.describe_ids(p.input(j + 1), p.op, what, sizeof(what));
    state->whats.push_back(what);
    const int64_t default_row = options->default_rows() ? options->default_rows()->Get(j) : -1;
    state->default_rows.push_back(default_row >= 0 && context.map_out_of_range_ids ? default_row : -1);
  }
  for (const std::string& w : state->whats) state->what_pointers.push_back(w.c_str());
  state->id_pointers.resize(k);
  state->id_rows.resize(k);
  return Status::ok();
}

Status run_embedding_multi(const RunContext& context, PreparedOp& p) {
  EmbeddingMultiState& state = p.state.get<EmbeddingMultiState>();
  const auto* options = p.op->options_as_EmbeddingMultiOptions();
  const size_t k = state.id_pointers.size();
  for (size_t j = 0; j < k; ++j) {
    const TensorView ids = context.input(p, static_cast<uint32_t>(j + 1));
    state.id_pointers[j] = ids.as<const int64_t>();
    state.id_rows[j] = static_cast<size_t>(ids.shape[0]);
  }
  const TensorView out = context.output(p);
  return embedding_multi_lookup(state.table, k, state.id_pointers.data(), state.id_rows.data(),
                                static_cast<size_t>(out.shape[0]), options->row_offsets()->data(),
                                options->row_counts()->data(), state.default_rows.data(), state.what_pointers.data(),
                                out.as<float>());
}

// ---- BAG ------------------------------------------------------------------------

static_assert(static_cast<int>(BagMode::kSum) == static_cast<int>(schema::BagMode::SUM) &&
                  static_cast<int>(BagMode::kMean) == static_cast<int>(schema::BagMode::MEAN) &&
                  static_cast<int>(BagMode::kMax) == static_cast<int>(schema::BagMode::MAXIMUM),
              "kernel BagMode follows the schema");

struct BagState {
  EmbeddingTable table;
  BagMode mode = BagMode::kSum;
  int64_t default_row = -1;
  char what[112] = {0};
};

Status verify_bag(const OpVerifier& v) {
  EMTL_RETURN_IF_ERROR(v.arity(2, 3));
  const schema::BagOptions* options;
  EMTL_RETURN_IF_ERROR(v.get_options(schema::OpOptions::BagOptions, true, &options));
  EMTL_RETURN_IF_ERROR(verify_table_and_ids(v));
  const Shape table = v.input_shape(0), ids = v.input_shape(1);
  if (table.rank != 2 || table[0] < 1 || table[1] < 1)
    return Status::error(Error::kInvalidModel, "%s: table must have shape [V, D] with V, D >= 1", v.where());
  EMTL_RETURN_IF_ERROR(v.check_table_quantization(v.input(0), table[0]));
  if (ids.rank != 2 || ids[1] < 1)
    return Status::error(Error::kInvalidModel, "%s: ids must have shape [-1, L] with L >= 1", v.where());
  const schema::BagMode mode = options->mode();
  if (mode != schema::BagMode::SUM && mode != schema::BagMode::MEAN && mode != schema::BagMode::MAXIMUM)
    return Status::error(Error::kInvalidModel, "%s: unknown bag mode %d", v.where(), static_cast<int>(mode));
  if (v.num_inputs() == 3) {
    if (mode != schema::BagMode::SUM)
      return Status::error(Error::kInvalidModel, "%s: weights are only allowed with mode SUM", v.where());
    EMTL_RETURN_IF_ERROR(v.expect_activation_input(2));
    EMTL_RETURN_IF_ERROR(v.expect_dtype("weights", v.input(2), DType::FLOAT32));
    const Shape weights = v.input_shape(2);
    if (weights.rank != 2 || weights[1] != ids[1])
      return Status::error(Error::kInvalidModel, "%s: weights must have the ids' shape [-1, %lld]", v.where(),
                           static_cast<long long>(ids[1]));
  }
  EMTL_RETURN_IF_ERROR(check_default_row(v, options->default_row(), table[0]));
  Shape y;
  y.rank = 2;
  y[0] = -1;
  y[1] = table[1];
  return v.expect_shape(y);
}

Status prepare_bag(PrepareContext& context, PreparedOp& p) {
  auto* state = p.state.emplace<BagState>();
  if (!state) return Status::error(Error::kOutOfMemory, "cannot allocate a bag lookup");
  state->table = table_of(context, p);
  const auto* options = p.op->options_as_BagOptions();
  state->mode = static_cast<BagMode>(options->mode());
  state->default_row = options->default_row() >= 0 && context.map_out_of_range_ids ? options->default_row() : -1;
  context.describe_ids(p.input(1), p.op, state->what, sizeof(state->what));
  return Status::ok();
}

Status run_bag(const RunContext& context, PreparedOp& p) {
  const BagState& state = p.state.get<BagState>();
  const TensorView ids = context.input(p, 1);
  const TensorView out = context.output(p);
  const float* weights = nullptr;
  size_t weight_rows = 1;
  if (p.num_inputs() == 3) {
    const TensorView w = context.input(p, 2);
    weights = w.as<const float>();
    weight_rows = static_cast<size_t>(w.shape[0]);
  }
  return embedding_bag(state.table, state.mode, ids.as<const int64_t>(), static_cast<size_t>(ids.shape[0]), weights,
                       weight_rows, static_cast<size_t>(out.shape[0]), static_cast<size_t>(ids.shape[1]),
                       state.default_row, state.what, out.as<float>());
}

}  // namespace

extern const OpRegistration kBagOp = {schema::OpType::BAG, verify_bag, prepare_bag, run_bag, nullptr, false, {}};
extern const OpRegistration kEmbeddingOp = {
    schema::OpType::EMBEDDING, verify_embedding, prepare_embedding, run_embedding, nullptr, false, {}};
extern const OpRegistration kEmbeddingMultiOp = {schema::OpType::EMBEDDING_MULTI,
                                                 verify_embedding_multi,
                                                 prepare_embedding_multi,
                                                 run_embedding_multi,
                                                 nullptr,
                                                 false,
                                                 {}};

}  // namespace edgemtl
