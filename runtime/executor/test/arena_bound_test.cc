// SessionOptions::max_arena_bytes (issue 13, part B): a file of a few hundred
// bytes can declare tensors of gigabytes; Session::create refuses it with the
// sizes before allocating, for each block sized from the file.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/test_util/bad_models.h"
#include "runtime/test_util/model_builder.h"
#include "runtime/test_util/status_checks.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpType;
using test::ModelBuilder;
using test::ModelBytes;
using test::contains;
using test::wide_model;

// `bytes` must outlive the Model (used in place).
std::unique_ptr<Model> load(const ModelBytes& bytes) {
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  return std::move(model).value();
}

TEST_CASE("a small file asking for a huge arena is refused before allocating, with the sizes") {
  constexpr int64_t kWidth = int64_t{1} << 22;  // 16 MiB per row
  const ModelBytes bytes = wide_model(kWidth);
  CHECK(bytes.size < 1024);
  const std::unique_ptr<Model> model = load(bytes);

  // Defaults: item tiles of 72 rows, two tensors of 72 x 16 MiB: 2.25 GiB.
  auto refused = Session::create(*model, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == Error::kOutOfMemory);
  CHECK(contains(refused.status(), "the model needs an activation arena of "));
  CHECK(SessionOptions().item_tile_rows == 72);
  CHECK(contains(refused.status(), "item tiles of 72 rows"));
  CHECK(contains(refused.status(), "more than SessionOptions::max_arena_bytes = 1073741824"));
  CHECK(contains(refused.status(), "largest: tensor 0 ('wide'), "));
  const char* arena = std::strstr(refused.status().message(), "arena of ");
  REQUIRE(arena != nullptr);
  CHECK(std::strtoull(arena + 9, nullptr, 10) >= 2ull * 72 * kWidth * sizeof(float));

  // One row at a time the arena fits; the candidate cache (max_items rows of
  // the item features, allocated later by set_candidates) does not.
  SessionOptions one_row;
  one_row.item_tile_rows = 1;
  auto cache = Session::create(*model, one_row);
  CHECK(cache.error() == Error::kOutOfMemory);
  CHECK(contains(cache.status(), "the model needs a candidate cache of "));
  CHECK(contains(cache.status(), "(max_items 4096)"));

  // With room for both, the same file gets its session.
  one_row.max_items = 2;
  auto fits = Session::create(*model, one_row);
  REQUIRE_MESSAGE(fits.ok(), fits.status().message());
  CHECK((*fits)->arena_bytes() < one_row.max_arena_bytes);
  CHECK((*fits)->arena_bytes() >= 2 * kWidth * sizeof(float));

  // The bound is an option.
  one_row.max_arena_bytes = 16 << 20;
  CHECK(Session::create(*model, one_row).error() == Error::kOutOfMemory);
}

TEST_CASE("tensors of terabytes are refused with their sizes, not by a failed allocation") {
  {
    const ModelBytes bytes = wide_model(int64_t{1} << 32);  // 16 GiB per row: 2.6 TiB per tile
    const std::unique_ptr<Model> model = load(bytes);
    auto refused = Session::create(*model, {});
    CHECK(refused.error() == Error::kOutOfMemory);
    CHECK(contains(refused.status(), "the model needs an activation arena of "));
    CHECK(contains(refused.status(), "max_arena_bytes"));
  }
  {
    // Beyond 2^46 bytes (far beyond any bound) the planner stops before adding.
    const ModelBytes bytes = wide_model(int64_t{1} << 38);
    const std::unique_ptr<Model> model = load(bytes);
    auto refused = Session::create(*model, {});
    CHECK(refused.error() == Error::kOutOfMemory);
    CHECK(contains(refused.status(), "tensor 0 ('wide'): 274877906944 elements per row x 72 rows is too large"));
  }
}

TEST_CASE("scores for max_items rows of many tasks are bounded too") {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 1));
  const int y = m.add_activation("y", DType::FLOAT32, {-1});
  m.add_op(ModelBuilder::kItem, OpType::RELU, {x}, {y});
  for (int t = 0; t < 70000; ++t) m.add_task("t" + std::to_string(t), schema::TaskKind::VALUE, y, 0);
  const ModelBytes bytes = m.finish();
  const std::unique_ptr<Model> model = load(bytes);
  auto refused = Session::create(*model, {});  // 4096 x 70,000 floats: 1.07 GiB
  CHECK(refused.error() == Error::kOutOfMemory);
  CHECK(contains(refused.status(), "the model needs scores of 1146880000 bytes (max_items 4096)"));
  SessionOptions fewer;
  fewer.max_items = 64;
  CHECK(Session::create(*model, fewer).ok());
}

TEST_CASE("weights packed for the session are bounded: many layers sharing one weight") {
  // x [-1, 64] -> 40 x FC(w [64, 64]) in a chain: a 16 KiB weight in the file,
  // packed once per layer by XNNPACK (640 KiB).
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 64));
  const int w = m.add_constant_f32("w", {64, 64}, std::vector<float>(64 * 64, 0.01f));
  int previous = x;
  for (int layer = 0; layer < 40; ++layer) {
    const int out = m.add_activation("h" + std::to_string(layer), DType::FLOAT32, {-1, 64});
    m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {previous, w}, {out});
    previous = out;
  }
  m.add_task("score", schema::TaskKind::VALUE, previous, 0);
  const ModelBytes bytes = m.finish();
  const std::unique_ptr<Model> model = load(bytes);
  SessionOptions small;
  small.max_items = 16;  // arena and candidate cache well under the bound below
  auto full = Session::create(*model, small);
  REQUIRE_MESSAGE(full.ok(), full.status().message());
  const size_t packed = (*full)->packed_weight_bytes();
  CHECK(packed >= 40 * 64 * 64 * sizeof(float));
  SessionOptions bounded = small;
  bounded.max_arena_bytes = packed / 2;
  auto refused = Session::create(*model, bounded);
  CHECK(refused.error() == Error::kOutOfMemory);
  CHECK(contains(refused.status(), "the model needs weights packed or copied for the session of "));
}

}  // namespace
}  // namespace edgemtl
