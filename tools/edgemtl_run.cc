// edgemtl-run: scores requests (or single rows) from a JSONL file with an
// edgemtl model and prints one JSON line of scores per input line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "tools/common/feature_json.h"
#include "tools/flags.h"

namespace {

constexpr const char* kUsage =
    "usage: edgemtl-run MODEL.emtl (--requests FILE.jsonl | --rows FILE.jsonl) [options]\n"
    "\n"
    "  --requests FILE  one request per line (FILE '-' reads stdin):\n"
    "                   {\"user\": {feature: value, ...}, \"items\": [{feature: value, ...}, ...]}\n"
    "                   prints {\"scores\": [{task: score, ...}, ...]} per line, items in order\n"
    "  --rows FILE      one full feature row per line, each its own request;\n"
    "                   prints {task: score, ...} per line\n"
    "  --threads T      worker threads (default 1)\n"
    "  --max-items N    largest request (default 4096)\n"
    "  --map-oov        map out-of-range ids to the model's default row instead of failing\n"
    "  --version        print the version and exit\n"
    "\n"
    "A value is a number, or a list of numbers for list and vector features.\n"
    "A line that cannot be scored prints {\"error\": \"...\"}; the exit code is then 1.\n";


struct Runner {
  const edgemtl::Model& model;
  edgemtl::Session& session;
  edgemtl::tools::FeatureBatch user;
  edgemtl::tools::FeatureBatch items;
  bool has_user_features;

  // Runs the user stage (when the model has one) and then the item stage.
  // Returns the scores, or an empty string with `error` set.
  bool run(const nlohmann::json& user_object, const nlohmann::json* item_objects, size_t n,
           const nlohmann::json* item_fallback, std::string* out, std::string* error) {
    user.clear();
    items.clear();
    if (has_user_features) {
      if (!user.append_row(user_object, nullptr, error)) return false;
      edgemtl::Status status = session.set_user(user.inputs());
      if (!status.is_ok()) {
        *error = status.message();
        return false;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!items.append_row(item_objects[i], item_fallback, error)) {
        if (n > 1) *error = "item " + std::to_string(i) + ": " + *error;
        return false;
      }
    }
    auto scores = session.score(items.inputs(), n);
    if (!scores.ok()) {
      *error = scores.status().message();
      return false;
    }
    const size_t tasks = model.num_tasks();
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out->append(", ");
      edgemtl::tools::append_task_scores(model, scores->data() + i * tasks, out);
    }
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* requests_path = nullptr;
  const char* rows_path = nullptr;
  edgemtl::SessionOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgemtl-run: %s needs a value\n%s", what, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--requests") requests_path = next("--requests");
    else if (arg == "--rows") rows_path = next("--rows");
    else if (arg == "--threads" || arg == "--max-items") {
      long long value = 0;
      std::string error;
      if (!edgemtl::tools::parse_integer_flag(arg.c_str(), next(arg.c_str()), 1, arg == "--threads" ? 1024 : 1LL << 40,
                                              &value, &error)) {
        std::fprintf(stderr, "edgemtl-run: %s\n", error.c_str());
        return 2;
      }
      if (arg == "--threads") options.threads = static_cast<int>(value);
      else options.max_items = static_cast<size_t>(value);
    } else if (arg == "--version") {
      edgemtl::tools::print_version("edgemtl-run");
      return 0;
    }
    else if (arg == "--map-oov") options.map_out_of_range_ids = true;
    else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "edgemtl-run: unknown option %s\n%s", arg.c_str(), kUsage);
      return 2;
    } else if (model_path == nullptr) model_path = argv[i];
    else {
      std::fprintf(stderr, "edgemtl-run: unexpected argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (model_path == nullptr || (requests_path == nullptr) == (rows_path == nullptr) || options.threads < 1 ||
      options.max_items < 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }

  auto model = edgemtl::Model::load_file(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "edgemtl-run: %s: %s\n", model_path, model.status().message());
    return 1;
  }
  auto session = edgemtl::Session::create(**model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "edgemtl-run: %s\n", session.status().message());
    return 1;
  }

  const char* input_path = requests_path != nullptr ? requests_path : rows_path;
  std::ifstream file;
  if (std::strcmp(input_path, "-") != 0) {
    file.open(input_path);
    if (!file) {
      std::fprintf(stderr, "edgemtl-run: cannot open %s\n", input_path);
      return 1;
    }
  }
  std::istream& input = std::strcmp(input_path, "-") == 0 ? std::cin : file;

  bool has_user_features = false;
  for (size_t i = 0; i < (*model)->num_features(); ++i)
    has_user_features |= (*model)->feature(i).side == edgemtl::Side::kUser;
  Runner runner{**model, **session, edgemtl::tools::FeatureBatch(**model, edgemtl::Side::kUser),
                edgemtl::tools::FeatureBatch(**model, edgemtl::Side::kItem), has_user_features};

  int exit_code = 0;
  std::string line, out, error;
  size_t line_number = 0;
  while (std::getline(input, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.clear();
    error.clear();
    nlohmann::json object;
    bool ok = edgemtl::tools::parse_json_line(line, &object, &error);
    if (ok && requests_path != nullptr) {
      static const nlohmann::json kEmpty = nlohmann::json::object();
      const nlohmann::json& user_object = object.is_object() && object.contains("user") ? object["user"] : kEmpty;
      const nlohmann::json* items = object.is_object() && object.contains("items") ? &object["items"] : nullptr;
      if (items == nullptr || !items->is_array() || items->empty()) {
        error = "a request needs \"items\": a non-empty list of item objects";
        ok = false;
      } else if (items->size() > options.max_items) {
        error = "request has " + std::to_string(items->size()) + " items, more than --max-items " +
                std::to_string(options.max_items);
        ok = false;
      } else {
        ok = edgemtl::tools::check_known_features(**model, user_object, &error);
        for (size_t i = 0; ok && i < items->size(); ++i)
          ok = edgemtl::tools::check_known_features(**model, (*items)[i], &error);
        std::vector<nlohmann::json> item_objects(items->begin(), items->end());
        out = "{\"scores\": [";
        ok = ok && runner.run(user_object, item_objects.data(), item_objects.size(), &user_object, &out, &error);
        out += "]}";
      }
    } else if (ok) {
      ok = edgemtl::tools::check_known_features(**model, object, &error) &&
           runner.run(object, &object, 1, nullptr, &out, &error);
    }
    if (ok) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      std::fprintf(stderr, "edgemtl-run: line %zu: %s\n", line_number, error.c_str());
      std::printf("{\"error\": %s}\n", nlohmann::json(error).dump().c_str());
      exit_code = 1;
    }
  }
  return exit_code;
}
