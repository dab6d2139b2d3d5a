// edgemtl-convert moves the split first layer's sum relu(W_i·i + W_u·u) into
// the static int8 layers that read its columns (FULLY_CONNECTED's addend). The
// fused file must score bitwise as the unfused one (--no-fuse-input-adds) on
// every kernel path: the VNNI kernel adds while quantising, XNNPACK's path
// stages x + addend; with the user cache off (the user stage then has the
// items' rows) and in parallel lanes.
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

size_t count_adds(const Model& model) {
  return count_operators(model, [](const schema::Operator& op) { return op.type() == schema::OpType::ADD; });
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

TEST_CASE("the split's ADD fused into the layers reading it: bitwise the unfused scores, every kernel path") {
  // f32 and dynamic int8 layers are not given addends (converter/passes/fuse_input_adds.cc). ple2's experts use
  // LeakyReLU, which input_activation does not take; shared_bottom's int8 plan keeps the layers after its sum f32
  // (its layer search): their sums stay ADDs.
  for (const std::string name : {"mmoe", "ple1", "esmm", "shared_bottom", "ple2"}) {
    CAPTURE(name);
    const Fixture fixture = load_fixture(name);
    const std::string users = user_inputs_argument(fixture.meta);
    const std::string calibration = " --calibration " + shell_quote(fixtures_dir() + "/" + name + "/rows.jsonl");
    for (const std::string quantize : {"", " --quantize int8", " --quantize int8-dynamic"}) {
      CAPTURE(quantize);
      const std::string args = users + quantize + (quantize == " --quantize int8" ? calibration : "");
      const std::string tag = quantize.empty() ? "f32" : quantize.substr(12);
      const bool fuses = name != "ple2" && name != "shared_bottom" && tag == "int8";
      auto fused = Model::load_file(convert_fixture(name, "addend-" + tag, args).c_str());
      auto unfused =
          Model::load_file(convert_fixture(name, "noaddend-" + tag, args + " --no-fuse-input-adds").c_str());
      REQUIRE_MESSAGE(fused.ok(), fused.status().message());
      REQUIRE_MESSAGE(unfused.ok(), unfused.status().message());
      // The split's ADDs feeding layers are gone; each such layer reads an addend.
      CHECK(count_addends(**unfused) == 0);
      CHECK((count_addends(**fused) > 0) == fuses);
      CHECK((count_adds(**fused) < count_adds(**unfused)) == fuses);
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
        const std::vector<float> want = score(**unfused, fixture.rows, options);
        const std::vector<float> got = score(**fused, fixture.rows, options);
        REQUIRE(got.size() == want.size());
        CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
      }
    }
  }
}

}  // namespace
}  // namespace edgemtl::test
