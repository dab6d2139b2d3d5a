// EMBEDDING and EMBEDDING_MULTI (merged lookups, passes/merge_lookups.cc).
#include "converter/ir_ops/ir_ops.h"
#include "converter/schema_mapping.h"

#include <algorithm>

namespace edgemtl::converter {
namespace {

void require_table(const Value& table) {
  require(table.is_constant && table.rank() == 2 && table.dtype == DType::kFloat32,
          "embedding table must be a constant [V,D]");
}

void infer_embedding(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 2);
  const Value& table = call.in(0);
  require_table(table);
  require(call.in(1).dtype == DType::kInt64, "embedding ids must be int64");
  *dtype = DType::kFloat32;
  *shape = call.in(1).shape;
  shape->push_back(table.shape[1]);
}

void evaluate_embedding(const OpCall& call, Value* out) {
  const Value& table = call.in(0);
  const Value& ids = call.in(1);
  check_no_symbol(ids, call.op);
  const int64_t d = table.shape[1];
  out->floats.resize(product(out->shape));
  for (size_t r = 0; r < ids.ints.size(); ++r) {
    int64_t id = ids.ints[r];
    if (id < 0 || id >= table.shape[0]) throw ConversionError("constant id out of the embedding table");
    std::copy_n(table.floats.begin() + id * d, d, out->floats.begin() + r * d);
  }
}

void infer_embedding_multi(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  const NodeOptions& o = call.options;
  require(call.inputs.size() >= 2, "EMBEDDING_MULTI needs a table and ids");
  const Value& table = call.in(0);
  require_table(table);
  const size_t k = call.inputs.size() - 1;
  require(o.row_offsets.size() == k && o.row_counts.size() == k && o.default_rows.size() == k,
          "EMBEDDING_MULTI needs one row offset, row count and default row per ids input");
  for (size_t j = 0; j < k; ++j) {
    const Value& ids = call.in(j + 1);
    require(ids.dtype == DType::kInt64 && ids.is_activation() && ids.shape == std::vector<int64_t>{kRows},
            "EMBEDDING_MULTI ids must be int64 [rows]");
    require(o.row_offsets[j] >= 0 && o.row_counts[j] >= 1 && o.row_offsets[j] + o.row_counts[j] <= table.shape[0] &&
                o.default_rows[j] < o.row_counts[j],
            "EMBEDDING_MULTI rows outside the table");
  }
  *dtype = DType::kFloat32;
  *shape = {kRows, static_cast<int64_t>(k) * table.shape[1]};
}

void evaluate_embedding_multi(const OpCall& call, Value* out) {
  const NodeOptions& o = call.options;
  const Value& table = call.in(0);
  const int64_t d = table.shape[1];
  const size_t k = call.inputs.size() - 1;
  const int64_t rows = out->shape[0];
  out->floats.resize(product(out->shape));
  for (size_t j = 0; j < k; ++j) {
    check_no_symbol(call.in(j + 1), call.op);
    const auto& ids = call.in(j + 1).ints;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t id = ids[ids.size() == 1 ? 0 : r];
      if (id < 0 || id >= o.row_counts[j]) {
        if (o.default_rows[j] < 0) throw ConversionError("id out of its embedding table");
        id = o.default_rows[j];
      }
      std::copy_n(table.floats.begin() + (o.row_offsets[j] + id) * d, d,
                  out->floats.begin() + (r * int64_t(k) + int64_t(j)) * d);
    }
  }
}

// BAG: table [V,D], ids int64 [rows,L], optional weights float32 [rows,L] (sum only).
void infer_bag(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  call.require_arity(2, 3);
  const Value& table = call.in(0);
  require_table(table);
  const Value& ids = call.in(1);
  require(ids.dtype == DType::kInt64 && ids.rank() == 2, "BAG ids must be int64 [rows,L]");
  require(call.options.bag_mode >= 0 && call.options.bag_mode <= 2, "BAG mode must be sum, mean or max");
  if (call.inputs.size() == 3) {
    require(call.options.bag_mode == 0, "BAG weights need mode sum");
    require(call.in(2).dtype == DType::kFloat32 && call.in(2).shape == ids.shape,
            "BAG weights must be float32 of the ids' shape");
  }
  *dtype = DType::kFloat32;
  *shape = {ids.shape[0], table.shape[1]};
}

void evaluate_bag(const OpCall& call, Value* out) {
  const Value& table = call.in(0);
  const Value& ids = call.in(1);
  check_no_symbol(ids, call.op);
  const int64_t d = table.shape[1], length = ids.shape[1], rows = ids.shape[0];
  out->floats.assign(product(out->shape), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float* target = out->floats.data() + r * d;
    for (int64_t j = 0; j < length; ++j) {
      int64_t id = ids.ints[r * length + j];
      if (id < 0 || id >= table.shape[0]) throw ConversionError("constant id out of the embedding table");
      const float w = call.inputs.size() == 3 ? call.in(2).floats[r * length + j] : 1.0f;
      for (int64_t k = 0; k < d; ++k) {
        const float v = table.floats[id * d + k];
        if (call.options.bag_mode == 2) target[k] = j == 0 || v > target[k] ? v : target[k];
        else target[k] += w * v;
      }
    }
    if (call.options.bag_mode == 1)
      for (int64_t k = 0; k < d; ++k) target[k] /= static_cast<float>(length);
  }
}

FileOptions write_embedding_options(const OptionsWriter& w) {
  return {schema::OpOptions::GatherOptions, schema::CreateGatherOptions(w.builder, w.node.options.default_row).Union()};
}

FileOptions write_embedding_multi_options(const OptionsWriter& w) {
  const NodeOptions& o = w.node.options;
  bool any_default = false;  // default_rows only when some input has one
  for (int64_t r : o.default_rows) any_default |= r >= 0;
  return {schema::OpOptions::EmbeddingMultiOptions,
          schema::CreateEmbeddingMultiOptionsDirect(w.builder, &o.row_offsets, &o.row_counts,
                                                    any_default ? &o.default_rows : nullptr).Union()};
}

FileOptions write_bag_options(const OptionsWriter& w) {
  return {schema::OpOptions::BagOptions,
          schema::CreateBagOptions(w.builder, static_cast<schema::BagMode>(w.node.options.bag_mode),
                                   w.node.options.default_row)
              .Union()};
}

}  // namespace

std::vector<OpRules> embedding_op_rules() {
  return {
      {Op::kEmbedding, infer_embedding, evaluate_embedding, nullptr, 0, write_embedding_options},
      {Op::kEmbeddingMulti, infer_embedding_multi, evaluate_embedding_multi, nullptr, 0, write_embedding_multi_options},
      {Op::kBag, infer_bag, evaluate_bag, nullptr, 0, write_bag_options},
  };
}

}  // namespace edgemtl::converter
