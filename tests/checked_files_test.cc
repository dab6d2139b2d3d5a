// Issue 13, part B, through the tools as a user runs them: checked weights
// (edgemtl-inspect --verify, edgemtl-run --verify-weights, LoadOptions), a
// file from before checksums, and the committed bad files of tests/bad_models
// (a huge arena, no tasks, a misaligned vector): each refused with its
// message, never a crash.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "requests/scorer.h"
#include "runtime/executor/session.h"
#include "schema/edgemtl_generated.h"
#include "tests/fixture_util.h"

namespace edgemtl::test {
namespace {

const char* kFixture = "esmm";

struct ToolResult {
  int exit_code;
  std::string out, err;
};

ToolResult run_tool(const std::string& command) {
  const std::string out_path = scratch_dir() + "/checked.out", err_path = scratch_dir() + "/checked.err";
  const int status = std::system((command + " > " + out_path + " 2> " + err_path).c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out_path), slurp(err_path)};
}

bool has(const std::string& text, const char* part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) MESSAGE("looked for '", part, "' in: ", text);
  return found;
}

std::string converted() {
  return convert_fixture(kFixture, "checked", user_inputs_argument(read_json(fixtures_dir() + "/" + kFixture + "/meta.json")));
}

std::string bad_model(const char* name) { return std::string(EDGEMTL_SOURCE_DIR) + "/tests/bad_models/" + name; }

// The fixture's rows as an edgemtl-run --rows file.
std::string rows_file() { return fixtures_dir() + "/" + kFixture + "/rows.jsonl"; }

// Scores of every fixture row, one request each.
std::vector<float> score_rows(const Model& model) {
  auto session = Session::create(model, {});
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  std::vector<float> all;
  for (const nlohmann::json& row : read_jsonl(rows_file())) {
    requests::FeatureBatch user(model, Side::kUser), items(model, Side::kItem);
    std::string error;
    REQUIRE_MESSAGE(user.append_row(row, nullptr, &error), error);
    REQUIRE_MESSAGE(items.append_row(row, nullptr, &error), error);
    REQUIRE((*session)->set_user(user.inputs()).is_ok());
    auto scores = (*session)->score(items.inputs(), 1);
    REQUIRE_MESSAGE(scores.ok(), scores.status().message());
    all.insert(all.end(), scores->begin(), scores->end());
  }
  return all;
}

TEST_CASE("a flipped bit in an embedding row: --verify and --verify-weights report it, plain loading does not") {
  const std::string good = converted();
  ToolResult ok = run_tool(std::string(EDGEMTL_INSPECT) + " " + good + " --verify");
  CHECK(ok.exit_code == 0);
  CHECK(has(ok.out, "checksums (XXH3-64): FlatBuffer part [0, "));
  CHECK(has(ok.out, ": ok, verified in "));

  // Row 3 of the first EMBEDDING's table.
  std::vector<char> bytes = read_file(good);
  const schema::Model* root = schema::GetModel(bytes.data());
  const schema::Operator* lookup = nullptr;
  for (const schema::Stage* stage : {root->user_stage(), root->item_stage(), root->cross_stage()})
    for (uint32_t i = 0; !lookup && stage && stage->operators() && i < stage->operators()->size(); ++i)
      if (stage->operators()->Get(i)->type() == schema::OpType::EMBEDDING) lookup = stage->operators()->Get(i);
  REQUIRE(lookup != nullptr);
  const schema::Tensor* table = root->tensors()->Get(static_cast<uint32_t>(lookup->inputs()->Get(0)));
  REQUIRE(table->buffer() >= 0);
  const uint64_t row_bytes = static_cast<uint64_t>(table->shape()->Get(1)) * sizeof(float);
  const uint64_t at = root->buffers()->Get(static_cast<uint32_t>(table->buffer()))->offset() + 3 * row_bytes + 2;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x40);
  const std::string flipped = scratch_dir() + "/esmm.flipped.emtl";
  write_file(flipped, bytes);

  ToolResult inspect = run_tool(std::string(EDGEMTL_INSPECT) + " " + flipped + " --verify");
  CHECK(inspect.exit_code == 1);
  CHECK(has(inspect.err, "checksum mismatch in the weight segment"));
  CHECK(run_tool(std::string(EDGEMTL_INSPECT) + " " + flipped).exit_code == 0);  // described, weights unread

  ToolResult checked = run_tool(std::string(EDGEMTL_RUN) + " " + flipped + " --rows " + rows_file() + " --verify-weights");
  CHECK(checked.exit_code == 1);
  CHECK(checked.out.empty());
  CHECK(has(checked.err, "checksum mismatch in the weight segment"));
  CHECK(run_tool(std::string(EDGEMTL_RUN) + " " + flipped + " --rows " + rows_file()).exit_code == 0);

  LoadOptions verify;
  verify.verify_weights = true;
  auto model = Model::load_file(flipped.c_str(), verify);
  CHECK(model.error() == Error::kInvalidModel);
  CHECK(Model::load_file(good.c_str(), verify).ok());
}

TEST_CASE("a file written before checksums still loads and scores the same; it cannot be verified") {
  // tests/compat/esmm.before_checksums.emtl: the fixture converted by the
  // converter of issue 13 part A (f32, its meta.json options), no Model.checksums.
  const std::string old_path = std::string(EDGEMTL_SOURCE_DIR) + "/tests/compat/esmm.before_checksums.emtl";
  auto old = Model::load_file(old_path.c_str());
  REQUIRE_MESSAGE(old.ok(), old.status().message());
  CHECK_FALSE((*old)->has_checksums());
  auto fresh = Model::load_file(converted().c_str());
  REQUIRE(fresh.ok());
  CHECK((*fresh)->has_checksums());
  const std::vector<float> old_scores = score_rows(**old), new_scores = score_rows(**fresh);
  REQUIRE(old_scores.size() == new_scores.size());
  CHECK(std::memcmp(old_scores.data(), new_scores.data(), old_scores.size() * sizeof(float)) == 0);

  CHECK((*old)->verify_weights().code() == Error::kUnsupported);
  ToolResult inspect = run_tool(std::string(EDGEMTL_INSPECT) + " " + old_path + " --verify");
  CHECK(inspect.exit_code == 1);
  CHECK(has(inspect.out, "checksums: none"));
  CHECK(has(inspect.err, "no checksums"));
  CHECK(run_tool(std::string(EDGEMTL_INSPECT) + " " + old_path).exit_code == 0);
  CHECK(run_tool(std::string(EDGEMTL_RUN) + " " + old_path + " --rows " + rows_file()).exit_code == 0);
  ToolResult run = run_tool(std::string(EDGEMTL_RUN) + " " + old_path + " --rows " + rows_file() + " --verify-weights");
  CHECK(run.exit_code == 1);
  CHECK(has(run.err, "convert it again"));
}

TEST_CASE("tests/bad_models: a huge arena, no tasks, a misaligned vector: refused with their messages by every tool") {
  const std::string arena = bad_model("huge_arena.emtl");
  ToolResult run = run_tool(std::string(EDGEMTL_RUN) + " " + arena + " --rows " + rows_file());
  CHECK(run.exit_code == 1);
  CHECK(has(run.err, "the model needs an activation arena of "));
  CHECK(has(run.err, "more than SessionOptions::max_arena_bytes = 1073741824"));
  ToolResult inspect = run_tool(std::string(EDGEMTL_INSPECT) + " " + arena);
  CHECK(inspect.exit_code == 0);  // the file is valid; only a session of it is refused
  CHECK(has(inspect.out, "session (default options): cannot be created: the model needs an activation arena"));
  // The bound is an option of edgemtl-run.
  ToolResult bounded = run_tool(std::string(EDGEMTL_RUN) + " " + converted() + " --rows " + rows_file() +
                                " --max-arena-bytes 1000");
  CHECK(bounded.exit_code == 1);
  CHECK(has(bounded.err, "more than SessionOptions::max_arena_bytes = 1000"));

  for (const char* tool : {EDGEMTL_INSPECT, EDGEMTL_RUN}) {
    const std::string args = std::strcmp(tool, EDGEMTL_RUN) == 0 ? " --rows " + rows_file() : "";
    ToolResult none = run_tool(std::string(tool) + " " + bad_model("no_tasks.emtl") + args);
    CHECK(none.exit_code == 1);
    CHECK(has(none.err, "the model has no tasks"));
    ToolResult misaligned = run_tool(std::string(tool) + " " + bad_model("misaligned_vector.emtl") + args);
    CHECK(misaligned.exit_code == 1);
    CHECK(has(misaligned.err, "node 'take_misaligned'"));
    CHECK(has(misaligned.err, "not 8-byte aligned"));
  }
}

}  // namespace
}  // namespace edgemtl::test
