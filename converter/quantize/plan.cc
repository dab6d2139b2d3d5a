// The per-layer plan search: fp16 stores every FC weight and table in half;
// int8 measures each fully-connected layer alone in static and in dynamic
// int8 against f32 on the calibration rows, starts static, then moves layers,
// most harmful first, to dynamic (where that did better alone) or back to f32
// until the mean score difference fits the budget and each task ranks the
// calibration requests' items as f32 does (converter/quantize/ranking.h). int8-dynamic needs no rows: every
// eligible layer dynamic.
#include <algorithm>
#include <cmath>

#include "converter/quantize.h"
#include "converter/quantize/calibration.h"
#include "converter/quantize/report.h"

namespace edgemtl::converter {
namespace {

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

// The tables the plan may store quantised: value indices read only as the table of lookups.
std::vector<int> quantizable_tables(const Graph& g) {
  auto consumers = g.consumers();
  std::vector<int> tables;
  for (const Node& node : g.nodes) {
    if (node.dead || (node.op != Op::kEmbedding && node.op != Op::kEmbeddingMulti && node.op != Op::kBag)) continue;
    const int table = node.inputs[0];
    if (std::find(tables.begin(), tables.end(), table) == tables.end() &&
        only_read_as(g, consumers, table, node.op, 0))
      tables.push_back(table);
  }
  return tables;
}

// Table `table` as `encoding` (not kAuto). A row costs 2D bytes in fp16, D + 2 in
// int8 (its half scale), ceil(D/2) + 4 in int4, ceil(D/2) + 1 in int4-codebook
// (and 1 KB of codebook a table): each is used only where the table is smaller
// than in the ones before it (int8 for D > 2, int4 for D > 5, int4-codebook where
// int4 is and V > 341), else the next simpler one is tried. A table whose values
// do not fit halves keeps the int8 rows with f32 scales; one with a non-finite
// value is not stored as int4-codebook.
EncodedConstant encode_table(const Value& v, TableEncoding encoding) {
  const int64_t rows = v.shape[0], cols = v.shape[1];
  EncodedConstant e;
  if (encoding == TableEncoding::kFloat16 ||
      table_row_bytes(StoredType::kInt8RowF16, cols) >= table_row_bytes(StoredType::kFloat16, cols))
    return encode_float16(v.floats);
  const bool int4_smaller = table_row_bytes(StoredType::kUint4RowF16, cols) < table_row_bytes(StoredType::kInt8RowF16, cols);
  if (encoding == TableEncoding::kInt4Codebook && int4_smaller &&
      table_bytes(StoredType::kUint4Codebook, rows, cols) < table_bytes(StoredType::kUint4RowF16, rows, cols) &&
      encode_uint4_codebook(v.floats, rows, cols, &e))
    return e;
  if ((encoding == TableEncoding::kInt4 || encoding == TableEncoding::kInt4Codebook) && int4_smaller &&
      encode_uint4_rows_f16(v.floats, rows, cols, &e))
    return e;
  if (encode_int8_rows_f16(v.floats, rows, cols, &e)) return e;
  return encode_int8_per_row(v.floats, rows, cols);
}

void add_tables(const Graph& g, TableEncoding encoding, QuantizationPlan* plan) {
  for (int table : quantizable_tables(g))
    if (!plan->constants.count(table)) plan->constants[table] = encode_table(g.values[table], encoding);
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
  add_tables(g, TableEncoding::kFloat16, &plan);
  return plan;
}

// How one form of a layer (static or dynamic int8) did alone, on the calibration rows.
struct AloneCost {
  double mean_delta = 0.0, max_delta = 0.0;  // |score difference| to f32
  double worst_spearman = 1.0;               // the lowest task's median Spearman
  bool usable = true;                        // the runtime builds it
};

// One fully-connected node that can be int8: its encoded weight, bias and ranges.
struct Int8Layer {
  int node = -1;
  EncodedConstant weight, bias;  // bias: static int8's INT32 (dynamic keeps the f32 bias)
  bool has_bias = false;
  FullyConnectedQuantization activations;
  AloneCost static_cost, dynamic_cost;
  bool dynamic = false;  // the chosen form
  const AloneCost& cost() const { return dynamic ? dynamic_cost : static_cost; }
};

void add_layer(const Graph& g, const Int8Layer& layer, QuantizationPlan* plan) {
  const Node& node = g.nodes[layer.node];
  plan->constants[node.inputs[1]] = layer.weight;
  FullyConnectedQuantization q = layer.activations;
  q.dynamic = layer.dynamic;
  if (layer.has_bias && !layer.dynamic) plan->constants[node.inputs[2]] = layer.bias;
  plan->fully_connected[layer.node] = q;
}

// The FCs that can be int8. Weight and bias scales depend on the node's input
// scale: they must be its own.
std::vector<int> eligible_layers(const Graph& g) {
  auto consumers = g.consumers();
  std::vector<int> nodes;
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& node = g.nodes[index];
    if (node.dead || node.op != Op::kFullyConnected) continue;
    const int weight = node.inputs[1];
    if (!only_read_as(g, consumers, weight, Op::kFullyConnected, 1) || consumers[weight].size() != 1) continue;
    if (node.inputs.size() > 2 &&
        (!only_read_as(g, consumers, node.inputs[2], Op::kFullyConnected, 2) || consumers[node.inputs[2]].size() != 1))
      continue;
    nodes.push_back(static_cast<int>(index));
  }
  return nodes;
}

EncodedConstant encode_weight(const Value& w, const QuantizeOptions& options) {
  return options.per_channel ? encode_int8_per_row(w.floats, w.shape[0], w.shape[1])
                             : encode_int8_per_tensor(w.floats);
}

std::vector<Int8Layer> int8_layers(const Graph& g, const RowValues& rows, const QuantizeOptions& options) {
  std::vector<Int8Layer> layers;
  for (int index : eligible_layers(g)) {
    const Node& node = g.nodes[index];
    Int8Layer layer;
    layer.node = index;
    const Value& w = g.values[node.inputs[1]];
    const auto [in_low, in_high] = estimate_range(rows.graph.values[node.inputs[0]].floats, options.range);
    auto pre = rows.pre_activation.find(layer.node);
    const Value& out = pre != rows.pre_activation.end() ? pre->second : rows.graph.values[node.outputs[0]];
    const auto [out_low, out_high] = estimate_range(out.floats, options.range);
    layer.activations.input = quantize_range(in_low, in_high);
    layer.activations.output = quantize_range(out_low, out_high);
    layer.weight = encode_weight(w, options);
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

// Every task's ranking fidelity of `scores` against f32 on the calibration requests.
std::vector<RankingFidelity> fidelity_per_task(const std::vector<float>& reference, const std::vector<float>& scores,
                                               const std::vector<Request>& requests, size_t tasks) {
  std::vector<RankingFidelity> per_task;
  for (size_t t = 0; t < tasks; ++t) per_task.push_back(ranking_fidelity(reference, scores, requests, tasks, t));
  return per_task;
}

double worst_spearman(const std::vector<RankingFidelity>& per_task) {
  double worst = 1.0;
  for (const RankingFidelity& f : per_task)
    if (f.spearman.count > 0) worst = std::min(worst, f.spearman.median);
  return worst;
}

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

// --int8-tables auto: each table's forms smaller than int8 (int4-codebook, then
// int4, where encode_table gives them) are measured alone (the other tables int8,
// layers f32) on the calibration requests. Then every table in its smallest form;
// while the tables together miss the ranking target or half the score budget (the
// other half is the layers'), the most harmful table (its current form alone: the
// lowest worst-task median Spearman, then the larger mean |difference|) steps up
// one form: int4-codebook -> int4 -> int8.
QuantizationPlan choose_tables(const Graph& g, const std::vector<Request>& calibration,
                               const std::vector<float>& reference, const std::vector<TaskDescription>& task_list,
                               const QuantizeOptions& options, FILE* log) {
  struct Form {
    EncodedConstant encoded;
    Delta delta;  // alone (not measured for the last form, int8)
    double worst_spearman = 1.0;
  };
  struct Candidate {
    int table;
    std::vector<Form> forms;  // smallest first; the last is the table's int8 form
    size_t level = 0;         // the form in use
  };
  QuantizationPlan int8_tables;
  add_tables(g, TableEncoding::kInt8, &int8_tables);
  std::vector<Candidate> candidates;
  for (int table : quantizable_tables(g)) {
    Candidate c{table, {}, 0};
    for (TableEncoding encoding : {TableEncoding::kInt4Codebook, TableEncoding::kInt4}) {
      EncodedConstant e = encode_table(g.values[table], encoding);
      const bool four_bit = e.type == StoredType::kUint4Codebook || e.type == StoredType::kUint4RowF16;
      const bool repeated = !c.forms.empty() && c.forms.back().encoded.type == e.type;
      if (four_bit && !repeated) c.forms.push_back(Form{std::move(e), {}, 1.0});
    }
    if (c.forms.empty()) continue;  // int8 (or fp16) is the only form
    c.forms.push_back(Form{int8_tables.constants.at(table), {}, 1.0});
    candidates.push_back(std::move(c));
  }
  const size_t tasks = task_list.size();
  for (Candidate& c : candidates) {
    for (size_t level = 0; level + 1 < c.forms.size(); ++level) {
      QuantizationPlan alone = int8_tables;
      alone.constants[c.table] = c.forms[level].encoded;
      const std::vector<float> scores = score_requests(write_model(g, &alone), calibration);
      c.forms[level].delta = score_delta(reference, scores);
      c.forms[level].worst_spearman = worst_spearman(fidelity_per_task(reference, scores, calibration, tasks));
    }
  }
  Delta total;
  for (;;) {
    QuantizationPlan plan = int8_tables;
    for (const Candidate& c : candidates) plan.constants[c.table] = c.forms[c.level].encoded;
    const std::vector<float> scores = score_requests(write_model(g, &plan), calibration);
    total = score_delta(reference, scores);
    const std::vector<RankingFidelity> fidelity = fidelity_per_task(reference, scores, calibration, tasks);
    const bool ranks_well = std::all_of(fidelity.begin(), fidelity.end(),
                                        [&](const RankingFidelity& f) { return meets(f, options.ranking); });
    Candidate* worst = nullptr;
    for (Candidate& c : candidates) {
      if (c.level + 1 == c.forms.size()) continue;  // int8 already
      const Form &mine = c.forms[c.level];
      if (!worst) {
        worst = &c;
        continue;
      }
      const Form& theirs = worst->forms[worst->level];
      if (mine.worst_spearman != theirs.worst_spearman ? mine.worst_spearman < theirs.worst_spearman
                                                       : mine.delta.mean > theirs.delta.mean)
        worst = &c;
    }
    if ((total.mean <= options.max_mean_delta / 2 && ranks_well) || !worst) break;
    ++worst->level;
  }
  QuantizationPlan plan = int8_tables;
  size_t chosen[3] = {0, 0, 0};  // int4-codebook, int4, int8
  for (const Candidate& c : candidates) {
    plan.constants[c.table] = c.forms[c.level].encoded;
    const StoredType type = c.forms[c.level].encoded.type;
    ++chosen[type == StoredType::kUint4Codebook ? 0 : type == StoredType::kUint4RowF16 ? 1 : 2];
  }
  if (log) {
    std::fprintf(log, "int8 tables auto: per table alone in each smaller form (others int8), mean / max |score "
                      "difference| to f32 and the lowest task's median Spearman:\n");
    for (const Candidate& c : candidates) {
      const Value& v = g.values[c.table];
      for (size_t level = 0; level + 1 < c.forms.size(); ++level)
        std::fprintf(log, "  %-40s [%lld, %lld] %-18s %10.3g %10.3g %8.4f%s\n", v.name.c_str(),
                     static_cast<long long>(v.shape[0]), static_cast<long long>(v.shape[1]),
                     stored_type_name(c.forms[level].encoded.type), c.forms[level].delta.mean,
                     c.forms[level].delta.max, c.forms[level].worst_spearman, level == c.level ? "  chosen" : "");
      if (c.level + 1 == c.forms.size())
        std::fprintf(log, "  %-40s [%lld, %lld] %-18s chosen\n", v.name.c_str(), static_cast<long long>(v.shape[0]),
                     static_cast<long long>(v.shape[1]), stored_type_name(c.forms.back().encoded.type));
    }
    std::fprintf(log, "  tables chosen: %zu int4-codebook, %zu int4, %zu int8 of %zu; mean |score difference| %.3g "
                      "(tables' budget %g)\n", chosen[0], chosen[1], chosen[2], candidates.size(), total.mean,
                 options.max_mean_delta / 2);
  }
  return plan;
}

QuantizationPlan plan_int8(const Graph& g, const QuantizeOptions& options, FILE* log) {
  const std::vector<uint8_t> f32_file = write_model(g, nullptr, options.write);
  QuantizationPlan plan;
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
  const std::vector<TaskDescription> task_list = tasks_of(f32_file);
  const size_t tasks = task_list.size();
  const RowValues rows = evaluate_on_rows(g, f32_file, calibration);
  std::vector<Int8Layer> layers = int8_layers(g, rows, options);
  QuantizationPlan tables;
  if (options.int8_tables == TableEncoding::kAuto)
    tables = choose_tables(g, calibration, reference, task_list, options, log);
  else
    add_tables(g, options.int8_tables, &tables);
  // Each layer alone in static and in dynamic int8: its own cost in each form.
  for (Int8Layer& layer : layers) {
    for (bool dynamic : {false, true}) {
      layer.dynamic = dynamic;
      AloneCost& cost = dynamic ? layer.dynamic_cost : layer.static_cost;
      if (options.int8_inputs == (dynamic ? Int8Inputs::kStatic : Int8Inputs::kDynamic)) {
        cost.usable = false;  // not a candidate (--int8-inputs)
        continue;
      }
      QuantizationPlan alone;
      add_layer(g, layer, &alone);
      std::string create_error;
      const std::vector<float> scores = score_requests(write_model(g, &alone), calibration, &create_error);
      if (!create_error.empty()) {
        cost.usable = false;  // e.g. a requantisation scale XNNPACK does not take
        if (log)
          std::fprintf(log, "int8: '%s' cannot be %s int8: %s\n", layer_label(g.nodes[layer.node]).c_str(),
                       dynamic ? "dynamic" : "static", create_error.c_str());
        continue;
      }
      const Delta d = score_delta(reference, scores);
      cost.mean_delta = d.mean;
      cost.max_delta = d.max;
      cost.worst_spearman = worst_spearman(fidelity_per_task(reference, scores, calibration, tasks));
    }
    // Start static (faster: no pass over x for its range; docs/QUANTIZATION.md) where it can be.
    layer.dynamic = !layer.static_cost.usable;
  }
  // Dynamic alone did better than static alone: the higher worst-task median
  // Spearman, then the lower mean |difference|.
  auto dynamic_better = [](const Int8Layer& layer) {
    const AloneCost &s = layer.static_cost, &d = layer.dynamic_cost;
    if (!d.usable) return false;
    if (!s.usable) return true;
    return d.worst_spearman != s.worst_spearman ? d.worst_spearman > s.worst_spearman : d.mean_delta < s.mean_delta;
  };
  auto more_harmful_last = [](const Int8Layer* a, const Int8Layer* b) {
    if (a->cost().worst_spearman != b->cost().worst_spearman) return a->cost().worst_spearman > b->cost().worst_spearman;
    return a->cost().mean_delta < b->cost().mean_delta;
  };
  // All usable layers int8 with the tables; while the mean |difference| exceeds
  // the budget or a task misses the ranking target, the most harmful layer (to
  // the ranking first, then to the scores) moves one step: static -> dynamic
  // when dynamic alone did better, else -> f32.
  std::vector<Int8Layer*> chosen;
  for (Int8Layer& layer : layers)
    if (layer.cost().usable) chosen.push_back(&layer);
  std::stable_sort(chosen.begin(), chosen.end(), more_harmful_last);
  Delta total;
  std::vector<RankingFidelity> fidelity;
  for (;;) {
    plan = tables;
    for (const Int8Layer* layer : chosen) add_layer(g, *layer, &plan);
    const std::vector<float> scores = score_requests(write_model(g, &plan), calibration);
    total = score_delta(reference, scores);
    fidelity = fidelity_per_task(reference, scores, calibration, tasks);
    const bool ranks_well = std::all_of(fidelity.begin(), fidelity.end(),
                                        [&](const RankingFidelity& f) { return meets(f, options.ranking); });
    if ((total.mean <= options.max_mean_delta && ranks_well) || chosen.empty()) break;
    Int8Layer* worst = chosen.back();
    if (!worst->dynamic && dynamic_better(*worst)) {
      worst->dynamic = true;
      std::stable_sort(chosen.begin(), chosen.end(), more_harmful_last);
    } else {
      chosen.pop_back();
    }
  }
  if (log) {
    std::fprintf(log,
                 "int8 calibration: %zu items; per layer alone, static and dynamic int8: mean / max |score "
                 "difference| to f32 and the lowest task's median Spearman, then the choice:\n",
                 count_items(calibration));
    std::fprintf(log, "  %-48s %10s %10s %8s   %10s %10s %8s\n", "layer", "static", "max", "Spearman", "dynamic", "max",
                 "Spearman");
    for (const Int8Layer& layer : layers) {
      const bool kept = std::find(chosen.begin(), chosen.end(), &layer) != chosen.end();
      std::fprintf(log, "  %-48s", layer_label(g.nodes[layer.node]).c_str());
      for (const AloneCost* c : {&layer.static_cost, &layer.dynamic_cost}) {
        if (c->usable) std::fprintf(log, " %10.3g %10.3g %8.4f  ", c->mean_delta, c->max_delta, c->worst_spearman);
        else std::fprintf(log, " %10s %10s %8s  ", "-", "-", "-");
      }
      std::fprintf(log, " %s\n", kept ? (layer.dynamic ? "int8 dynamic" : "int8 static") : "f32");
    }
    std::fprintf(log, "  all chosen layers + tables: mean %.3g, max %.3g (budget: mean <= %g)\n", total.mean,
                 total.max, options.max_mean_delta);
    for (size_t t = 0; t < fidelity.size(); ++t)
      std::fprintf(log, "  ranking, %s: %s (target: median Spearman >= %g, median top-10 >= %g)\n",
                   task_list[t].name.c_str(), describe(fidelity[t]).c_str(), options.ranking.min_spearman,
                   options.ranking.min_top10_overlap);
  }
  return plan;
}

// Every eligible layer dynamic int8 and the tables as asked: no rows needed
// (so --int8-tables auto, which measures on rows, stores int8 tables).
QuantizationPlan plan_int8_dynamic(const Graph& g, const QuantizeOptions& options) {
  QuantizationPlan plan;
  for (int index : eligible_layers(g)) {
    Int8Layer layer;
    layer.node = index;
    layer.weight = encode_weight(g.values[g.nodes[index].inputs[1]], options);
    layer.dynamic = true;
    add_layer(g, layer, &plan);
  }
  add_tables(g, options.int8_tables == TableEncoding::kAuto ? TableEncoding::kInt8 : options.int8_tables, &plan);
  return plan;
}

}  // namespace

const char* table_encoding_name(TableEncoding encoding) {
  switch (encoding) {
    case TableEncoding::kInt8: return "int8";
    case TableEncoding::kInt4: return "int4";
    case TableEncoding::kFloat16: return "fp16";
    case TableEncoding::kAuto: return "auto";
    case TableEncoding::kInt4Codebook: return "int4-codebook";
  }
  return "?";
}

QuantizationPlan plan_quantization(const Graph& g, const QuantizeOptions& options, FILE* log) {
  switch (options.mode) {
    case QuantizeMode::kNone: return {};
    case QuantizeMode::kFloat16: return plan_float16(g);
    case QuantizeMode::kInt8: return plan_int8(g, options, log);
    case QuantizeMode::kInt8Dynamic: return plan_int8_dynamic(g, options);
  }
  return {};
}

}  // namespace edgemtl::converter
