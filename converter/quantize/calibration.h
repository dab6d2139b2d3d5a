// The calibration harness: reads rows or requests files and runs the edgemtl
// runtime on them (scores of a written model, and the f32 graph evaluated on
// the rows for activation ranges). The one place the converter reads rows
// (through the request library, as edgemtl-run reads them).
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "requests/request.h"

namespace edgemtl::converter {

/// One line of a rows or requests file (requests::LineFormat::kEither): a row
/// is a request of one item whose user object is the row itself. `labels`
/// (optional, per item or row): {task: 0/1}, read by the validation's AUC.
using requests::Request;
using requests::count_items;

/// Throws ConversionError on an unreadable file, a bad line, or no rows.
std::vector<Request> read_requests(const std::string& path);

/// Scores every item of `requests` with the runtime: [items x tasks]. Throws on
/// runtime errors; a session that cannot be created is reported through
/// `create_error` instead when it is given (then the result is empty).
std::vector<float> score_requests(const std::vector<uint8_t>& file, const std::vector<Request>& requests,
                                  std::string* create_error = nullptr);

/// Every value of `g` computed on the rows (user and item features of one row
/// together, so that every activation has n rows), the features read through
/// `f32_file` (g written unquantised). Also the pre-activation output of each
/// fully-connected node with a non-RELU fused activation.
struct RowValues {
  Graph graph;                          // values[v] computed (constants unchanged)
  std::map<int, Value> pre_activation;  // node -> FC output before SIGMOID/TANH/LEAKY_RELU
};
RowValues evaluate_on_rows(const Graph& g, const std::vector<uint8_t>& f32_file, const std::vector<Request>& requests);

/// The 0/1 label of `task` for every item (an item's own labels, else its
/// user's); empty and *complete = false when some item has none.
std::vector<int> labels_of(const std::vector<Request>& requests, const std::string& task, bool* complete);

/// A model file's tasks, as the runtime reads them.
struct TaskDescription {
  std::string name;
  bool probability = false;
};
std::vector<TaskDescription> tasks_of(const std::vector<uint8_t>& file);

}  // namespace edgemtl::converter
