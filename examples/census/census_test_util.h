// Shared steps of the census ctests (census_auc, census_quantized): run a
// command, read JSON, convert a committed model, score it with census-eval.
// Header-only; each test is its own small program.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace census_test {

constexpr int kSkipped = 77;  // the tests' SKIP_RETURN_CODE: the data file is absent
inline const std::string kDir = EDGEMTL_SOURCE_DIR "/examples/census";
inline const std::string kOutDir = EDGEMTL_BINARY_DIR "/examples/census";

inline bool run(const std::string& command) {
  std::printf("$ %s\n", command.c_str());
  std::fflush(stdout);
  return std::system(command.c_str()) == 0;
}

inline bool read_json(const std::string& path, nlohmann::json* out) {
  std::ifstream file(path);
  if (!file) return false;
  *out = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

/// Converts models/NAME.onnx with the arguments in models/NAME.convert into
/// `out`; false (after printing why) on failure.
inline bool convert_committed(const std::string& name, const std::string& out) {
  std::ifstream args_file(kDir + "/models/" + name + ".convert");
  std::string args;
  if (!args_file || !std::getline(args_file, args)) {
    std::printf("FAIL %s: cannot read models/%s.convert\n", name.c_str(), name.c_str());
    return false;
  }
  if (!run(std::string(EDGEMTL_CONVERT) + " " + kDir + "/models/" + name + ".onnx -o " + out + " " + args + " > " + out +
           ".log 2>&1")) {
    std::printf("FAIL %s: conversion failed, see %s.log\n", name.c_str(), out.c_str());
    return false;
  }
  return true;
}

/// Scores the test split of `data` with `model` through census-eval; `auc`
/// gets {task: AUC}, and each row's scores go to `scores_path` when given
/// (census-eval --scores). Results go to the build tree, also for committed models.
inline bool evaluate(const std::string& model, const std::string& data, nlohmann::json* auc,
                     const std::string& scores_path = "") {
  const std::string result_path = kOutDir + "/" + std::filesystem::path(model).filename().string() + ".auc.json";
  nlohmann::json result;
  if (!run(std::string(CENSUS_EVAL) + " " + model + " --data " + data + " --preprocessing " + kDir +
           "/preprocessing.json --json" + (scores_path.empty() ? "" : " --scores " + scores_path) + " > " +
           result_path) ||
      !read_json(result_path, &result) || !result.contains("auc")) {
    std::printf("FAIL: census-eval failed on %s\n", model.c_str());
    return false;
  }
  *auc = result["auc"];
  return true;
}

/// The data file, or a printed SKIPPED line and false when it is absent.
inline bool data_present(const std::string& data) {
  if (std::filesystem::exists(data)) return true;
  std::printf("SKIPPED: %s not found (the Census-Income data is not part of the repository)\n", data.c_str());
  return false;
}

}  // namespace census_test
