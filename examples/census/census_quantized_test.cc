// ctest census_quantized: the accuracy gate of quantisation on the real data.
// Converts the committed MMoE and PLE ONNX models to f32 and scores the test
// split with census-eval next to the committed quantised models
// (models/NAME.int8.emtl, models/NAME.fp16.emtl, made by quantize.sh): every
// task's AUC must be within 0.001 of f32 for int8 and within 0.0002 for fp16.
// Sizes against the f32 file: the weight segment and the whole file must be
// <= 0.30x (int8) and <= 0.52x (fp16).
// Exits with kSkipped (the test's SKIP_RETURN_CODE) when the data file is absent.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "census_test_util.h"
#include "schema/edgemtl_generated.h"

namespace {

using namespace census_test;

struct Variant {
  const char* suffix;
  double max_auc_difference;
  double max_weight_ratio;  // weight segment against f32's
  double max_file_ratio;    // whole file against the f32 file
};
constexpr Variant kVariants[] = {{"int8", 0.001, 0.30, 0.30}, {"fp16", 0.0002, 0.52, 0.52}};

struct Sizes {
  size_t file = 0, weights = 0;
};

// File size and the bytes of all constant buffers (the weight segment without padding).
bool sizes_of(const std::string& path, Sizes* sizes) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (bytes.empty() || !edgemtl::schema::VerifyModelBuffer(verifier)) return false;
  sizes->file = bytes.size();
  const auto* buffers = edgemtl::schema::GetModel(bytes.data())->buffers();
  if (buffers)
    for (const edgemtl::schema::Buffer* b : *buffers) sizes->weights += b->size();
  return true;
}

bool check_model(const std::string& name, const std::string& data) {
  const std::string f32 = kOutDir + "/" + name + ".quantized-reference.emtl";
  if (!convert_committed(name, f32)) return false;
  nlohmann::json f32_auc;
  Sizes f32_sizes;
  if (!evaluate(f32, data, &f32_auc) || !sizes_of(f32, &f32_sizes)) return false;
  bool ok = true;
  for (const Variant& variant : kVariants) {
    const std::string model = kDir + "/models/" + name + "." + variant.suffix + ".emtl";
    nlohmann::json auc;
    Sizes sizes;
    if (!sizes_of(model, &sizes)) {
      std::printf("FAIL %s %s: %s is missing or not a model (regenerate: examples/census/quantize.sh)\n",
                  name.c_str(), variant.suffix, model.c_str());
      ok = false;
      continue;
    }
    if (!evaluate(model, data, &auc)) {
      ok = false;
      continue;
    }
    for (const auto& [task, reference] : f32_auc.items()) {
      if (!auc.contains(task) || !auc[task].is_number() || !reference.is_number()) {
        std::printf("FAIL %s %s %s: AUC missing\n", name.c_str(), variant.suffix, task.c_str());
        ok = false;
        continue;
      }
      const double difference = std::fabs(auc[task].get<double>() - reference.get<double>());
      const bool good = difference <= variant.max_auc_difference;
      std::printf("%s %s %s %s: AUC %.6f, f32 %.6f (|diff| %.6f <= %g)\n", good ? "ok  " : "FAIL", name.c_str(),
                  variant.suffix, task.c_str(), auc[task].get<double>(), reference.get<double>(), difference,
                  variant.max_auc_difference);
      ok = ok && good;
    }
    const double weight_ratio = double(sizes.weights) / double(f32_sizes.weights);
    const double file_ratio = double(sizes.file) / double(f32_sizes.file);
    const bool small = weight_ratio <= variant.max_weight_ratio && file_ratio <= variant.max_file_ratio;
    std::printf("%s %s %s size: weights %zu / %zu bytes = x%.3f (<= %.2f); file %zu / %zu bytes = x%.4f (<= %.2f)\n",
                small ? "ok  " : "FAIL", name.c_str(), variant.suffix, sizes.weights, f32_sizes.weights, weight_ratio,
                variant.max_weight_ratio, sizes.file, f32_sizes.file, file_ratio, variant.max_file_ratio);
    ok = ok && small;
  }
  return ok;
}

}  // namespace

int main() {
  const std::string data = EDGEMTL_CENSUS_DATA;
  if (!data_present(data)) return kSkipped;
  std::filesystem::create_directories(kOutDir);
  bool ok = true;
  for (const char* name : {"mmoe", "ple"}) ok = check_model(name, data) && ok;
  std::printf(ok ? "census_quantized: all checks passed\n" : "census_quantized: FAILED\n");
  return ok ? 0 : 1;
}
