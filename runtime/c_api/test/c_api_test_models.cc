// Model bytes for the C API test, built with the C++ test ModelBuilder and
// handed to C through a plain function.
#include <cstring>

#include "runtime/test_util/model_builder.h"

extern "C" const void* emtl_test_two_tower_model(size_t* size);
extern "C" const void* emtl_test_two_tower_model_variant(int64_t default_row, uint32_t format_version, size_t* size);
extern "C" const void* emtl_test_two_tower_model_without_checksums(size_t* size);

// user "u" DENSE 2 -> RESHAPE kept for the item stage; item "item" ID (table 4 x 2)
// -> EMBEDDING [-1, 2]; s = MUL(emb, u) [-1, 2]; score = FC(s, [[1, 1]]) -> [-1, 1]
// -> SIGMOID; tasks "click" = sigmoid[:, 0] and "raw" = score[:, 0].
// Embedding table rows: id i -> (i, -i) * 0.5.
namespace {

edgemtl::test::ModelBytes build_two_tower(int64_t default_row, uint32_t format_version, bool checksums = true) {
  using namespace edgemtl;
  test::ModelBuilder m;
  m.format_version = format_version;
  m.checksums = checksums;
  const int u = m.add_feature("u", schema::Side::USER, schema::FeatureKind::DENSE, 2);
  const int item = m.add_feature("item", schema::Side::ITEM, schema::FeatureKind::ID, 1, 4);
  const int table = m.add_constant_f32("table", {4, 2}, {0.0f, 0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 1.5f, -1.5f});
  const int ones = m.add_constant_f32("ones", {1, 2}, {1.0f, 1.0f});
  const int emb = m.add_activation("emb", schema::DType::FLOAT32, {-1, 2});
  const int product = m.add_activation("product", schema::DType::FLOAT32, {-1, 2});
  const int raw = m.add_activation("raw", schema::DType::FLOAT32, {-1, 1});
  const int click = m.add_activation("click", schema::DType::FLOAT32, {-1, 1});
  m.add_user_to_item(m.feature_tensor(u));
  if (default_row >= 0)
    m.add_op(test::ModelBuilder::kItem, schema::OpType::EMBEDDING, {table, m.feature_tensor(item)}, {emb},
             schema::OpOptions::GatherOptions, test::gather_options(default_row));
  else
    m.add_op(test::ModelBuilder::kItem, schema::OpType::EMBEDDING, {table, m.feature_tensor(item)}, {emb});
  m.add_op(test::ModelBuilder::kItem, schema::OpType::MUL, {emb, m.feature_tensor(u)}, {product});
  m.add_op(test::ModelBuilder::kItem, schema::OpType::FULLY_CONNECTED, {product, ones}, {raw});
  m.add_op(test::ModelBuilder::kItem, schema::OpType::SIGMOID, {raw}, {click});
  m.add_task("click", schema::TaskKind::PROBABILITY, click, 0);
  m.add_task("raw", schema::TaskKind::VALUE, raw, 0);
  return m.finish();
}

}  // namespace

extern "C" const void* emtl_test_two_tower_model(size_t* size) {
  static edgemtl::test::ModelBytes bytes;
  if (!bytes.data) bytes = build_two_tower(-1, 1);
  *size = bytes.size;
  return bytes.get();
}

// The same model with a default row for out-of-range ids and/or another
// format_version; the bytes live until the next call.
extern "C" const void* emtl_test_two_tower_model_variant(int64_t default_row, uint32_t format_version, size_t* size) {
  static edgemtl::test::ModelBytes bytes;
  bytes = build_two_tower(default_row, format_version);
  *size = bytes.size;
  return bytes.get();
}

// The same model as written before checksums (no Model.checksums).
extern "C" const void* emtl_test_two_tower_model_without_checksums(size_t* size) {
  static edgemtl::test::ModelBytes bytes;
  if (!bytes.data) bytes = build_two_tower(-1, 1, false);
  *size = bytes.size;
  return bytes.get();
}
