// The command-line tools as a user runs them: edgemtl-run on request and row
// files (checked against PyTorch's scores) and edgemtl-inspect.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "edgemtl.h"
#include "tests/fixture_util.h"

namespace edgemtl::test {
namespace {

const char* kFixture = "shared_bottom";  // feature names with spaces, a regression task

struct CommandResult {
  int exit_code;
  std::string out;
};

// Stdout (and stderr too with `merge_stderr`, for the messages of bad command lines).
CommandResult run(const std::string& command, bool merge_stderr = false) {
  std::string out_path = scratch_dir() + "/tool.out";
  int status = std::system((command + " > " + out_path + (merge_stderr ? " 2>&1" : " 2>/dev/null")).c_str());
  std::ifstream in(out_path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, buffer.str()};
}

CommandResult run_merged(const std::string& command) { return run(command, true); }

std::vector<nlohmann::json> parse_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::string convert_for_tools() {
  return convert_fixture(kFixture, "tools", user_inputs_argument(read_json(fixtures_dir() + "/" + kFixture + "/meta.json")));
}

// Rows start .. start + 7 as one request: user fields in "user", the rest per item.
std::string request_line(const std::vector<nlohmann::json>& rows, const nlohmann::json& meta, size_t start) {
  nlohmann::json request = {{"user", nlohmann::json::object()}, {"items", nlohmann::json::array()}};
  for (const auto& key : meta["user_inputs"]) request["user"][key.get<std::string>()] = rows[start][key.get<std::string>()];
  for (size_t r = start; r < start + 8 && r < rows.size(); ++r) {
    nlohmann::json item = rows[r];
    for (const auto& key : meta["user_inputs"]) item.erase(key.get<std::string>());
    request["items"].push_back(item);
  }
  return request.dump();
}

void check_scores(const nlohmann::json& got, const nlohmann::json& expected) {
  REQUIRE(got.size() == expected.size());
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    REQUIRE(got.contains(it.key()));
    CHECK(close_enough(got[it.key()].get<double>(), it.value().get<double>(), 1e-5));
  }
}

TEST_CASE("edgemtl-run scores request and row files like PyTorch") {
  std::string model = convert_for_tools();
  std::string dir = fixtures_dir() + "/" + kFixture;
  nlohmann::json meta = read_json(dir + "/meta.json");
  std::vector<nlohmann::json> rows = read_jsonl(dir + "/rows.jsonl");
  std::vector<nlohmann::json> expected = read_jsonl(dir + "/expected.jsonl");

  CommandResult by_rows = run(std::string(EDGEMTL_RUN) + " " + model + " --rows " + dir + "/rows.jsonl");
  REQUIRE(by_rows.exit_code == 0);
  std::vector<nlohmann::json> row_scores = parse_lines(by_rows.out);
  REQUIRE(row_scores.size() == rows.size());
  for (size_t r = 0; r < rows.size(); ++r) check_scores(row_scores[r], expected[r]);

  // Requests: consecutive rows of one user; user fields in "user", the rest per item.
  std::string requests_path = scratch_dir() + "/requests.jsonl";
  std::ofstream requests(requests_path);
  for (size_t start = 0; start < rows.size(); start += 8) requests << request_line(rows, meta, start) << "\n";
  requests << "\n";                                  // blank: answered by a blank line
  requests << "{\"user\": {}, \"items\": [{}]}\n";  // a bad request: reported, the others still scored
  nlohmann::json misplaced = nlohmann::json::parse(request_line(rows, meta, 0));
  const std::string user_key = meta["user_inputs"][0].get<std::string>();
  misplaced["items"][1][user_key] = rows[0][user_key];  // a user feature inside an item is an error
  requests << misplaced.dump() << "\n";
  requests.close();
  // --max-items 3: requests of 8 items are scored in chunks, with the same scores.
  CommandResult by_requests = run(std::string(EDGEMTL_RUN) + " " + model + " --max-items 3 --requests " + requests_path);
  CHECK(by_requests.exit_code == 1);
  std::vector<std::string> lines;
  std::istringstream out(by_requests.out);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  const size_t scored = (rows.size() + 7) / 8;
  REQUIRE(lines.size() == scored + 3);  // output line k answers input line k
  for (size_t q = 0; q < scored; ++q) {
    const nlohmann::json response = nlohmann::json::parse(lines[q]);
    REQUIRE(response["scores"].size() == std::min<size_t>(8, rows.size() - q * 8));
    for (size_t i = 0; i < response["scores"].size(); ++i) check_scores(response["scores"][i], expected[q * 8 + i]);
  }
  CHECK(lines[scored].empty());
  CHECK(nlohmann::json::parse(lines[scored + 1])["error"].get<std::string>().find("missing feature") != std::string::npos);
  CHECK(nlohmann::json::parse(lines[scored + 2])["error"].get<std::string>() ==
        "item 1: feature '" + user_key + "' is a user feature: give it in \"user\"");
}

TEST_CASE("edgemtl-convert --no-fuse-mixtures / --no-merge-lookups keep the ops those passes would replace") {
  const nlohmann::json meta = read_json(fixtures_dir() + "/mmoe/meta.json");
  const std::string users = user_inputs_argument(meta);
  auto operators = [](const std::string& model) {
    CommandResult result = run(std::string(EDGEMTL_INSPECT) + " " + model + " --operators");
    REQUIRE(result.exit_code == 0);
    return result.out;
  };
  const std::string fused = operators(convert_fixture("mmoe", "passes_on", users));
  const std::string plain = operators(convert_fixture("mmoe", "passes_off", users + " --no-fuse-mixtures --no-merge-lookups"));
  CHECK(fused.find(" MIX ") != std::string::npos);
  CHECK(fused.find("EMBEDDING_MULTI") != std::string::npos);
  CHECK(plain.find(" MIX ") == std::string::npos);
  CHECK(plain.find("EMBEDDING_MULTI") == std::string::npos);
  CHECK(plain.find("REDUCE_SUM") != std::string::npos);  // the mixing as the ONNX has it
}

TEST_CASE("edgemtl-inspect lists features with their side, tasks and stages") {
  std::string model = convert_for_tools();
  CommandResult result = run(std::string(EDGEMTL_INSPECT) + " " + model + " --operators");
  REQUIRE(result.exit_code == 0);
  nlohmann::json meta = read_json(fixtures_dir() + "/" + kFixture + "/meta.json");
  for (const auto& key : meta["user_inputs"]) CHECK(result.out.find(key.get<std::string>()) != std::string::npos);
  CHECK(result.out.find("user stage") != std::string::npos);
  CHECK(result.out.find("item stage") != std::string::npos);
  CHECK(result.out.find("FULLY_CONNECTED") != std::string::npos);
  CHECK(run(std::string(EDGEMTL_INSPECT) + " " + scratch_dir() + "/no-such.emtl").exit_code == 1);
}

TEST_CASE("edgemtl-bench --load-runs loads the file L times and reports the median and fastest load") {
  const std::string model = convert_for_tools();
  CommandResult result = run(std::string(EDGEMTL_BENCH) + " " + model + " --load-runs 7 --json");
  REQUIRE(result.exit_code == 0);
  const nlohmann::json report = nlohmann::json::parse(result.out);
  CHECK(report["loads"] == 7);
  CHECK(report["load_min_ms"].get<double>() > 0.0);
  CHECK(report["load_min_ms"].get<double>() <= report["load_p50_ms"].get<double>());
  // A file that does not load is reported as such, not timed.
  CommandResult missing = run_merged(std::string(EDGEMTL_BENCH) + " " + scratch_dir() + "/no-such.emtl --load-runs 3");
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.find("no-such.emtl") != std::string::npos);
}

TEST_CASE("every tool prints its version, the library's and the format's") {
  const std::string version = emtl_version();
  for (const std::string& tool : {std::string(EDGEMTL_CONVERT), std::string(EDGEMTL_RUN), std::string(EDGEMTL_INSPECT),
                                 std::string(EDGEMTL_BENCH)}) {
    CAPTURE(tool);
    CommandResult result = run(tool + " --version");
    CHECK(result.exit_code == 0);
    CHECK(result.out.find(" " + version + " ") != std::string::npos);
    CHECK(result.out.find("format 1") != std::string::npos);
  }
}

TEST_CASE("edgemtl-inspect --help prints the usage to stdout and exits 0") {
  CommandResult help = run(std::string(EDGEMTL_INSPECT) + " --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: edgemtl-inspect") != std::string::npos);
  CommandResult none = run_merged(std::string(EDGEMTL_INSPECT));
  CHECK(none.exit_code == 2);
  CHECK(none.out.find("no model file") != std::string::npos);
}

TEST_CASE("bad flag values say what is wrong") {
  const std::string model = convert_for_tools();
  const std::string rows = " --rows " + fixtures_dir() + "/" + kFixture + "/rows.jsonl";
  struct Case {
    std::string command, message;
  };
  const Case cases[] = {
      {std::string(EDGEMTL_RUN) + " " + model + rows + " --threads 0", "--threads 0: must be an integer >= 1"},
      {std::string(EDGEMTL_RUN) + " " + model + rows + " --threads two", "--threads two: must be an integer"},
      {std::string(EDGEMTL_RUN) + " " + model + rows + " --max-items -5", "--max-items -5: must be an integer >= 1"},
      {std::string(EDGEMTL_RUN) + " " + model + rows + " --max-items 0", "--max-items 0: must be an integer >= 1"},
      {std::string(EDGEMTL_BENCH) + " " + model + " --items 0", "--items 0: must be an integer >= 1"},
      {std::string(EDGEMTL_BENCH) + " " + model + " --threads 0", "--threads 0: must be an integer >= 1"},
      {std::string(EDGEMTL_BENCH) + " " + model + " --runs -1", "--runs -1: must be an integer >= 0"},
      {std::string(EDGEMTL_BENCH) + " " + model + " --min-seconds 0", "--min-seconds 0: must be a number > 0"},
      {std::string(EDGEMTL_BENCH) + " " + model + " --load-runs 0", "--load-runs 0: must be an integer >= 1"},
      {std::string(EDGEMTL_CONVERT) + " " + fixtures_dir() + "/esmm/model.onnx -o " + scratch_dir() +
           "/never.emtl --tasks ctr:probability",
       "--tasks ctr:probability: the kind after ':' is prob or value, not 'probability'"},
      {std::string(EDGEMTL_CONVERT) + " " + fixtures_dir() + "/esmm/model.onnx -o " + scratch_dir() +
           "/never.emtl --metadata model_name",
       "--metadata: metadata entry 'model_name' is not key=value"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.command);
    CommandResult result = run_merged(c.command);
    CHECK(result.exit_code == 2);
    CHECK(result.out.find(c.message) != std::string::npos);
  }
}

TEST_CASE("--int8-tables int4: edgemtl-inspect shows each table's encoding, its per-row parameters counted") {
  const std::string rows = fixtures_dir() + "/bags/rows.jsonl";
  const std::string users = user_inputs_argument(read_json(fixtures_dir() + "/bags/meta.json"));
  const std::string int4 =
      convert_fixture("bags", "int4", users + " --quantize int8 --int8-tables int4 --calibration " + rows);
  CommandResult inspect = run(std::string(EDGEMTL_INSPECT) + " " + int4);
  REQUIRE(inspect.exit_code == 0);
  CHECK(inspect.out.find("embedding tables: ") != std::string::npos);
  CHECK(inspect.out.find("UINT4_ROW_F16") != std::string::npos);
  const std::string int8 = convert_fixture("bags", "int8", users + " --quantize int8 --calibration " + rows);
  inspect = run(std::string(EDGEMTL_INSPECT) + " " + int8);
  REQUIRE(inspect.exit_code == 0);
  CHECK(inspect.out.find("INT8_ROW_F16") != std::string::npos);
  CHECK(inspect.out.find("UINT4_ROW_F16") == std::string::npos);
}

TEST_CASE("edgemtl-inspect --operators shows a layer's addend (the split's sum fused into int8 layers)") {
  const std::string rows = fixtures_dir() + "/mmoe/rows.jsonl";
  const std::string users = user_inputs_argument(read_json(fixtures_dir() + "/mmoe/meta.json"));
  const std::string int8 = convert_fixture("mmoe", "int8-addend", users + " --quantize int8 --calibration " + rows);
  CommandResult inspect = run(std::string(EDGEMTL_INSPECT) + " " + int8 + " --operators");
  REQUIRE(inspect.exit_code == 0);
  CHECK(inspect.out.find("(int8 static) (x + addend columns from 0, RELU)") != std::string::npos);
}

TEST_CASE("--int8-tables int4-codebook: edgemtl-inspect shows the codebook tables and their bytes") {
  // The rerank example's MMoE: two id tables large enough for a codebook (V > 341), two small ones
  // that stay UINT4_ROW_F16 (the 1 KB codebook would make them larger).
  const std::string dir = EDGEMTL_SOURCE_DIR "/examples/rerank";
  std::ifstream args_file(dir + "/models/mmoe.convert");
  std::string args;
  REQUIRE(std::getline(args_file, args));
  const std::string out = scratch_dir() + "/rerank_mmoe.int4c.emtl";
  std::string log;
  REQUIRE(run_converter(shell_quote(dir + "/models/mmoe.onnx") + " -o " + shell_quote(out) + " " + args +
                            " --quantize int8 --int8-tables int4-codebook --calibration " +
                            shell_quote(dir + "/data/requests.jsonl"),
                        &log) == 0);
  CommandResult inspect = run(std::string(EDGEMTL_INSPECT) + " " + out);
  REQUIRE(inspect.exit_code == 0);
  // [3001, 16]: 8 code bytes and one index byte a row, and the 1024-byte codebook.
  CHECK(inspect.out.find("UINT4_ROW_CODEBOOK [3001,16]") != std::string::npos);
  CHECK(inspect.out.find(std::to_string(3001 * 9 + 1024) + "  x0.146") != std::string::npos);
  CHECK(inspect.out.find("UINT4_ROW_CODEBOOK [2001,16]") != std::string::npos);
  CHECK(inspect.out.find("UINT4_ROW_F16      [21,8]") != std::string::npos);
}

TEST_CASE("edgemtl-convert --metadata: entries and options readable through the C API; none without it") {
  const nlohmann::json meta = read_json(fixtures_dir() + "/esmm/meta.json");
  const std::string users = user_inputs_argument(meta);
  const std::string tagged =
      convert_fixture("esmm", "metadata", users + " --metadata model_name=ranker,trained=2026-11-30 --quantize fp16");
  const std::string plain = convert_fixture("esmm", "no_metadata", users);
  emtl_model* model = nullptr;
  REQUIRE(emtl_model_load_file(tagged.c_str(), &model) == EMTL_OK);
  REQUIRE(emtl_model_num_metadata(model) == 3);
  const char *key = nullptr, *value = nullptr;
  REQUIRE(emtl_model_metadata(model, 0, &key, &value) == EMTL_OK);
  CHECK(std::string(key) == "model_name");
  CHECK(std::string(value) == "ranker");
  CHECK(std::string(emtl_model_find_metadata(model, "trained")) == "2026-11-30");
  const std::string options = emtl_model_find_metadata(model, "edgemtl.convert_options");
  CHECK(options.find("user_inputs=userId,userGender,userClickSeq,ctxFeatures") != std::string::npos);
  CHECK(options.find("quantize=fp16") != std::string::npos);
  CHECK(options.find("split=1") != std::string::npos);
  CHECK(emtl_model_format_version(model) == emtl_format_version());
  CHECK(std::string(emtl_model_producer(model)).rfind("edgemtl-convert", 0) == 0);
  emtl_model_free(model);

  REQUIRE(emtl_model_load_file(plain.c_str(), &model) == EMTL_OK);
  CHECK(emtl_model_num_metadata(model) == 0);
  CHECK(emtl_model_find_metadata(model, "edgemtl.convert_options") == nullptr);
  emtl_model_free(model);

  std::string log;
  CHECK(run_converter(fixtures_dir() + "/esmm/model.onnx -o " + scratch_dir() + "/never.emtl --metadata a=1,a=2", &log) == 1);
  CHECK(log.find("metadata key 'a' is given twice") != std::string::npos);
  CHECK(run_converter(fixtures_dir() + "/esmm/model.onnx -o " + scratch_dir() +
                          "/never.emtl --metadata edgemtl.convert_options=x", &log) == 1);
  CHECK(log.find("reserved") != std::string::npos);
}

}  // namespace
}  // namespace edgemtl::test

namespace edgemtl::test {
namespace {

// dynamic_list: exported with the list length dynamic, lists padded before the ids; rows.jsonl
// gives each list unpadded (0..10 ids).
TEST_CASE("edgemtl-run takes id lists of any length 0..L, padded on the model's side; longer ones are errors") {
  const std::string dir = fixtures_dir() + "/dynamic_list";
  const nlohmann::json meta = read_json(dir + "/meta.json");
  // Without --input-shape the error names the flag and the input.
  std::string log;
  CHECK(run_converter(shell_quote(dir + "/model.onnx") + " -o " + scratch_dir() + "/no_shape.emtl", &log) == 1);
  CHECK(log.find("dynamic dimension 1") != std::string::npos);
  CHECK(log.find("--input-shape recent_items=L") != std::string::npos);

  const std::string model = convert_fixture("dynamic_list", "tools", user_inputs_argument(meta));
  const std::vector<nlohmann::json> rows = read_jsonl(dir + "/rows.jsonl");
  const std::vector<nlohmann::json> expected = read_jsonl(dir + "/expected.jsonl");
  size_t short_lists = 0;
  for (const nlohmann::json& row : rows) short_lists += row["recent_items"].size() < 10;
  CHECK(short_lists > 8);
  CommandResult by_rows = run(std::string(EDGEMTL_RUN) + " " + model + " --rows " + dir + "/rows.jsonl");
  REQUIRE(by_rows.exit_code == 0);
  std::vector<nlohmann::json> scores = parse_lines(by_rows.out);
  REQUIRE(scores.size() == rows.size());
  for (size_t r = 0; r < rows.size(); ++r) check_scores(scores[r], expected[r]);
  CommandResult inspect = run(std::string(EDGEMTL_INSPECT) + " " + model);
  CHECK(inspect.out.find("(padded before the ids)") != std::string::npos);

  // 11 ids: an error naming the feature, unless converted with --keep-last-ids.
  nlohmann::json long_row = rows[8];
  nlohmann::json eleven = nlohmann::json::array({5});
  for (const auto& id : long_row["recent_items"]) eleven.push_back(id);
  while (eleven.size() < 11) eleven.insert(eleven.begin() + 1, 7);
  long_row["recent_items"] = eleven;
  const std::string long_path = scratch_dir() + "/long_list.jsonl";
  std::ofstream(long_path) << long_row.dump() << "\n";
  CommandResult refused = run_merged(std::string(EDGEMTL_RUN) + " " + model + " --rows " + long_path);
  CHECK(refused.exit_code != 0);
  CHECK(refused.out.find("feature 'recent_items' has a list of 11 ids, longer than its width 10") != std::string::npos);
  const std::string keeping = convert_fixture("dynamic_list", "keep-last", user_inputs_argument(meta) + " --keep-last-ids");
  CommandResult kept = run(std::string(EDGEMTL_RUN) + " " + keeping + " --rows " + long_path);
  REQUIRE(kept.exit_code == 0);
  // Scored as the row holding the last 10 of the 11 ids.
  nlohmann::json last_row = long_row;
  last_row["recent_items"] = nlohmann::json(std::vector<int64_t>(eleven.begin() + 1, eleven.end()));
  const std::string last_path = scratch_dir() + "/last_ten.jsonl";
  std::ofstream(last_path) << last_row.dump() << "\n";
  CommandResult last = run(std::string(EDGEMTL_RUN) + " " + model + " --rows " + last_path);
  REQUIRE(last.exit_code == 0);
  REQUIRE(parse_lines(kept.out).size() == 1);
  check_scores(parse_lines(kept.out)[0], parse_lines(last.out)[0]);
}

TEST_CASE("the C API (over the C++ Session) takes a one-row list of any length, and pad rows with emtl_model_pad_list") {
  const std::string dir = fixtures_dir() + "/dynamic_list";
  const nlohmann::json meta = read_json(dir + "/meta.json");
  const std::string path = convert_fixture("dynamic_list", "c-api", user_inputs_argument(meta));
  const std::vector<nlohmann::json> rows = read_jsonl(dir + "/rows.jsonl");
  const std::vector<nlohmann::json> expected = read_jsonl(dir + "/expected.jsonl");
  emtl_model* model = nullptr;
  REQUIRE(emtl_model_load_file(path.c_str(), &model) == EMTL_OK);
  emtl_session* session = nullptr;
  REQUIRE(emtl_session_create(model, nullptr, &session) == EMTL_OK);
  const int32_t user_id = emtl_model_find_feature(model, "user_id"), list = emtl_model_find_feature(model, "recent_items");
  emtl_feature_info info;
  info.struct_size = sizeof(info);
  REQUIRE(emtl_model_feature_info(model, static_cast<size_t>(list), &info) == EMTL_OK);
  CHECK(info.pad_before == 1);
  CHECK(info.keep_last_ids == 0);
  for (size_t r = 0; r < rows.size(); r += 8) {
    CAPTURE(r);
    const int64_t uid = rows[r]["user_id"].get<int64_t>();
    const std::vector<int64_t> ids = rows[r]["recent_items"].get<std::vector<int64_t>>();
    const emtl_feature_input user[] = {{user_id, &uid, nullptr, 1}, {list, ids.data(), nullptr, ids.size()}};
    REQUIRE(emtl_session_set_user(session, user, 2) == EMTL_OK);
    // Items: the three item features of rows r .. r + 7.
    std::vector<int64_t> item_ids, categories;
    std::vector<float> dense;
    for (size_t i = r; i < r + 8; ++i) {
      item_ids.push_back(rows[i]["item_id"].get<int64_t>());
      categories.push_back(rows[i]["item_category"].get<int64_t>());
      for (const auto& v : rows[i]["item_dense"]) dense.push_back(v.get<float>());
    }
    const emtl_feature_input items[] = {{emtl_model_find_feature(model, "item_id"), item_ids.data(), nullptr, 8},
                                        {emtl_model_find_feature(model, "item_category"), categories.data(), nullptr, 8},
                                        {emtl_model_find_feature(model, "item_dense"), nullptr, dense.data(), 24}};
    const float* scores = nullptr;
    REQUIRE(emtl_session_score(session, items, 3, 8, &scores) == EMTL_OK);
    for (size_t i = 0; i < 8; ++i) {
      CHECK(close_enough(scores[i * 2], expected[r + i]["ctr"].get<double>(), 1e-5));
      CHECK(close_enough(scores[i * 2 + 1], expected[r + i]["cvr"].get<double>(), 1e-5));
    }
    // emtl_model_pad_list writes the row the session would have padded.
    int64_t padded[10];
    REQUIRE(emtl_model_pad_list(model, list, ids.data(), ids.size(), padded) == EMTL_OK);
    for (size_t j = 0; j < 10; ++j)
      CHECK(padded[j] == (j < 10 - ids.size() ? 0 : ids[j - (10 - ids.size())]));
  }
  const std::vector<int64_t> eleven(11, 3);
  int64_t padded[10];
  CHECK(emtl_model_pad_list(model, list, eleven.data(), eleven.size(), padded) == EMTL_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(emtl_last_error_message()).find("feature 'recent_items' has a list of 11 ids") != std::string::npos);
  emtl_session_free(session);
  emtl_model_free(model);
}

TEST_CASE("--fix-input folds the position tower away; --outputs drops the training-only output; inspect shows both") {
  const std::string dir = fixtures_dir() + "/youtube";
  const nlohmann::json meta = read_json(dir + "/meta.json");
  const std::string model = convert_fixture("youtube", "tools", user_inputs_argument(meta));
  CommandResult inspect = run(std::string(EDGEMTL_INSPECT) + " " + model);
  REQUIRE(inspect.exit_code == 0);
  CHECK(inspect.out.find("fixed inputs (folded to constants): position=0") != std::string::npos);
  CHECK(inspect.out.find("outputs kept (the others pruned): scores") != std::string::npos);
  CHECK(inspect.out.find("position_bias") == std::string::npos);
  CHECK(inspect.out.find("features: 6") != std::string::npos);  // 7 inputs, the position fixed
  CHECK(inspect.out.find(" position ") == std::string::npos);
  // Without the flags: the position is a feature and position_bias an output (a task).
  const std::string full = scratch_dir() + "/youtube.unpruned.emtl";
  std::string log;
  REQUIRE(run_converter(shell_quote(dir + "/model.onnx") + " -o " + full, &log) == 0);
  CommandResult unpruned = run(std::string(EDGEMTL_INSPECT) + " " + full);
  CHECK(unpruned.out.find("features: 7") != std::string::npos);
  CHECK(unpruned.out.find("position_bias") != std::string::npos);
  CHECK(unpruned.out.find("metadata") == std::string::npos);
  // Unknown names are errors naming the flag.
  CHECK(run_converter(shell_quote(dir + "/model.onnx") + " -o " + full + " --fix-input place=0", &log) == 1);
  CHECK(log.find("--fix-input names 'place', which is not a model input") != std::string::npos);
  CHECK(run_converter(shell_quote(dir + "/model.onnx") + " -o " + full + " --outputs score", &log) == 1);
  CHECK(log.find("--outputs names 'score', which is not a model output") != std::string::npos);
}

}  // namespace
}  // namespace edgemtl::test
