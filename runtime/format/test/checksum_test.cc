// Checked files (issue 13, part B): the FlatBuffer's checksum on every load,
// the weights' on request, files from before checksums; and the verifier's
// other part-B rules: 8-byte vectors aligned, at least one task, feature and
// task names checked in n log n.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/format/checksum.h"
#include "runtime/format/model.h"
#include "runtime/test_util/bad_models.h"
#include "runtime/test_util/model_builder.h"
#include "runtime/test_util/status_checks.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpType;
using test::ModelBuilder;
using test::ModelBytes;
using test::contains;
using test::load_status;

// item id [-1] -> EMBEDDING(table [10, 4]) -> e [-1, 4]; tasks on columns 0 and 3.
constexpr int64_t kRows = 10, kWidth = 4;
ModelBytes embedding_model(bool checksums) {
  ModelBuilder m;
  m.checksums = checksums;
  const int ids = m.feature_tensor(m.add_feature("item", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
  std::vector<float> table(kRows * kWidth);
  for (size_t i = 0; i < table.size(); ++i) table[i] = 0.25f * static_cast<float>(i);
  const int weights = m.add_constant_f32("table", {kRows, kWidth}, table);
  const int out = m.add_activation("e", DType::FLOAT32, {-1, kWidth});
  m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {weights, ids}, {out});
  m.add_task("first", schema::TaskKind::VALUE, out, 0);
  m.add_task("last", schema::TaskKind::VALUE, out, kWidth - 1);
  return m.finish();
}

// Byte offset of embedding row `row` in the file (the table is buffer 0).
size_t row_offset(const ModelBytes& bytes, int64_t row) {
  const schema::Model* root = schema::GetModel(bytes.get());
  return static_cast<size_t>(root->buffers()->Get(0)->offset()) + static_cast<size_t>(row * kWidth) * sizeof(float);
}

float score_item(const Model& model, int64_t id, int task) {
  auto session = Session::create(model, {});
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  const FeatureInput input{0, &id, nullptr, 1};
  auto scores = (*session)->score(Span<const FeatureInput>(&input, 1), 1);
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  return (*scores)[static_cast<size_t>(task)];
}

TEST_CASE("a sealed file loads, with or without verify_weights") {
  const ModelBytes bytes = embedding_model(true);
  LoadOptions verify;
  verify.verify_weights = true;
  auto model = Model::load_buffer(bytes.get(), bytes.size, verify);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  CHECK((*model)->has_checksums());
  CHECK((*model)->verify_weights().is_ok());
  const schema::Checksums* sums = (*model)->root()->checksums();
  REQUIRE(sums != nullptr);
  CHECK(sums->weights_offset() % 64 == 0);
  CHECK(sums->weights_offset() + sums->weights_size() == bytes.size);
  CHECK(sums->weights_hash() == xxh3_64(bytes.get() + sums->weights_offset(), sums->weights_size()));
  CHECK(score_item(**model, 7, 1) == doctest::Approx(0.25 * (7 * kWidth + 3)));
}

TEST_CASE("a flipped bit in an embedding row is reported with verify_weights") {
  const ModelBytes good = embedding_model(true);
  const ModelBytes flipped = ModelBytes::copy_of(good.get(), good.size);
  flipped.get()[row_offset(flipped, 7) + 3 * sizeof(float) + 1] ^= 0x10;  // row 7, column 3
  // Unchecked, the file loads and id 7 silently scores something else.
  auto unchecked = Model::load_buffer(flipped.get(), flipped.size);
  REQUIRE(unchecked.ok());
  CHECK(score_item(**unchecked, 7, 1) != doctest::Approx(0.25 * (7 * kWidth + 3)));
  const Status later = (*unchecked)->verify_weights();
  CHECK(later.code() == Error::kInvalidModel);
  CHECK(contains(later, "checksum mismatch in the weight segment"));
  // Checked, the load fails.
  LoadOptions verify;
  verify.verify_weights = true;
  auto checked = Model::load_buffer(flipped.get(), flipped.size, verify);
  CHECK(checked.error() == Error::kInvalidModel);
  CHECK(contains(checked.status(), "checksum mismatch in the weight segment"));
  CHECK(contains(checked.status(), "a weight is corrupt"));
}

TEST_CASE("every single flipped bit of a sealed file is refused when the weights are verified") {
  const ModelBytes good = embedding_model(true);
  const uint64_t weights_offset = schema::GetModel(good.get())->checksums()->weights_offset();
  LoadOptions verify;
  verify.verify_weights = true;
  int flatbuffer_part = 0, weight_part = 0, looks_older = 0;
  for (size_t bit = 0; bit < good.size * 8; ++bit) {
    const ModelBytes copy = ModelBytes::copy_of(good.get(), good.size);
    copy.get()[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    const bool in_weights = bit / 8 >= weights_offset;
    CAPTURE(bit);
    CHECK_FALSE(Model::load_buffer(copy.get(), copy.size, verify).ok());
    // Without verify_weights a flip in the FlatBuffer part loads only when it
    // removed the Checksums field itself (a bit of its vtable entry): the file
    // then reads as one written before checksums, which verify_weights refuses.
    auto unchecked = Model::load_buffer(copy.get(), copy.size);
    if (!in_weights && unchecked.ok()) {
      CHECK_FALSE((*unchecked)->has_checksums());
      ++looks_older;
    }
    (in_weights ? weight_part : flatbuffer_part) += 1;
  }
  MESSAGE(flatbuffer_part << " bits in the FlatBuffer part, " << weight_part << " in the weights; " << looks_older
                          << " flips read as a file without checksums");
  CHECK(flatbuffer_part > 0);
  CHECK(weight_part > 0);
  CHECK(looks_older < 8);
}

// Sets feature 0's table_size in place (the field is stored: it is not the default).
void patch_table_size(const ModelBytes& bytes, int64_t value) {
  const schema::Feature* feature = schema::GetModel(bytes.get())->features()->Get(0);
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(feature);
  const flatbuffers::voffset_t field = table->GetOptionalFieldOffset(schema::Feature::VT_TABLE_SIZE);
  REQUIRE(field != 0);
  flatbuffers::WriteScalar(const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(feature)) + field, value);
  REQUIRE(schema::GetModel(bytes.get())->features()->Get(0)->table_size() == value);
}

TEST_CASE("the FlatBuffer's checksum is checked on every load") {
  // A table size the verifier accepts (any value >= 1 is valid): only the
  // checksum can tell that it changed.
  const ModelBytes good = embedding_model(true);
  const ModelBytes copy = ModelBytes::copy_of(good.get(), good.size);
  patch_table_size(copy, kRows - 1);
  const Status status = load_status(copy);
  CHECK(status.code() == Error::kInvalidModel);
  CHECK(contains(status, "checksum mismatch in the FlatBuffer part"));
  // The same change in a file without checksums goes unnoticed: it verifies.
  const ModelBytes old = embedding_model(false);
  const ModelBytes old_copy = ModelBytes::copy_of(old.get(), old.size);
  patch_table_size(old_copy, kRows - 1);
  CHECK(load_status(old_copy).is_ok());
}

TEST_CASE("a file cut or extended by whole blocks breaks the layout the checksums describe") {
  const ModelBytes good = embedding_model(true);
  std::vector<uint8_t> longer(good.get(), good.get() + good.size);
  longer.resize(good.size + 64, 0);
  const Status extended = load_status(ModelBytes::copy_of(longer.data(), longer.size()));
  CHECK(extended.code() == Error::kInvalidModel);
  CHECK(contains(extended, "truncated or extended"));
  const Status cut = load_status(ModelBytes::copy_of(good.get(), good.size - 64));
  CHECK(cut.code() == Error::kInvalidModel);
}

TEST_CASE("files written before checksums still load; verify_weights refuses them with a clear message") {
  const ModelBytes old = embedding_model(false);
  auto model = Model::load_buffer(old.get(), old.size);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  CHECK_FALSE((*model)->has_checksums());
  CHECK(score_item(**model, 7, 1) == doctest::Approx(0.25 * (7 * kWidth + 3)));
  const Status later = (*model)->verify_weights();
  CHECK(later.code() == Error::kUnsupported);
  CHECK(contains(later, "no checksums"));
  LoadOptions verify;
  verify.verify_weights = true;
  auto refused = Model::load_buffer(old.get(), old.size, verify);
  CHECK(refused.error() == Error::kUnsupported);
  CHECK(contains(refused.status(), "convert it again"));
  // Sealing needs a Checksums struct to fill.
  const ModelBytes copy = ModelBytes::copy_of(old.get(), old.size);
  CHECK(seal_checksums(copy.get(), copy.size).code() == Error::kInvalidModel);
}

TEST_CASE("a vector of 8-byte values at 4-byte alignment is refused (FlatBuffers 2.0.8 checks only its length)") {
  const ModelBytes bytes = test::misaligned_vector_model();
  // The file really holds the indices at 4 mod 8, and FlatBuffers accepts it.
  const schema::Model* root = schema::GetModel(bytes.get());
  const auto* indices = root->item_stage()->operators()->Get(0)->options_as_TakeOptions()->indices();
  REQUIRE(indices != nullptr);
  REQUIRE(indices->size() == 2);
  CHECK((indices->Data() - bytes.get()) % 8 == 4);
  flatbuffers::Verifier verifier(bytes.get(), bytes.size);
  CHECK(schema::VerifyModelBuffer(verifier));
  const Status status = load_status(bytes);
  CHECK(status.code() == Error::kInvalidModel);
  CHECK(contains(status, "node 'take_misaligned'"));
  CHECK(contains(status, "not 8-byte aligned"));
}

TEST_CASE("a model without tasks is refused; one with no features, tasks or tensors too") {
  {
    ModelBuilder m;  // a valid graph that scores nothing
    const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 3));
    const int y = m.add_activation("y", DType::FLOAT32, {-1, 3});
    m.add_op(ModelBuilder::kItem, OpType::RELU, {x}, {y});
    const Status status = load_status(m.finish());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "the model has no tasks"));
  }
  for (bool checksums : {true, false}) {
    ModelBuilder empty;  // no features, tasks or tensors: the file edgemtl-inspect crashed on
    empty.checksums = checksums;
    const Status status = load_status(checksums ? test::empty_model() : empty.finish());
    CHECK(status.code() == Error::kInvalidModel);
    CHECK(contains(status, "the model has no tasks"));
  }
}

TEST_CASE("a model with 100,000 tasks is checked for duplicate names in well under a second") {
  ModelBuilder m;
  const int x = m.feature_tensor(m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 1));
  const int y = m.add_activation("y", DType::FLOAT32, {-1});
  m.add_op(ModelBuilder::kItem, OpType::RELU, {x}, {y});
  constexpr int kTasks = 100000;
  for (int t = 0; t < kTasks; ++t) m.add_task("task " + std::to_string(t), schema::TaskKind::VALUE, y, 0);
  m.add_task("task 31", schema::TaskKind::VALUE, y, 0);
  const ModelBytes bytes = m.finish();
  const auto start = std::chrono::steady_clock::now();
  const Status status = load_status(bytes);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(contains(status, "tasks 31 and 100000 are both named 'task 31'"));
  // n^2 / 2 name comparisons took minutes; sorted, milliseconds (5 s: room for sanitizers and load).
  CHECK(seconds < 5.0);
}

}  // namespace
}  // namespace edgemtl
