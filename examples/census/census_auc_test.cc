// ctest census_auc: converts the committed MMoE and PLE ONNX models with
// edgemtl-convert, scores the real test split with census-eval and checks the
// AUCs: above the targets, and within 0.001 of PyTorch's (models/pytorch_auc.json).
// Exits with kSkipped (the test's SKIP_RETURN_CODE) when the data file is absent.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "census_test_util.h"

namespace {

using namespace census_test;

constexpr double kMaxDifference = 0.001;

struct Target {
  const char* task;
  double min_auc;
};
constexpr Target kTargets[] = {{"income", 0.92}, {"never_married", 0.98}};

// Converts and evaluates one model; false (after printing why) on any failure.
bool check_model(const std::string& name, const std::string& data, const nlohmann::json& pytorch) {
  const std::string model = kOutDir + "/" + name + ".emtl";
  nlohmann::json auc;
  if (!convert_committed(name, model) || !evaluate(model, data, &auc)) return false;
  bool ok = true;
  for (const Target& target : kTargets) {
    const nlohmann::json& measured = auc[target.task];
    const nlohmann::json& reference = pytorch["auc"][name][target.task];
    if (!measured.is_number() || !reference.is_number()) {
      std::printf("FAIL %s %s: AUC missing (edgemtl %s, PyTorch %s)\n", name.c_str(), target.task,
                  measured.dump().c_str(), reference.dump().c_str());
      ok = false;
      continue;
    }
    double edgemtl = measured.get<double>(), torch = reference.get<double>();
    bool good = edgemtl >= target.min_auc && std::fabs(edgemtl - torch) < kMaxDifference;
    std::printf("%s %s %s: edgemtl %.6f, PyTorch %.6f (|diff| %.6f < %.3f), target >= %.2f\n", good ? "ok  " : "FAIL",
                name.c_str(), target.task, edgemtl, torch, std::fabs(edgemtl - torch), kMaxDifference,
                target.min_auc);
    ok = ok && good;
  }
  return ok;
}

}  // namespace

int main() {
  const std::string data = EDGEMTL_CENSUS_DATA;
  if (!data_present(data)) return kSkipped;
  nlohmann::json pytorch;
  if (!read_json(kDir + "/models/pytorch_auc.json", &pytorch)) {
    std::printf("FAIL: cannot read models/pytorch_auc.json\n");
    return 1;
  }
  std::filesystem::create_directories(kOutDir);
  bool ok = true;
  for (const char* name : {"mmoe", "ple"}) ok = check_model(name, data, pytorch) && ok;
  std::printf(ok ? "census_auc: all checks passed\n" : "census_auc: FAILED\n");
  return ok ? 0 : 1;
}
