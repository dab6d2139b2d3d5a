#include "converter/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "converter/writer.h"
#include "runtime/executor/session.h"
#include "tools/common/feature_json.h"

namespace edgemtl::converter {

const char* stored_type_name(StoredType type) {
  switch (type) {
    case StoredType::kFloat16: return "FLOAT16";
    case StoredType::kInt8: return "INT8";
    case StoredType::kInt32: return "INT32";
  }
  return "?";
}

// ---- encoders ---------------------------------------------------------------

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exponent = (bits >> 23) & 0xFFu;
  uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFFu) return sign | 0x7C00u | (mantissa ? 0x200u : 0u);  // inf, NaN stays NaN
  const int half_exponent = static_cast<int>(exponent) - 127 + 15;
  if (half_exponent >= 31) return sign | 0x7C00u;  // too large: inf
  if (half_exponent <= 0) {
    if (half_exponent < -10) return sign;  // below half the smallest subnormal: zero
    mantissa |= 0x800000u;                 // implicit leading 1
    const int shift = 14 - half_exponent;  // to a subnormal half mantissa
    uint32_t result = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t result = (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // a carry may reach inf: correct
  return static_cast<uint16_t>(sign | result);
}

EncodedConstant encode_float16(const std::vector<float>& values) {
  EncodedConstant e;
  e.type = StoredType::kFloat16;
  e.bytes.resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = float_to_half(values[i]);
    std::memcpy(e.bytes.data() + 2 * i, &h, 2);
  }
  return e;
}

namespace {

int8_t quantize_symmetric(float value, float scale) {
  const float q = std::nearbyint(value / scale);
  return static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, q)));
}

}  // namespace

EncodedConstant encode_int8_per_row(const std::vector<float>& values, int64_t rows, int64_t cols) {
  EncodedConstant e;
  e.type = StoredType::kInt8;
  e.axis = 0;
  e.scales.assign(static_cast<size_t>(rows), 0.0f);
  float largest = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(values[r * cols + c]));
    e.scales[r] = m / 127.0f;
    largest = std::max(largest, e.scales[r]);
  }
  for (float& s : e.scales)
    if (!(s > 0.0f)) s = largest > 0.0f ? largest : 1.0f;  // an all-zero row: any scale stores it exactly
  e.bytes.resize(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      e.bytes[r * cols + c] = static_cast<uint8_t>(quantize_symmetric(values[r * cols + c], e.scales[r]));
  return e;
}

EncodedConstant encode_int8_per_tensor(const std::vector<float>& values) {
  EncodedConstant e = encode_int8_per_row(values, 1, static_cast<int64_t>(values.size()));
  e.axis = -1;
  return e;
}

EncodedConstant encode_int32_bias(const std::vector<float>& bias, float input_scale,
                                  const std::vector<float>& weight_scales) {
  EncodedConstant e;
  e.type = StoredType::kInt32;
  e.bytes.resize(bias.size() * 4);
  for (size_t c = 0; c < bias.size(); ++c) {
    const double scale = double(input_scale) * weight_scales[weight_scales.size() == 1 ? 0 : c];
    const double q = std::nearbyint(bias[c] / scale);
    const int32_t v = static_cast<int32_t>(std::min<double>(INT32_MAX, std::max<double>(INT32_MIN, q)));
    std::memcpy(e.bytes.data() + 4 * c, &v, 4);
  }
  return e;
}

ActivationQuantization quantize_range(float low, float high) {
  low = std::min(low, 0.0f);
  high = std::max(high, 0.0f);
  if (!(high - low > 1e-12f)) high = low + 1e-6f;  // a constant-zero tensor
  ActivationQuantization q;
  q.scale = (high - low) / 255.0f;
  const double zero_point = std::nearbyint(-128.0 - double(low) / q.scale);
  q.zero_point = static_cast<int64_t>(std::min(127.0, std::max(-128.0, zero_point)));
  return q;
}

std::pair<float, float> estimate_range(std::vector<float> values, RangeEstimator estimator) {
  if (values.empty()) return {0.0f, 0.0f};
  if (estimator == RangeEstimator::kMinMax) {
    auto [low, high] = std::minmax_element(values.begin(), values.end());
    return {*low, *high};
  }
  const size_t last = values.size() - 1;
  const size_t low_index = static_cast<size_t>(std::floor(last * 0.0001));
  const size_t high_index = static_cast<size_t>(std::ceil(last * 0.9999));
  std::nth_element(values.begin(), values.begin() + low_index, values.end());
  const float low = values[low_index];
  std::nth_element(values.begin(), values.begin() + high_index, values.end());
  return {low, values[high_index]};
}

double roc_auc(const std::vector<float>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney: sum of the positives' ranks (ties get their average rank).
  double positive_rank_sum = 0.0, positives = 0.0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (double(i) + double(j - 1)) / 2.0 + 1.0;
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]]) {
        positive_rank_sum += average_rank;
        positives += 1.0;
      }
    i = j;
  }
  const double negatives = double(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

namespace {

// ---- rows -------------------------------------------------------------------

// One line of a rows or requests file: a row is a request of one item whose
// user object is the row itself. `labels` (optional, per item): {task: 0/1}.
struct Request {
  nlohmann::json user;
  std::vector<nlohmann::json> items;
};

std::vector<Request> read_requests(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConversionError("cannot read '" + path + "'");
  std::vector<Request> requests;
  std::string line, error;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json object;
    if (!tools::parse_json_line(line, &object, &error) || !object.is_object())
      throw ConversionError(path + ":" + std::to_string(number) + ": not a JSON object" +
                            (error.empty() ? "" : ": " + error));
    Request request;
    const bool is_request = object.contains("items") && object["items"].is_array() &&
                            object.size() == (object.contains("user") ? 2u : 1u);
    if (is_request) {
      request.user = object.contains("user") ? object["user"] : nlohmann::json::object();
      for (const auto& item : object["items"]) request.items.push_back(item);
    } else {
      request.user = object;
      request.items.push_back(object);
    }
    requests.push_back(std::move(request));
  }
  if (requests.empty()) throw ConversionError("'" + path + "' holds no rows");
  return requests;
}

size_t count_items(const std::vector<Request>& requests) {
  size_t n = 0;
  for (const Request& r : requests) n += r.items.size();
  return n;
}

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

// Scores every item of `requests`: [items x tasks]. Throws on runtime errors
// (a session that cannot be created is reported through `create_error`).
std::vector<float> score_requests(const std::vector<uint8_t>& file, const std::vector<Request>& requests,
                                  std::string* create_error = nullptr) {
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
  bool has_user_features = false;
  for (size_t f = 0; f < model.num_features(); ++f)
    if (model.feature(f).side == edgemtl::Side::kUser) has_user_features = true;
  tools::FeatureBatch user(model, edgemtl::Side::kUser), items(model, edgemtl::Side::kItem);
  const size_t tasks = model.num_tasks();
  std::vector<float> scores;
  std::string error;
  auto flush = [&]() {
    if (items.rows() == 0) return;
    auto result = (*session)->score(items.inputs(), items.rows());
    if (!result.ok()) throw ConversionError(std::string("scoring rows: ") + result.status().message());
    scores.insert(scores.end(), result->data(), result->data() + items.rows() * tasks);
    items.clear();
  };
  for (const Request& request : requests) {
    if (has_user_features) {
      user.clear();
      if (!user.append_row(request.user, nullptr, &error)) throw ConversionError("rows: " + error);
      Status status = (*session)->set_user(user.inputs());
      if (!status.is_ok()) throw ConversionError(std::string("rows: ") + status.message());
    }
    for (const nlohmann::json& item : request.items) {
      if (!items.append_row(item, &request.user, &error)) throw ConversionError("rows: " + error);
      if (items.rows() == kBatch) flush();
    }
    if (has_user_features) flush();  // the next request has another user
  }
  flush();
  return scores;
}

// ---- calibration: the f32 graph evaluated on full rows ------------------------

// Every value of `g` computed on the rows (user and item features of one row
// together, so that every activation has n rows). Also the pre-activation
// output of each fully-connected node with a non-RELU fused activation.
struct RowValues {
  Graph graph;                    // values[v] computed (constants unchanged)
  std::map<int, Value> pre_activation;  // node -> FC output before SIGMOID/TANH/LEAKY_RELU
};

RowValues evaluate_on_rows(const Graph& g, const std::vector<uint8_t>& f32_file, const std::vector<Request>& requests) {
  LoadedModel l = load(f32_file);
  const Model& model = *l.model;
  tools::FeatureBatch user(model, edgemtl::Side::kUser), items(model, edgemtl::Side::kItem);
  std::string error;
  for (const Request& request : requests)
    for (const nlohmann::json& item : request.items) {
      if (!user.append_row(request.user, &item, &error)) throw ConversionError("rows: " + error);
      if (!items.append_row(item, &request.user, &error)) throw ConversionError("rows: " + error);
    }
  const int64_t n = static_cast<int64_t>(items.rows());
  RowValues r{g, {}};
  Graph& s = r.graph;
  // The writer keeps the graph's feature order, so feature index f is g.features[f].
  for (tools::FeatureBatch* batch : {&user, &items}) {
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

// ---- plans ------------------------------------------------------------------

// True when every reader of constant `v` reads it as input `slot` of an `op` node.
bool only_read_as(const Graph& g, const std::vector<std::vector<int>>& consumers, int v, Op op, size_t slot) {
  if (!g.values[v].is_constant || g.values[v].dtype != DType::kFloat32 || consumers[v].empty()) return false;
  for (int reader : consumers[v]) {
    const Node& node = g.nodes[reader];
    if (node.op != op) return false;
    for (size_t k = 0; k < node.inputs.size(); ++k)
      if (node.inputs[k] == v && k != slot) return false;
  }
  return true;
}

void add_tables(const Graph& g, bool int8, QuantizationPlan* plan) {
  auto consumers = g.consumers();
  for (const Node& node : g.nodes) {
    if (node.dead || (node.op != Op::kEmbedding && node.op != Op::kEmbeddingMulti)) continue;
    const int table = node.inputs[0];
    if (plan->constants.count(table) || !only_read_as(g, consumers, table, node.op, 0)) continue;
    const Value& v = g.values[table];
    // int8 rows cost D + 4 bytes (the row's scale), fp16 rows 2D: int8 only pays for D > 4.
    const bool int8_smaller = int8 && v.shape[1] > 4;
    plan->constants[table] =
        int8_smaller ? encode_int8_per_row(v.floats, v.shape[0], v.shape[1]) : encode_float16(v.floats);
  }
}

QuantizationPlan plan_float16(const Graph& g) {
  QuantizationPlan plan;
  auto consumers = g.consumers();
  for (const Node& node : g.nodes) {
    if (node.dead || node.op != Op::kFullyConnected) continue;
    const int weight = node.inputs[1];
    if (!plan.constants.count(weight) && only_read_as(g, consumers, weight, Op::kFullyConnected, 1))
      plan.constants[weight] = encode_float16(g.values[weight].floats);
  }
  add_tables(g, false, &plan);
  return plan;
}

// One fully-connected node that can be int8: its encoded weight, bias and ranges.
struct Int8Layer {
  int node = -1;
  EncodedConstant weight, bias;
  bool has_bias = false;
  FullyConnectedQuantization activations;
  double mean_delta = 0.0, max_delta = 0.0;  // alone in int8, on the calibration rows
  bool usable = true;
};

void add_layer(const Graph& g, const Int8Layer& layer, QuantizationPlan* plan) {
  const Node& node = g.nodes[layer.node];
  plan->constants[node.inputs[1]] = layer.weight;
  if (layer.has_bias) plan->constants[node.inputs[2]] = layer.bias;
  plan->fully_connected[layer.node] = layer.activations;
}

std::vector<Int8Layer> int8_layers(const Graph& g, const RowValues& rows, const QuantizeOptions& options) {
  auto consumers = g.consumers();
  std::vector<Int8Layer> layers;
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& node = g.nodes[index];
    if (node.dead || node.op != Op::kFullyConnected) continue;
    // Weight and bias scales depend on this node's input scale: they must be its own.
    const int weight = node.inputs[1];
    if (!only_read_as(g, consumers, weight, Op::kFullyConnected, 1) || consumers[weight].size() != 1) continue;
    if (node.inputs.size() > 2 &&
        (!only_read_as(g, consumers, node.inputs[2], Op::kFullyConnected, 2) || consumers[node.inputs[2]].size() != 1))
      continue;
    Int8Layer layer;
    layer.node = static_cast<int>(index);
    const Value& w = g.values[weight];
    const auto [in_low, in_high] = estimate_range(rows.graph.values[node.inputs[0]].floats, options.range);
    auto pre = rows.pre_activation.find(layer.node);
    const Value& out = pre != rows.pre_activation.end() ? pre->second : rows.graph.values[node.outputs[0]];
    const auto [out_low, out_high] = estimate_range(out.floats, options.range);
    layer.activations.input = quantize_range(in_low, in_high);
    layer.activations.output = quantize_range(out_low, out_high);
    layer.weight = options.per_channel ? encode_int8_per_row(w.floats, w.shape[0], w.shape[1])
                                       : encode_int8_per_tensor(w.floats);
    if (node.inputs.size() > 2) {
      layer.has_bias = true;
      layer.bias = encode_int32_bias(g.values[node.inputs[2]].floats, layer.activations.input.scale,
                                     layer.weight.scales);
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

struct Delta {
  double mean = 0.0, max = 0.0;
};

Delta score_delta(const std::vector<float>& reference, const std::vector<float>& scores) {
  Delta d;
  if (scores.size() != reference.size() || reference.empty()) return {INFINITY, INFINITY};
  for (size_t i = 0; i < reference.size(); ++i) {
    const double diff = std::fabs(double(scores[i]) - reference[i]);
    d.mean += diff;
    d.max = std::max(d.max, diff);
  }
  d.mean /= double(reference.size());
  return d;
}

// ---- summary ----------------------------------------------------------------

size_t float_bytes(const Value& v) { return v.floats.size() * sizeof(float); }

// A node's name for the summary, shortened from the left; the user part of a
// split layer (same name as its item part) is marked.
std::string layer_label(const Node& node) {
  std::string name = node.stage == Side::kUser ? node.name + " (user)" : node.name;
  return name.size() > 48 ? "..." + name.substr(name.size() - 45) : name;
}

void print_layers(const Graph& g, const QuantizationPlan& plan, FILE* log) {
  std::fprintf(log, "%-48s %-15s %-8s %-7s %10s %10s\n", "layer", "op", "weight", "bias", "f32 bytes", "bytes");
  size_t before = 0, after = 0;
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& node = g.nodes[index];
    if (node.dead || (node.op != Op::kFullyConnected && node.op != Op::kEmbedding && node.op != Op::kEmbeddingMulti))
      continue;
    const int weight = node.op == Op::kFullyConnected ? node.inputs[1] : node.inputs[0];
    const int bias = node.op == Op::kFullyConnected && node.inputs.size() > 2 ? node.inputs[2] : -1;
    size_t layer_before = 0, layer_after = 0;
    std::string dtypes[2] = {"FLOAT32", bias >= 0 ? "FLOAT32" : "-"};
    int k = 0;
    for (int v : {weight, bias}) {
      if (v >= 0) {
        layer_before += float_bytes(g.values[v]);
        auto found = plan.constants.find(v);
        if (found != plan.constants.end()) {
          layer_after += found->second.bytes.size() + found->second.scales.size() * sizeof(float);
          dtypes[k] = stored_type_name(found->second.type);
        } else {
          layer_after += float_bytes(g.values[v]);
        }
      }
      ++k;
    }
    before += layer_before;
    after += layer_after;
    std::fprintf(log, "%-48s %-15s %-8s %-7s %10zu %10zu\n", layer_label(node).c_str(), op_name(node.op), dtypes[0].c_str(),
                 dtypes[1].c_str(), layer_before, layer_after);
  }
  std::fprintf(log, "%-48s %-15s %-8s %-7s %10zu %10zu (x%.3f; scales included)\n", "all layers", "", "", "", before,
               after, before ? double(after) / double(before) : 0.0);
}

std::vector<int> labels_of(const std::vector<Request>& requests, const std::string& task, bool* complete) {
  std::vector<int> labels;
  *complete = true;
  for (const Request& r : requests)
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

void print_validation(const std::vector<uint8_t>& f32_file, const std::vector<uint8_t>& file,
                      const std::string& path, FILE* log) {
  const std::vector<Request> requests = read_requests(path);
  const std::vector<float> reference = score_requests(f32_file, requests);
  const std::vector<float> scores = score_requests(file, requests);
  LoadedModel l = load(file);
  const size_t tasks = l.model->num_tasks(), n = count_items(requests);
  std::fprintf(log, "validation (%s, %zu items):\n", path.c_str(), n);
  std::fprintf(log, "  %-24s %10s %10s %12s %12s\n", "task", "AUC f32", "AUC", "mean |diff|", "max |diff|");
  for (size_t t = 0; t < tasks; ++t) {
    std::vector<float> a(n), b(n);
    double mean = 0.0, max = 0.0;
    for (size_t i = 0; i < n; ++i) {
      a[i] = reference[i * tasks + t];
      b[i] = scores[i * tasks + t];
      const double diff = std::fabs(double(a[i]) - b[i]);
      mean += diff;
      max = std::max(max, diff);
    }
    const TaskInfo info = l.model->task(t);
    bool complete = false;
    std::vector<int> labels = info.kind == TaskKind::kProbability ? labels_of(requests, info.name, &complete)
                                                                 : std::vector<int>();
    if (complete)
      std::fprintf(log, "  %-24s %10.6f %10.6f %12.3g %12.3g\n", info.name, roc_auc(a, labels), roc_auc(b, labels),
                   mean / double(n), max);
    else
      std::fprintf(log, "  %-24s %10s %10s %12.3g %12.3g\n", info.name, "-", "-", mean / double(n), max);
  }
}

}  // namespace

std::vector<uint8_t> quantize_model(const Graph& g, const QuantizeOptions& options, FILE* log) {
  const std::vector<uint8_t> f32_file = write_model(g, nullptr, options.write);
  if (options.mode == QuantizeMode::kNone) return f32_file;
  QuantizationPlan plan;
  if (options.mode == QuantizeMode::kFloat16) {
    plan = plan_float16(g);
  } else {
    if (options.calibration_path.empty()) throw ConversionError("--quantize int8 needs --calibration FILE.jsonl");
    const std::vector<Request> calibration = read_requests(options.calibration_path);
    // Ranges from a handful of rows fit those rows only: on the fixtures, 3 users' rows gave other
    // users int8 errors up to 0.17. Say so; the conversion itself goes on.
    constexpr size_t kFewItems = 200, kFewRequests = 8;
    if (log && (count_items(calibration) < kFewItems || calibration.size() < kFewRequests))
      std::fprintf(log,
                   "warning: the calibration file has %zu items in %zu requests; activation ranges from fewer than "
                   "%zu items or %zu requests (users) may not cover other inputs. Give a few hundred items from many "
                   "users, and check with --validate on held-out requests.\n",
                   count_items(calibration), calibration.size(), kFewItems, kFewRequests);
    const std::vector<float> reference = score_requests(f32_file, calibration);
    const RowValues rows = evaluate_on_rows(g, f32_file, calibration);
    std::vector<Int8Layer> layers = int8_layers(g, rows, options);
    QuantizationPlan tables;
    add_tables(g, options.int8_tables, &tables);
    // Each layer alone in int8: its own cost.
    for (Int8Layer& layer : layers) {
      QuantizationPlan alone;
      add_layer(g, layer, &alone);
      std::string create_error;
      const std::vector<float> scores = score_requests(write_model(g, &alone), calibration, &create_error);
      if (!create_error.empty()) {
        layer.usable = false;  // e.g. a requantisation scale XNNPACK does not take
        if (log) std::fprintf(log, "int8: '%s' stays f32: %s\n", layer_label(g.nodes[layer.node]).c_str(), create_error.c_str());
        continue;
      }
      const Delta d = score_delta(reference, scores);
      layer.mean_delta = d.mean;
      layer.max_delta = d.max;
    }
    // All usable layers int8 with the tables, then back to f32 the most harmful
    // ones until the mean |difference| fits the budget.
    std::vector<Int8Layer*> chosen;
    for (Int8Layer& layer : layers)
      if (layer.usable) chosen.push_back(&layer);
    std::sort(chosen.begin(), chosen.end(),
              [](const Int8Layer* a, const Int8Layer* b) { return a->mean_delta < b->mean_delta; });
    Delta total;
    for (;;) {
      plan = tables;
      for (const Int8Layer* layer : chosen) add_layer(g, *layer, &plan);
      total = score_delta(reference, score_requests(write_model(g, &plan), calibration));
      if (total.mean <= options.max_mean_delta || chosen.empty()) break;
      chosen.pop_back();
    }
    if (log) {
      std::fprintf(log, "int8 calibration: %zu items; per layer alone, mean / max |score difference| to f32:\n",
                   count_items(calibration));
      for (const Int8Layer& layer : layers) {
        const bool kept = std::find(chosen.begin(), chosen.end(), &layer) != chosen.end();
        std::fprintf(log, "  %-48s %10.3g %10.3g %s\n", layer_label(g.nodes[layer.node]).c_str(), layer.mean_delta,
                     layer.max_delta, kept ? "int8" : "f32");
      }
      std::fprintf(log, "  all chosen layers + tables: mean %.3g, max %.3g (budget: mean <= %g)\n", total.mean,
                   total.max, options.max_mean_delta);
    }
  }
  std::vector<uint8_t> file = write_model(g, &plan, options.write);
  if (log) {
    print_layers(g, plan, log);
    std::fprintf(log, "file: %zu bytes (f32: %zu, x%.3f)\n", file.size(), f32_file.size(),
                 double(file.size()) / double(f32_file.size()));
    if (!options.validation_path.empty()) print_validation(f32_file, file, options.validation_path, log);
  }
  return file;
}

}  // namespace edgemtl::converter
