// edgemtl-convert: ONNX multi-task ranking model -> .emtl file.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <map>
#include <string>

#include "converter/convert_api.h"
#include "converter/onnx_import.h"
#include "converter/pipeline.h"
#include "converter/quantize.h"
#include "converter/writer.h"
#include "runtime/include/edgemtl.h"

namespace {

using namespace edgemtl::converter;

constexpr const char* kUsage =
    "usage: edgemtl-convert MODEL.onnx -o MODEL.emtl [--user-inputs NAME,NAME,...]\n"
    "                       [--tasks NAME[:prob|value],...] [--oov-row N] [--no-split] [--verbose]\n"
    "                       [--keep-names] [--no-merge-lookups] [--no-fuse-mixtures] [--no-merge-mixtures]\n"
    "                       [--no-fuse-input-adds]\n"
    "                       [--quantize int8|int8-dynamic|fp16|none] [--calibration FILE.jsonl]\n"
    "                       [--validate FILE.jsonl] [--int8-inputs auto|static|dynamic]\n"
    "                       [--range minmax|percentile] [--int8-weights per-channel|per-tensor]\n"
    "                       [--int8-tables int8|int4|int4-codebook|fp16|auto] [--max-mean-delta X] [--min-spearman X] [--min-top10 X]\n"
    "                       [--metadata KEY=VALUE,...] [--version]\n"
    "                       [--input-shape NAME=L,...] [--fix-input NAME=VALUE,...] [--outputs NAME,...]\n"
    "                       [--list-padding after|before] [--keep-last-ids]\n"
    "       edgemtl-convert --list-operators   (the supported ONNX ops as markdown: docs/OPERATORS.md)\n"
    "  --input-shape fixes the dynamic list lengths of those inputs. --fix-input folds each input to a\n"
    "  constant (it is no longer a feature); --outputs keeps only those graph outputs. Both are recorded\n"
    "  in the file's metadata. --list-padding: the side a short id list is padded on at run time (the\n"
    "  side the model was trained with); --keep-last-ids: a long list keeps its last ids (else an error).\n"
    "  --metadata stores free key/value pairs in the file (edgemtl_model_metadata), and with them the\n"
    "  conversion options under \"edgemtl.convert_options\"; without it no metadata is written.\n"
    "  --int8-tables (with --quantize int8): embedding tables as int8 rows with an fp16 scale (default),\n"
    "  4-bit rows with an fp16 scale and offset (int4), 4-bit rows with a one-byte index per row into the\n"
    "  table's 256 scales (int4-codebook), fp16 rows, or auto: per table the smallest of int4-codebook, int4\n"
    "  and int8 that keeps the ranking target and half the score budget on the calibration requests (each\n"
    "  form only where it is smaller; tables of width <= 2 are fp16). docs/QUANTIZATION.md.\n"
    "  --quantize int8 (needs --calibration): each fully-connected layer static int8 (input range from\n"
    "  the calibration rows); while the score budget or the ranking target is missed, the most harmful\n"
    "  layer becomes dynamic int8 (each input row quantised with its own range at run time) where that\n"
    "  did better alone, else f32. --int8-inputs dynamic: every layer starts dynamic (more faithful,\n"
    "  slower); static: never dynamic; auto: the default. --quantize int8-dynamic:\n"
    "  every eligible layer dynamic int8, no calibration needed (docs/QUANTIZATION.md).\n";

struct UsageError {
  std::string message;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// NAME=VALUE,NAME=VALUE (names may hold '='; the last one separates).
std::vector<std::pair<std::string, std::string>> name_values(const std::string& flag, const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& item : split_list(text)) {
    const size_t equals = item.rfind('=');
    if (equals == std::string::npos || equals == 0) throw UsageError{flag + " " + item + ": expected NAME=VALUE"};
    out.emplace_back(item.substr(0, equals), item.substr(equals + 1));
  }
  return out;
}

struct Args {
  std::string input, output;
  ConvertOptions options;
  QuantizeOptions quantize;
  bool verbose = false;
  std::vector<std::pair<std::string, std::string>> metadata;
};

Args parse(int argc, char** argv) {
  Args a;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw UsageError{std::string(argv[i]) + " needs a value"};
    return argv[++i];
  };
  // A number in [min, max] for FLAG, else a usage error that says so.
  auto number = [](const std::string& flag, const std::string& text, double min, double max) {
    char* end = nullptr;
    const double x = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(x >= min && x <= max))
      throw UsageError{flag + " " + text + ": must be a number >= " + std::to_string(min).substr(0, 4) +
                       (max < INFINITY ? " and <= " + std::to_string(max).substr(0, 4) : std::string())};
    return x;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-o") a.output = value(i);
    else if (arg == "--user-inputs") a.options.import.user_inputs = split_list(value(i));
    else if (arg == "--tasks") {
      for (const std::string& item : split_list(value(i))) {
        TaskOverride t;
        size_t colon = item.rfind(':');
        std::string kind = colon == std::string::npos ? "" : item.substr(colon + 1);
        if (kind == "prob" || kind == "value") {
          t.name = item.substr(0, colon);
          t.probability = kind == "prob";
        } else if (!kind.empty() && kind.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") ==
                                        std::string::npos) {
          // "ctr:probability": a kind that is neither (an ONNX name like "out:0" stays a name).
          throw UsageError{"--tasks " + item + ": the kind after ':' is prob or value, not '" + kind + "'"};
        } else {
          t.name = item;
        }
        if (t.name.empty()) throw UsageError{"empty task name in --tasks"};
        a.options.import.tasks.push_back(t);
      }
    } else if (arg == "--oov-row") {
      std::string v = value(i);
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0) throw UsageError{"--oov-row needs a row number >= 0"};
      a.options.import.oov_row = n;
    } else if (arg == "--quantize") {
      std::string v = value(i);
      if (v == "int8") a.quantize.mode = QuantizeMode::kInt8;
      else if (v == "int8-dynamic") a.quantize.mode = QuantizeMode::kInt8Dynamic;
      else if (v == "fp16") a.quantize.mode = QuantizeMode::kFloat16;
      else if (v == "none") a.quantize.mode = QuantizeMode::kNone;
      else throw UsageError{"--quantize takes int8, int8-dynamic, fp16 or none"};
    } else if (arg == "--int8-inputs") {
      const std::string v = value(i);
      if (v == "auto") a.quantize.int8_inputs = Int8Inputs::kAuto;
      else if (v == "static") a.quantize.int8_inputs = Int8Inputs::kStatic;
      else if (v == "dynamic") a.quantize.int8_inputs = Int8Inputs::kDynamic;
      else throw UsageError{"--int8-inputs takes auto, static or dynamic"};
    } else if (arg == "--calibration") a.quantize.calibration_path = value(i);
    else if (arg == "--validate") a.quantize.validation_path = value(i);
    else if (arg == "--range") {
      std::string v = value(i);
      if (v != "minmax" && v != "percentile") throw UsageError{"--range takes minmax or percentile"};
      a.quantize.range = v == "minmax" ? RangeEstimator::kMinMax : RangeEstimator::kPercentile;
    } else if (arg == "--int8-weights") {
      std::string v = value(i);
      if (v != "per-channel" && v != "per-tensor") throw UsageError{"--int8-weights takes per-channel or per-tensor"};
      a.quantize.per_channel = v == "per-channel";
    } else if (arg == "--int8-tables") {
      std::string v = value(i);
      if (v == "int8") a.quantize.int8_tables = TableEncoding::kInt8;
      else if (v == "int4") a.quantize.int8_tables = TableEncoding::kInt4;
      else if (v == "int4-codebook") a.quantize.int8_tables = TableEncoding::kInt4Codebook;
      else if (v == "fp16") a.quantize.int8_tables = TableEncoding::kFloat16;
      else if (v == "auto") a.quantize.int8_tables = TableEncoding::kAuto;
      else throw UsageError{"--int8-tables takes int8, int4, int4-codebook, fp16 or auto"};
    } else if (arg == "--max-mean-delta") {
      a.quantize.max_mean_delta = number(arg, value(i), 0.0, INFINITY);
    } else if (arg == "--min-spearman") {
      a.quantize.ranking.min_spearman = number(arg, value(i), -1.0, 1.0);
    } else if (arg == "--min-top10") {
      a.quantize.ranking.min_top10_overlap = number(arg, value(i), 0.0, 1.0);
    } else if (arg == "--input-shape") {
      for (const auto& [name, text] : name_values("--input-shape", value(i))) {
        char* end = nullptr;
        const long long length = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || length < 1) throw UsageError{"--input-shape " + name + ": the length is an integer >= 1"};
        a.options.import.input_shapes.emplace_back(name, length);
      }
    } else if (arg == "--fix-input") {
      for (const auto& [name, text] : name_values("--fix-input", value(i))) {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(x)) throw UsageError{"--fix-input " + name + ": the value is a number"};
        a.options.import.fixed_inputs.emplace_back(name, x);
      }
    } else if (arg == "--outputs") a.options.import.outputs = split_list(value(i));
    else if (arg == "--list-padding") {
      std::string v = value(i);
      if (v != "after" && v != "before") throw UsageError{"--list-padding takes after or before"};
      a.options.import.pad_lists_before = v == "before";
    } else if (arg == "--keep-last-ids") a.options.import.keep_last_ids = true;
    else if (arg == "--no-split") a.options.split_user_item_fc = false;
    else if (arg == "--verbose") a.verbose = true;
    else if (arg == "--keep-names") a.quantize.write.keep_names = true;
    else if (arg == "--no-merge-lookups") a.options.merge_lookups = false;
    else if (arg == "--no-fuse-mixtures") a.options.fuse_mixtures = false;
    else if (arg == "--no-merge-mixtures") a.options.merge_mixtures = false;
    else if (arg == "--no-fuse-input-adds") a.options.fuse_input_adds = false;
    else if (arg == "--metadata") {
      try {
        for (auto& entry : parse_metadata(value(i))) a.metadata.push_back(std::move(entry));
      } catch (const ConversionError& e) {
        throw UsageError{std::string("--metadata: ") + e.what()};
      }
    } else if (arg == "--list-operators") { std::fputs(operators_markdown().c_str(), stdout); std::exit(0); }
    else if (arg == "--version") { std::printf("edgemtl-convert %s (writes format %u)\n", EMTL_VERSION_STRING, kFormatVersion); std::exit(0); }
    else if (arg == "-h" || arg == "--help") { std::fputs(kUsage, stdout); std::exit(0); }
    else if (!arg.empty() && arg[0] == '-') throw UsageError{"unknown option " + arg};
    else if (a.input.empty()) a.input = arg;
    else throw UsageError{"more than one input model"};
  }
  if (a.input.empty()) throw UsageError{"no input model"};
  if (a.output.empty()) throw UsageError{"no output file (-o)"};
  if (a.quantize.mode == QuantizeMode::kInt8 && a.quantize.calibration_path.empty())
    throw UsageError{"--quantize int8 needs --calibration FILE.jsonl"};
  if (a.quantize.mode == QuantizeMode::kNone && !a.quantize.validation_path.empty())
    throw UsageError{"--validate compares a quantised model with f32: give --quantize int8|int8-dynamic|fp16"};
  return a;
}

const char* kind_name(FeatureKind k) {
  return k == FeatureKind::kId ? "id" : k == FeatureKind::kIdList ? "id_list" : "dense";
}

void print_summary(const Graph& g, const std::string& output, bool verbose) {
  std::fprintf(stderr, "features:\n");
  for (const Feature& f : g.features) {
    std::fprintf(stderr, "  %-24s %-4s %-7s width %lld", f.name.c_str(), f.user ? "user" : "item", kind_name(f.kind),
                 static_cast<long long>(f.width));
    if (f.kind != FeatureKind::kDense) std::fprintf(stderr, " table_size %lld", static_cast<long long>(f.table_size));
    if (f.kind == FeatureKind::kIdList) std::fprintf(stderr, " padding %lld", static_cast<long long>(f.padding_id));
    std::fprintf(stderr, "\n");
  }
  std::fprintf(stderr, "tasks:\n");
  for (const Task& t : g.tasks)
    std::fprintf(stderr, "  %-24s %s (tensor '%s' column %lld)\n", t.name.c_str(), t.probability ? "prob" : "value",
                 g.values[t.value].name.c_str(), static_cast<long long>(t.column));
  for (Side side : {Side::kUser, Side::kItem, Side::kCross}) {
    int count = 0;
    std::map<std::string, int> by_op;
    for (const Node& n : g.nodes)
      if (!n.dead && n.stage == side) { ++count; ++by_op[op_name(n.op)]; }
    std::fprintf(stderr, "%s stage: %d ops", side == Side::kUser ? "user" : side == Side::kItem ? "item" : "cross", count);
    const char* sep = " (";
    for (const auto& [op, c] : by_op) { std::fprintf(stderr, "%s%s %d", sep, op.c_str(), c); sep = ", "; }
    std::fprintf(stderr, "%s\n", count ? ")" : "");
    if (!verbose) continue;
    for (const Node& n : g.nodes) {
      if (n.dead || n.stage != side) continue;
      std::fprintf(stderr, "    %-16s %-40s", op_name(n.op), n.name.c_str());
      for (int v : n.inputs) std::fprintf(stderr, " %s%s", g.values[v].name.c_str(), shape_string(g.values[v].shape).c_str());
      std::fprintf(stderr, " -> %s%s\n", g.values[n.outputs[0]].name.c_str(), shape_string(g.values[n.outputs[0]].shape).c_str());
    }
  }
  std::fprintf(stderr, "wrote %s\n", output.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "edgemtl-convert: error: %s\n%s", e.message.c_str(), kUsage);
    return 2;
  }
  try {
    // convert -> plan -> write (converter/convert_api.cc)
    Graph g = convert(args.input, args.output, args.options, args.quantize, args.metadata, stderr);
    print_summary(g, args.output, args.verbose);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgemtl-convert: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
