// Census preprocessing and AUC, checked against independent references: a
// naive pair count for the AUC, splitmix64's published outputs, the split of
// the first rows as printed by preprocess.py (properties of the rule, not of the
// data), values computed by hand for the numeric transforms.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "examples/census/census_data.h"

namespace census = edgemtl::census;

namespace {

const std::string kPreprocessing = EDGEMTL_SOURCE_DIR "/examples/census/preprocessing.json";

// AUC as the probability that a random positive outscores a random negative, ties counting half.
double naive_auc(const std::vector<float>& scores, const std::vector<uint8_t>& labels) {
  double wins = 0.0, pairs = 0.0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!labels[i]) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[j]) continue;
      pairs += 1.0;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return wins / pairs;
}

census::Preprocessing load() {
  census::Preprocessing preprocessing;
  std::string error;
  REQUIRE_MESSAGE(census::load_preprocessing(kPreprocessing, &preprocessing, &error), error);
  return preprocessing;
}

const census::CategoricalColumn& categorical(const census::Preprocessing& p, const std::string& name) {
  for (const auto& column : p.categorical)
    if (column.name == name) return column;
  FAIL("no categorical column " << name);
  return p.categorical.front();
}

const census::NumericColumn& numeric(const census::Preprocessing& p, const std::string& name) {
  for (const auto& column : p.numeric)
    if (column.name == name) return column;
  FAIL("no numeric column " << name);
  return p.numeric.front();
}

// A made-up row in the file's format (42 fields), with the given values for some columns.
std::string synthetic_row(const census::Preprocessing& p, const std::vector<std::pair<std::string, std::string>>& set) {
  std::string line;
  for (size_t c = 0; c < p.columns.size(); ++c) {
    std::string value = "0";
    for (const auto& [name, v] : set)
      if (name == p.columns[c]) value = v;
    line += (c ? ", " : "") + value;
  }
  return line;
}

}  // namespace

TEST_CASE("auc matches a naive pair count, with ties") {
  std::mt19937 random(7);
  for (int trial = 0; trial < 20; ++trial) {
    size_t n = 2 + random() % 300;
    std::vector<float> scores(n);
    std::vector<uint8_t> labels(n);
    for (size_t i = 0; i < n; ++i) {
      scores[i] = static_cast<float>(random() % 12) / 11.0f;  // few distinct values: many ties
      labels[i] = random() % 3 == 0;
    }
    labels[0] = 1;
    labels[1] = 0;
    CHECK(census::auc(scores, labels) == doctest::Approx(naive_auc(scores, labels)).epsilon(1e-12));
  }
}

TEST_CASE("auc edge cases") {
  CHECK(census::auc({0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 1, 1}) == 1.0);
  CHECK(census::auc({0.1f, 0.2f, 0.3f, 0.4f}, {1, 1, 0, 0}) == 0.0);
  CHECK(census::auc({0.5f, 0.5f, 0.5f}, {1, 0, 0}) == 0.5);
  CHECK(std::isnan(census::auc({0.1f, 0.2f}, {1, 1})));
  CHECK(std::isnan(census::auc({0.1f, 0.2f}, {0, 0})));
  CHECK(std::isnan(census::auc({0.1f, std::nanf("")}, {1, 0})));
}

TEST_CASE("splitmix64 gives the reference generator's first outputs (state 0)") {
  CHECK(census::splitmix64(0) == 0xE220A8397B1DCDAFULL);
  CHECK(census::splitmix64(0x9E3779B97F4A7C15ULL) == 0x6E789E6AA1B965F4ULL);
}

TEST_CASE("the split of rows 0..19 is the one preprocess.py --print-split 20 prints") {
  using S = census::Split;
  const S expected[20] = {S::kValidation, S::kValidation, S::kTrain, S::kTest,  S::kTest,
                          S::kTrain,      S::kValidation, S::kTest,  S::kTest,  S::kTrain,
                          S::kTrain,      S::kTest,       S::kTrain, S::kTrain, S::kTrain,
                          S::kTrain,      S::kTrain,      S::kTrain, S::kTest,  S::kValidation};
  census::Preprocessing p = load();
  REQUIRE(p.split_seed == 2018);
  for (uint64_t i = 0; i < 20; ++i) CHECK_MESSAGE(census::split_of(i, p.split_seed) == expected[i], "row " << i);
  // h of row 0, also printed there: 0xf270968d91a33892 % 4 == 2.
  CHECK(census::splitmix64(0 ^ 2018) == 0xF270968D91A33892ULL);
}

TEST_CASE("split_fields splits on ', ' and strips spaces") {
  auto fields = census::split_fields("38, Private, Foreign born- Not a citizen of U S , ?, - 50000.");
  REQUIRE(fields.size() == 5);
  CHECK(fields[0] == "38");
  CHECK(fields[1] == "Private");
  CHECK(fields[2] == "Foreign born- Not a citizen of U S");
  CHECK(fields[3] == "?");
  CHECK(fields[4] == "- 50000.");
  CHECK(census::split_fields("a").size() == 1);
  CHECK(census::split_fields("a, , b")[1].empty());
}

TEST_CASE("preprocessing.json: columns, vocabularies, unknown values") {
  census::Preprocessing p = load();
  REQUIRE(p.columns.size() == 42);
  CHECK(p.categorical.size() + p.numeric.size() + 3 == 42);  // 2 labels and instance_weight are not features
  CHECK(p.numeric_input == "numeric");
  for (const auto& column : p.categorical) {
    CHECK_MESSAGE(column.name != "instance_weight", "instance_weight is not a feature");
    CHECK_MESSAGE(column.name != "marital_stat", "labels are not features");
    CHECK_MESSAGE(column.name != "income_50k", "labels are not features");
    CHECK(column.table_size == static_cast<int64_t>(column.vocabulary.size()) + 1);  // id 0 is reserved
  }
  const auto& sex = categorical(p, "sex");
  CHECK(sex.id_of("Female") >= 1);
  CHECK(sex.id_of("Male") >= 1);
  CHECK(sex.id_of("Female") != sex.id_of("Male"));
  CHECK(sex.id_of("Martian") == 0);
  CHECK(sex.id_of("") == 0);
  CHECK(categorical(p, "country_self").id_of("?") >= 1);  // missing is a value of its own
  CHECK(categorical(p, "country_self").id_of("United-States") == 1);  // the most frequent value gets id 1
  CHECK(categorical(p, "det_ind_code").id_of("33") >= 1);             // codes are categories
  CHECK(categorical(p, "year").id_of("94") >= 1);
  CHECK(categorical(p, "year").id_of("2024") == 0);
  CHECK(p.labels.size() == 2);
  CHECK(p.labels[0].task == "income");
  CHECK(p.labels[0].positive == "50000+.");
  CHECK(p.labels[1].task == "never_married");
}

TEST_CASE("numeric transforms") {
  census::Preprocessing p = load();
  const auto& gains = numeric(p, "capital_gains");
  CHECK(gains.log1p);
  // ln(15025) = 9.617470759403409 (computed separately).
  CHECK(gains.normalise(15024.0) == doctest::Approx((9.617470759403409 - gains.mean) / gains.std).epsilon(1e-7));
  CHECK(gains.normalise(0.0) == doctest::Approx(-gains.mean / gains.std).epsilon(1e-7));
  const auto& age = numeric(p, "age");
  CHECK_FALSE(age.log1p);
  CHECK(age.normalise(38.0) == doctest::Approx((38.0 - age.mean) / age.std).epsilon(1e-7));
  CHECK(numeric(p, "weeks_worked").std > 0.0);
}

TEST_CASE("encode_row and read_rows on made-up rows") {
  census::Preprocessing p = load();
  std::vector<std::string> lines = {
      synthetic_row(p, {{"age", "40"}, {"sex", "Male"}, {"marital_stat", "Never married"}, {"income_50k", "50000+."},
                        {"capital_gains", "15024"}}),
      synthetic_row(p, {{"age", "7"}, {"sex", "Unseen"}, {"marital_stat", "Divorced"}, {"income_50k", "- 50000."}}),
      "",  // empty lines do not count as rows
      synthetic_row(p, {{"age", "x"}}),  // not a number
  };
  std::filesystem::path path = std::filesystem::temp_directory_path() / "census_data_test.csv.gz";
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  for (size_t k = 0; k < lines.size(); ++k) gzprintf(file, "%s%s", lines[k].c_str(), k == 0 ? "\r\n" : "\n");
  gzclose(file);

  census::EncodedRows rows;
  std::string error;
  CHECK_FALSE(census::read_rows(path.string(), p, census::Split::kTest, /*all_splits=*/true, &rows, &error));
  CHECK(error.find(":4: age: 'x' is not a finite number") != std::string::npos);
  REQUIRE(rows.rows == 2);  // the rows before the bad one

  size_t sex = 0, gains = 0;
  for (size_t k = 0; k < p.categorical.size(); ++k)
    if (p.categorical[k].name == "sex") sex = k;
  for (size_t k = 0; k < p.numeric.size(); ++k)
    if (p.numeric[k].name == "capital_gains") gains = k;
  CHECK(rows.ids[sex][0] == categorical(p, "sex").id_of("Male"));
  CHECK(rows.ids[sex][1] == 0);
  CHECK(rows.numeric[0 * p.numeric.size() + gains] == numeric(p, "capital_gains").normalise(15024.0));
  CHECK(rows.numeric[1 * p.numeric.size() + 0] == numeric(p, "age").normalise(7.0));
  CHECK(rows.labels[0] == std::vector<uint8_t>{1, 0});
  CHECK(rows.labels[1] == std::vector<uint8_t>{1, 0});
  CHECK(rows.row_index == std::vector<uint64_t>{0, 1});

  // Split selection: rows 0 and 1 are validation rows (see above).
  std::filesystem::path good = std::filesystem::temp_directory_path() / "census_data_test.csv";
  std::FILE* plain = std::fopen(good.c_str(), "w");
  REQUIRE(plain != nullptr);
  std::fprintf(plain, "%s\n%s\n%s\n", lines[0].c_str(), lines[1].c_str(), lines[0].c_str());
  std::fclose(plain);
  CHECK(census::read_rows(good.string(), p, census::Split::kValidation, false, &rows, &error));
  CHECK(rows.row_index == std::vector<uint64_t>{0, 1});
  CHECK(census::read_rows(good.string(), p, census::Split::kTrain, false, &rows, &error));
  CHECK(rows.row_index == std::vector<uint64_t>{2});

  // A damaged row fails the read even outside the split read (row 2 is a train row).
  plain = std::fopen(good.c_str(), "w");
  REQUIRE(plain != nullptr);
  std::fprintf(plain, "%s\n%s\n1, 2\n", lines[0].c_str(), lines[1].c_str());
  std::fclose(plain);
  CHECK_FALSE(census::read_rows(good.string(), p, census::Split::kTest, false, &rows, &error));
  CHECK(error.find(":3: 2 fields, expected 42") != std::string::npos);

  CHECK_FALSE(census::read_rows((good.string() + ".missing"), p, census::Split::kTest, false, &rows, &error));
  CHECK(error.find("cannot open") != std::string::npos);
  std::vector<std::string_view> short_row = {"1", "2"};
  CHECK_FALSE(census::encode_row(p, short_row, 0, &rows, &error));
  CHECK(error == "2 fields, expected 42");
  std::filesystem::remove(path);
  std::filesystem::remove(good);
}

TEST_CASE("load_preprocessing rejects bad files") {
  census::Preprocessing p;
  std::string error;
  CHECK_FALSE(census::load_preprocessing("/nonexistent/preprocessing.json", &p, &error));
  CHECK(error.find("cannot open") != std::string::npos);
  std::filesystem::path path = std::filesystem::temp_directory_path() / "census_bad_preprocessing.json";
  for (const char* text : {"{", "{\"columns\": [\"a\"]}",
                           "{\"columns\": [\"a\"], \"split\": {\"seed\": 1}, \"numeric_input\": \"n\", "
                           "\"categorical\": [{\"column\": \"b\", \"table_size\": 2, \"vocabulary\": {}}], "
                           "\"numeric\": [], \"labels\": []}"}) {
    std::FILE* file = std::fopen(path.c_str(), "w");
    REQUIRE(file != nullptr);
    std::fputs(text, file);
    std::fclose(file);
    error.clear();
    CHECK_FALSE(census::load_preprocessing(path.string(), &p, &error));
    CHECK_FALSE(error.empty());
  }
  std::filesystem::remove(path);
}
