#include "converter/quantize/calibration.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "runtime/executor/session.h"
#include "requests/scorer.h"

namespace edgemtl::converter {
namespace {

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A runtime Model over file bytes (64-byte aligned copy, as load_buffer needs).
struct LoadedModel {
  std::unique_ptr<uint8_t, FreeDeleter> bytes;
  std::unique_ptr<Model> model;
};

LoadedModel load(const std::vector<uint8_t>& file) {
  LoadedModel l;
  const size_t size = (file.size() + 63) / 64 * 64;
  l.bytes.reset(static_cast<uint8_t*>(std::aligned_alloc(64, size)));
  if (!l.bytes) throw ConversionError("out of memory copying the model");
  std::memcpy(l.bytes.get(), file.data(), file.size());
  auto model = Model::load_buffer(l.bytes.get(), file.size());
  if (!model.ok()) throw ConversionError(std::string("the runtime refuses the model: ") + model.status().message());
  l.model = std::move(*model);
  return l;
}

constexpr size_t kBatch = 256;

}  // namespace

std::vector<Request> read_requests(const std::string& path) {
  std::vector<Request> all;
  std::string error;
  if (!requests::read_request_file(path, requests::LineFormat::kEither, &all, &error)) throw ConversionError(error);
  return all;
}

std::vector<float> score_requests(const std::vector<uint8_t>& file, const std::vector<Request>& all_requests,
                                  std::string* create_error) {
  LoadedModel l = load(file);
  const Model& model = *l.model;
  SessionOptions options;
  options.max_items = kBatch;
  // The portable int8 kernel on every machine: which layers stay f32 must not
  // depend on the CPU converting (the VNNI kernel may round one step apart).
  options.int8_vnni = false;
  auto session = Session::create(model, options);
  if (!session.ok()) {
    if (create_error) {
      *create_error = session.status().message();
      return {};
    }
    throw ConversionError(std::string("cannot create a session: ") + session.status().message());
  }
  requests::RequestScorer scorer(model, **session, kBatch);
  std::vector<float> scores;
  std::string error;
  for (const Request& request : all_requests)
    if (!scorer.score(request, &scores, &error)) throw ConversionError("rows: " + error);
  return scores;
}

RowValues evaluate_on_rows(const Graph& g, const std::vector<uint8_t>& f32_file, const std::vector<Request>& all_requests) {
  LoadedModel l = load(f32_file);
  const Model& model = *l.model;
  requests::FeatureBatch user(model, edgemtl::Side::kUser), items(model, edgemtl::Side::kItem);
  std::string error;
  for (const Request& request : all_requests)
    for (const nlohmann::json& item : request.items) {
      if (!user.append_row(request.user, &item, &error)) throw ConversionError("rows: " + error);
      if (!items.append_row(item, &request.user, &error)) throw ConversionError("rows: " + error);
    }
  const int64_t n = static_cast<int64_t>(items.rows());
  RowValues r{g, {}};
  Graph& s = r.graph;
  // The writer keeps the graph's feature order, so feature index f is g.features[f].
  for (requests::FeatureBatch* batch : {&user, &items}) {
    for (const FeatureInput& input : batch->inputs()) {
      Value& v = s.values[g.features[static_cast<size_t>(input.feature)].value];
      v.is_constant = true;
      v.shape[0] = n;
      if (input.ids) v.ints.assign(input.ids, input.ids + input.count);
      else v.floats.assign(input.values, input.values + input.count);
    }
  }
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& node = g.nodes[index];
    if (node.dead) continue;
    const int output = node.outputs[0];
    std::vector<int64_t> shape = g.values[output].shape;
    shape[0] = n;
    const bool fused_nonlinear = node.op == Op::kFullyConnected && node.options.activation != Activation::kNone &&
                                 node.options.activation != Activation::kRelu;
    if (fused_nonlinear) {
      NodeOptions linear = node.options;
      linear.activation = Activation::kNone;
      r.pre_activation[static_cast<int>(index)] =
          evaluate(s, node.op, node.inputs, linear, g.values[output].dtype, shape);  // FC: no 1-row constants
    }
    std::vector<int> inputs = node.inputs;
    if (node.op == Op::kConcat) {
      // CONCAT repeats a 1-row constant for every row; evaluate() concatenates
      // equal row counts, so repeat it here.
      for (int& v : inputs) {
        const Value& c = s.values[v];
        if (!c.is_constant || c.shape.empty() || c.shape[0] != 1 || n == 1) continue;
        Value repeated = c;
        repeated.shape[0] = n;
        for (int64_t row = 1; row < n; ++row) {
          repeated.floats.insert(repeated.floats.end(), c.floats.begin(), c.floats.end());
          repeated.ints.insert(repeated.ints.end(), c.ints.begin(), c.ints.end());
        }
        s.values.push_back(std::move(repeated));
        v = static_cast<int>(s.values.size()) - 1;
      }
    }
    Value computed = evaluate(s, node.op, inputs, node.options, g.values[output].dtype, shape);
    computed.name = g.values[output].name;
    s.values[output] = std::move(computed);
  }
  return r;
}

std::vector<int> labels_of(const std::vector<Request>& all_requests, const std::string& task, bool* complete) {
  std::vector<int> labels;
  *complete = true;
  for (const Request& r : all_requests)
    for (const nlohmann::json& item : r.items) {
      const nlohmann::json* all = item.contains("labels") ? &item["labels"]
                                  : r.user.contains("labels") ? &r.user["labels"] : nullptr;
      if (!all || !all->is_object() || !all->contains(task) || !(*all)[task].is_number()) {
        *complete = false;
        return {};
      }
      labels.push_back((*all)[task].get<double>() > 0.5 ? 1 : 0);
    }
  return labels;
}

std::vector<TaskDescription> tasks_of(const std::vector<uint8_t>& file) {
  LoadedModel l = load(file);
  std::vector<TaskDescription> tasks;
  for (size_t t = 0; t < l.model->num_tasks(); ++t) {
    const TaskInfo info = l.model->task(t);
    tasks.push_back({info.name, info.kind == TaskKind::kProbability});
  }
  return tasks;
}

}  // namespace edgemtl::converter
