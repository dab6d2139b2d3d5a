// Bounded resources through the tools, as an attacker would feed them
// (issue 13): deep nesting, a million items on one line, a line over the
// limit, a huge id list echoed in an error, a model file over the limit.
// Each is answered with an error line (the tool goes on with the next line)
// within seconds, never a crash.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/fixture_util.h"

namespace edgemtl::test {
namespace {

const char* kFixture = "esmm";  // user features, an id list (userClickSeq)

// Seconds any one of these commands may take: far more than they need (well
// under a second each in a release build), room for the sanitizer builds on a
// loaded machine, far less than an unbounded parse would.
constexpr double kSecondsBudget = 60;

struct ToolResult {
  int exit_code;
  std::string out, err;
  double seconds;
};

ToolResult run_tool(const std::string& command) {
  const std::string out_path = scratch_dir() + "/limits.out", err_path = scratch_dir() + "/limits.err";
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system((command + " > " + out_path + " 2> " + err_path).c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  };
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out_path), slurp(err_path), seconds};
}

std::string model_path() {
  return convert_fixture(kFixture, "limits", user_inputs_argument(read_json(fixtures_dir() + "/" + kFixture + "/meta.json")));
}

// A valid request of the fixture: its first row's user features and two items.
nlohmann::json valid_request() {
  const nlohmann::json meta = read_json(fixtures_dir() + "/" + kFixture + "/meta.json");
  nlohmann::json row = read_jsonl(fixtures_dir() + "/" + kFixture + "/rows.jsonl").at(0);
  nlohmann::json request = {{"user", nlohmann::json::object()}, {"items", nlohmann::json::array()}};
  for (const auto& key : meta["user_inputs"]) {
    request["user"][key.get<std::string>()] = row[key.get<std::string>()];
    row.erase(key.get<std::string>());
  }
  request["items"].push_back(row);
  request["items"].push_back(row);
  return request;
}

std::string write_lines(const std::string& name, const std::vector<std::string>& lines) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// edgemtl-run on `lines` (requests): every line answered, the bad ones with
// an error; returns the output lines.
std::vector<std::string> run_requests(const std::vector<std::string>& lines, const std::string& options = "",
                                      ToolResult* result_out = nullptr) {
  const std::string path = write_lines("limits.jsonl", lines);
  ToolResult result = run_tool(std::string(EDGEMTL_RUN) + " " + model_path() + " --requests " + path + " " + options);
  INFO(result.err.substr(0, 2000));
  CHECK(result.seconds < kSecondsBudget);
  CHECK(result.exit_code == 1);  // a line could not be scored; nothing crashed
  std::vector<std::string> out = split_lines(result.out);
  CHECK(out.size() == lines.size());
  if (result_out) *result_out = result;
  return out;
}

std::string error_of(const std::string& line) {
  const nlohmann::json answer = nlohmann::json::parse(line);
  REQUIRE(answer.contains("error"));
  return answer["error"].get<std::string>();
}

TEST_CASE("edgemtl-run: a user object nested 100,000 deep is refused, and the next line scored") {
  const std::string valid = valid_request().dump();
  std::string deep = "{\"user\": ";
  for (int i = 0; i < 100000; ++i) deep += "{\"a\": ";
  deep += "1" + std::string(100000, '}') + ", \"items\": [{}]}";
  const std::vector<std::string> out = run_requests({deep, valid, "[" + std::string(100000, '[') + "]"});
  REQUIRE(out.size() == 3);
  CHECK(error_of(out[0]) == "JSON nested deeper than 16 levels");
  CHECK(nlohmann::json::parse(out[1]).contains("scores"));
  CHECK(error_of(out[2]) == "JSON nested deeper than 16 levels");

  // --max-depth: the same valid request (3 or 4 deep) refused at 2, scored at 4.
  CHECK(error_of(run_requests({valid, deep}, "--max-depth 2")[0]) == "JSON nested deeper than 2 levels");
  CHECK(nlohmann::json::parse(run_requests({valid, deep}, "--max-depth 4")[0]).contains("scores"));
}

TEST_CASE("edgemtl-run: 10^6 items on one line are refused before they are parsed") {
  nlohmann::json request = valid_request();
  // {} items keep the line (4 MB) under the line limit: the item count refuses it.
  std::string line = "{\"user\": " + request["user"].dump() + ", \"items\": [";
  for (int i = 0; i < 1000000; ++i) line += i ? ", {}" : "{}";
  line += "]}";
  ToolResult result;
  const std::vector<std::string> out = run_requests({line, request.dump()}, "", &result);
  REQUIRE(out.size() == 2);
  CHECK(error_of(out[0]) == "request has 1000000 items, more than the limit of 100000");
  CHECK(nlohmann::json::parse(out[1]).contains("scores"));
  CHECK(result.seconds < 15);

  // --max-request-items: a two-item request over a limit of 1.
  CHECK(error_of(run_requests({request.dump()}, "--max-request-items 1")[0]) ==
        "request has 2 items, more than the limit of 1");
}

TEST_CASE("edgemtl-run: a line over --max-line-bytes is skipped without being held, the next one scored") {
  const std::string valid = valid_request().dump();
  const std::string long_line = "{\"user\": {}, \"items\": [{\"pad\": \"" + std::string(200000, 'x') + "\"}]}";
  const std::vector<std::string> out = run_requests({long_line, valid}, "--max-line-bytes 100000");
  REQUIRE(out.size() == 2);
  CHECK(error_of(out[0]) == "line longer than 100000 bytes");
  CHECK(nlohmann::json::parse(out[1]).contains("scores"));
  // The default (64 MiB) takes the same line.
  CHECK(run_requests({long_line, valid})[0].find("longer than") == std::string::npos);

  ToolResult bad = run_tool(std::string(EDGEMTL_RUN) + " " + model_path() + " --requests - --max-line-bytes 0 < /dev/null");
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--max-line-bytes 0: must be an integer >= 1") != std::string::npos);
}

TEST_CASE("edgemtl-run: an error echoes at most a short excerpt of a huge id list") {
  nlohmann::json request = valid_request();
  nlohmann::json ids = nlohmann::json::array();
  for (int i = 0; i < 200000; ++i) ids.push_back(i);  // a 1.3 MB list
  request["user"]["userId"] = ids;  // an id feature: one id, not a list
  ToolResult result;
  const std::vector<std::string> out = run_requests({request.dump()}, "", &result);
  REQUIRE(out.size() == 1);
  const std::string error = error_of(out[0]);
  INFO(error);
  CHECK(error.find("userId") != std::string::npos);
  CHECK(error.size() < 300);
  CHECK(out[0].size() < 400);
  CHECK(result.err.size() < 400);
}

TEST_CASE("edgemtl-run: an id above INT64_MAX is refused as such, not wrapped to a negative id") {
  nlohmann::json request = valid_request();
  request["items"][0]["itemId"] = 0;
  std::string line = request.dump();
  const std::string marker = "\"itemId\":0";
  REQUIRE(line.find(marker) != std::string::npos);
  line.replace(line.find(marker), marker.size(), "\"itemId\":9223372036854775808");
  const std::string error = error_of(run_requests({line})[0]);
  CHECK(error == "item 0: feature 'itemId': id 9223372036854775808 is larger than any table");
}

TEST_CASE("edgemtl-run and edgemtl-inspect refuse a model file over --max-model-bytes") {
  const std::string model = model_path();
  const long size = static_cast<long>(read_file(model).size());
  const std::string requests = write_lines("limits_model.jsonl", {valid_request().dump()});
  ToolResult refused = run_tool(std::string(EDGEMTL_RUN) + " " + model + " --requests " + requests +
                                " --max-model-bytes " + std::to_string(size - 1));
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("model file is " + std::to_string(size) + " bytes, more than the limit of " +
                         std::to_string(size - 1) + " bytes") != std::string::npos);
  ToolResult accepted = run_tool(std::string(EDGEMTL_RUN) + " " + model + " --requests " + requests +
                                 " --max-model-bytes " + std::to_string(size));
  CHECK(accepted.exit_code == 0);
  ToolResult inspect = run_tool(std::string(EDGEMTL_INSPECT) + " " + model + " --max-model-bytes 100");
  CHECK(inspect.exit_code == 1);
  CHECK(inspect.err.find("more than the limit of 100 bytes") != std::string::npos);
}

TEST_CASE("edgemtl-convert --calibration: deeply nested JSON is an error, not a crash") {
  const std::string dir = fixtures_dir() + "/" + kFixture;
  const nlohmann::json meta = read_json(dir + "/meta.json");
  std::string deep_user;
  for (int i = 0; i < 100000; ++i) deep_user += "{\"a\": ";
  deep_user += "1" + std::string(100000, '}');
  for (const std::string& line : {"{\"user\": " + deep_user + ", \"items\": [{}]}", std::string(100000, '[')}) {
    const std::string calibration = write_lines("limits_calibration.jsonl", {line});
    std::string log;
    const auto start = std::chrono::steady_clock::now();
    const int code = run_converter(shell_quote(dir + "/model.onnx") + " -o " + scratch_dir() + "/limits.int8.emtl " +
                                       user_inputs_argument(meta) + " --quantize int8 --calibration " + calibration,
                                   &log);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < kSecondsBudget);
    INFO(log.substr(0, 2000));
    CHECK(code == 1);
    CHECK(log.find("JSON nested deeper than 16 levels") != std::string::npos);
  }
}

}  // namespace
}  // namespace edgemtl::test
