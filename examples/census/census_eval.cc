// census-eval: scores the test split of the Census-Income data with an edgemtl
// model (preprocessed exactly as in training, by preprocessing.json) and prints
// each task's AUC.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/census/census_data.h"
#include "runtime/executor/session.h"

namespace {

using edgemtl::census::EncodedRows;
using edgemtl::census::Preprocessing;
using edgemtl::census::Split;

constexpr const char* kUsage =
    "usage: census-eval MODEL.emtl --data census-income.test.gz --preprocessing preprocessing.json [options]\n"
    "\n"
    "  --split S       train, validation or test (default test)\n"
    "  --batch N       rows per Session::score call (default 256)\n"
    "  --json          print {\"model\", \"split\", \"rows\", \"auc\": {task: AUC}} instead of a table\n"
    "  --scores FILE   also write one line per scored row: file row index, then the task scores\n"
    "  --memory        print the resident memory (VmRSS) before loading the model and after the first\n"
    "                  scored request (to stderr)\n"
    "  --write-rows N FILE  instead of scoring: write the split's first N rows (all with N = 0) as\n"
    "                  edgemtl-run rows JSONL with a \"labels\" object, for edgemtl-convert --calibration /\n"
    "                  --validate (MODEL is then not needed; keep FILE out of the repository)\n"
    "\n"
    "Every model input must be a categorical column of preprocessing.json (an id)\n"
    "or its packed numeric input; all of them are item-side features.\n";

struct Options {
  std::string model, data, preprocessing, scores_path, rows_path;
  size_t write_rows = 0;
  bool memory = false;
  Split split = Split::kTest;
  size_t batch = 256;
  bool json = false;
};

bool parse_options(int argc, char** argv, Options* options, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    std::string text;
    if (arg == "--data") {
      if (!value(&options->data)) return false;
    } else if (arg == "--preprocessing") {
      if (!value(&options->preprocessing)) return false;
    } else if (arg == "--scores") {
      if (!value(&options->scores_path)) return false;
    } else if (arg == "--write-rows") {
      if (!value(&text) || !value(&options->rows_path)) return false;
      char* end = nullptr;
      long long n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || n < 0) {
        *error = "--write-rows: '" + text + "' is not a row count >= 0";
        return false;
      }
      options->write_rows = static_cast<size_t>(n);
    } else if (arg == "--memory") {
      options->memory = true;
    } else if (arg == "--json") {
      options->json = true;
    } else if (arg == "--split") {
      if (!value(&text)) return false;
      if (text == "train") options->split = Split::kTrain;
      else if (text == "validation") options->split = Split::kValidation;
      else if (text == "test") options->split = Split::kTest;
      else {
        *error = "--split: '" + text + "' is not train, validation or test";
        return false;
      }
    } else if (arg == "--batch") {
      if (!value(&text)) return false;
      char* end = nullptr;
      long long n = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || n < 1 || n > 65536) {
        *error = "--batch: '" + text + "' is not a number in [1, 65536]";
        return false;
      }
      options->batch = static_cast<size_t>(n);
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!arg.empty() && arg[0] == '-') {
      *error = "unknown option " + arg;
      return false;
    } else if (options->model.empty()) {
      options->model = arg;
    } else {
      *error = "more than one model given";
      return false;
    }
  }
  if ((options->model.empty() && options->rows_path.empty()) || options->data.empty() ||
      options->preprocessing.empty()) {
    *error = "MODEL, --data and --preprocessing are required";
    return false;
  }
  return true;
}

// Where each model feature's values come from.
struct FeatureSource {
  int32_t feature;
  int categorical = -1;  // index into Preprocessing::categorical, or -1 for the numeric input
};

bool map_features(const edgemtl::Model& model, const Preprocessing& preprocessing,
                  std::vector<FeatureSource>* sources, std::string* error) {
  for (size_t f = 0; f < model.num_features(); ++f) {
    edgemtl::FeatureInfo info = model.feature(f);
    std::string name = info.name;
    if (info.side != edgemtl::Side::kItem) {
      *error = "feature '" + name + "' is user-side; convert without --user-inputs (census rows have no user/item split)";
      return false;
    }
    FeatureSource source{static_cast<int32_t>(f)};
    if (name == preprocessing.numeric_input) {
      if (info.kind != edgemtl::FeatureKind::kDense ||
          info.width != static_cast<int64_t>(preprocessing.numeric.size())) {
        *error = "feature '" + name + "' should be dense with width " + std::to_string(preprocessing.numeric.size());
        return false;
      }
    } else {
      for (size_t k = 0; k < preprocessing.categorical.size(); ++k)
        if (preprocessing.categorical[k].name == name) source.categorical = static_cast<int>(k);
      if (source.categorical < 0) {
        *error = "model feature '" + name + "' is neither a categorical column nor '" + preprocessing.numeric_input + "'";
        return false;
      }
      const auto& column = preprocessing.categorical[source.categorical];
      if (info.kind != edgemtl::FeatureKind::kId || info.table_size < column.table_size) {
        *error = "feature '" + name + "' should be an id with a table of at least " + std::to_string(column.table_size) +
                 " rows (the vocabulary's size)";
        return false;
      }
    }
    sources->push_back(source);
  }
  return true;
}

// VmRSS of this process in KB, or -1.
long resident_kb() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), status) != nullptr)
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  std::fclose(status);
  return kb;
}

// One JSON object per row: every categorical column's id, the packed numeric
// input, and "labels" {task: 0/1} (read by edgemtl-convert --validate).
bool write_rows_jsonl(const Preprocessing& preprocessing, const EncodedRows& rows, size_t count,
                      const std::string& path, std::string* error) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) {
    *error = "cannot write " + path;
    return false;
  }
  const size_t width = preprocessing.numeric.size();
  const size_t n = count == 0 ? rows.rows : std::min(count, rows.rows);
  for (size_t i = 0; i < n; ++i) {
    std::string line = "{";
    for (size_t k = 0; k < preprocessing.categorical.size(); ++k)
      line += nlohmann::json(preprocessing.categorical[k].name).dump() + ": " + std::to_string(rows.ids[k][i]) + ", ";
    line += nlohmann::json(preprocessing.numeric_input).dump() + ": [";
    char number[32];
    for (size_t j = 0; j < width; ++j) {
      std::snprintf(number, sizeof(number), "%s%.9g", j ? ", " : "", rows.numeric[i * width + j]);
      line += number;
    }
    line += "], \"labels\": {";
    for (size_t k = 0; k < preprocessing.labels.size(); ++k)
      line += (k ? ", " : "") + nlohmann::json(preprocessing.labels[k].task).dump() + ": " +
              std::to_string(rows.labels[k][i]);
    line += "}}\n";
    std::fputs(line.c_str(), out);
  }
  const bool ok = std::fclose(out) == 0;
  if (!ok) *error = "error writing " + path;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::string error;
  if (!parse_options(argc, argv, &options, &error)) {
    std::fprintf(stderr, "census-eval: %s\n\n%s", error.c_str(), kUsage);
    return 2;
  }
  Preprocessing preprocessing;
  if (!edgemtl::census::load_preprocessing(options.preprocessing, &preprocessing, &error)) {
    std::fprintf(stderr, "census-eval: %s\n", error.c_str());
    return 1;
  }
  EncodedRows rows;
  if (!edgemtl::census::read_rows(options.data, preprocessing, options.split, /*all_splits=*/false, &rows, &error)) {
    std::fprintf(stderr, "census-eval: %s\n", error.c_str());
    return 1;
  }
  if (rows.rows == 0) {
    std::fprintf(stderr, "census-eval: %s: no rows in the %s split\n", options.data.c_str(),
                 edgemtl::census::split_name(options.split));
    return 1;
  }

  if (!options.rows_path.empty()) {
    if (!write_rows_jsonl(preprocessing, rows, options.write_rows, options.rows_path, &error)) {
      std::fprintf(stderr, "census-eval: %s\n", error.c_str());
      return 1;
    }
    return 0;
  }
  const long resident_before_model = resident_kb();
  auto model = edgemtl::Model::load_file(options.model.c_str());
  if (!model.ok()) {
    std::fprintf(stderr, "census-eval: %s: %s\n", options.model.c_str(), model.status().message());
    return 1;
  }
  std::vector<FeatureSource> sources;
  if (!map_features(**model, preprocessing, &sources, &error)) {
    std::fprintf(stderr, "census-eval: %s: %s\n", options.model.c_str(), error.c_str());
    return 1;
  }
  const size_t num_tasks = (*model)->num_tasks();
  std::vector<size_t> task_of_label;
  for (const auto& label : preprocessing.labels) {
    int task = (*model)->find_task(label.task.c_str());
    if (task < 0) {
      std::fprintf(stderr, "census-eval: %s has no task '%s'\n", options.model.c_str(), label.task.c_str());
      return 1;
    }
    task_of_label.push_back(static_cast<size_t>(task));
  }

  edgemtl::SessionOptions session_options;
  session_options.max_items = options.batch;
  auto session = edgemtl::Session::create(**model, session_options);
  if (!session.ok()) {
    std::fprintf(stderr, "census-eval: %s\n", session.status().message());
    return 1;
  }
  const size_t width = preprocessing.numeric.size();
  std::vector<std::vector<float>> task_scores(num_tasks, std::vector<float>(rows.rows));
  std::vector<edgemtl::FeatureInput> inputs(sources.size());
  for (size_t begin = 0; begin < rows.rows; begin += options.batch) {
    size_t n = std::min(options.batch, rows.rows - begin);
    for (size_t f = 0; f < sources.size(); ++f) {
      edgemtl::FeatureInput& input = inputs[f];
      input.feature = sources[f].feature;
      if (sources[f].categorical >= 0) {
        input.ids = rows.ids[sources[f].categorical].data() + begin;
        input.count = n;
      } else {
        input.values = rows.numeric.data() + begin * width;
        input.count = n * width;
      }
    }
    auto scores = (*session)->score(edgemtl::Span<const edgemtl::FeatureInput>(inputs.data(), inputs.size()), n);
    if (!scores.ok()) {
      std::fprintf(stderr, "census-eval: rows %zu..%zu: %s\n", begin, begin + n - 1, scores.status().message());
      return 1;
    }
    for (size_t i = 0; i < n; ++i)
      for (size_t t = 0; t < num_tasks; ++t) task_scores[t][begin + i] = (*scores)[i * num_tasks + t];
    if (begin == 0 && options.memory)
      std::fprintf(stderr, "memory: resident %ld KB before loading the model, %ld KB after load + one scored request "
                   "of %zu rows (+%ld KB)\n", resident_before_model, resident_kb(), n,
                   resident_kb() - resident_before_model);
  }

  if (!options.scores_path.empty()) {
    std::FILE* out = std::fopen(options.scores_path.c_str(), "w");
    if (out == nullptr) {
      std::fprintf(stderr, "census-eval: cannot write %s\n", options.scores_path.c_str());
      return 1;
    }
    for (size_t i = 0; i < rows.rows; ++i) {
      std::fprintf(out, "%llu", static_cast<unsigned long long>(rows.row_index[i]));
      for (size_t t = 0; t < num_tasks; ++t) std::fprintf(out, " %.9g", task_scores[t][i]);
      std::fputc('\n', out);
    }
    std::fclose(out);
  }

  nlohmann::json result = {{"model", options.model},
                           {"split", edgemtl::census::split_name(options.split)},
                           {"rows", rows.rows},
                           {"auc", nlohmann::json::object()}};
  if (!options.json) {
    std::printf("%s, %s split, %zu rows\n", options.model.c_str(), edgemtl::census::split_name(options.split),
                rows.rows);
    std::printf("%-16s %9s %8s\n", "task", "positive", "AUC");
  }
  for (size_t k = 0; k < preprocessing.labels.size(); ++k) {
    double value = edgemtl::census::auc(task_scores[task_of_label[k]], rows.labels[k]);
    size_t positives = 0;
    for (uint8_t label : rows.labels[k]) positives += label;
    result["auc"][preprocessing.labels[k].task] = value;
    if (!options.json)
      std::printf("%-16s %8.2f%% %8.4f\n", preprocessing.labels[k].task.c_str(),
                  100.0 * static_cast<double>(positives) / static_cast<double>(rows.rows), value);
  }
  if (options.json) std::printf("%s\n", result.dump().c_str());
  return 0;
}
