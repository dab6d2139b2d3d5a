// Helpers shared by the end-to-end tests: fixture files, running the
// converter binary, and reading JSONL.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgemtl::test {

/// One committed PyTorch fixture: tests/fixtures/NAME/{meta.json, rows.jsonl, expected.jsonl}.
struct Fixture {
  std::string name;
  nlohmann::json meta;
  std::vector<nlohmann::json> rows;
  std::vector<nlohmann::json> expected;  ///< PyTorch's {task: score} per row
  /// Row indices grouped by identical user-side values: one group per user.
  std::vector<std::vector<size_t>> users;
};
/// Reads fixture `name` (fails the test when its files are inconsistent).
Fixture load_fixture(const std::string& name);

/// Folder of the committed PyTorch fixtures (tests/fixtures).
std::string fixtures_dir();
/// A scratch folder in the build tree for converted models.
std::string scratch_dir();
/// Names of the fixture folders that hold a model.onnx, sorted.
std::vector<std::string> fixture_names();
/// Parses every non-empty line of a JSONL file (fails the test on error).
std::vector<nlohmann::json> read_jsonl(const std::string& path);
/// Reads a whole JSON file.
nlohmann::json read_json(const std::string& path);
/// `text` as one POSIX shell word (feature names may hold spaces).
std::string shell_quote(const std::string& text);
/// Comma-joined `user_inputs` of a fixture's meta.json, shell-quoted, or "" when it has none.
std::string user_inputs_argument(const nlohmann::json& meta);
/// The fixture's own edgemtl-convert flags (meta.json `convert_flags`: --input-shape,
/// --fix-input, --outputs, --list-padding), or "".
std::string convert_flags(const nlohmann::json& meta);
/// Converts tests/fixtures/NAME/model.onnx with its meta.json task names and
/// its convert_flags and `extra_args` (e.g. user_inputs_argument(meta)) into the scratch folder as
/// NAME.VARIANT.emtl; fails the test, with the converter's log, if it fails.
std::string convert_fixture(const std::string& name, const std::string& variant, const std::string& extra_args);
/// Runs edgemtl-convert with `args`; returns its exit code, stderr in `log`.
int run_converter(const std::string& args, std::string* log);
/// Whole file as bytes.
std::vector<char> read_file(const std::string& path);
void write_file(const std::string& path, const std::vector<char>& bytes);

/// |actual - expected| <= tolerance, relative for |expected| > 1.
inline bool close_enough(double actual, double expected, double tolerance) {
  double scale = expected > 1.0 || expected < -1.0 ? (expected < 0 ? -expected : expected) : 1.0;
  double diff = actual - expected;
  return (diff < 0 ? -diff : diff) <= tolerance * scale;
}

}  // namespace edgemtl::test
