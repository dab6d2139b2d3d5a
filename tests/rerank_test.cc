// The candidate cache (issue 12): rank() after any sequence of set_user /
// set_candidates / replace_candidates calls is bitwise identical to score() of
// the same user and items, for every PyTorch fixture converted with and
// without the user/item split and with int8; and the file's plan puts every
// operator in the stage its dependencies call for (item-only work is cached).
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "runtime/executor/session.h"
#include "schema/edgemtl_generated.h"
#include "tests/fixture_util.h"
#include "requests/scorer.h"

namespace edgemtl::test {
namespace {

enum Depends : int { kNone = 0, kUser = 1, kItem = 2 };

// From the file alone: what every operator depends on (user features, item
// features or both), and that each stage holds exactly its kind: the user stage
// user-only, the item stage item-only, the cross stage both.
struct Plan {
  size_t item_fcs = 0;          // FULLY_CONNECTED operators of the item stage
  bool cross_attention = false;  // a MATMUL in the cross stage (DIN: the item attends over the user's history)
};
Plan check_plan(const std::vector<char>& bytes) {
  const schema::Model* m = schema::GetModel(bytes.data());
  REQUIRE(m->cross_stage() != nullptr);
  std::vector<int> depends(m->tensors()->size(), kNone);
  for (const schema::Feature* f : *m->features()) depends[f->tensor()] = f->side() == schema::Side::USER ? kUser : kItem;
  Plan plan;
  const schema::Stage* stages[] = {m->user_stage(), m->item_stage(), m->cross_stage()};
  const int expected[] = {kUser, kItem, kUser | kItem};
  for (int s = 0; s < 3; ++s) {
    if (!stages[s] || !stages[s]->operators()) continue;
    for (const schema::Operator* op : *stages[s]->operators()) {
      int d = kNone;
      for (int input : *op->inputs()) d |= depends[input];
      // BROADCAST_ROWS gives a user tensor the candidates' rows for a cross operator.
      if (op->type() == schema::OpType::BROADCAST_ROWS) d |= kItem;
      depends[op->outputs()->Get(0)] = d;
      INFO("stage " << s << " operator " << (op->name() ? op->name()->c_str() : "") << " "
                    << schema::EnumNameOpType(op->type()));
      // A TAKE of an item tensor's columns for the layers that add the user part themselves (FULLY_CONNECTED's
      // addend): a view in the cross stage, not a copy in the candidate cache.
      const bool item_view = s == 2 && op->type() == schema::OpType::TAKE && d == kItem;
      CHECK((d == expected[s] || item_view));
      if (s == 1 && op->type() == schema::OpType::FULLY_CONNECTED) ++plan.item_fcs;
      if (s == 2 && op->type() == schema::OpType::MATMUL) plan.cross_attention = true;
    }
  }
  return plan;
}

struct Request {
  size_t user_row = 0;
  std::vector<size_t> items;
};

std::vector<float> score_of(Session& session, const Fixture& fixture, const Request& request, bool has_user) {
  std::string error;
  if (has_user) {
    requests::FeatureBatch user(session.model(), Side::kUser);
    REQUIRE_MESSAGE(user.append_row(fixture.rows[request.user_row], nullptr, &error), error);
    REQUIRE(session.set_user(user.inputs()).is_ok());
  }
  requests::FeatureBatch items(session.model(), Side::kItem);
  for (size_t r : request.items) REQUIRE_MESSAGE(items.append_row(fixture.rows[r], nullptr, &error), error);
  auto scores = session.score(items.inputs(), request.items.size());
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  return std::vector<float>(scores->begin(), scores->end());
}

// A random sequence of calls on one Session; after each, rank() must equal
// score() bitwise (score() in the same Session: it must not disturb the cache).
void check_random_sequences(const Fixture& fixture, const std::string& path, const SessionOptions& options) {
  auto model = Model::load_file(path.c_str());
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  auto created = Session::create(**model, options);
  REQUIRE_MESSAGE(created.ok(), created.status().message());
  Session& session = **created;
  bool has_user = false;
  for (size_t f = 0; f < (*model)->num_features(); ++f) has_user |= (*model)->feature(f).side == Side::kUser;
  std::mt19937 random(77);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random); };
  Request current;
  std::string error;
  auto set_user = [&] {
    current.user_row = pick(fixture.rows.size());
    if (!has_user) return;
    requests::FeatureBatch user(**model, Side::kUser);
    REQUIRE_MESSAGE(user.append_row(fixture.rows[current.user_row], nullptr, &error), error);
    Status status = session.set_user(user.inputs());
    REQUIRE_MESSAGE(status.is_ok(), status.message());
  };
  auto set_candidates = [&] {
    current.items.resize(1 + pick(options.max_items));
    for (size_t& r : current.items) r = pick(fixture.rows.size());
    requests::FeatureBatch items(**model, Side::kItem);
    for (size_t r : current.items) REQUIRE_MESSAGE(items.append_row(fixture.rows[r], nullptr, &error), error);
    Status status = session.set_candidates(items.inputs(), current.items.size());
    REQUIRE_MESSAGE(status.is_ok(), status.message());
  };
  auto replace_candidates = [&] {
    std::vector<size_t> positions(1 + pick(current.items.size()));
    requests::FeatureBatch items(**model, Side::kItem);
    for (size_t& p : positions) {
      p = pick(current.items.size());
      current.items[p] = pick(fixture.rows.size());  // a repeated position keeps its last row
      REQUIRE_MESSAGE(items.append_row(fixture.rows[current.items[p]], nullptr, &error), error);
    }
    Status status = session.replace_candidates(Span<const size_t>(positions.data(), positions.size()), items.inputs());
    REQUIRE_MESSAGE(status.is_ok(), status.message());
  };
  set_user();
  set_candidates();
  for (int step = 0; step < 40; ++step) {
    switch (pick(4)) {
      case 0: set_user(); break;
      case 1: set_candidates(); break;
      case 2: replace_candidates(); break;
      default: break;  // rank twice in a row
    }
    auto ranked = session.rank();
    REQUIRE_MESSAGE(ranked.ok(), ranked.status().message());
    REQUIRE(session.num_candidates() == current.items.size());
    const std::vector<float> cached(ranked->begin(), ranked->end());
    const std::vector<float> full = score_of(session, fixture, current, has_user);
    CAPTURE(step);
    REQUIRE(cached.size() == full.size());
    CHECK(std::memcmp(cached.data(), full.data(), full.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("rank() is bitwise score() after random set_user / set_candidates / replace_candidates, every fixture") {
  for (const std::string& name : fixture_names()) {
    CAPTURE(name);
    const Fixture fixture = load_fixture(name);
    const std::string user_inputs = user_inputs_argument(fixture.meta);
    const std::string calibration = " --quantize int8 --calibration " +
                                    shell_quote(fixtures_dir() + "/" + name + "/rows.jsonl");
    struct Variant {
      const char* name;
      std::string args;
    };
    std::vector<Variant> variants = {{"rerank-all-items", ""}, {"rerank-all-items-int8", calibration}};
    if (!user_inputs.empty()) {
      variants.push_back({"rerank-split", user_inputs});
      variants.push_back({"rerank-no-split", user_inputs + " --no-split"});
      variants.push_back({"rerank-split-int8", user_inputs + calibration});
      variants.push_back({"rerank-no-split-int8", user_inputs + " --no-split" + calibration});
    }
    for (const Variant& variant : variants) {
      CAPTURE(variant.name);
      const std::string path = convert_fixture(name, variant.name, variant.args);
      const Plan plan = check_plan(read_file(path));
      // The split puts the item parts of the first layers in the item stage, unless those layers also
      // read a cross value (DIN's attention output beside the item's embeddings): then the item parts
      // stay with it in one cross-stage FC_i.
      if (!user_inputs.empty() && variant.args.find("--no-split") == std::string::npos && !plan.cross_attention)
        CHECK(plan.item_fcs >= 1);
      SessionOptions tiles;  // several tiles per call, a partial last one
      tiles.max_items = 23;
      tiles.item_tile_rows = 5;
      check_random_sequences(fixture, path, tiles);
      SessionOptions one_tile;
      one_tile.max_items = 12;
      check_random_sequences(fixture, path, one_tile);
      SessionOptions no_user_cache = tiles;
      no_user_cache.cache_user = false;
      check_random_sequences(fixture, path, no_user_cache);
    }
  }
}

}  // namespace
}  // namespace edgemtl::test
