// Bad files, bad requests and bad ONNX: each gets its documented error, never
// a crash. Uses a real converted fixture (MMoE) so the checks run through the
// whole stack.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "runtime/executor/session.h"
#include "runtime/format/checksum.h"
#include "tests/fixture_util.h"
#include "requests/scorer.h"

namespace edgemtl::test {
namespace {

const char* kFixture = "mmoe";

// The MMoE fixture converted with its user/item split (and a default row for
// out-of-range ids when `oov_row` is set).
std::string converted_fixture(bool oov_row) {
  nlohmann::json meta = read_json(fixtures_dir() + "/" + kFixture + "/meta.json");
  return convert_fixture(kFixture, oov_row ? "bad_input.oov" : "bad_input.strict",
                         user_inputs_argument(meta) + (oov_row ? " --oov-row 0" : ""));
}

struct Request {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  nlohmann::json row;
};

Request open_request(bool oov_row, bool map_out_of_range_ids) {
  Request request;
  auto model = Model::load_file(converted_fixture(oov_row).c_str());
  REQUIRE_MESSAGE(model.ok(), model.status().message());
  request.model = std::move(model.value());
  SessionOptions options;
  options.max_items = 8;
  options.map_out_of_range_ids = map_out_of_range_ids;
  auto session = Session::create(*request.model, options);
  REQUIRE_MESSAGE(session.ok(), session.status().message());
  request.session = std::move(session.value());
  request.row = read_jsonl(fixtures_dir() + "/" + kFixture + "/rows.jsonl").at(0);
  return request;
}

// First feature of `side` and `kind`, or -1.
int find_feature(const Model& model, Side side, FeatureKind kind) {
  for (size_t i = 0; i < model.num_features(); ++i)
    if (model.feature(i).side == side && model.feature(i).kind == kind) return static_cast<int>(i);
  return -1;
}

Status set_user_from(Request& request, const nlohmann::json& row) {
  requests::FeatureBatch user(*request.model, Side::kUser);
  std::string error;
  REQUIRE_MESSAGE(user.append_row(row, nullptr, &error), error);
  return request.session->set_user(user.inputs());
}

Result<Span<const float>> score_from(Request& request, const nlohmann::json& row) {
  requests::FeatureBatch items(*request.model, Side::kItem);
  std::string error;
  REQUIRE_MESSAGE(items.append_row(row, nullptr, &error), error);
  return request.session->score(items.inputs(), 1);
}

TEST_CASE("a missing, empty, truncated or foreign file is refused with a clear error") {
  std::string path = converted_fixture(false);
  std::vector<char> bytes = read_file(path);
  REQUIRE(bytes.size() > 256);

  auto missing = Model::load_file((scratch_dir() + "/no-such-model.emtl").c_str());
  CHECK(missing.error() == Error::kIoError);

  std::string empty_path = scratch_dir() + "/empty.emtl";
  write_file(empty_path, {});
  CHECK(Model::load_file(empty_path.c_str()).error() == Error::kInvalidModel);

  std::string broken = scratch_dir() + "/broken.emtl";
  for (size_t size : {size_t{3}, size_t{8}, size_t{64}, bytes.size() / 2, bytes.size() - 1}) {
    CAPTURE(size);
    write_file(broken, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(size)));
    auto model = Model::load_file(broken.c_str());
    CHECK(model.error() == Error::kInvalidModel);
    CHECK(std::strlen(model.status().message()) > 0);
  }

  std::vector<char> foreign = bytes;
  std::memcpy(foreign.data() + 4, "TFL3", 4);  // the identifier sits at bytes 4..7
  write_file(broken, foreign);
  CHECK(Model::load_file(broken.c_str()).error() == Error::kInvalidModel);
}

TEST_CASE("random corruption never crashes the loader or a session") {
  std::vector<char> bytes = read_file(converted_fixture(false));
  std::mt19937 random(7);
  std::string path = scratch_dir() + "/corrupt.emtl";
  nlohmann::json row = read_jsonl(fixtures_dir() + "/" + kFixture + "/rows.jsonl").at(0);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<char> corrupt = bytes;
    // Corrupt the FlatBuffer part mostly: that is where indices and offsets live.
    size_t span = std::min<size_t>(corrupt.size(), 4096);
    for (int flips = 0; flips < 1 + trial % 4; ++flips)
      corrupt[random() % span] = static_cast<char>(random() & 0xff);
    // Re-sealed when it still can be: the checksum would refuse nearly all of
    // these files; the verifier and the session behind it must be safe alone.
    (void)seal_checksums(reinterpret_cast<uint8_t*>(corrupt.data()), corrupt.size());
    write_file(path, corrupt);
    auto model = Model::load_file(path.c_str());
    if (!model.ok()) {
      CHECK(model.error() != Error::kOk);
      continue;
    }
    ++loaded;  // a flip in a float or a name can leave a valid model: it must still run safely
    auto session = Session::create(**model, SessionOptions{});
    if (!session.ok()) continue;
    requests::FeatureBatch user(**model, Side::kUser), items(**model, Side::kItem);
    std::string error;
    if (user.append_row(row, nullptr, &error)) (void)(*session)->set_user(user.inputs());
    if (items.append_row(row, nullptr, &error)) (void)(*session)->score(items.inputs(), 1);
  }
  MESSAGE(loaded << " of 300 corrupted files still loaded and ran");
}

TEST_CASE("request errors: missing feature, wrong length, id out of range, NaN, bad n, no user") {
  Request request = open_request(false, false);
  const Model& model = *request.model;
  std::string error;

  SUBCASE("score before set_user") {
    auto scores = score_from(request, request.row);
    CHECK(scores.error() == Error::kInvalidState);
  }
  SUBCASE("missing feature names the feature") {
    REQUIRE(set_user_from(request, request.row).is_ok());
    requests::FeatureBatch items(model, Side::kItem);
    REQUIRE(items.append_row(request.row, nullptr, &error));
    Span<const FeatureInput> inputs = items.inputs();
    REQUIRE(inputs.size() >= 1);
    auto scores = request.session->score(Span<const FeatureInput>(inputs.data() + 1, inputs.size() - 1), 1);
    CHECK(scores.error() == Error::kMissingFeature);
    CHECK(std::string(scores.status().message()).find(model.feature(static_cast<size_t>(inputs[0].feature)).name) !=
          std::string::npos);
  }
  SUBCASE("a list of the wrong length") {
    int list = find_feature(model, Side::kUser, FeatureKind::kIdList);
    REQUIRE(list >= 0);
    requests::FeatureBatch user(model, Side::kUser);
    REQUIRE(user.append_row(request.row, nullptr, &error));
    std::vector<FeatureInput> inputs(user.inputs().begin(), user.inputs().end());
    // One row of a list may be shorter than the width (it is padded), not longer.
    std::vector<int64_t> longer;
    for (FeatureInput& input : inputs) {
      if (input.feature != list) continue;
      longer.assign(input.ids, input.ids + input.count);
      longer.push_back(0);
      input.ids = longer.data();
      input.count = longer.size();
    }
    Status status = request.session->set_user(Span<const FeatureInput>(inputs.data(), inputs.size()));
    CHECK(status.code() == Error::kInvalidArgument);
    CHECK(std::string(status.message()).find(model.feature(static_cast<size_t>(list)).name) != std::string::npos);
    for (FeatureInput& input : inputs)
      if (input.feature == list) input.count -= 2;
    CHECK(request.session->set_user(Span<const FeatureInput>(inputs.data(), inputs.size())).is_ok());
    // The JSON reader catches it before the runtime does.
    nlohmann::json row = request.row;
    row[model.feature(static_cast<size_t>(list)).name].push_back(0);
    requests::FeatureBatch json_user(model, Side::kUser);
    CHECK_FALSE(json_user.append_row(row, nullptr, &error));
    CHECK(error.find(model.feature(static_cast<size_t>(list)).name) != std::string::npos);
  }
  SUBCASE("an id out of range is an error naming the feature") {
    REQUIRE(set_user_from(request, request.row).is_ok());
    int id = find_feature(model, Side::kItem, FeatureKind::kId);
    REQUIRE(id >= 0);
    FeatureInfo info = model.feature(static_cast<size_t>(id));
    for (int64_t bad : {info.table_size, int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
      nlohmann::json row = request.row;
      row[info.name] = bad;
      auto scores = score_from(request, row);
      CHECK(scores.error() == Error::kIdOutOfRange);
      CHECK(std::string(scores.status().message()).find(info.name) != std::string::npos);
    }
    // The session still works afterwards.
    CHECK(score_from(request, request.row).ok());
  }
  SUBCASE("NaN and infinity in a dense feature") {
    int dense = find_feature(model, Side::kItem, FeatureKind::kDense);
    if (dense < 0) dense = find_feature(model, Side::kUser, FeatureKind::kDense);
    REQUIRE(dense >= 0);
    FeatureInfo info = model.feature(static_cast<size_t>(dense));
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      requests::FeatureBatch batch(model, info.side);
      REQUIRE(batch.append_row(request.row, nullptr, &error));
      std::vector<FeatureInput> inputs(batch.inputs().begin(), batch.inputs().end());
      std::vector<float> values;
      for (FeatureInput& input : inputs) {
        if (input.feature != dense) continue;
        values.assign(input.values, input.values + input.count);
        values[0] = bad;
        input.values = values.data();
      }
      Span<const FeatureInput> span(inputs.data(), inputs.size());
      if (info.side == Side::kUser) {
        CHECK(request.session->set_user(span).code() == Error::kInvalidValue);
      } else {
        REQUIRE(set_user_from(request, request.row).is_ok());
        CHECK(request.session->score(span, 1).error() == Error::kInvalidValue);
      }
    }
  }
  SUBCASE("n of 0 or above max_items") {
    REQUIRE(set_user_from(request, request.row).is_ok());
    requests::FeatureBatch items(model, Side::kItem);
    REQUIRE(items.append_row(request.row, nullptr, &error));
    CHECK(request.session->score(items.inputs(), 0).error() == Error::kInvalidArgument);
    CHECK(request.session->score(items.inputs(), 9).error() == Error::kInvalidArgument);
  }
}

TEST_CASE("with --oov-row and map_out_of_range_ids an unknown id reads the default row") {
  Request request = open_request(true, true);
  const Model& model = *request.model;
  int id = find_feature(model, Side::kItem, FeatureKind::kId);
  REQUIRE(id >= 0);
  FeatureInfo info = model.feature(static_cast<size_t>(id));
  REQUIRE(set_user_from(request, request.row).is_ok());
  nlohmann::json row = request.row;
  row[info.name] = 0;
  auto reference = score_from(request, row);
  REQUIRE(reference.ok());
  std::vector<float> expected(reference->begin(), reference->end());
  row[info.name] = info.table_size + 5;
  auto mapped = score_from(request, row);
  REQUIRE_MESSAGE(mapped.ok(), mapped.status().message());
  for (size_t t = 0; t < expected.size(); ++t) CHECK((*mapped)[t] == expected[t]);

  // Without the session option the same file still refuses the id.
  Request strict = open_request(true, false);
  REQUIRE(set_user_from(strict, strict.row).is_ok());
  CHECK(score_from(strict, row).error() == Error::kIdOutOfRange);
}

TEST_CASE("the converter refuses what it cannot convert exactly, naming the node") {
  std::string out = scratch_dir() + "/refused.emtl";
  std::string log;
  CHECK(run_converter(std::string(EDGEMTL_SOURCE_DIR) + "/tests/bad_models/unsupported_op.onnx -o " + out, &log) == 1);
  CHECK(log.find("running_total") != std::string::npos);
  CHECK(log.find("CumSum") != std::string::npos);

  CHECK(run_converter(std::string(EDGEMTL_SOURCE_DIR) + "/tests/bad_models/rows_transposed.onnx -o " + out, &log) == 1);
  CHECK(log.find("rows_to_columns") != std::string::npos);

  CHECK(run_converter(fixtures_dir() + "/" + kFixture + "/model.onnx -o " + out + " --user-inputs no_such_input",
                      &log) != 0);
  CHECK(log.find("no_such_input") != std::string::npos);
  CHECK(run_converter(fixtures_dir() + "/no-such-dir/model.onnx -o " + out, &log) == 1);
}

TEST_CASE("the converter refuses a cycle, a missing initializer, huge sizes, a truncated or a non-ONNX file") {
  const std::string dir = std::string(EDGEMTL_SOURCE_DIR) + "/tests/bad_models/";
  const std::string out = scratch_dir() + "/refused.emtl";
  std::string log;
  // tests/bad_models/make_graph_errors.py
  CHECK(run_converter(dir + "cycle.onnx -o " + out, &log) == 1);
  INFO(log);
  CHECK(log.find("edgemtl-convert: error: ") != std::string::npos);
  CHECK(run_converter(dir + "missing_initializer.onnx -o " + out, &log) == 1);
  CHECK(log.find("weight") != std::string::npos);
  // tests/bad_models/make_bad_models.py: sizes checked before anything is allocated.
  CHECK(run_converter(dir + "split_sizes.onnx -o " + out, &log) == 1);
  CHECK(log.find("node 'split_columns' (Split): Split sizes [1099511627776,1099511627776] do not add up to "
                 "dimension 1 of size 4") != std::string::npos);
  CHECK(run_converter(dir + "initializer_dims.onnx -o " + out, &log) == 1);
  CHECK(log.find("tensor 'weight': shape [4294967296,4294967296] has more than 2^63 elements") != std::string::npos);

  std::vector<char> onnx = read_file(fixtures_dir() + "/" + kFixture + "/model.onnx");
  const std::string truncated = scratch_dir() + "/truncated.onnx";
  write_file(truncated, std::vector<char>(onnx.begin(), onnx.begin() + static_cast<long>(onnx.size() / 3)));
  CHECK(run_converter(truncated + " -o " + out, &log) == 1);
  CHECK(log.find("edgemtl-convert: error: ") != std::string::npos);
  CHECK(run_converter(fixtures_dir() + "/" + kFixture + "/rows.jsonl -o " + out, &log) == 1);
  CHECK(log.find("edgemtl-convert: error: ") != std::string::npos);
}

}  // namespace
}  // namespace edgemtl::test
