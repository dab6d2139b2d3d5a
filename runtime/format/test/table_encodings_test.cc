// Embedding tables with per-row parameters (INT8_ROW_F16, UINT4_ROW_F16 and
// UINT4_ROW_CODEBOOK): EMBEDDING, EMBEDDING_MULTI and BAG score like a naive loop
// over the schema's formulas (written here, with its own half widening), at ids
// 0, V-1, out of range and the default row, for odd and even widths; and a file
// whose per-row parameters do not fit its table, or whose codebook holds a NaN,
// infinite or negative scale, is refused with a message saying so.
#include <doctest/doctest.h>

#include <algorithm>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/format/model.h"
#include "runtime/kernels/embedding.h"
#include "runtime/test_util/model_builder.h"

namespace edgemtl {
namespace {

using schema::DType;
using schema::FeatureKind;
using schema::OpOptions;
using schema::OpType;
using test::ModelBuilder;
using test::ModelBytes;
using test::load_status;

// IEEE half by its definition: (-1)^s · 2^(e-15) · (1 + m/1024), subnormal 2^-14 · m/1024.
float half_value(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double magnitude = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
  return static_cast<float>(h & 0x8000 ? -magnitude : magnitude);
}

// A random table in `dtype` with its per-row parameters, and its values by the schema's formula.
struct Table {
  DType dtype;
  int64_t rows, dim;
  std::vector<uint8_t> data;
  std::vector<uint16_t> params;
  std::vector<float> codebook;   // UINT4_ROW_CODEBOOK: 256 scales
  std::vector<uint8_t> index;    // UINT4_ROW_CODEBOOK: one per row

  Table(DType type, int64_t v, int64_t d, unsigned seed) : dtype(type), rows(v), dim(d) {
    std::mt19937 rng(seed);
    const bool int4 = dtype == DType::UINT4_ROW_F16 || dtype == DType::UINT4_ROW_CODEBOOK;
    const int64_t row_bytes = int4 ? (dim + 1) / 2 : dim;
    data.resize(static_cast<size_t>(rows * row_bytes));
    if (dtype == DType::UINT4_ROW_CODEBOOK) {
      // Entry 0 is 0 (row 1 uses it: a zero row); the others between 2^-8 and 2^-1.
      codebook.push_back(0.0f);
      for (int k = 1; k < 256; ++k) codebook.push_back(std::ldexp(1.0f + float(rng() % 1024) / 1024.0f, -8 + int(rng() % 8)));
      for (int64_t r = 0; r < rows; ++r) index.push_back(r == 1 ? 0 : static_cast<uint8_t>(1 + rng() % 255));
    }
    for (int64_t r = 0; r < rows; ++r) {
      // Scales between 2^-8 and 2^-1 with random mantissas; offsets of either sign.
      params.push_back(static_cast<uint16_t>(((7 + rng() % 7) << 10) | (rng() % 1024)));
      if (dtype == DType::UINT4_ROW_F16) params.push_back(static_cast<uint16_t>((rng() % 2) << 15 | ((10 + rng() % 5) << 10) | (rng() % 1024)));
      for (int64_t d = 0; d < dim; ++d) {
        if (int4) {
          const uint8_t nibble = static_cast<uint8_t>(rng() % 16);
          data[r * row_bytes + d / 2] |= static_cast<uint8_t>(d % 2 ? nibble << 4 : nibble);
        } else {
          data[r * row_bytes + d] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(rng() % 255) - 127));
        }
      }
    }
    // The extreme codes at the corners: -127 / 127 and 0 / 15.
    if (int4) {
      data[0] = static_cast<uint8_t>((data[0] & 0xF0) | 0x0);
      data.back() = static_cast<uint8_t>(dim % 2 ? (data.back() & 0x0F) : (data.back() | 0xF0));
    } else {
      data[0] = static_cast<uint8_t>(static_cast<int8_t>(-127));
      data.back() = 127;
    }
  }

  float value(int64_t r, int64_t d) const {
    if (dtype == DType::INT8_ROW_F16)
      return half_value(params[r]) * static_cast<float>(static_cast<int8_t>(data[r * dim + d]));
    const uint8_t byte = data[r * ((dim + 1) / 2) + d / 2];
    const int q = d % 2 ? byte >> 4 : byte & 15;
    if (dtype == DType::UINT4_ROW_CODEBOOK) return static_cast<float>(double(codebook[index[r]]) * (q - 7.5));
    return half_value(params[2 * r]) * static_cast<float>(q) + half_value(params[2 * r + 1]);
  }

  // UINT4_ROW_CODEBOOK: the codebook's bytes, then the indices; else the halves.
  std::vector<uint8_t> param_bytes() const {
    if (dtype != DType::UINT4_ROW_CODEBOOK)
      return std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(params.data()),
                                  reinterpret_cast<const uint8_t*>(params.data()) + params.size() * 2);
    std::vector<uint8_t> bytes(codebook.size() * 4);
    std::memcpy(bytes.data(), codebook.data(), bytes.size());
    bytes.insert(bytes.end(), index.begin(), index.end());
    return bytes;
  }

  int add_to(ModelBuilder& m) const {
    const int t = m.add_constant("table", dtype, {rows, dim}, data.data(), data.size());
    const std::vector<uint8_t> bytes = param_bytes();
    m.add_row_params(t, bytes.data(), bytes.size());
    return t;
  }
};

struct Lookup {
  std::vector<float> scores;
  Status status;
};

// Scores `rows` rows; `inputs` are (feature name, ids or values).
Lookup run(const ModelBytes& bytes, size_t rows, const std::vector<std::pair<std::string, std::vector<int64_t>>>& ids,
           const std::vector<float>& weights, bool map_out_of_range) {
  auto model = Model::load_buffer(bytes.get(), bytes.size);
  if (!model.ok()) MESSAGE(std::string(model.status().message()));
  REQUIRE(model.ok());
  SessionOptions options;
  options.map_out_of_range_ids = map_out_of_range;
  auto session = Session::create(**model, options);
  REQUIRE(session.ok());
  std::vector<FeatureInput> inputs;
  for (const auto& [name, values] : ids) inputs.push_back({(*model)->find_feature(name.c_str()), values.data(), nullptr, values.size()});
  if (!weights.empty()) inputs.push_back({(*model)->find_feature("w"), nullptr, weights.data(), weights.size()});
  auto scores = (*session)->score(Span<const FeatureInput>(inputs.data(), inputs.size()), rows);
  Lookup out;
  if (scores.ok()) out.scores.assign(scores->begin(), scores->end());
  else out.status = scores.status();
  return out;
}

void check_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5).scale(1e-6));
}

// One task per output column; tasks order the scores row-major.
void add_column_tasks(ModelBuilder& m, int output, int64_t columns) {
  for (int64_t c = 0; c < columns; ++c) m.add_task("c" + std::to_string(c), schema::TaskKind::VALUE, output, c);
}

struct Case {
  DType dtype;
  int64_t dim;
};
const Case kCases[] = {{DType::INT8_ROW_F16, 5},        {DType::INT8_ROW_F16, 16},      {DType::UINT4_ROW_F16, 5},
                       {DType::UINT4_ROW_F16, 6},       {DType::UINT4_ROW_F16, 1},      {DType::UINT4_ROW_F16, 37},
                       {DType::UINT4_ROW_CODEBOOK, 1},  {DType::UINT4_ROW_CODEBOOK, 6}, {DType::UINT4_ROW_CODEBOOK, 16},
                       {DType::UINT4_ROW_CODEBOOK, 37}};
constexpr int64_t kRows = 9, kDefault = 4;

TEST_CASE("EMBEDDING reads INT8_ROW_F16, UINT4_ROW_F16 and UINT4_ROW_CODEBOOK rows by the schema's formula") {
  for (const Case& c : kCases) {
    CAPTURE(schema::EnumNameDType(c.dtype));
    CAPTURE(c.dim);
    const Table table(c.dtype, kRows, c.dim, static_cast<unsigned>(c.dim));
    ModelBuilder m;
    const int ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const int t = table.add_to(m);
    const int out = m.add_activation("e", DType::FLOAT32, {-1, c.dim});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {t, ids}, {out}, OpOptions::GatherOptions,
             test::gather_options(kDefault));
    add_column_tasks(m, out, c.dim);
    const ModelBytes bytes = m.finish();
    const std::vector<int64_t> in_range = {0, kRows - 1, 3, 0};
    std::vector<float> want;
    for (int64_t id : in_range)
      for (int64_t d = 0; d < c.dim; ++d) want.push_back(table.value(id, d));
    check_close(run(bytes, in_range.size(), {{"id", in_range}}, {}, false).scores, want);
    // Out of range: an error naming the feature, or the default row when asked.
    const Lookup refused = run(bytes, 2, {{"id", {1, kRows}}}, {}, false);
    CHECK(refused.status.code() == Error::kIdOutOfRange);
    CHECK(std::string(refused.status.message()).find("feature 'id'") != std::string::npos);
    want.clear();
    for (int64_t id : {int64_t{1}, kDefault, kDefault})
      for (int64_t d = 0; d < c.dim; ++d) want.push_back(table.value(id, d));
    check_close(run(bytes, 3, {{"id", {1, kRows, -1}}}, {}, true).scores, want);
  }
}

TEST_CASE("EMBEDDING_MULTI reads each input's rows of an INT8_ROW_F16 / UINT4_ROW_F16 / UINT4_ROW_CODEBOOK table") {
  for (const Case& c : kCases) {
    CAPTURE(schema::EnumNameDType(c.dtype));
    CAPTURE(c.dim);
    const Table table(c.dtype, kRows, c.dim, static_cast<unsigned>(100 + c.dim));
    ModelBuilder m;
    const int a = m.feature_tensor(m.add_feature("a", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const int b = m.feature_tensor(m.add_feature("b", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const int t = table.add_to(m);
    const int out = m.add_activation("e", DType::FLOAT32, {-1, 2 * c.dim});
    const std::vector<int64_t> offsets = {0, 3}, counts = {3, kRows - 3}, defaults = {2, -1};
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING_MULTI, {t, a, b}, {out}, OpOptions::EmbeddingMultiOptions,
             [=](flatbuffers::FlatBufferBuilder& fbb) {
               return schema::CreateEmbeddingMultiOptionsDirect(fbb, &offsets, &counts, &defaults).Union();
             });
    add_column_tasks(m, out, 2 * c.dim);
    const ModelBytes bytes = m.finish();
    const std::vector<int64_t> ids_a = {0, 2, 7}, ids_b = {0, kRows - 4, 1};  // a: 7 is outside its 3 rows
    std::vector<float> want;
    for (size_t i = 0; i < 3; ++i) {
      const int64_t row_a = ids_a[i] < 3 ? ids_a[i] : 2;
      for (int64_t d = 0; d < c.dim; ++d) want.push_back(table.value(row_a, d));
      for (int64_t d = 0; d < c.dim; ++d) want.push_back(table.value(3 + ids_b[i], d));
    }
    check_close(run(bytes, 3, {{"a", ids_a}, {"b", ids_b}}, {}, true).scores, want);
    CHECK(run(bytes, 3, {{"a", ids_a}, {"b", ids_b}}, {}, false).status.code() == Error::kIdOutOfRange);
    CHECK(run(bytes, 1, {{"a", {0}}, {"b", {kRows - 3}}}, {}, true).status.code() == Error::kIdOutOfRange);  // no default
  }
}

TEST_CASE("BAG sums (weighted), averages and takes the maximum of INT8_ROW_F16 / UINT4_ROW_F16 / codebook rows") {
  constexpr int64_t kLength = 3;
  for (const Case& c : kCases) {
    for (schema::BagMode mode : {schema::BagMode::SUM, schema::BagMode::MEAN, schema::BagMode::MAXIMUM}) {
      CAPTURE(schema::EnumNameDType(c.dtype));
      CAPTURE(c.dim);
      CAPTURE(schema::EnumNameBagMode(mode));
      const Table table(c.dtype, kRows, c.dim, static_cast<unsigned>(200 + c.dim));
      const bool weighted = mode == schema::BagMode::SUM;
      ModelBuilder m;
      const int ids = m.feature_tensor(m.add_feature("ids", schema::Side::ITEM, FeatureKind::ID_LIST, kLength, kRows));
      std::vector<int> inputs = {table.add_to(m), ids};
      if (weighted) inputs.push_back(m.feature_tensor(m.add_feature("w", schema::Side::ITEM, FeatureKind::DENSE, kLength)));
      const int out = m.add_activation("e", DType::FLOAT32, {-1, c.dim});
      m.add_op(ModelBuilder::kItem, OpType::BAG, inputs, {out}, OpOptions::BagOptions,
               [=](flatbuffers::FlatBufferBuilder& fbb) { return schema::CreateBagOptions(fbb, mode, kDefault).Union(); });
      add_column_tasks(m, out, c.dim);
      const ModelBytes bytes = m.finish();
      const std::vector<int64_t> list = {0, kRows - 1, 3, 5, kRows, 0};  // row 1 has an id out of range
      const std::vector<float> weights = {0.5f, -2.0f, 1.0f, 0.25f, 3.0f, -1.0f};
      std::vector<float> want;
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t d = 0; d < c.dim; ++d) {
          float acc = 0.0f;
          for (int64_t j = 0; j < kLength; ++j) {
            const int64_t id = list[r * kLength + j] < kRows ? list[r * kLength + j] : kDefault;
            const float v = table.value(id, d);
            if (mode == schema::BagMode::MAXIMUM) acc = j == 0 ? v : std::max(acc, v);
            else acc += (weighted ? weights[r * kLength + j] : 1.0f) * v;
          }
          want.push_back(mode == schema::BagMode::MEAN ? acc / kLength : acc);
        }
      }
      check_close(run(bytes, 2, {{"ids", list}}, weighted ? weights : std::vector<float>{}, true).scores, want);
      CHECK(run(bytes, 2, {{"ids", list}}, weighted ? weights : std::vector<float>{}, false).status.code() ==
            Error::kIdOutOfRange);
    }
  }
}

TEST_CASE("BAG over a row longer than the kernel's chunk dequantises every part") {
  // D = 131: three chunks of the bag kernel, the last one odd (UINT4 nibbles across the boundary).
  for (DType dtype : {DType::INT8_ROW_F16, DType::UINT4_ROW_F16, DType::UINT4_ROW_CODEBOOK}) {
    const Table table(dtype, 4, 131, 7);
    EmbeddingTable lookup{table.data.data(), 4, 131, dtype, nullptr, table.params.data()};
    lookup.codebook = table.codebook.data();
    lookup.scale_index = table.index.data();
    const int64_t ids[2] = {3, 1};
    std::vector<float> out(131);
    REQUIRE(embedding_bag(lookup, BagMode::kSum, ids, 1, nullptr, 1, 1, 2, -1, "t", out.data()).is_ok());
    for (int64_t d = 0; d < 131; ++d) CHECK(out[d] == doctest::Approx(table.value(3, d) + table.value(1, d)));
  }
}

// ---- files whose per-row parameters do not fit -----------------------------------

struct OneTable {
  ModelBuilder m;
  int ids, table, out;
  explicit OneTable(DType dtype, int64_t dim = 4) {
    ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const bool int4 = dtype == DType::UINT4_ROW_F16 || dtype == DType::UINT4_ROW_CODEBOOK;
    const std::vector<uint8_t> bytes(static_cast<size_t>(kRows * (int4 ? (dim + 1) / 2 : dim)));
    table = m.add_constant("table", dtype, {kRows, dim}, bytes.data(), bytes.size());
    out = m.add_activation("e", DType::FLOAT32, {-1, dim});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {table, ids}, {out});
    m.add_task("t", schema::TaskKind::VALUE, out, 0);
  }
  Status load() { return load_status(m.finish()); }
};

bool refused(const Status& status, const char* text) {
  const bool found = !status.is_ok() && status.code() == Error::kInvalidModel &&
                     std::strstr(status.message(), text) != nullptr;
  if (!found) MESSAGE("message: ", std::string(status.is_ok() ? "(loaded)" : status.message()));
  return found;
}

TEST_CASE("per-row parameters of the wrong size, or missing, are refused with a clear error") {
  for (DType dtype : {DType::INT8_ROW_F16, DType::UINT4_ROW_F16, DType::UINT4_ROW_CODEBOOK}) {
    CAPTURE(schema::EnumNameDType(dtype));
    const size_t need = dtype == DType::UINT4_ROW_CODEBOOK ? 1024 + kRows
                                                            : static_cast<size_t>(kRows) * (dtype == DType::INT8_ROW_F16 ? 2 : 4);
    const std::vector<uint8_t> params(std::max(need, size_t{4 * kRows}) + 4);  // every size tried below
    {
      OneTable ok(dtype);
      ok.m.add_row_params(ok.table, params.data(), need);
      CHECK(ok.load().is_ok());
    }
    for (size_t wrong : {need - 2, need + 2, size_t{0}, size_t{kRows}, size_t{4 * kRows}}) {
      if (wrong == need) continue;  // 4·V is UINT4_ROW_F16's size
      OneTable bad(dtype);
      bad.m.add_row_params(bad.table, params.data(), wrong);
      CHECK(refused(bad.load(), "bytes of row parameters but buffer"));
    }
    OneTable missing(dtype);
    CHECK(refused(missing.load(), "needs its row_params buffer"));
    OneTable quantised(dtype);
    quantised.m.add_row_params(quantised.table, params.data(), need);
    quantised.m.set_quantization(quantised.table, std::vector<float>(kRows, 1.0f), {}, 0);
    CHECK(refused(quantised.load(), "takes no Quantization"));
  }
  {
    OneTable odd(DType::UINT4_ROW_F16, 5);  // 3 bytes a row: 27 bytes
    const std::vector<uint8_t> params(kRows * 4);
    odd.m.add_row_params(odd.table, params.data(), params.size());
    CHECK(odd.load().is_ok());
  }
  {
    ModelBuilder m;  // a 4-bit table given whole bytes per element
    const int ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const std::vector<uint8_t> bytes(kRows * 4), params(kRows * 4);
    const int table = m.add_constant("table", DType::UINT4_ROW_F16, {kRows, 4}, bytes.data(), bytes.size());
    m.add_row_params(table, params.data(), params.size());
    const int out = m.add_activation("e", DType::FLOAT32, {-1, 4});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {table, ids}, {out});
    m.add_task("t", schema::TaskKind::VALUE, out, 0);
    CHECK(refused(load_status(m.finish()), "need 18 bytes but buffer"));
  }
  {
    ModelBuilder m;  // row_params on a FLOAT32 table
    const int ids = m.feature_tensor(m.add_feature("id", schema::Side::ITEM, FeatureKind::ID, 1, kRows));
    const int table = m.add_constant_f32("table", {2, 2}, {1, 2, 3, 4});
    const uint16_t params[2] = {0x3C00, 0x3C00};
    m.add_row_params(table, params, sizeof(params));
    const int out = m.add_activation("e", DType::FLOAT32, {-1, 2});
    m.add_op(ModelBuilder::kItem, OpType::EMBEDDING, {table, ids}, {out});
    m.add_task("t", schema::TaskKind::VALUE, out, 0);
    CHECK(refused(load_status(m.finish()), "row_params on a FLOAT32 tensor"));
  }
}

TEST_CASE("UINT4_ROW_CODEBOOK: a NaN, infinite or negative codebook entry is refused, 0 and the largest float load") {
  const float bad_values[] = {std::nanf(""), -std::nanf(""), INFINITY, -INFINITY, -1.0f, -1e-45f};
  for (int entry : {0, 77, 255}) {
    CAPTURE(entry);
    for (float bad : bad_values) {
      CAPTURE(bad);
      std::vector<float> codebook(256, 0.5f);
      codebook[static_cast<size_t>(entry)] = bad;
      std::vector<uint8_t> params(1024 + kRows, 0);
      std::memcpy(params.data(), codebook.data(), 1024);
      OneTable t(DType::UINT4_ROW_CODEBOOK);
      t.m.add_row_params(t.table, params.data(), params.size());
      const Status status = t.load();
      CHECK(refused(status, "must be finite and >= 0"));
      CHECK(std::string(status.message()).find("codebook entry " + std::to_string(entry)) != std::string::npos);
    }
  }
  std::vector<float> codebook(256, 0.0f);
  codebook[1] = -0.0f;  // >= 0
  codebook[2] = std::ldexp(1.0f, -149);
  codebook[255] = 3.4028235e38f;
  std::vector<uint8_t> params(1024 + kRows, 255);
  std::memcpy(params.data(), codebook.data(), 1024);
  OneTable t(DType::UINT4_ROW_CODEBOOK);
  t.m.add_row_params(t.table, params.data(), params.size());
  CHECK(t.load().is_ok());
}

}  // namespace
}  // namespace edgemtl
