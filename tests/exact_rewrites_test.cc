// Converter rewrites that must not change a bit: a file converted with one
// must score bitwise as the file converted without it, on every kernel path,
// with the user cache off (the user stage then has the items' rows) and in
// parallel lanes.
//  - The split first layer's sum relu(W_i·i + W_u·u) moved into the static
//    int8 layers that read its columns (FULLY_CONNECTED's addend;
//    --no-fuse-input-adds): the VNNI kernel adds while quantising, XNNPACK's
//    path stages x + addend.
//  - MIXes of the same experts merged into one MIX of their gates
//    (--no-merge-mixtures): each mixture's products are added in the same order.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "requests/scorer.h"
#include "runtime/executor/session.h"
#include "schema/edgemtl_generated.h"
#include "tests/fixture_util.h"

namespace edgemtl::test {
namespace {

constexpr size_t kItems = 40;  // several tiles of 16 rows: lanes with 2 threads

// Operators of the model's stages that `counts`.
template <class Predicate>
size_t count_operators(const Model& model, Predicate counts) {
  size_t found = 0;
  const schema::Model* root = model.root();
  for (const schema::Stage* stage : {root->user_stage(), root->item_stage(), root->cross_stage()})
    if (stage && stage->operators())
      for (const schema::Operator* op : *stage->operators()) found += counts(*op);
  return found;
}

size_t count_type(const Model& model, schema::OpType type) {
  return count_operators(model, [type](const schema::Operator& op) { return op.type() == type; });
}

// Layers with an addend (a 4th input).
size_t count_addends(const Model& model) {
  return count_operators(model, [](const schema::Operator& op) {
    return op.type() == schema::OpType::FULLY_CONNECTED && op.inputs()->size() == 4;
  });
}

std::vector<float> score(const Model& model, const std::vector<nlohmann::json>& rows, SessionOptions options) {
  options.max_items = kItems;
  options.item_tile_rows = 16;
  auto session = Session::create(model, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  requests::FeatureBatch user(model, Side::kUser), items(model, Side::kItem);
  std::string error;
  REQUIRE_MESSAGE(user.append_row(rows[0], nullptr, &error), error);
  for (size_t i = 0; i < kItems; ++i) REQUIRE_MESSAGE(items.append_row(rows[i % rows.size()], nullptr, &error), error);
  Status status = (*session)->set_user(user.inputs());
  REQUIRE_MESSAGE(status.is_ok(), status.message());
  auto scores = (*session)->score(items.inputs(), kItems);
  REQUIRE_MESSAGE(scores.ok(), scores.status().message());
  return std::vector<float>(scores->begin(), scores->end());
}

// `got` scores bitwise as `want` with every kernel path, without the user cache and on 2 lanes.
void check_same_scores(const Model& got_model, const Model& want_model, const std::vector<nlohmann::json>& rows) {
  SessionOptions own, xnnpack_f32, no_vnni, no_cache, lanes;
  xnnpack_f32.f32_kernel = F32Kernel::kXnnpack;
  no_vnni.int8_vnni = false;
  no_cache.cache_user = false;
  lanes.threads = 2;
  for (const SessionOptions& options : {own, xnnpack_f32, no_vnni, no_cache, lanes}) {
    CAPTURE(static_cast<int>(options.f32_kernel));
    CAPTURE(options.int8_vnni);
    CAPTURE(options.cache_user);
    CAPTURE(options.threads);
    const std::vector<float> want = score(want_model, rows, options);
    const std::vector<float> got = score(got_model, rows, options);
    REQUIRE(got.size() == want.size());
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("the split's ADD fused into the layers reading it: bitwise the unfused scores, every kernel path") {
  // f32 and dynamic int8 layers are not given addends (converter/passes/fuse_input_adds.cc). ple2's experts use
  // LeakyReLU (input_activation LEAKY_RELU); shared_bottom's int8 plan keeps the layers after its sum f32 (its
  // layer search): its sums stay ADDs.
  for (const std::string name : {"mmoe", "ple1", "esmm", "shared_bottom", "ple2"}) {
    CAPTURE(name);
    const Fixture fixture = load_fixture(name);
    const std::string users = user_inputs_argument(fixture.meta);
    const std::string calibration = " --calibration " + shell_quote(fixtures_dir() + "/" + name + "/rows.jsonl");
    for (const std::string quantize : {"", " --quantize int8", " --quantize int8-dynamic"}) {
      CAPTURE(quantize);
      const std::string args = users + quantize + (quantize == " --quantize int8" ? calibration : "");
      const std::string tag = quantize.empty() ? "f32" : quantize.substr(12);
      const bool fuses = name != "shared_bottom" && tag == "int8";
      auto fused = Model::load_file(convert_fixture(name, "addend-" + tag, args).c_str());
      auto unfused =
          Model::load_file(convert_fixture(name, "noaddend-" + tag, args + " --no-fuse-input-adds").c_str());
      REQUIRE_MESSAGE(fused.ok(), fused.status().message());
      REQUIRE_MESSAGE(unfused.ok(), unfused.status().message());
      // The split's ADDs feeding layers are gone; each such layer reads an addend.
      CHECK(count_addends(**unfused) == 0);
      CHECK((count_addends(**fused) > 0) == fuses);
      CHECK((count_type(**fused, schema::OpType::ADD) < count_type(**unfused, schema::OpType::ADD)) == fuses);
      check_same_scores(**fused, **unfused, fixture.rows);
    }
  }
}

TEST_CASE("MIXes of the same experts merged into one: bitwise the separate MIXes' scores, every kernel path") {
  // mmoe: a gate per task over one set of experts (and their softmaxes one). ple1: its task gates mix
  // different experts, nothing merges.
  for (const std::string name : {"mmoe", "ple1"}) {
    CAPTURE(name);
    const Fixture fixture = load_fixture(name);
    const std::string users = user_inputs_argument(fixture.meta);
    const std::string calibration = " --calibration " + shell_quote(fixtures_dir() + "/" + name + "/rows.jsonl");
    for (const std::string quantize : {"", " --quantize int8"}) {
      CAPTURE(quantize);
      const std::string args = users + quantize + (quantize.empty() ? "" : calibration);
      const std::string tag = quantize.empty() ? "f32" : "int8";
      auto merged = Model::load_file(convert_fixture(name, "mixes-" + tag, args).c_str());
      auto separate = Model::load_file(convert_fixture(name, "nomixes-" + tag, args + " --no-merge-mixtures").c_str());
      REQUIRE_MESSAGE(merged.ok(), merged.status().message());
      REQUIRE_MESSAGE(separate.ok(), separate.status().message());
      const size_t mixes = count_type(**separate, schema::OpType::MIX);
      CHECK(mixes >= 2);
      CHECK((count_type(**merged, schema::OpType::MIX) == 1) == (name != "ple1"));
      CHECK((count_type(**merged, schema::OpType::MIX) == mixes) == (name == "ple1"));
      // mmoe's task gates are adjacent columns of one stacked gate layer: one SOFTMAX over [rows, tasks, E].
      const size_t softmaxes = count_type(**separate, schema::OpType::SOFTMAX);
      CHECK((count_type(**merged, schema::OpType::SOFTMAX) == (name == "ple1" ? softmaxes : 1)));
      check_same_scores(**merged, **separate, fixture.rows);
    }
  }
}

}  // namespace
}  // namespace edgemtl::test
