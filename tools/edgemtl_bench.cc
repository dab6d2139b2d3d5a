// edgemtl-bench: latency and throughput of a model on generated requests, in
// the spirit of TFLite's benchmark_model. Inputs come from the model's own
// feature specs: ids within their tables, padded id lists of random length,
// dense values drawn from N(0, 1). One user per request, N items.
//
// Besides latency it reports the item stage's GFLOP/s next to the GFLOP/s of
// XNNPACK's fully-connected operator on one GEMM of the same total work (the
// practical roofline of this CPU), and with --profile a per-operator table.
#include <pthreadpool.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/executor/session.h"
#include "runtime/kernels/fully_connected.h"
#include "runtime/kernels/quantized_fully_connected.h"
#include "schema/edgemtl_generated.h"
#include "tools/flags.h"
#include "tools/peak.h"

namespace {

constexpr const char* kUsage =
    "usage: edgemtl-bench MODEL.emtl [options]\n"
    "       edgemtl-bench --f32-sweep | --int8-sweep [--threads T] [--runs ROUNDS]\n"
    "  --items N          candidates per request (default 500)\n"
    "  --threads T        worker threads (default 1)\n"
    "  --tile ROWS        item-stage tile (SessionOptions::item_tile_rows; default 72, 0: all items at once)\n"
    "  --warmup K         untimed requests first (default 5)\n"
    "  --runs R           timed requests (default: as many as fit in --min-seconds)\n"
    "  --min-seconds S    time budget for the timed requests (default 2)\n"
    "  --no-user-cache    SessionOptions::cache_user = false: score() repeats the user's features on\n"
    "                     every item row and runs the user stage on them (the work of an unsplit model)\n"
    "  --no-vnni          SessionOptions::int8_vnni = false: INT8 layers on XNNPACK even when the CPU\n"
    "                     has AVX-512 VNNI\n"
    "  --no-own-f32       SessionOptions::f32_kernel = kXnnpack: FLOAT32 / FLOAT16 layers on XNNPACK\n"
    "                     even when the runtime's own AVX-512 / AVX2 kernel runs on this CPU\n"
    "  --f32-avx2         SessionOptions::f32_kernel = kAvx2: the own AVX2 kernel even on AVX-512\n"
    "  --f32-sweep        no model: the f32 fully-connected kernels on [168 x K] x [K x N] for K, N in\n"
    "                     {64 .. 2048}, own kernel vs XNNPACK interleaved (--runs: rounds, default 15),\n"
    "                     medians, GFLOP/s as ratios and as fractions of the measured f32 FMA peak\n"
    "  --int8-sweep       no model: the same for the static int8 layer (per-channel scales, RELU), K, N\n"
    "                     in {64, 116, 128, 196, 256 .. 2048}: the AVX-512 VNNI kernel vs XNNPACK's qc8\n"
    "                     GEMM, GOP/s and fractions of the measured int8 dot-product peak\n"
    "  --rerank           also time re-ranks from the candidate cache: set_candidates once, then\n"
    "                     set_user + rank() per request (cross stage only) next to set_user + score()\n"
    "  --profile          per-operator table: time per request, share, calls, GFLOP/s\n"
    "  --no-roofline      skip the reference GEMM (item stage GFLOP/s vs XNNPACK's own FC)\n"
    "  --peak             also measure this core's f32 FMA and int8 dot-product peak (widest units,\n"
    "                     registers only) and report the item stage as a fraction of each\n"
    "  --load-runs L      only load (mmap, verify) the file L times in this process and report the\n"
    "                     median and fastest load (the page cache warm after the first)\n"
    "  --seed S           input generator seed (default 1)\n"
    "  --json             print one JSON object instead of the text report\n"
    "  --version          print the version and exit\n";

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void fail(const char* what, const edgemtl::Status& status) {
  std::fprintf(stderr, "edgemtl-bench: %s: %s\n", what, status.message());
  std::exit(1);
}

// Generated values of every feature of one side for `rows` rows.
struct GeneratedBatch {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> values;
  std::vector<edgemtl::FeatureInput> inputs;
};

GeneratedBatch generate(const edgemtl::Model& model, edgemtl::Side side, size_t rows, std::mt19937_64& random) {
  GeneratedBatch batch;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t f = 0; f < model.num_features(); ++f) {
    edgemtl::FeatureInfo info = model.feature(f);
    if (info.side != side) continue;
    const size_t width = static_cast<size_t>(info.width);
    edgemtl::FeatureInput input;
    input.feature = static_cast<int32_t>(f);
    input.count = rows * width;
    if (info.kind == edgemtl::FeatureKind::kDense) {
      batch.values.emplace_back(rows * width);
      for (float& v : batch.values.back()) v = normal(random);
    } else {
      batch.ids.emplace_back(rows * width, info.padding_id);
      std::vector<int64_t>& ids = batch.ids.back();
      const uint64_t table = static_cast<uint64_t>(std::max<int64_t>(1, info.table_size));
      for (size_t r = 0; r < rows; ++r) {
        // Padded lists hold a random number of real ids, then padding.
        size_t length = info.kind == edgemtl::FeatureKind::kIdList ? random() % (width + 1) : width;
        for (size_t i = 0; i < length; ++i) ids[r * width + i] = static_cast<int64_t>(random() % table);
      }
    }
    batch.inputs.push_back(input);
  }
  // Pointers last: the vectors above no longer move.
  size_t next_ids = 0, next_values = 0;
  for (edgemtl::FeatureInput& input : batch.inputs) {
    if (model.feature(static_cast<size_t>(input.feature)).kind == edgemtl::FeatureKind::kDense)
      input.values = batch.values[next_values++].data();
    else
      input.ids = batch.ids[next_ids++].data();
  }
  return batch;
}

double percentile(std::vector<double> sorted, double p) {
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty()) return 0.0;
  size_t index = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))) - (p > 0 ? 1 : 0);
  return sorted[std::min(index, sorted.size() - 1)];
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// The practical roofline: XNNPACK's fully-connected operator (the runtime's
// own FullyConnected wrapper) on one [rows, k] x [k, k] GEMM whose FLOP count
// matches the item stage's. Timed as many times as the requests, after them,
// and compared by medians. Not between the requests: its 2-5 MB of buffers
// evicted the model's weights from L2 before every timed request (R500-MMoE
// int8 item stage 2.07-2.14 ms p50 instead of 1.58-1.77 on Zen 4), which a loop
// of requests, and every other engine's harness, does not do.
class ReferenceGemm {
 public:
  ReferenceGemm(uint64_t flops, size_t rows, int threads) : rows_(rows) {
    // k * k = flops / (2 rows), k rounded to a multiple of 16 (XNNPACK's tiles).
    const double square = static_cast<double>(flops) / (2.0 * static_cast<double>(rows));
    k_ = std::max<size_t>(16, static_cast<size_t>(std::lround(std::sqrt(square) / 16.0)) * 16);
    std::mt19937 random(7);
    std::uniform_real_distribution<float> uniform(-0.1f, 0.1f);
    std::vector<float> weight(k_ * k_), bias(k_);
    x_.resize(rows * k_ + 64);  // XNNPACK may read a little past the input
    y_.resize(rows * k_);
    for (float& v : weight) v = uniform(random);
    for (float& v : bias) v = uniform(random);
    for (float& v : x_) v = uniform(random);
    edgemtl::Status status = fc_.create(k_, k_, k_, weight.data(), bias.data(), edgemtl::schema::Activation::RELU, 0.0f,
                                        edgemtl::F32Isa::kNone);  // XNNPACK's
    if (!status.is_ok()) fail("reference GEMM", status);
    pool_ = threads > 1 ? pthreadpool_create(static_cast<size_t>(threads)) : nullptr;
    for (int r = 0; r < 3; ++r) run();  // warm
    times_.clear();
  }
  ~ReferenceGemm() {
    if (pool_) pthreadpool_destroy(pool_);
  }
  void run() {
    Clock::time_point start = Clock::now();
    edgemtl::KernelThreads threads;
    threads.xnnpack = pool_;
    edgemtl::Status status = fc_.run(x_.data(), rows_, y_.data(), threads);
    if (!status.is_ok()) fail("reference GEMM", status);
    times_.push_back(ms_since(start));
  }
  size_t rows() const { return rows_; }
  size_t channels() const { return k_; }
  double gflops() const {
    const double flops = 2.0 * static_cast<double>(rows_) * static_cast<double>(k_) * static_cast<double>(k_);
    return times_.empty() ? 0.0 : flops / (percentile(times_, 50) * 1e6);
  }

 private:
  size_t rows_, k_ = 0;
  edgemtl::FullyConnected fc_;
  pthreadpool_t pool_ = nullptr;
  std::vector<float> x_, y_;
  std::vector<double> times_;
};

// --load-runs: Model::load_file L times (each Model freed before the next).
int load_times(const char* path, size_t loads, bool json) {
  std::vector<double> times;
  times.reserve(loads);
  for (size_t i = 0; i < loads; ++i) {
    const Clock::time_point start = Clock::now();
    auto model = edgemtl::Model::load_file(path);
    times.push_back(ms_since(start));
    if (!model.ok()) fail(path, model.status());
  }
  if (json)
    std::printf("{\"model\": \"%s\", \"loads\": %zu, \"load_p50_ms\": %.4f, \"load_min_ms\": %.4f}\n", path, loads,
                percentile(times, 50), percentile(times, 0));
  else
    std::printf("%s: load (mmap, verify) p50 %.3f ms, fastest %.3f ms over %zu loads\n", path, percentile(times, 50),
                percentile(times, 0), loads);
  return 0;
}

// A kernel sweep: for each [168 x K] x [K x N] GEMM, the paths of one layer
// type (paths[0], the reference, then the runtime's own kernels) alternate
// within each round (A, B, A, B...: all see the same machine), each timed over
// enough calls for ~1 ms; medians over the rounds. The peak of the units they
// run on is measured before each K and after.
struct KernelSweep {
  const char* what;                // "RELU fused, f32": the header's description of the layer
  const char* unit;                // "GFLOP/s" or "GOP/s" (2 per multiply-add either way)
  std::vector<std::string> paths;  // column names, the reference first
  std::vector<size_t> sizes;       // K and N
  double (*peak)(const edgemtl::tools::Peak&);
  const char* (*peak_isa)(const edgemtl::tools::Peak&);
  // One call of each path on a new [rows x k] x [k x n] layer (created here, kept by the closures).
  std::function<std::vector<std::function<void()>>(size_t rows, size_t k, size_t n)> create;
};

// The Session's threads as a kernel sees them: a pthreadpool for XNNPACK, the runtime's ThreadPool for the own kernels.
struct SweepThreads {
  explicit SweepThreads(int threads) {
    if (threads <= 1) return;
    pool = pthreadpool_create(static_cast<size_t>(threads));
    kernel.xnnpack = pool;
    edgemtl::Result<std::unique_ptr<edgemtl::ThreadPool>> created = edgemtl::ThreadPool::create(threads);
    if (!created.ok()) fail("thread pool", created.status());
    own = std::move(*created);
    kernel.pool = own.get();
  }
  ~SweepThreads() {
    if (pool) pthreadpool_destroy(pool);
  }
  edgemtl::KernelThreads kernel;
  pthreadpool_t pool = nullptr;
  std::unique_ptr<edgemtl::ThreadPool> own;
};

int run_sweep(const KernelSweep& sweep, int threads, int rounds) {
  const size_t rows = 168;
  const edgemtl::tools::Peak before = edgemtl::tools::measure_peak();
  struct Row {
    size_t k, n;
    std::vector<double> rates, ratios;  // per path; ratios: own path i+1 / reference, median of within-round ratios
  };
  std::vector<Row> results;
  // The peak is a property of the core; a busy neighbour can only lower a
  // measurement of it: measured before each K and after, the highest is used.
  std::vector<double> peaks;
  for (size_t k : sweep.sizes) {
    peaks.push_back(sweep.peak(edgemtl::tools::measure_peak()));
    for (size_t n : sweep.sizes) {
      const std::vector<std::function<void()>> calls_of = sweep.create(rows, k, n);
      const double ops = 2.0 * static_cast<double>(rows * k * n);
      const int calls = std::max(3, static_cast<int>(1e-3 * 0.7 * sweep.peak(before) * 1e9 / ops));  // ~1 ms per sample
      std::vector<std::vector<double>> times(calls_of.size());
      for (int round = 0; round < rounds + 1; ++round) {
        for (size_t i = 0; i < calls_of.size(); ++i) {
          Clock::time_point start = Clock::now();
          for (int c = 0; c < calls; ++c) calls_of[i]();
          if (round > 0) times[i].push_back(ms_since(start) / calls);  // round 0 warms
        }
      }
      Row row{k, n, {}, {}};
      for (size_t i = 0; i < times.size(); ++i) row.rates.push_back(ops / (percentile(times[i], 50) * 1e6));
      for (size_t i = 1; i < times.size(); ++i) {
        std::vector<double> ratios;
        for (size_t r = 0; r < times[i].size(); ++r) ratios.push_back(times[0][r] / times[i][r]);
        row.ratios.push_back(percentile(ratios, 50));
      }
      results.push_back(row);
    }
  }
  peaks.push_back(sweep.peak(edgemtl::tools::measure_peak()));
  peaks.push_back(sweep.peak(before));
  const double peak = *std::max_element(peaks.begin(), peaks.end());
  std::printf("cpu %s, threads %d, rounds %d, M = %zu rows, %s; peak %.1f %s (%s), the highest of %zu measurements "
              "(lowest %.1f)\n",
              edgemtl::tools::cpu_model().c_str(), threads, rounds, rows, sweep.what, peak, sweep.unit,
              sweep.peak_isa(before), peaks.size(), *std::min_element(peaks.begin(), peaks.end()));
  std::printf("%s (median over rounds), own / %s (median of the within-round ratios), of the peak\n", sweep.unit,
              sweep.paths[0].c_str());
  std::printf("%6s %6s", "K", "N");
  for (const std::string& name : sweep.paths) std::printf(" %9s", name.c_str());
  for (size_t i = 1; i < sweep.paths.size(); ++i) std::printf(" %9s", sweep.paths[i].c_str());
  for (const std::string& name : sweep.paths) std::printf(" %9s", name.c_str());
  std::printf("\n");
  for (const Row& row : results) {
    std::printf("%6zu %6zu", row.k, row.n);
    for (double g : row.rates) std::printf(" %9.1f", g);
    for (double r : row.ratios) std::printf(" %8.2fx", r);
    for (double g : row.rates) std::printf(" %8.0f%%", 100.0 * g / peak);
    std::printf("\n");
  }
  return 0;
}

std::vector<float> uniform_values(size_t count, float limit, std::mt19937& random) {
  std::uniform_real_distribution<float> uniform(-limit, limit);
  std::vector<float> values(count);
  for (float& v : values) v = uniform(random);
  return values;
}

// --f32-sweep: XNNPACK's f32 FullyConnected and the runtime's own kernel(s), RELU fused.
int f32_sweep(int threads, int rounds) {
  using edgemtl::F32Isa;
  KernelSweep sweep;
  sweep.what = "RELU fused, f32";
  sweep.unit = "GFLOP/s";
  std::vector<F32Isa> isas = {F32Isa::kNone};
  sweep.paths = {"xnnpack"};
  for (F32Isa isa : {F32Isa::kAvx512, F32Isa::kAvx2})
    if (edgemtl::F32Gemm::supports(isa)) isas.push_back(isa), sweep.paths.push_back(edgemtl::F32Gemm::isa_name(isa));
  sweep.sizes = {64, 128, 256, 512, 1024, 2048};
  sweep.peak = [](const edgemtl::tools::Peak& p) { return p.f32_gflops; };
  sweep.peak_isa = [](const edgemtl::tools::Peak& p) { return p.f32_isa; };
  SweepThreads pools(threads);
  std::mt19937 random(3);
  sweep.create = [&](size_t rows, size_t k, size_t n) {
    auto x = std::make_shared<std::vector<float>>(uniform_values(rows * k + 64, 0.5f, random));
    auto y = std::make_shared<std::vector<float>>(rows * n);
    const std::vector<float> w = uniform_values(n * k, 0.5f, random), b = uniform_values(n, 0.5f, random);
    std::vector<std::function<void()>> calls;
    for (F32Isa isa : isas) {
      auto fc = std::make_shared<edgemtl::FullyConnected>();
      edgemtl::Status s = fc->create(k, k, n, w.data(), b.data(), edgemtl::schema::Activation::RELU, 0.0f, isa);
      if (!s.is_ok()) fail("f32 sweep", s);
      calls.push_back([fc, x, y, rows, &pools] {
        edgemtl::Status status = fc->run(x->data(), rows, y->data(), pools.kernel);
        if (!status.is_ok()) fail("f32 sweep", status);
      });
    }
    return calls;
  };
  return run_sweep(sweep, threads, rounds);
}

// --int8-sweep: the static int8 layer (per-channel weight scales, RELU) on
// XNNPACK (qc8, as on a CPU without VNNI) and on the AVX-512 VNNI kernel.
int int8_sweep(int threads, int rounds) {
  KernelSweep sweep;
  sweep.what = "RELU fused, int8 (per-channel weight scales)";
  sweep.unit = "GOP/s";
  sweep.paths = {"xnnpack"};
  if (edgemtl::Int8GemmVnni::available()) sweep.paths.push_back("vnni");
  sweep.sizes = {64, 116, 128, 196, 256, 512, 1024, 2048};
  sweep.peak = [](const edgemtl::tools::Peak& p) { return p.int8_gops; };
  sweep.peak_isa = [](const edgemtl::tools::Peak& p) { return p.int8_isa; };
  if (sweep.peak(edgemtl::tools::measure_peak()) <= 0.0) {
    std::fprintf(stderr, "edgemtl-bench: --int8-sweep: no int8 dot-product unit measured on this CPU\n");
    return 1;
  }
  SweepThreads pools(threads);
  std::mt19937 random(3);
  sweep.create = [&](size_t rows, size_t k, size_t n) {
    auto x = std::make_shared<std::vector<float>>(uniform_values(rows * k, 2.0f, random));
    auto y = std::make_shared<std::vector<float>>(rows * n);
    std::vector<int8_t> w(n * k);
    for (int8_t& v : w) v = static_cast<int8_t>(static_cast<int>(random() % 255) - 127);
    std::vector<float> scales = uniform_values(n, 0.01f, random);
    for (float& s : scales) s = std::fabs(s) + 1e-3f;
    std::vector<int32_t> bias(n);
    for (int32_t& v : bias) v = static_cast<int32_t>(random() % 2001) - 1000;
    const edgemtl::QuantParams input{2.0f / 127.0f, 3}, output{0.05f, -128};
    std::vector<std::function<void()>> calls;
    for (size_t i = 0; i < sweep.paths.size(); ++i) {
      auto fc = std::make_shared<edgemtl::QuantizedFullyConnected>();
      edgemtl::Status s = fc->create(k, k, n, w.data(), scales.data(), true, bias.data(), input, output,
                                     edgemtl::schema::Activation::RELU, 0.0f, rows, /*allow_vnni=*/i > 0);
      if (!s.is_ok()) fail("int8 sweep", s);
      auto scratch = std::make_shared<std::vector<int8_t>>(fc->scratch_bytes());
      calls.push_back([fc, x, y, scratch, rows, &pools] {
        edgemtl::Status status = fc->run(x->data(), rows, y->data(), scratch->data(), pools.kernel);
        if (!status.is_ok()) fail("int8 sweep", status);
      });
    }
    return calls;
  };
  return run_sweep(sweep, threads, rounds);
}

struct StageFlops {
  uint64_t user = 0, item = 0;  // per request; item: what score() runs (item and cross stages)
  uint64_t item_only = 0;       // of `item`: the item stage (cached by set_candidates)
  uint64_t cross = 0;           // of `item`: the cross stage (what rank() runs)
};

// FLOPs of one request from the file's shapes, counted as the runtime's
// profile counts them: 2 * output elements * reduction length, for
// FULLY_CONNECTED and MATMUL (user stage on 1 row, item stage on `items`).
// Static, so that nothing runs before the first (cold) request is timed.
StageFlops count_flops(const edgemtl::Model& model, size_t items) {
  namespace schema = edgemtl::schema;
  const schema::Model* root = model.root();
  auto dims = [&](int tensor) { return root->tensors()->Get(static_cast<uint32_t>(tensor))->shape(); };
  auto per_row = [&](int tensor) {
    uint64_t product = 1;
    for (uint32_t d = 1; d < dims(tensor)->size(); ++d) product *= static_cast<uint64_t>(dims(tensor)->Get(d));
    return product;
  };
  auto stage_flops = [&](const schema::Stage* stage, uint64_t rows) {
    uint64_t flops = 0;
    if (!stage || !stage->operators()) return flops;
    for (const schema::Operator* op : *stage->operators()) {
      const uint64_t outputs = rows * per_row(op->outputs()->Get(0));
      if (op->type() == schema::OpType::FULLY_CONNECTED) {
        flops += 2 * outputs * static_cast<uint64_t>(dims(op->inputs()->Get(1))->Get(1));
      } else if (op->type() == schema::OpType::MATMUL) {
        const auto* a = dims(op->inputs()->Get(0));
        flops += 2 * outputs * static_cast<uint64_t>(a->Get(a->size() - 1));
      }
    }
    return flops;
  };
  StageFlops flops;
  flops.user = stage_flops(root->user_stage(), 1);
  // A file without a cross stage runs its item stage as the cross stage.
  flops.item_only = root->cross_stage() ? stage_flops(root->item_stage(), items) : 0;
  flops.cross = stage_flops(root->cross_stage() ? root->cross_stage() : root->item_stage(), items);
  flops.item = flops.item_only + flops.cross;
  return flops;
}

const char* stage_name(int stage) { return stage == 0 ? "user" : stage == 1 ? "item" : "cross"; }

void print_profile(edgemtl::Span<const edgemtl::OperatorProfile> records, size_t requests) {
  double total = 0.0;
  for (const edgemtl::OperatorProfile& r : records) total += r.seconds;
  std::printf("\nper operator (mean per request over %zu profiled requests; profiling adds a clock read per op)\n",
              requests);
  std::printf("%5s %-4s %-16s %-40s %10s %7s %7s %8s\n", "#", "stage", "type", "name", "ms", "share", "calls",
              "GFLOP/s");
  for (size_t i = 0; i < records.size(); ++i) {
    const edgemtl::OperatorProfile& r = records[i];
    const double ms = r.seconds * 1e3 / static_cast<double>(requests);
    char gflops[16] = "";
    if (r.flops > 0 && r.seconds > 0)
      std::snprintf(gflops, sizeof(gflops), "%.1f", static_cast<double>(r.flops) / r.seconds / 1e9);
    std::printf("%5zu %-5s %-16s %-40.40s %10.4f %6.1f%% %7llu %8s\n", i, stage_name(r.stage), r.type, r.name,
                ms, total > 0 ? 100.0 * r.seconds / total : 0.0, static_cast<unsigned long long>(r.calls), gflops);
  }
  // By type: where the time goes at a glance.
  std::vector<std::string> types;
  for (const edgemtl::OperatorProfile& r : records)
    if (std::find(types.begin(), types.end(), r.type) == types.end()) types.push_back(r.type);
  std::printf("\nby type\n%-16s %5s %10s %7s %8s\n", "type", "ops", "ms", "share", "GFLOP/s");
  for (const std::string& type : types) {
    double seconds = 0.0;
    uint64_t flops = 0;
    size_t count = 0;
    for (const edgemtl::OperatorProfile& r : records)
      if (type == r.type) seconds += r.seconds, flops += r.flops, ++count;
    char gflops[16] = "";
    if (flops > 0 && seconds > 0) std::snprintf(gflops, sizeof(gflops), "%.1f", static_cast<double>(flops) / seconds / 1e9);
    std::printf("%-16s %5zu %10.4f %6.1f%% %8s\n", type.c_str(), count, seconds * 1e3 / static_cast<double>(requests),
                total > 0 ? 100.0 * seconds / total : 0.0, gflops);
  }
}

std::string profile_json(edgemtl::Span<const edgemtl::OperatorProfile> records, size_t requests) {
  std::string out = "[";
  char line[512];
  for (size_t i = 0; i < records.size(); ++i) {
    const edgemtl::OperatorProfile& r = records[i];
    std::string name;
    for (const char* c = r.name; *c; ++c) {
      if (*c == '"' || *c == '\\') name += '\\';
      if (static_cast<unsigned char>(*c) >= 0x20) name += *c;
    }
    std::snprintf(line, sizeof(line), "%s{\"stage\": \"%s\", \"type\": \"%s\", \"name\": \"%s\", \"ms\": %.5f, \"calls\": %llu, \"flops\": %llu}",
                  i ? ", " : "", stage_name(r.stage), r.type, name.c_str(),
                  r.seconds * 1e3 / static_cast<double>(requests), static_cast<unsigned long long>(r.calls),
                  static_cast<unsigned long long>(r.flops / std::max<size_t>(1, requests)));
    out += line;
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = nullptr;
  size_t items = 500, warmup = 5, runs = 0, load_runs = 0;
  double min_seconds = 2.0;
  int threads = 1;
  size_t tile = edgemtl::SessionOptions().item_tile_rows;
  uint64_t seed = 1;
  bool json = false, profile = false, user_cache = true, roofline = true, vnni = true, rerank = false, peak = false;
  bool f32_sweep_wanted = false, int8_sweep_wanted = false;
  edgemtl::F32Kernel f32_kernel = edgemtl::F32Kernel::kAuto;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgemtl-bench: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    // Whole-number flags: the smallest value each accepts.
    struct IntegerFlag {
      const char* name;
      long long min, max;
    };
    static const IntegerFlag kIntegerFlags[] = {{"--items", 1, 1LL << 30}, {"--threads", 1, 1024},
                                                {"--tile", 0, 1LL << 30},  {"--warmup", 0, 1LL << 40},
                                                {"--runs", 0, 1LL << 40},  {"--seed", 0, __LONG_LONG_MAX__},
                                                {"--load-runs", 1, 1LL << 20}};
    const IntegerFlag* integer = nullptr;
    for (const IntegerFlag& flag : kIntegerFlags)
      if (arg == flag.name) integer = &flag;
    std::string error;
    if (integer) {
      long long parsed = 0;
      if (!edgemtl::tools::parse_integer_flag(integer->name, value(), integer->min, integer->max, &parsed, &error)) {
        std::fprintf(stderr, "edgemtl-bench: %s\n", error.c_str());
        return 2;
      }
      if (arg == "--items") items = static_cast<size_t>(parsed);
      else if (arg == "--threads") threads = static_cast<int>(parsed);
      else if (arg == "--tile") tile = static_cast<size_t>(parsed);
      else if (arg == "--warmup") warmup = static_cast<size_t>(parsed);
      else if (arg == "--runs") runs = static_cast<size_t>(parsed);
      else if (arg == "--load-runs") load_runs = static_cast<size_t>(parsed);
      else seed = static_cast<uint64_t>(parsed);
    } else if (arg == "--min-seconds") {
      if (!edgemtl::tools::parse_number_flag("--min-seconds", value(), 0.0, &min_seconds, &error)) {
        std::fprintf(stderr, "edgemtl-bench: %s\n", error.c_str());
        return 2;
      }
    } else if (arg == "--version") {
      edgemtl::tools::print_version("edgemtl-bench");
      return 0;
    } else if (arg == "--json") json = true;
    else if (arg == "--profile") profile = true;
    else if (arg == "--rerank") rerank = true;
    else if (arg == "--no-user-cache") user_cache = false;
    else if (arg == "--no-vnni") vnni = false;
    else if (arg == "--no-own-f32") f32_kernel = edgemtl::F32Kernel::kXnnpack;
    else if (arg == "--f32-avx2") f32_kernel = edgemtl::F32Kernel::kAvx2;
    else if (arg == "--f32-sweep") f32_sweep_wanted = true;
    else if (arg == "--int8-sweep") int8_sweep_wanted = true;
    else if (arg == "--no-roofline") roofline = false;
    else if (arg == "--peak") peak = true;
    else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (path == nullptr && arg[0] != '-') path = argv[i];
    else {
      std::fprintf(stderr, "edgemtl-bench: unexpected argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (f32_sweep_wanted && threads >= 1) return f32_sweep(threads, runs > 0 ? static_cast<int>(runs) : 15);
  if (int8_sweep_wanted && threads >= 1) return int8_sweep(threads, runs > 0 ? static_cast<int>(runs) : 15);
  if (path == nullptr || items == 0 || threads < 1) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (load_runs > 0) return load_times(path, load_runs, json);

  Clock::time_point start = Clock::now();
  auto model = edgemtl::Model::load_file(path);
  double load_ms = ms_since(start);
  if (!model.ok()) fail(path, model.status());
  edgemtl::SessionOptions options;
  options.max_items = items;
  options.threads = threads;
  options.profile = profile;
  options.item_tile_rows = tile;
  options.cache_user = user_cache;
  options.int8_vnni = vnni;
  options.f32_kernel = f32_kernel;

  // A small pool of distinct requests, used round-robin, so caches see varied ids.
  std::mt19937_64 random(seed);
  constexpr size_t kPool = 8;
  std::vector<GeneratedBatch> users, candidates;
  for (size_t r = 0; r < kPool; ++r) {
    users.push_back(generate(**model, edgemtl::Side::kUser, 1, random));
    candidates.push_back(generate(**model, edgemtl::Side::kItem, items, random));
  }
  auto request = [&](edgemtl::Session& s, size_t r, double* user_ms, double* item_ms) {
    const GeneratedBatch& user = users[r % kPool];
    const GeneratedBatch& batch = candidates[r % kPool];
    Clock::time_point t0 = Clock::now();
    edgemtl::Status status = s.set_user({user.inputs.data(), user.inputs.size()});
    if (!status.is_ok()) fail("set_user", status);
    Clock::time_point t1 = Clock::now();
    auto scores = s.score({batch.inputs.data(), batch.inputs.size()}, items);
    if (!scores.ok()) fail("score", scores.status());
    *user_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    *item_ms = ms_since(t1);
  };

  StageFlops flops = count_flops(**model, items);
  if (!user_cache) flops.user *= items;  // the user stage runs on every item row, inside score()
  start = Clock::now();
  auto session = edgemtl::Session::create(**model, options);
  double session_ms = ms_since(start);
  if (!session.ok()) fail("session", session.status());

  double first_user = 0, first_item = 0;
  request(**session, 0, &first_user, &first_item);
  double user_ms, item_ms;
  for (size_t r = 0; r < warmup; ++r) request(**session, r + 1, &user_ms, &item_ms);
  (*session)->reset_profile();
  const long rss_kb = peak_rss_kb();  // before the reference GEMM's buffers
  std::unique_ptr<ReferenceGemm> reference;
  if (roofline && flops.item > 0) reference.reset(new ReferenceGemm(flops.item, items, threads));
  std::vector<double> totals, user_times, item_times;
  Clock::time_point budget = Clock::now();
  for (size_t r = 0; runs > 0 ? r < runs : (r < 3 || ms_since(budget) < min_seconds * 1000.0); ++r) {
    request(**session, r, &user_ms, &item_ms);
    user_times.push_back(user_ms);
    item_times.push_back(item_ms);
    totals.push_back(user_ms + item_ms);
  }
  if (reference)
    for (size_t r = 0; r < totals.size(); ++r) reference->run();
  const double p50 = percentile(totals, 50);
  const double items_per_s = p50 > 0 ? static_cast<double>(items) / (p50 / 1000.0) : 0.0;
  const double user_p50 = percentile(user_times, 50), item_p50 = percentile(item_times, 50);
  const size_t timed = totals.size();
  const double item_gflops = item_p50 > 0 ? static_cast<double>(flops.item) / (item_p50 * 1e6) : 0.0;
  const double reference_gflops = reference ? reference->gflops() : 0.0;
  const size_t reference_rows = reference ? reference->rows() : 0, reference_k = reference ? reference->channels() : 0;
  const double roofline_ratio = reference_gflops > 0 ? item_gflops / reference_gflops : 0.0;

  // Re-ranks: the first pool entry's candidates cached once, then a new user per
  // re-rank (set_user + rank()), timed like the requests above (set_user + score()).
  std::vector<double> rerank_times;
  double candidates_ms = 0.0;
  if (rerank) {
    const GeneratedBatch& page = candidates[0];
    Clock::time_point t0 = Clock::now();
    edgemtl::Status status = (*session)->set_candidates({page.inputs.data(), page.inputs.size()}, items);
    candidates_ms = ms_since(t0);
    if (!status.is_ok()) fail("set_candidates", status);
    auto rerank_once = [&](size_t r) {
      const GeneratedBatch& user = users[r % kPool];
      Clock::time_point t1 = Clock::now();
      edgemtl::Status s = (*session)->set_user({user.inputs.data(), user.inputs.size()});
      if (!s.is_ok()) fail("set_user", s);
      auto scores = (*session)->rank();
      if (!scores.ok()) fail("rank", scores.status());
      return ms_since(t1);
    };
    for (size_t r = 0; r < warmup; ++r) rerank_once(r);
    budget = Clock::now();
    for (size_t r = 0; runs > 0 ? r < runs : (r < 3 || ms_since(budget) < min_seconds * 1000.0); ++r)
      rerank_times.push_back(rerank_once(r));
  }
  const double rerank_p50 = percentile(rerank_times, 50);
  // After the timed requests, so that it does not warm or heat the core for them.
  const edgemtl::tools::Peak core = peak ? edgemtl::tools::measure_peak() : edgemtl::tools::Peak{};
  const double f32_fraction = core.f32_gflops > 0 ? item_gflops / core.f32_gflops : 0.0;
  const double int8_fraction = core.int8_gops > 0 ? item_gflops / core.int8_gops : 0.0;
  const std::string cpu = edgemtl::tools::cpu_model();
  const char* f32_name = f32_kernel == edgemtl::F32Kernel::kXnnpack ? "xnnpack"
                         : f32_kernel == edgemtl::F32Kernel::kAvx2 && edgemtl::F32Gemm::supports(edgemtl::F32Isa::kAvx2)
                             ? "avx2+fma"
                             : edgemtl::F32Gemm::isa_name(edgemtl::F32Gemm::best_isa());
  if (std::strcmp(f32_name, "none") == 0) f32_name = "xnnpack";

  if (json) {
    std::printf(
        "{\"model\": \"%s\", \"items\": %zu, \"threads\": %d, \"tile\": %zu, \"runs\": %zu, \"user_cache\": %s, \"int8_vnni\": %s, \"f32_kernel\": \"%s\", \"load_ms\": %.4f, "
        "\"session_ms\": %.4f, \"first_ms\": %.4f, \"min_ms\": %.4f, \"p50_ms\": %.4f, \"p90_ms\": %.4f, "
        "\"p99_ms\": %.4f, \"user_stage_p50_ms\": %.4f, \"item_stage_p50_ms\": %.4f, \"item_stage_min_ms\": %.4f, \"items_per_s\": %.1f, "
        "\"arena_bytes\": %zu, \"packed_weight_bytes\": %zu, \"peak_rss_kb\": %ld, \"model_bytes\": %zu, "
        "\"user_stage_flops\": %llu, \"item_stage_flops\": %llu, \"item_stage_gflops\": %.3f, "
        "\"roofline_gemm\": [%zu, %zu, %zu], \"roofline_gflops\": %.3f, \"roofline_ratio\": %.4f, "
        "\"item_only_flops\": %llu, \"cross_flops\": %llu, \"candidate_cache_bytes\": %zu, \"tile_lanes\": %zu",
        path, items, threads, tile, timed, user_cache ? "true" : "false", vnni ? "true" : "false", f32_name, load_ms, session_ms, first_user + first_item,
        percentile(totals, 0), p50, percentile(totals, 90), percentile(totals, 99), user_p50, item_p50, percentile(item_times, 0), items_per_s,
        (*session)->arena_bytes(), (*session)->packed_weight_bytes(), rss_kb, (*model)->size(),
        static_cast<unsigned long long>(flops.user), static_cast<unsigned long long>(flops.item), item_gflops,
        reference_rows, reference_k, reference_k, reference_gflops, roofline_ratio,
        static_cast<unsigned long long>(flops.item_only), static_cast<unsigned long long>(flops.cross),
        (*session)->candidate_cache_bytes(), (*session)->tile_lanes());
    if (rerank)
      std::printf(", \"set_candidates_ms\": %.4f, \"rerank_runs\": %zu, \"rerank_p50_ms\": %.4f, \"rerank_speedup\": %.3f",
                  candidates_ms, rerank_times.size(), rerank_p50, rerank_p50 > 0 ? p50 / rerank_p50 : 0.0);
    if (peak)
      std::printf(", \"peak_f32_gflops\": %.2f, \"peak_f32_isa\": \"%s\", \"peak_int8_gops\": %.2f, "
                  "\"peak_int8_isa\": \"%s\", \"item_f32_peak_fraction\": %.4f, \"item_int8_peak_fraction\": %.4f",
                  core.f32_gflops, core.f32_isa, core.int8_gops, core.int8_isa, f32_fraction, int8_fraction);
    if (profile) std::printf(", \"operators\": %s", profile_json((*session)->profile(), timed).c_str());
    std::printf(", \"cpu\": \"%s\"}\n", cpu.c_str());
    return 0;
  }
  std::printf("model %s: %zu bytes, %zu features, %zu tasks\n", path, (*model)->size(), (*model)->num_features(),
              (*model)->num_tasks());
  std::printf("cpu             %s\n", cpu.c_str());
  std::printf("items per request %zu, threads %d, %zu timed requests%s\n", items, threads, timed,
              user_cache ? "" : ", NO user cache (user stage on every item row, inside score)");
  std::printf("f32 FC kernel   %s\n", f32_name);
  std::printf("load            %10.3f ms\n", load_ms);
  std::printf("session create  %10.3f ms\n", session_ms);
  std::printf("first request   %10.3f ms (user %.3f + items %.3f)\n", first_user + first_item, first_user, first_item);
  std::printf("latency         min %.3f  p50 %.3f  p90 %.3f  p99 %.3f ms\n", percentile(totals, 0), p50,
              percentile(totals, 90), percentile(totals, 99));
  std::printf("stages (p50)    user %.3f ms, items %.3f ms\n", user_p50, item_p50);
  std::printf("throughput      %.0f items/s\n", items_per_s);
  std::printf("work            user stage %.3f MFLOP, item stage %.3f MFLOP per request (FC and MATMUL)\n",
              static_cast<double>(flops.user) / 1e6, static_cast<double>(flops.item) / 1e6);
  if (reference_gflops > 0)
    std::printf("roofline        item stage %.1f GFLOP/s = %.0f%% of XNNPACK FC on one [%zu x %zu] x [%zu x %zu] GEMM "
                "(%.1f GFLOP/s)\n",
                item_gflops, 100.0 * roofline_ratio, reference_rows, reference_k, reference_k, reference_k,
                reference_gflops);
  if (peak) {
    std::printf("peak (1 core)   f32 FMA %.1f GFLOP/s (%s); item stage %.1f GFLOP/s = %.0f%% of it\n", core.f32_gflops,
                core.f32_isa, item_gflops, 100.0 * f32_fraction);
    if (core.int8_gops > 0)
      std::printf("                int8 dot %.1f GOP/s (%s); item stage = %.0f%% of it (the fraction for an int8 model)\n",
                  core.int8_gops, core.int8_isa, 100.0 * int8_fraction);
  }
  std::printf("  of items       item stage %.3f MFLOP (cacheable), cross stage %.3f MFLOP (%.0f%%)\n",
              static_cast<double>(flops.item_only) / 1e6, static_cast<double>(flops.cross) / 1e6,
              flops.item > 0 ? 100.0 * static_cast<double>(flops.cross) / static_cast<double>(flops.item) : 0.0);
  std::printf("memory          arena %zu bytes (x %zu tile lanes), packed weights %zu bytes, candidate cache %zu bytes, "
              "peak RSS %ld KB\n",
              (*session)->arena_bytes(), (*session)->tile_lanes(), (*session)->packed_weight_bytes(),
              (*session)->candidate_cache_bytes(), rss_kb);
  if (rerank) {
    std::printf("re-rank         set_candidates %.3f ms once; then set_user + rank() p50 %.3f ms vs set_user + score() "
                "p50 %.3f ms: %.2fx faster, %.2fx fewer FLOPs (%zu re-ranks)\n",
                candidates_ms, rerank_p50, p50, rerank_p50 > 0 ? p50 / rerank_p50 : 0.0,
                flops.user + flops.cross > 0
                    ? static_cast<double>(flops.user + flops.item) / static_cast<double>(flops.user + flops.cross)
                    : 0.0,
                rerank_times.size());
  }
  if (profile) print_profile((*session)->profile(), timed);
  return 0;
}
