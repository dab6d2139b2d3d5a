// edgemtl-run: scores requests (or single rows) from a JSONL file with an
// edgemtl model and prints one JSON line of scores per input line.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "requests/model_file.h"
#include "requests/scorer.h"
#include "runtime/executor/session.h"
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
    "  --max-items N    items scored at once (default 4096); larger requests are scored in chunks\n"
    "  --map-oov        map out-of-range ids to the model's default row instead of failing\n"
    "  --verify-weights check the weights against the file's checksum before scoring\n"
    "                   (LoadOptions::verify_weights; a file without checksums is refused)\n"
    "  --version        print the version and exit\n"
    "\n"
    "Limits (a line over one is answered with an error, and reading goes on):\n"
    "  --max-line-bytes N     longest input line (default 67108864, 64 MiB); the rest\n"
    "                         of a longer line is skipped without being held in memory\n"
    "  --max-depth N          deepest JSON nesting (default 16; a request needs 4)\n"
    "  --max-request-items N  items in one request (default 100000)\n"
    "  --max-model-bytes N    largest model file (default 2147483648, 2 GiB)\n"
    "  --max-arena-bytes N    largest block a session allocates from the file's sizes\n"
    "                         (SessionOptions::max_arena_bytes, default 1073741824, 1 GiB)\n"
    "\n"
    "A value is a number, or a list of numbers for list and vector features. An id\n"
    "list may hold 0 to its width ids (padded on the model's side; a longer one is an\n"
    "error unless the model keeps the last ids). null for a dense value, or for a\n"
    "whole dense feature, means missing: accepted when the model tests that feature\n"
    "for NaN, an error naming it otherwise. User features belong in \"user\" (an item\n"
    "naming one is an error). Output line k answers input line k: a blank input line\n"
    "prints a blank line, and a line that cannot be scored prints {\"error\": \"...\"}\n"
    "(the exit code is then 1); values echoed in an error are cut to about 80 characters.\n";

// A whole number >= 1 (at most `max`), or exit 2 saying what is wrong.
long long positive_number(const char* option, const char* text, long long max = 1LL << 62) {
  long long value = 0;
  std::string error;
  if (!edgemtl::tools::parse_integer_flag(option, text, 1, max, &value, &error)) {
    std::fprintf(stderr, "edgemtl-run: %s\n", error.c_str());
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* requests_path = nullptr;
  const char* rows_path = nullptr;
  edgemtl::SessionOptions options;
  edgemtl::requests::ReadLimits limits;
  uint64_t max_model_bytes = edgemtl::requests::kDefaultMaxModelBytes;
  edgemtl::LoadOptions load_options;
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
    else if (arg == "--threads") options.threads = static_cast<int>(positive_number("--threads", next("--threads"), 1024));
    else if (arg == "--max-items") options.max_items = positive_number("--max-items", next("--max-items"), 1LL << 40);
    else if (arg == "--max-line-bytes") limits.max_line_bytes = positive_number("--max-line-bytes", next("--max-line-bytes"));
    else if (arg == "--max-depth")
      limits.max_depth = static_cast<int>(positive_number("--max-depth", next("--max-depth"), INT_MAX));
    else if (arg == "--max-request-items")
      limits.max_items = positive_number("--max-request-items", next("--max-request-items"));
    else if (arg == "--max-model-bytes") max_model_bytes = positive_number("--max-model-bytes", next("--max-model-bytes"));
    else if (arg == "--max-arena-bytes")
      options.max_arena_bytes = static_cast<size_t>(positive_number("--max-arena-bytes", next("--max-arena-bytes")));
    else if (arg == "--map-oov") options.map_out_of_range_ids = true;
    else if (arg == "--verify-weights") load_options.verify_weights = true;
    else if (arg == "--version") {
      edgemtl::tools::print_version("edgemtl-run");
      return 0;
    } else if (arg == "-h" || arg == "--help") {
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

  auto model = edgemtl::requests::load_model_file(model_path, max_model_bytes, load_options);
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

  edgemtl::requests::RequestScorer scorer(**model, **session, options.max_items);
  edgemtl::requests::RequestReader reader(
      input, requests_path != nullptr ? edgemtl::requests::LineFormat::kRequests : edgemtl::requests::LineFormat::kRows,
      limits);
  int exit_code = 0;
  edgemtl::requests::Request request;
  std::vector<float> scores;
  std::string out, error;
  for (;;) {
    const auto next = reader.next(&request, &error);
    if (next == edgemtl::requests::RequestReader::Next::kEnd) break;
    if (next == edgemtl::requests::RequestReader::Next::kBlank) {
      std::fputc('\n', stdout);
      continue;
    }
    scores.clear();
    bool ok = next == edgemtl::requests::RequestReader::Next::kRequest &&
              edgemtl::requests::check_request(**model, request, requests_path != nullptr, &error) &&
              scorer.score(request, &scores, &error);
    if (ok) {
      out = requests_path != nullptr ? "{\"scores\": [" : "";
      const size_t tasks = (*model)->num_tasks();
      for (size_t i = 0; i < request.items.size(); ++i) {
        if (i > 0) out.append(", ");
        edgemtl::requests::append_task_scores(**model, scores.data() + i * tasks, &out);
      }
      if (requests_path != nullptr) out += "]}";
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      std::fprintf(stderr, "edgemtl-run: line %zu: %s\n", reader.line_number(), error.c_str());
      std::printf("{\"error\": %s}\n", nlohmann::json(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      exit_code = 1;
    }
  }
  return exit_code;
}
