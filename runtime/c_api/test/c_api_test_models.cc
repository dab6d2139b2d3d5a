// Model bytes for the C API test, built with the C++ test ModelBuilder and
// handed to C through a plain function.
#include <cstring>

#include "runtime/test_util/model_builder.h"

extern "C" const void* emtl_test_two_tower_model(size_t* size);

// user "u" DENSE 2 -> RESHAPE kept for the item stage; item "item" ID (table 4 x 2)
// -> EMBEDDING [-1, 2]; s = MUL(emb, u) [-1, 2]; score = FC(s, [[1, 1]]) -> [-1, 1]
// -> SIGMOID; tasks "click" = sigmoid[:, 0] and "raw" = score[:, 0].
// Embedding table rows: id i -> (i, -i) * 0.5.
extern "C" const void* emtl_test_two_tower_model(size_t* size) {
  using namespace edgemtl;
  static test::ModelBytes bytes;
  if (!bytes.data) {
    test::ModelBuilder m;
    const int u = m.add_feature("u", schema::Side::USER, schema::FeatureKind::DENSE, 2);
    const int item = m.add_feature("item", schema::Side::ITEM, schema::FeatureKind::ID, 1, 4);
    const int table = m.add_constant_f32("table", {4, 2}, {0.0f, 0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 1.5f, -1.5f});
    const int ones = m.add_constant_f32("ones", {1, 2}, {1.0f, 1.0f});
    const int emb = m.add_activation("emb", schema::DType::FLOAT32, {-1, 2});
    const int product = m.add_activation("product", schema::DType::FLOAT32, {-1, 2});
    const int raw = m.add_activation("raw", schema::DType::FLOAT32, {-1, 1});
    const int click = m.add_activation("click", schema::DType::FLOAT32, {-1, 1});
    m.add_user_to_item(m.feature_tensor(u));
    m.add_op(test::ModelBuilder::kItem, schema::OpType::EMBEDDING, {table, m.feature_tensor(item)}, {emb});
    m.add_op(test::ModelBuilder::kItem, schema::OpType::MUL, {emb, m.feature_tensor(u)}, {product});
    m.add_op(test::ModelBuilder::kItem, schema::OpType::FULLY_CONNECTED, {product, ones}, {raw});
    m.add_op(test::ModelBuilder::kItem, schema::OpType::SIGMOID, {raw}, {click});
    m.add_task("click", schema::TaskKind::PROBABILITY, click, 0);
    m.add_task("raw", schema::TaskKind::VALUE, raw, 0);
    bytes = m.finish();
  }
  *size = bytes.size;
  return bytes.get();
}
