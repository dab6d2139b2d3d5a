// edgemtl-lookup-bench: time per looked-up row of the runtime's embedding
// kernels (EMBEDDING and BAG) for each table encoding, on one table of random
// rows read at random ids, drawn afresh for every timed call (the same ids
// again would find their rows still in L2/L3 from the call before, which
// favours the larger encodings less than a model's new requests do). The
// encodings run interleaved, round after round;
// the report gives each one's fastest ns per row and its median ratios, within a
// round, to INT8 with f32 row scales (the int8 encoding before INT8_ROW_F16) and
// to INT8_ROW_F16 (today's int8 tables).
// docs/QUANTIZATION.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/embedding.h"

namespace {

constexpr const char* kUsage =
    "usage: edgemtl-lookup-bench [--rows V] [--dim D] [--ids N] [--bag L] [--rounds R]\n"
    "  One table of V rows (default 1000000) and D columns (default 16) in each encoding: FLOAT32,\n"
    "  FLOAT16, INT8 (f32 row scales), INT8_ROW_F16, UINT4_ROW_F16, UINT4_ROW_CODEBOOK. Each round looks\n"
    "  up N random ids (default 100000, new ones for every call) in every encoding in turn, as EMBEDDING\n"
    "  (one id a row) and as BAG (sums of L ids, default 50). Prints per encoding the fastest round's ns\n"
    "  per looked-up row and the median over R rounds (default 15) of its time divided by INT8's and by\n"
    "  INT8_ROW_F16's in the same round.\n";

using edgemtl::EmbeddingTable;
using edgemtl::schema::DType;

struct Encoded {
  const char* name;
  DType dtype;
  std::vector<uint8_t> data;
  std::vector<float> scales;
  std::vector<uint16_t> params;
  std::vector<float> codebook;        // UINT4_ROW_CODEBOOK
  std::vector<uint8_t> scale_index;   // UINT4_ROW_CODEBOOK
  EmbeddingTable table() const {
    EmbeddingTable t{data.data(), 0, 0, dtype, scales.empty() ? nullptr : scales.data(),
                     params.empty() ? nullptr : params.data()};
    t.codebook = codebook.empty() ? nullptr : codebook.data();
    t.scale_index = scale_index.empty() ? nullptr : scale_index.data();
    return t;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1000000, dim = 16, ids_count = 100000, bag = 50, rounds = 15;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> int64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      const int64_t v = std::atoll(argv[++i]);
      if (v < 1) {
        std::fprintf(stderr, "%s takes a positive number\n", arg.c_str());
        std::exit(2);
      }
      return v;
    };
    if (arg == "--rows") rows = next();
    else if (arg == "--dim") dim = next();
    else if (arg == "--ids") ids_count = next();
    else if (arg == "--bag") bag = next();
    else if (arg == "--rounds") rounds = next();
    else {
      std::fprintf(stderr, "%s%s", arg == "--help" ? "" : ("unknown option " + arg + "\n").c_str(), kUsage);
      return arg == "--help" ? 0 : 2;
    }
  }
  std::mt19937_64 rng(1);
  const size_t v = static_cast<size_t>(rows), d = static_cast<size_t>(dim);
  // Values as trained tables hold them: normal floats and halves of magnitude 2^-6 .. 1
  // (no subnormals), any int8 / 4-bit code, normal half row parameters.
  std::vector<float> floats(v * d);
  std::vector<uint16_t> halves(v * d), params(2 * v);
  std::vector<uint8_t> codes(v * d);
  for (size_t i = 0; i < v * d; ++i) {
    const uint16_t h = static_cast<uint16_t>((rng() & 1) << 15 | (9 + rng() % 6) << 10 | (rng() & 0x3FF));
    halves[i] = h;
    floats[i] = static_cast<float>((h & 0x8000 ? -1.0 : 1.0) * std::ldexp(1.0 + (h & 0x3FF) / 1024.0, ((h >> 10) & 31) - 15));
    codes[i] = static_cast<uint8_t>(rng());
  }
  for (uint16_t& p : params) p = static_cast<uint16_t>((rng() & 1) << 15 | (6 + rng() % 6) << 10 | (rng() & 0x3FF));
  auto bytes_of = [](const void* p, size_t n) {
    return std::vector<uint8_t>(static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  std::vector<Encoded> encodings;
  encodings.push_back({"FLOAT32", DType::FLOAT32, bytes_of(floats.data(), v * d * 4), {}, {}, {}, {}});
  encodings.push_back({"FLOAT16", DType::FLOAT16, bytes_of(halves.data(), v * d * 2), {}, {}, {}, {}});
  encodings.push_back({"INT8", DType::INT8, bytes_of(codes.data(), v * d), std::vector<float>(v, 0.01f), {}, {}, {}});
  encodings.push_back({"INT8_ROW_F16", DType::INT8_ROW_F16, bytes_of(codes.data(), v * d), {},
                       std::vector<uint16_t>(params.begin(), params.begin() + v), {}, {}});
  encodings.push_back({"UINT4_ROW_F16", DType::UINT4_ROW_F16, bytes_of(codes.data(), v * ((d + 1) / 2)), {}, params, {}, {}});
  // The codebook: 256 scales of magnitude 2^-9 .. 2^-3, a random index per row.
  Encoded codebook{"UINT4_ROW_CODEBOOK", DType::UINT4_ROW_CODEBOOK, bytes_of(codes.data(), v * ((d + 1) / 2)), {}, {}, {}, {}};
  for (int k = 0; k < 256; ++k) codebook.codebook.push_back(std::ldexp(1.0f + k / 256.0f, -9 + k / 43));
  for (size_t r = 0; r < v; ++r) codebook.scale_index.push_back(static_cast<uint8_t>(rng()));
  encodings.push_back(std::move(codebook));
  const size_t bag_rows = static_cast<size_t>(ids_count / bag > 0 ? ids_count / bag : 1);
  std::vector<int64_t> ids(std::max(static_cast<size_t>(ids_count), bag_rows * static_cast<size_t>(bag)));
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  const auto draw_ids = [&] {
    for (int64_t& id : ids) id = pick(rng);
  };
  std::vector<float> out(static_cast<size_t>(ids_count) * d);
  std::vector<std::vector<double>> lookup_ns(encodings.size()), bag_ns(encodings.size());
  using Clock = std::chrono::steady_clock;
  for (int64_t round = 0; round < rounds; ++round) {
    for (size_t e = 0; e < encodings.size(); ++e) {
      EmbeddingTable table = encodings[e].table();
      table.rows = rows;
      table.dim = dim;
      draw_ids();
      auto start = Clock::now();
      if (!edgemtl::embedding_lookup(table, ids.data(), static_cast<size_t>(ids_count), 1, -1, "bench", out.data())
               .is_ok())
        return 1;
      lookup_ns[e].push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ids_count);
      draw_ids();
      start = Clock::now();
      if (!edgemtl::embedding_bag(table, edgemtl::BagMode::kSum, ids.data(), bag_rows, nullptr, 1, bag_rows,
                                  static_cast<size_t>(bag), -1, "bench", out.data())
               .is_ok())
        return 1;
      bag_ns[e].push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                          double(bag_rows * bag));
    }
  }
  // On a shared machine other jobs slow some rounds: the fastest round of each encoding is
  // its time without interference, and the ratio to INT8 within each round (same load) is
  // summarised by its median.
  std::printf("table [%lld, %lld], %lld ids a round (BAG: %zu rows of %lld ids), %lld interleaved rounds\n",
              static_cast<long long>(rows), static_cast<long long>(dim), static_cast<long long>(ids_count), bag_rows,
              static_cast<long long>(bag), static_cast<long long>(rounds));
  std::printf("%-19s %13s %9s %13s %13s %9s %13s\n", "encoding", "lookup ns/row", "vs INT8", "vs INT8_ROW_F16",
              "BAG ns/row", "vs INT8", "vs INT8_ROW_F16");
  std::printf("%-19s %13s %9s %13s %13s %9s %13s\n", "", "(fastest)", "(median", "per round)", "(fastest)",
              "(median", "per round)");
  // The median over rounds of e's time divided by `base`'s in the same round.
  auto ratio = [](const std::vector<double>& ns, const std::vector<double>& base) {
    std::vector<double> per_round;
    for (size_t r = 0; r < ns.size(); ++r) per_round.push_back(ns[r] / base[r]);
    return median(per_round);
  };
  constexpr size_t kInt8 = 2, kInt8RowF16 = 3;
  for (size_t e = 0; e < encodings.size(); ++e)
    std::printf("%-19s %13.2f %9.3f %13.3f %13.2f %9.3f %13.3f\n", encodings[e].name,
                *std::min_element(lookup_ns[e].begin(), lookup_ns[e].end()), ratio(lookup_ns[e], lookup_ns[kInt8]),
                ratio(lookup_ns[e], lookup_ns[kInt8RowF16]), *std::min_element(bag_ns[e].begin(), bag_ns[e].end()),
                ratio(bag_ns[e], bag_ns[kInt8]), ratio(bag_ns[e], bag_ns[kInt8RowF16]));
  return 0;
}
