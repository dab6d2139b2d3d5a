// libFuzzer target: arbitrary bytes as JSON Lines through the request library
// (RequestReader, check_request, RequestScorer) into sessions of a fixed valid
// model: the ESMM fixture converted at build time as f32 (lines read as
// requests) and int8 (lines read as requests or rows). Every line must be
// answered with scores or an error, never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "requests/scorer.h"
#include "runtime/executor/session.h"

namespace {

using namespace edgemtl;

struct Target {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  std::unique_ptr<requests::RequestScorer> scorer;
  requests::LineFormat format;
};

constexpr size_t kMaxItems = 8;  // a request of more items is scored in chunks

std::vector<Target>& targets() {
  static std::vector<Target> all;
  return all;
}

void load(const char* path, requests::LineFormat format) {
  auto model = Model::load_file(path);
  if (!model.ok()) {
    std::fprintf(stderr, "fuzz_requests: %s: %s\n", path, model.status().message());
    std::abort();
  }
  SessionOptions options;
  options.max_items = kMaxItems;
  auto session = Session::create(**model, options);
  if (!session.ok()) {
    std::fprintf(stderr, "fuzz_requests: %s\n", session.status().message());
    std::abort();
  }
  Target& target = targets().emplace_back();
  target.model = std::move(*model);
  target.session = std::move(*session);
  target.scorer = std::make_unique<requests::RequestScorer>(*target.model, *target.session, kMaxItems);
  target.format = format;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  load(EDGEMTL_FUZZ_MODEL_DIR "/esmm.f32.emtl", requests::LineFormat::kRequests);
  load(EDGEMTL_FUZZ_MODEL_DIR "/esmm.int8.emtl", requests::LineFormat::kEither);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  requests::ReadLimits limits;
  limits.max_line_bytes = 1 << 16;
  limits.max_items = 64;
  std::vector<float> scores;
  std::string error;
  for (Target& target : targets()) {
    std::istringstream in(text);
    requests::RequestReader reader(in, target.format, limits);
    requests::Request request;
    for (;;) {
      const auto next = reader.next(&request, &error);
      if (next == requests::RequestReader::Next::kEnd) break;
      if (next != requests::RequestReader::Next::kRequest) continue;
      if (request.items.empty() || request.items.size() > limits.max_items) __builtin_trap();
      if (!requests::check_request(*target.model, request, target.format == requests::LineFormat::kRequests, &error))
        continue;
      scores.clear();
      if (target.scorer->score(request, &scores, &error)) {
        if (scores.size() != request.items.size() * target.model->num_tasks()) __builtin_trap();
      } else if (error.empty()) {
        __builtin_trap();  // a refusal always says why
      }
    }
  }
  return 0;
}
