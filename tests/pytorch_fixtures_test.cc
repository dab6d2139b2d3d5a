// End to end: every PyTorch fixture is converted by edgemtl-convert, run by
// the runtime, and compared with the scores PyTorch computed (1e-5). The
// user/item split must give the same scores as the unsplit model, whatever the
// number and order of items in a request.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "runtime/executor/session.h"
#include "runtime/kernels/f32_gemm.h"
#include "schema/edgemtl_generated.h"
#include "tests/fixture_util.h"
#include "requests/scorer.h"

namespace edgemtl::test {
namespace {

constexpr double kTolerance = 1e-5;

bool has_user_features(const Model& model) {
  for (size_t i = 0; i < model.num_features(); ++i)
    if (model.feature(i).side == Side::kUser) return true;
  return false;
}

// Scores one request: the user of rows[items[0]] and those rows as items.
std::vector<float> score_request(Session& session, const Fixture& fixture, const std::vector<size_t>& items) {
  const Model& model = session.model();
  requests::FeatureBatch user(model, Side::kUser);
  requests::FeatureBatch batch(model, Side::kItem);
  std::string error;
  if (has_user_features(model)) {
    REQUIRE_MESSAGE(user.append_row(fixture.rows[items[0]], nullptr, &error), error);
    Status status = session.set_user(user.inputs());
    REQUIRE_MESSAGE(status.is_ok(), status.message());
  }
  for (size_t r : items) REQUIRE_MESSAGE(batch.append_row(fixture.rows[r], nullptr, &error), error);
  auto scores = session.score(batch.inputs(), items.size());
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  REQUIRE(scores->size() == items.size() * model.num_tasks());
  return std::vector<float>(scores->begin(), scores->end());
}

void check_against_pytorch(const Model& model, const Fixture& fixture, const std::vector<size_t>& items,
                           const std::vector<float>& scores, const char* mode) {
  for (size_t i = 0; i < items.size(); ++i) {
    const nlohmann::json& expected = fixture.expected[items[i]];
    for (size_t t = 0; t < model.num_tasks(); ++t) {
      const char* task = model.task(t).name;
      REQUIRE_MESSAGE(expected.contains(task), "expected.jsonl has no task '" << task << "'");
      double want = expected[task].get<double>();
      double got = scores[i * model.num_tasks() + t];
      INFO(fixture.name << " " << mode << ": row " << items[i] << " task " << task);
      CHECK(close_enough(got, want, kTolerance));
    }
  }
}

// The f32 fully-connected kernel paths this CPU offers: the default (the own
// AVX-512 or AVX2 kernel on x86-64), the own AVX2 one when the default is
// AVX-512, and XNNPACK always.
std::vector<F32Kernel> f32_kernel_paths() {
  std::vector<F32Kernel> paths = {F32Kernel::kAuto};
  if (F32Gemm::best_isa() == F32Isa::kAvx512) paths.push_back(F32Kernel::kAvx2);
  if (F32Gemm::best_isa() != F32Isa::kNone) paths.push_back(F32Kernel::kXnnpack);
  return paths;
}

std::vector<float> check_variant_with(const Fixture& fixture, const std::string& path, const char* variant,
                                      F32Kernel f32_kernel) {
  CAPTURE(static_cast<int>(f32_kernel));
  auto model = Model::load_file(path.c_str());
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  CHECK((*model)->num_tasks() == fixture.expected[0].size());
  SessionOptions options;
  options.max_items = 16;
  options.f32_kernel = f32_kernel;
  auto session = Session::create(**model, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());

  std::vector<float> per_row;
  for (size_t r = 0; r < fixture.rows.size(); ++r) {
    std::vector<float> scores = score_request(**session, fixture, {r});
    check_against_pytorch(**model, fixture, {r}, scores, variant);
    per_row.insert(per_row.end(), scores.begin(), scores.end());
  }
  std::mt19937 random(1234);
  for (const std::vector<size_t>& user_rows : fixture.users) {
    for (size_t n = 1; n <= user_rows.size(); n += (n < 3 ? 1 : 3)) {
      std::vector<size_t> items = user_rows;
      std::shuffle(items.begin(), items.end(), random);
      items.resize(n);
      std::vector<float> scores = score_request(**session, fixture, items);
      check_against_pytorch(**model, fixture, items, scores, variant);
    }
  }
  return per_row;
}

// Per-row scores of one converted variant, in row order, after checking them
// against PyTorch one row at a time and in shuffled requests of every size,
// with every f32 kernel path.
std::vector<float> check_variant(const Fixture& fixture, const std::string& path, const char* variant) {
  std::vector<float> first;
  for (F32Kernel kernel : f32_kernel_paths()) {
    std::vector<float> per_row = check_variant_with(fixture, path, variant, kernel);
    if (first.empty()) first = per_row;
  }
  return first;
}

TEST_CASE("every PyTorch fixture converts and matches PyTorch within 1e-5, split or not") {
  std::vector<std::string> names = fixture_names();
  REQUIRE_MESSAGE(names.size() >= 8, "expected the PyTorch fixtures in " << fixtures_dir());
  for (const std::string& name : names) {
    CAPTURE(name);
    Fixture fixture = load_fixture(name);
    std::string user_inputs = user_inputs_argument(fixture.meta);
    std::vector<float> unsplit = check_variant(fixture, convert_fixture(name, "all-items", ""), "all items");
    if (user_inputs.empty()) continue;
    CHECK(fixture.users.size() > 1);
    std::vector<float> split =
        check_variant(fixture, convert_fixture(name, "split", user_inputs), "user/item split");
    std::vector<float> stages_only = check_variant(
        fixture, convert_fixture(name, "stages", user_inputs + " --no-split"), "stages, no W split");
    REQUIRE(split.size() == unsplit.size());
    for (size_t i = 0; i < split.size(); ++i) {
      CHECK(close_enough(split[i], unsplit[i], kTolerance));
      CHECK(close_enough(stages_only[i], unsplit[i], kTolerance));
    }
  }
}

// Operators of `type` in one stage of the converted file (the model's plan).
enum class StageOf { kUser, kItem, kCross };
size_t count_ops(const Model& model, StageOf which, schema::OpType type) {
  const schema::Model* root = model.root();
  const schema::Stage* stage = which == StageOf::kUser   ? root->user_stage()
                               : which == StageOf::kItem ? root->item_stage()
                                                         : root->cross_stage();
  size_t n = 0;
  if (stage && stage->operators())
    for (const schema::Operator* op : *stage->operators()) n += op->type() == type;
  return n;
}

TEST_CASE("a recurrent user tower runs in the user stage, once per request; target attention in the cross stage") {
  for (const char* name : {"dupn_lstm", "dupn_gru", "dupn_bigru"}) {
    CAPTURE(name);
    Fixture fixture = load_fixture(name);
    auto split = Model::load_file(convert_fixture(name, "split", user_inputs_argument(fixture.meta)).c_str());
    REQUIRE(split.ok());
    REQUIRE((*split)->root()->cross_stage() != nullptr);
    CHECK(count_ops(**split, StageOf::kUser, schema::OpType::RECURRENT) == 1);
    CHECK(count_ops(**split, StageOf::kItem, schema::OpType::RECURRENT) == 0);
    CHECK(count_ops(**split, StageOf::kCross, schema::OpType::RECURRENT) == 0);
    // The attention over the steps (bmm of the sequence and the user query) is user-side too.
    CHECK(count_ops(**split, StageOf::kUser, schema::OpType::MATMUL) == 1);
    CHECK(count_ops(**split, StageOf::kItem, schema::OpType::MATMUL) == 0);
    CHECK(count_ops(**split, StageOf::kCross, schema::OpType::MATMUL) == 0);
    auto unsplit = Model::load_file(convert_fixture(name, "all-items", "").c_str());
    REQUIRE(unsplit.ok());
    CHECK(count_ops(**unsplit, StageOf::kUser, schema::OpType::RECURRENT) == 0);
    CHECK(count_ops(**unsplit, StageOf::kItem, schema::OpType::RECURRENT) == 1);
  }
  // DIN: the candidate item attends over the user's history: cross-stage MATMUL and masked softmax
  // over a user-stage operand (the history's embeddings, from the user cache) and the item's query.
  Fixture din = load_fixture("din");
  auto model = Model::load_file(convert_fixture("din", "split", user_inputs_argument(din.meta)).c_str());
  REQUIRE(model.ok());
  CHECK(count_ops(**model, StageOf::kCross, schema::OpType::MATMUL) >= 1);
  CHECK(count_ops(**model, StageOf::kCross, schema::OpType::SOFTMAX) == 1);
  CHECK(count_ops(**model, StageOf::kUser, schema::OpType::SOFTMAX) == 0);
  CHECK(count_ops(**model, StageOf::kItem, schema::OpType::SOFTMAX) == 0);
}

}  // namespace
}  // namespace edgemtl::test
