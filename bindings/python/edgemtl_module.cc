// Python binding (pybind11 + numpy) over the C++ API: load and inspect a
// model, score with numpy arrays in and out, convert ONNX models. Runtime
// errors become edgemtl.Error (status name in .status, code in .code).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/format/model.h"
#include "runtime/include/edgemtl.h"
#include "schema/edgemtl_generated.h"
#ifdef EDGEMTL_PYTHON_CONVERTER
#include "converter/convert_api.h"
#endif

namespace py = pybind11;

namespace {

py::object error_type;  // edgemtl.Error, created at import

[[noreturn]] void raise_error(edgemtl::Error code, const std::string& message) {
  py::object error = error_type(py::str(message));
  error.attr("status") = py::str(edgemtl::error_name(code));
  error.attr("code") = py::int_(static_cast<int>(code));
  PyErr_SetObject(error_type.ptr(), error.ptr());
  throw py::error_already_set();
}

[[noreturn]] void raise_status(const edgemtl::Status& status) { raise_error(status.code(), status.message()); }

const char* side_name(edgemtl::Side side) { return side == edgemtl::Side::kUser ? "user" : "item"; }
const char* kind_name(edgemtl::FeatureKind kind) {
  return kind == edgemtl::FeatureKind::kId ? "id" : kind == edgemtl::FeatureKind::kIdList ? "id_list" : "dense";
}

struct Feature {
  std::string name, side, kind;
  int64_t width, padding_id, table_size;
};

struct Task {
  std::string name, kind;
};

// Owns the model and, when loaded from bytes, an aligned copy of them.
class PyModel {
 public:
  static std::shared_ptr<PyModel> from_file(const std::string& path) {
    auto loaded = edgemtl::Model::load_file(path.c_str());
    if (!loaded.ok()) raise_status(loaded.status());
    auto model = std::shared_ptr<PyModel>(new PyModel());
    model->model_ = std::move(loaded).value();
    return model;
  }

  static std::shared_ptr<PyModel> from_bytes(const py::bytes& data) {
    const std::string_view view(data);
    auto model = std::shared_ptr<PyModel>(new PyModel());
    // The runtime uses the bytes in place and wants them 64-byte aligned.
    const size_t rounded = (view.size() + 63) / 64 * 64;
    model->copy_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, rounded ? rounded : 64)));
    if (!model->copy_) throw std::bad_alloc();
    std::memcpy(model->copy_.get(), view.data(), view.size());
    auto loaded = edgemtl::Model::load_buffer(model->copy_.get(), view.size());
    if (!loaded.ok()) raise_status(loaded.status());
    model->model_ = std::move(loaded).value();
    return model;
  }

  const edgemtl::Model& model() const { return *model_; }

  std::vector<Feature> features() const {
    std::vector<Feature> out;
    for (size_t i = 0; i < model_->num_features(); ++i) {
      const edgemtl::FeatureInfo f = model_->feature(i);
      out.push_back({f.name, side_name(f.side), kind_name(f.kind), f.width, f.padding_id, f.table_size});
    }
    return out;
  }

  std::vector<Task> tasks() const {
    std::vector<Task> out;
    for (size_t i = 0; i < model_->num_tasks(); ++i) {
      const edgemtl::TaskInfo t = model_->task(i);
      out.push_back({t.name, t.kind == edgemtl::TaskKind::kProbability ? "probability" : "value"});
    }
    return out;
  }

  std::map<std::string, std::string> metadata() const {
    std::map<std::string, std::string> out;
    const auto* entries = model_->root()->metadata();
    if (!entries) return out;
    for (const auto* entry : *entries)
      out[entry->key() ? entry->key()->str() : ""] = entry->value() ? entry->value()->str() : "";
    return out;
  }

  std::string producer() const { return model_->root()->producer() ? model_->root()->producer()->str() : ""; }
  uint32_t format_version() const { return model_->root()->format_version(); }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  PyModel() = default;
  std::unique_ptr<uint8_t, FreeDeleter> copy_;  // declared before model_: destroyed after it
  std::unique_ptr<edgemtl::Model> model_;
};

// Feature values of one call, converted to contiguous int64 / float32 arrays
// that stay alive for the call.
struct Inputs {
  std::vector<edgemtl::FeatureInput> inputs;
  std::vector<py::array> keep;
  size_t rows = 0;  // rows of the first item-side feature (count / width)
  edgemtl::Span<const edgemtl::FeatureInput> span() const { return {inputs.data(), inputs.size()}; }
};

Inputs convert_inputs(const edgemtl::Model& model, const py::dict& features) {
  Inputs out;
  for (const auto& entry : features) {
    const std::string name = py::cast<std::string>(py::str(entry.first));
    const int index = model.find_feature(name.c_str());
    if (index < 0) raise_error(edgemtl::Error::kNotFound, "no feature named '" + name + "'");
    const edgemtl::FeatureInfo info = model.feature(static_cast<size_t>(index));
    edgemtl::FeatureInput input;
    input.feature = index;
    py::object value = py::reinterpret_borrow<py::object>(entry.second);
    if (info.kind == edgemtl::FeatureKind::kDense) {
      // forcecast: ints and float64 become float32 (as PyTorch's float inputs are).
      auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
      if (!array) raise_error(edgemtl::Error::kInvalidArgument, "feature '" + name + "': expected numbers");
      input.values = array.data();
      input.count = static_cast<size_t>(array.size());
      out.keep.push_back(array);
    } else {
      py::array given = py::array::ensure(value);
      if (!given) raise_error(edgemtl::Error::kInvalidArgument, "feature '" + name + "': expected integer ids");
      if (given.size() > 0 && given.dtype().kind() != 'i' && given.dtype().kind() != 'u')
        raise_error(edgemtl::Error::kInvalidArgument,
                    "feature '" + name + "': ids are integers, got an array of dtype " +
                        py::cast<std::string>(py::str(given.dtype())));
      auto array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(given);
      input.ids = array.data();
      input.count = static_cast<size_t>(array.size());
      out.keep.push_back(array);
    }
    if (out.rows == 0 && info.side == edgemtl::Side::kItem && info.width > 0)
      out.rows = input.count / static_cast<size_t>(info.width);
    out.inputs.push_back(input);
  }
  return out;
}

class PySession {
  // A copy of n rows of scores (owned by the session until its next call) as a float32 array [n, tasks].
  py::array_t<float> scores_array(edgemtl::Span<const float> scores, size_t n) const {
    const size_t tasks = model_->model().num_tasks();
    py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(tasks)});
    std::memcpy(out.mutable_data(), scores.data(), n * tasks * sizeof(float));
    return out;
  }

 public:
  PySession(std::shared_ptr<PyModel> model, size_t max_items, int threads, bool map_out_of_range_ids,
            size_t max_arena_bytes)
      : model_(std::move(model)) {
    edgemtl::SessionOptions options;
    options.max_items = max_items;
    options.threads = threads;
    options.map_out_of_range_ids = map_out_of_range_ids;
    options.max_arena_bytes = max_arena_bytes;
    auto created = edgemtl::Session::create(model_->model(), options);
    if (!created.ok()) raise_status(created.status());
    session_ = std::move(created).value();
  }

  void set_user(const py::dict& features) {
    Inputs inputs = convert_inputs(model_->model(), features);
    const edgemtl::Status status = session_->set_user(inputs.span());
    if (!status.is_ok()) raise_status(status);
  }

  py::array_t<float> score(const py::dict& features, py::object n_given) {
    Inputs inputs = convert_inputs(model_->model(), features);
    size_t n = inputs.rows;
    if (!n_given.is_none()) n = py::cast<size_t>(n_given);
    if (n == 0)
      raise_error(edgemtl::Error::kInvalidArgument,
                  "score: no item rows (give item features, or n= for a model without item features)");
    auto scores = session_->score(inputs.span(), n);
    if (!scores.ok()) raise_status(scores.status());
    return scores_array(scores.value(), n);
  }

  void set_candidates(const py::dict& features, py::object n_given) {
    Inputs inputs = convert_inputs(model_->model(), features);
    const size_t n = n_given.is_none() ? inputs.rows : py::cast<size_t>(n_given);
    if (n == 0)
      raise_error(edgemtl::Error::kInvalidArgument,
                  "set_candidates: no item rows (give item features, or n= for a model without item features)");
    const edgemtl::Status status = session_->set_candidates(inputs.span(), n);
    if (!status.is_ok()) raise_status(status);
  }

  void replace_candidates(const std::vector<size_t>& positions, const py::dict& features) {
    Inputs inputs = convert_inputs(model_->model(), features);
    const edgemtl::Status status =
        session_->replace_candidates(edgemtl::Span<const size_t>(positions.data(), positions.size()), inputs.span());
    if (!status.is_ok()) raise_status(status);
  }

  py::array_t<float> rank() {
    auto scores = session_->rank();
    if (!scores.ok()) raise_status(scores.status());
    return scores_array(scores.value(), session_->num_candidates());
  }

  std::shared_ptr<PyModel> model() const { return model_; }
  size_t arena_bytes() const { return session_->arena_bytes(); }
  size_t tile_lanes() const { return session_->tile_lanes(); }
  size_t num_candidates() const { return session_->num_candidates(); }
  size_t candidate_cache_bytes() const { return session_->candidate_cache_bytes(); }

 private:
  std::shared_ptr<PyModel> model_;  // keeps the model alive as long as the session
  std::unique_ptr<edgemtl::Session> session_;
};

#ifdef EDGEMTL_PYTHON_CONVERTER
void convert(const std::string& onnx_path, const std::string& out_path, const std::vector<std::string>& user_inputs,
             py::object tasks, const std::string& quantize, py::object calibration, py::object validate,
             const std::map<std::string, std::string>& metadata, bool split, py::object oov_row, bool keep_names,
             bool verbose, const py::dict& input_shapes, const py::dict& fix_inputs,
             const std::vector<std::string>& outputs, const std::string& list_padding, bool keep_last_ids) {
  using namespace edgemtl::converter;
  ConvertOptions options;
  options.import.user_inputs = user_inputs;
  options.split_user_item_fc = split;
  if (!oov_row.is_none()) options.import.oov_row = py::cast<int64_t>(oov_row);
  // As edgemtl-convert --input-shape, --fix-input, --outputs, --list-padding, --keep-last-ids (in the dicts' order).
  for (const auto& [name, length] : input_shapes) {
    const int64_t l = py::cast<int64_t>(length);
    if (l < 1) throw py::value_error("input_shapes: the length of '" + py::cast<std::string>(name) + "' must be >= 1");
    options.import.input_shapes.emplace_back(py::cast<std::string>(name), l);
  }
  for (const auto& [name, value] : fix_inputs) {
    const double x = py::cast<double>(value);
    if (!std::isfinite(x)) throw py::value_error("fix_inputs: the value of '" + py::cast<std::string>(name) + "' must be finite");
    options.import.fixed_inputs.emplace_back(py::cast<std::string>(name), x);
  }
  options.import.outputs = outputs;
  if (list_padding != "after" && list_padding != "before") throw py::value_error("list_padding takes 'after' or 'before'");
  options.import.pad_lists_before = list_padding == "before";
  options.import.keep_last_ids = keep_last_ids;
  if (!tasks.is_none()) {
    // "ctr:prob,cvr:prob" or ["ctr:prob", "cvr"], as edgemtl-convert --tasks.
    std::vector<std::string> items;
    if (py::isinstance<py::str>(tasks)) {
      std::string text = py::cast<std::string>(tasks), item;
      for (size_t start = 0; start <= text.size();) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        if (comma > start) items.push_back(text.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      items = py::cast<std::vector<std::string>>(tasks);
    }
    for (const std::string& item : items) {
      TaskOverride task;
      const size_t colon = item.rfind(':');
      const std::string kind = colon == std::string::npos ? "" : item.substr(colon + 1);
      if (kind == "prob" || kind == "value") {
        task.name = item.substr(0, colon);
        task.probability = kind == "prob";
      } else {
        task.name = item;
      }
      if (task.name.empty()) throw py::value_error("empty task name in tasks");
      options.import.tasks.push_back(task);
    }
  }
  QuantizeOptions quantize_options;
  if (quantize == "int8") quantize_options.mode = QuantizeMode::kInt8;
  else if (quantize == "int8-dynamic") quantize_options.mode = QuantizeMode::kInt8Dynamic;
  else if (quantize == "fp16") quantize_options.mode = QuantizeMode::kFloat16;
  else if (quantize != "none" && !quantize.empty())
    throw py::value_error("quantize takes 'int8', 'int8-dynamic', 'fp16' or 'none'");
  if (!calibration.is_none()) quantize_options.calibration_path = py::cast<std::string>(py::str(calibration));
  if (!validate.is_none()) quantize_options.validation_path = py::cast<std::string>(py::str(validate));
  if (quantize_options.mode == QuantizeMode::kInt8 && quantize_options.calibration_path.empty())
    throw py::value_error("quantize='int8' needs calibration='rows.jsonl'");
  quantize_options.write.keep_names = keep_names;
  std::vector<std::pair<std::string, std::string>> entries(metadata.begin(), metadata.end());
  py::gil_scoped_release release;
  edgemtl::converter::convert(onnx_path, out_path, options, quantize_options, entries, verbose ? stderr : nullptr);
}
#endif

}  // namespace

PYBIND11_MODULE(edgemtl, m) {
  m.doc() = "edgemtl: load, inspect and score .emtl models; convert ONNX models";
  m.attr("__version__") = emtl_version();
  m.attr("format_version") = emtl_format_version();
  error_type = py::reinterpret_steal<py::object>(
      PyErr_NewExceptionWithDoc("edgemtl.Error", "An edgemtl runtime error; .status is its name, .code its number.",
                                PyExc_RuntimeError, nullptr));
  m.attr("Error") = error_type;

  py::class_<Feature>(m, "Feature")
      .def_readonly("name", &Feature::name)
      .def_readonly("side", &Feature::side, "'user' or 'item'")
      .def_readonly("kind", &Feature::kind, "'id', 'id_list' or 'dense'")
      .def_readonly("width", &Feature::width, "values per row")
      .def_readonly("padding_id", &Feature::padding_id)
      .def_readonly("table_size", &Feature::table_size, "ids only: valid ids are [0, table_size)")
      .def("__repr__", [](const Feature& f) {
        return "Feature(" + f.name + ", " + f.side + ", " + f.kind + ", width=" + std::to_string(f.width) + ")";
      });
  py::class_<Task>(m, "Task")
      .def_readonly("name", &Task::name)
      .def_readonly("kind", &Task::kind, "'probability' or 'value'")
      .def("__repr__", [](const Task& t) { return "Task(" + t.name + ", " + t.kind + ")"; });

  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model")
      .def(py::init([](const std::string& path) { return PyModel::from_file(path); }), py::arg("path"),
           "Memory-maps and verifies the .emtl file at path.")
      .def_static("from_bytes", &PyModel::from_bytes, py::arg("data"), "Loads a model from bytes (copied).")
      .def_property_readonly("features", &PyModel::features)
      .def_property_readonly("tasks", &PyModel::tasks)
      .def_property_readonly("task_names", [](const PyModel& model) {
        std::vector<std::string> names;
        for (const Task& task : model.tasks()) names.push_back(task.name);
        return names;
      })
      .def_property_readonly("metadata", &PyModel::metadata, "key/value pairs set at conversion")
      .def_property_readonly("producer", &PyModel::producer)
      .def_property_readonly("format_version", &PyModel::format_version)
      .def_property_readonly("has_checksums", [](const PyModel& model) { return model.model().has_checksums(); },
                             "the file holds checksums (files written before them do not)")
      .def(
          "verify_weights",
          [](const PyModel& model) {
            const edgemtl::Status status = model.model().verify_weights();
            if (!status.is_ok()) raise_status(status);
          },
          "Checks the weights against the file's checksum; raises edgemtl.Error (InvalidModel on a mismatch, "
          "Unsupported for a file without checksums).")
      .def(
          "session",
          [](std::shared_ptr<PyModel> model, size_t max_items, int threads, bool map_out_of_range_ids,
             size_t max_arena_bytes) {
            return std::make_unique<PySession>(std::move(model), max_items, threads, map_out_of_range_ids,
                                               max_arena_bytes);
          },
          py::arg("max_items") = 4096, py::arg("threads") = 1, py::arg("map_out_of_range_ids") = false,
          py::arg("max_arena_bytes") = edgemtl::SessionOptions{}.max_arena_bytes);

  py::class_<PySession>(m, "Session")
      .def(py::init<std::shared_ptr<PyModel>, size_t, int, bool, size_t>(), py::arg("model"),
           py::arg("max_items") = 4096, py::arg("threads") = 1, py::arg("map_out_of_range_ids") = false,
           py::arg("max_arena_bytes") = edgemtl::SessionOptions{}.max_arena_bytes)
      .def("set_user", &PySession::set_user, py::arg("features"),
           "Runs the user stage: {name: value} for every user feature (one row).")
      .def("score", &PySession::score, py::arg("features"), py::arg("n") = py::none(),
           "Scores n items: {name: array} for every item feature (n rows; n from the first one unless given). "
           "Returns a float32 array [n, tasks].")
      .def("set_candidates", &PySession::set_candidates, py::arg("features"), py::arg("n") = py::none(),
           "Runs the item stage on n candidates ({name: array} for every item feature) and keeps what the "
           "cross stage reads (the candidate cache); needs no user.")
      .def("replace_candidates", &PySession::replace_candidates, py::arg("positions"), py::arg("features"),
           "Replaces the cached candidates at `positions` by new ones (k rows per item feature, row j becomes "
           "candidate positions[j]).")
      .def("rank", &PySession::rank,
           "Scores the cached candidates for the user of the last set_user (the cross stage only). Returns a "
           "float32 array [num_candidates, tasks], equal to score() of the same user and items.")
      .def_property_readonly("num_candidates", &PySession::num_candidates)
      .def_property_readonly("candidate_cache_bytes", &PySession::candidate_cache_bytes)
      .def_property_readonly("model", &PySession::model)
      .def_property_readonly("arena_bytes", &PySession::arena_bytes)
      .def_property_readonly("tile_lanes", &PySession::tile_lanes);

#ifdef EDGEMTL_PYTHON_CONVERTER
  m.def("convert", &convert, py::arg("onnx_path"), py::arg("out_path"),
        py::arg("user_inputs") = std::vector<std::string>(), py::arg("tasks") = py::none(),
        py::arg("quantize") = "none", py::arg("calibration") = py::none(), py::arg("validate") = py::none(),
        py::arg("metadata") = std::map<std::string, std::string>(), py::arg("split") = true,
        py::arg("oov_row") = py::none(), py::arg("keep_names") = false, py::arg("verbose") = false,
        py::arg("input_shapes") = py::dict(), py::arg("fix_inputs") = py::dict(),
        py::arg("outputs") = std::vector<std::string>(), py::arg("list_padding") = "after",
        py::arg("keep_last_ids") = false,
        "Converts an ONNX model to .emtl as edgemtl-convert does. input_shapes={name: L} (--input-shape), "
        "fix_inputs={name: value} (--fix-input), outputs=[names] (--outputs), list_padding='after'|'before', "
        "keep_last_ids, quantize='none'|'fp16'|'int8' (needs calibration)|'int8-dynamic'. Raises "
        "edgemtl.ConversionError.");
  py::register_exception<edgemtl::converter::ConversionError>(m, "ConversionError", error_type);
#endif
}
