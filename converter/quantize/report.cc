// The quantisation report: per-layer sizes and stored types, the file size
// against f32, and with a validation file the AUC and score differences of
// each task, quantised against f32, and how each task ranks each request's
// items against f32.
#include "converter/quantize/report.h"

#include <algorithm>
#include <cmath>

#include "converter/quantize.h"
#include "converter/quantize/calibration.h"
#include "converter/quantize/ranking.h"

namespace edgemtl::converter {

std::string layer_label(const Node& node) {
  std::string name = node.stage == Side::kUser ? node.name + " (user)" : node.name;
  return name.size() > 48 ? "..." + name.substr(name.size() - 45) : name;
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

size_t float_bytes(const Value& v) { return v.floats.size() * sizeof(float); }

void print_layers(const Graph& g, const QuantizationPlan& plan, FILE* log) {
  std::fprintf(log, "%-48s %-15s %-13s %-7s %10s %10s\n", "layer", "op", "weight", "bias", "f32 bytes", "bytes");
  size_t before = 0, after = 0;
  for (size_t index = 0; index < g.nodes.size(); ++index) {
    const Node& node = g.nodes[index];
    if (node.dead || (node.op != Op::kFullyConnected && node.op != Op::kEmbedding && node.op != Op::kEmbeddingMulti &&
                      node.op != Op::kBag))
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
          layer_after += found->second.bytes.size() + found->second.scales.size() * sizeof(float) +
                         found->second.row_params.size();
          dtypes[k] = stored_type_name(found->second.type);
        } else {
          layer_after += float_bytes(g.values[v]);
        }
      }
      ++k;
    }
    before += layer_before;
    after += layer_after;
    auto fc = plan.fully_connected.find(static_cast<int>(index));
    const char* form = fc == plan.fully_connected.end() ? "" : fc->second.dynamic ? "  int8 dynamic" : "  int8 static";
    std::fprintf(log, "%-48s %-15s %-13s %-7s %10zu %10zu%s\n", layer_label(node).c_str(), op_name(node.op),
                 dtypes[0].c_str(), dtypes[1].c_str(), layer_before, layer_after, form);
  }
  std::fprintf(log, "%-48s %-15s %-13s %-7s %10zu %10zu (x%.3f; scales included)\n", "all layers", "", "", "", before,
               after, before ? double(after) / double(before) : 0.0);
}

// Per task, over the requests of two or more items: the median and 10th
// percentile of Spearman's rank correlation and of the top-k overlaps.
void print_ranking(const std::vector<float>& reference, const std::vector<float>& scores,
                   const std::vector<Request>& requests, const std::vector<TaskDescription>& task_list, FILE* log) {
  std::fprintf(log, "ranking against f32, per request (median / 10th percentile, number of requests):\n");
  std::fprintf(log, "  %-24s %22s", "task", "Spearman");
  for (size_t k : kTopK) std::fprintf(log, "   top-%-2zu overlap      ", k);
  std::fprintf(log, "\n");
  auto print_spread = [&](const Spread& s) {
    if (s.count == 0) std::fprintf(log, " %22s", "-");
    else std::fprintf(log, " %8.4f / %6.4f (%4zu)", s.median, s.p10, s.count);
  };
  for (size_t t = 0; t < task_list.size(); ++t) {
    const RankingFidelity f = ranking_fidelity(reference, scores, requests, task_list.size(), t);
    std::fprintf(log, "  %-24s", task_list[t].name.c_str());
    print_spread(f.spearman);
    for (const Spread& s : f.overlap) print_spread(s);
    std::fprintf(log, "\n");
  }
}

void print_validation(const std::vector<uint8_t>& f32_file, const std::vector<uint8_t>& file,
                      const std::string& path, FILE* log) {
  const std::vector<Request> requests = read_requests(path);
  const std::vector<float> reference = score_requests(f32_file, requests);
  const std::vector<float> scores = score_requests(file, requests);
  const std::vector<TaskDescription> task_list = tasks_of(file);
  const size_t tasks = task_list.size(), n = count_items(requests);
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
    const TaskDescription& task = task_list[t];
    bool complete = false;
    std::vector<int> labels = task.probability ? labels_of(requests, task.name, &complete) : std::vector<int>();
    if (complete)
      std::fprintf(log, "  %-24s %10.6f %10.6f %12.3g %12.3g\n", task.name.c_str(), roc_auc(a, labels), roc_auc(b, labels),
                   mean / double(n), max);
    else
      std::fprintf(log, "  %-24s %10s %10s %12.3g %12.3g\n", task.name.c_str(), "-", "-", mean / double(n), max);
  }
  print_ranking(reference, scores, requests, task_list, log);
}

}  // namespace

void report_quantization(const Graph& g, const QuantizationPlan& plan, const std::vector<uint8_t>& file,
                         const QuantizeOptions& options, FILE* log) {
  if (!log || options.mode == QuantizeMode::kNone) return;
  const std::vector<uint8_t> f32_file = write_model(g, nullptr, options.write);
  print_layers(g, plan, log);
  std::fprintf(log, "file: %zu bytes (f32: %zu, x%.3f)\n", file.size(), f32_file.size(),
               double(file.size()) / double(f32_file.size()));
  if (!options.validation_path.empty()) print_validation(f32_file, file, options.validation_path, log);
}

}  // namespace edgemtl::converter
