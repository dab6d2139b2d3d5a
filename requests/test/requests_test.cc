// The request library: reading lines within their limits, checking names,
// and scoring through a Session, against scores computed here by hand.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "requests/scorer.h"
#include "runtime/test_util/model_builder.h"

namespace edgemtl::requests {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpType;
using test::ModelBuilder;

// score = x0 + x1 + u: a user feature u (user stage copies it for the item
// stage) and an item feature x of width 2.
test::ModelBytes tiny_model() {
  ModelBuilder m;
  const int u = m.add_feature("u", schema::Side::USER, FeatureKind::DENSE, 1);
  const int x = m.add_feature("x", schema::Side::ITEM, FeatureKind::DENSE, 2);
  const int u_copy = m.add_activation("u_copy", DType::FLOAT32, {-1, 1});
  m.add_op(ModelBuilder::kUser, OpType::RESHAPE, {m.feature_tensor(u)}, {u_copy});
  m.add_user_to_item(u_copy);
  const int sum = m.add_activation("sum", DType::FLOAT32, {-1, 1});
  const int w = m.add_constant_f32("w", {1, 2}, {1.0f, 1.0f});
  m.add_op(ModelBuilder::kItem, OpType::FULLY_CONNECTED, {m.feature_tensor(x), w}, {sum});
  const int y = m.add_activation("y", DType::FLOAT32, {-1, 1});
  m.add_op(ModelBuilder::kItem, OpType::ADD, {sum, u_copy}, {y});
  m.add_task("score", schema::TaskKind::VALUE, y, 0);
  return m.finish();
}

std::vector<std::string> read_all(const std::string& text, LineFormat format, ReadLimits limits,
                                  std::vector<Request>* requests) {
  std::istringstream in(text);
  RequestReader reader(in, format, limits);
  std::vector<std::string> outcomes;
  Request request;
  std::string error;
  for (;;) {
    const RequestReader::Next next = reader.next(&request, &error);
    if (next == RequestReader::Next::kEnd) break;
    if (next == RequestReader::Next::kBlank) outcomes.push_back("blank");
    if (next == RequestReader::Next::kError) outcomes.push_back("error: " + error);
    if (next == RequestReader::Next::kRequest) {
      outcomes.push_back("request");
      requests->push_back(request);
    }
  }
  return outcomes;
}

TEST_CASE("the reader tells requests, rows, blank and bad lines apart and keeps reading") {
  std::vector<Request> requests;
  const auto outcomes = read_all(
      "{\"user\": {\"u\": 1}, \"items\": [{\"x\": [1, 2]}, {\"x\": [3, 4]}]}\n"
      "\n"
      "{\"u\": 2, \"x\": [5, 6]}\n"
      "[1, 2]\n"
      "{not json\n"
      "{\"items\": []}\n"
      "{\"items\": [{\"x\": [0, 0]}]}",  // no final newline
      LineFormat::kEither, {}, &requests);
  REQUIRE(outcomes.size() == 7);
  CHECK(outcomes[0] == "request");
  CHECK(outcomes[1] == "blank");
  CHECK(outcomes[2] == "request");
  CHECK(outcomes[3].find("expected a JSON object") != std::string::npos);
  CHECK(outcomes[4] == "error: not valid JSON");
  CHECK(outcomes[5] == "error: a request needs \"items\": a non-empty list of item objects");
  CHECK(outcomes[6] == "request");
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].items.size() == 2);
  CHECK(requests[0].user["u"] == 1);
  CHECK(requests[1].items.size() == 1);  // a row: a request of one item, the row as its user
  CHECK(requests[1].user == requests[1].items[0]);
  CHECK(requests[2].user.empty());
  CHECK(requests[2].items.size() == 1);
}

TEST_CASE("limits: line length, nesting and items are refused before anything large is built") {
  ReadLimits limits;
  limits.max_line_bytes = 64;
  limits.max_depth = 4;
  limits.max_items = 2;
  std::vector<Request> requests;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto outcomes = read_all(
      std::string(1000, ' ') + "{}\n"
      "{\"items\": [{\"x\": [1, 2]}, {\"x\": [1, 2]}, {\"x\": [1, 2]}]}\n"
      "{\"items\": [{\"x\": [[[1]]]}]}\n"
      "{\"items\": [{\"x\": \"[[[[[[\"}]}\n",  // brackets inside a string do not count
      LineFormat::kRequests, limits, &requests);
  REQUIRE(outcomes.size() == 4);
  CHECK(outcomes[0] == "error: line longer than 64 bytes");
  CHECK(outcomes[1] == "error: request has 3 items, more than the limit of 2");
  CHECK(outcomes[2] == "error: JSON nested deeper than 4 levels");
  CHECK(outcomes[3] == "request");

  ReadLimits deep_limits;
  deep_limits.max_line_bytes = deep.size() + 1;
  const auto deep_outcomes = read_all(deep + "\n", LineFormat::kRequests, deep_limits, &requests);
  REQUIRE(deep_outcomes.size() == 1);
  CHECK(deep_outcomes[0] == "error: JSON nested deeper than 16 levels");
}

TEST_CASE("scores equal x0 + x1 + u; chunks of max_items; errors name the item and the feature") {
  const test::ModelBytes bytes = tiny_model();
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  SessionOptions options;
  options.max_items = 2;
  auto session = Session::create(**model, options);
  REQUIRE(session.ok());
  RequestScorer scorer(**model, **session, options.max_items);
  CHECK(scorer.has_user_features());

  Request request;
  request.user = {{"u", 0.5}};
  const std::vector<std::vector<float>> xs = {{1, 2}, {3, 4}, {-1, 0.25f}, {8, 8}, {0, 0}};
  for (const auto& x : xs) request.items.push_back({{"x", x}});
  std::vector<float> scores;
  std::string error;
  REQUIRE_MESSAGE(scorer.score(request, &scores, &error), error);  // 5 items in chunks of 2
  REQUIRE(scores.size() == xs.size());
  for (size_t i = 0; i < xs.size(); ++i) CHECK(scores[i] == doctest::Approx(xs[i][0] + xs[i][1] + 0.5));

  std::string text;
  append_task_scores(**model, scores.data(), &text);
  CHECK(text == "{\"score\": 3.5}");

  request.items[3] = {{"x", std::vector<int>(1000, 7)}};
  scores.clear();
  CHECK_FALSE(scorer.score(request, &scores, &error));
  CHECK(error.rfind("item 3: feature 'x': expected a list of 2 numbers, got [7,7,7", 0) == 0);
  CHECK(error.size() < 200);  // the list is not echoed whole

  CHECK(check_request(**model, request, true, &error));
  request.items[1]["u"] = 1.0;
  CHECK_FALSE(check_request(**model, request, true, &error));
  CHECK(error == "item 1: feature 'u' is a user feature: give it in \"user\"");
  CHECK(check_request(**model, request, false, &error));  // a row carries both sides
  request.user["z"] = 1;
  CHECK_FALSE(check_request(**model, request, false, &error));
  CHECK(error.rfind("unknown feature 'z'", 0) == 0);
}

}  // namespace
}  // namespace edgemtl::requests
