// Census-Income preprocessing in C++: applies examples/census/preprocessing.json
// exactly as preprocess.py does (parsing, split rule, vocabularies, numeric
// transforms), and the AUC used to evaluate the scores.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgemtl::census {

/// splitmix64's output function; all arithmetic modulo 2^64.
uint64_t splitmix64(uint64_t x);

enum class Split { kTrain, kValidation, kTest };
/// The split of the 0-based row `row_index`: h = splitmix64(row_index ^ seed);
/// h % 4 in {0, 1}: train, 2: validation, 3: test.
Split split_of(uint64_t row_index, uint64_t seed);
const char* split_name(Split split);

struct CategoricalColumn {
  std::string name;
  size_t column;  ///< index among the file's columns
  int64_t table_size;
  std::unordered_map<std::string, int64_t> vocabulary;  ///< value -> id >= 1; anything else is 0

  int64_t id_of(std::string_view value) const;
};

struct NumericColumn {
  std::string name;
  size_t column;
  bool log1p;
  double mean;
  double std;

  /// float((transform(x) - mean) / std), computed in double.
  float normalise(double x) const;
};

struct Label {
  std::string task;
  size_t column;
  std::string positive;
};

struct Preprocessing {
  std::vector<std::string> columns;
  uint64_t split_seed = 0;
  std::vector<CategoricalColumn> categorical;
  std::string numeric_input;  ///< name of the packed float input
  std::vector<NumericColumn> numeric;
  std::vector<Label> labels;
};

/// Reads preprocessing.json; false with `error` set when it is missing or malformed.
bool load_preprocessing(const std::string& path, Preprocessing* out, std::string* error);

/// Splits one line (without its line end) on ", " and strips spaces at both
/// ends of every field. The views point into `line`.
std::vector<std::string_view> split_fields(std::string_view line);

/// Encoded rows, columnar: what a Session takes.
struct EncodedRows {
  size_t rows = 0;
  std::vector<std::vector<int64_t>> ids;     ///< per categorical column, rows values
  std::vector<float> numeric;                ///< rows * numeric.size(), row-major
  std::vector<std::vector<uint8_t>> labels;  ///< per label, rows values (0/1)
  std::vector<uint64_t> row_index;           ///< the file row each came from

  void reset(const Preprocessing& preprocessing);
};

/// Appends one row's fields (all columns of the file). False with `error` set
/// when the field count is wrong or a numeric field is not a finite number.
bool encode_row(const Preprocessing& preprocessing, const std::vector<std::string_view>& fields, uint64_t row_index,
                EncodedRows* out, std::string* error);

/// Reads the data file (gzip or plain text) and encodes the rows of `split`
/// (every row when `all_splits`). False with `error` naming file and line.
bool read_rows(const std::string& path, const Preprocessing& preprocessing, Split split, bool all_splits,
               EncodedRows* out, std::string* error);

/// Area under the ROC curve: (sum of the positives' ranks - P(P+1)/2) / (P N),
/// ranks 1-based in ascending score order, tied scores sharing their mean rank.
/// NaN when there are no positives or no negatives, or a score is NaN.
/// `labels` has the size of `scores`.
double auc(const std::vector<float>& scores, const std::vector<uint8_t>& labels);

}  // namespace edgemtl::census
