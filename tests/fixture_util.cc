#include "tests/fixture_util.h"

#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgemtl::test {

std::string fixtures_dir() { return EDGEMTL_SOURCE_DIR "/tests/fixtures"; }

std::string scratch_dir() {
  std::string dir = EDGEMTL_BINARY_DIR "/tests/scratch";
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures_dir())) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "model.onnx"))
      names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Fixture load_fixture(const std::string& name) {
  Fixture fixture;
  fixture.name = name;
  std::string dir = fixtures_dir() + "/" + name;
  fixture.meta = read_json(dir + "/meta.json");
  fixture.rows = read_jsonl(dir + "/rows.jsonl");
  fixture.expected = read_jsonl(dir + "/expected.jsonl");
  REQUIRE(fixture.rows.size() == fixture.expected.size());
  nlohmann::json previous;
  for (size_t r = 0; r < fixture.rows.size(); ++r) {
    nlohmann::json user = nlohmann::json::object();
    for (const auto& key : fixture.meta["user_inputs"]) user[key.get<std::string>()] = fixture.rows[r][key.get<std::string>()];
    if (r == 0 || user != previous) fixture.users.emplace_back();
    fixture.users.back().push_back(r);
    previous = user;
  }
  return fixture;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return nlohmann::json::parse(in);
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string user_inputs_argument(const nlohmann::json& meta) {
  std::string joined;
  for (const auto& key : meta["user_inputs"]) joined += (joined.empty() ? "" : ",") + key.get<std::string>();
  return joined.empty() ? "" : "--user-inputs " + shell_quote(joined);
}

std::string convert_flags(const nlohmann::json& meta) { return meta.value("convert_flags", std::string()); }

int run_converter(const std::string& args, std::string* log) {
  // One log per test process: ctest -j runs several test binaries at once.
  std::string log_path = scratch_dir() + "/convert." + std::to_string(getpid()) + ".log";
  std::string command = std::string(EDGEMTL_CONVERT) + " " + args + " > " + log_path + " 2>&1";
  int status = std::system(command.c_str());
  if (log != nullptr) {
    std::ifstream in(log_path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    *log = buffer.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string convert_fixture(const std::string& name, const std::string& variant, const std::string& extra_args) {
  const std::string dir = fixtures_dir() + "/" + name;
  const nlohmann::json meta = read_json(dir + "/meta.json");
  const std::string out = scratch_dir() + "/" + name + "." + variant + ".emtl";
  const std::string args = shell_quote(dir + "/model.onnx") + " -o " + shell_quote(out) + " --tasks " +
                           shell_quote(meta["tasks"].get<std::string>()) + " " + convert_flags(meta) + " " + extra_args;
  std::string log;
  const int code = run_converter(args, &log);
  INFO("edgemtl-convert " << args << "\n" << log);
  REQUIRE(code == 0);
  return out;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace edgemtl::test
