#include "runtime/planner/greedy_memory_planner.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>

namespace edgemtl {
namespace {

struct Spec {
  size_t size;
  int first, last;
};

// Brute force: every pair live at the same step must occupy disjoint bytes.
void check_no_live_overlap(const GreedyMemoryPlanner& planner, const std::vector<Spec>& specs) {
  for (size_t i = 0; i < specs.size(); ++i) {
    CHECK(planner.offset(static_cast<int>(i)) % 64 == 0);
    CHECK(planner.offset(static_cast<int>(i)) + specs[i].size <= planner.total_size());
    for (size_t j = i + 1; j < specs.size(); ++j) {
      const bool live_together = specs[i].first <= specs[j].last && specs[j].first <= specs[i].last;
      if (!live_together) continue;
      const size_t a0 = planner.offset(static_cast<int>(i)), a1 = a0 + specs[i].size;
      const size_t b0 = planner.offset(static_cast<int>(j)), b1 = b0 + specs[j].size;
      const bool disjoint = a1 <= b0 || b1 <= a0;
      INFO("buffers " << i << " and " << j);
      CHECK(disjoint);
    }
  }
}

TEST_CASE("greedy planner: a chain reuses memory") {
  // t0 -> t1 -> t2 -> t3: each buffer lives for two consecutive steps.
  GreedyMemoryPlanner planner;
  std::vector<Spec> specs = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  for (const Spec& s : specs) REQUIRE(planner.add_buffer(s.size, s.first, s.last).ok());
  REQUIRE(planner.plan().is_ok());
  check_no_live_overlap(planner, specs);
  // Two live at a time: 2 * round_up(1000, 64) = 2048 bytes, not 4096.
  CHECK(planner.total_size() == 2048);
  CHECK(planner.offset(0) == planner.offset(2));
}

TEST_CASE("greedy planner: fills a gap between two placed buffers") {
  GreedyMemoryPlanner planner;
  std::vector<Spec> specs = {{640, 0, 10}, {256, 0, 2}, {640, 1, 10}, {128, 3, 5}};
  for (const Spec& s : specs) REQUIRE(planner.add_buffer(s.size, s.first, s.last).ok());
  REQUIRE(planner.plan().is_ok());
  check_no_live_overlap(planner, specs);
  // The 128-byte buffer reuses the 256-byte one's bytes (dead by step 3).
  CHECK(planner.offset(3) == planner.offset(1));
  CHECK(planner.total_size() == 640 + 640 + 256);
}

TEST_CASE("greedy planner: random lifetimes never overlap while live") {
  std::mt19937 random(42);
  for (int trial = 0; trial < 50; ++trial) {
    GreedyMemoryPlanner planner;
    std::vector<Spec> specs;
    const int count = 1 + static_cast<int>(random() % 40);
    size_t sum = 0;
    for (int i = 0; i < count; ++i) {
      const int first = static_cast<int>(random() % 30);
      const int last = first + static_cast<int>(random() % 8);
      const size_t size = 1 + random() % 5000;
      specs.push_back({size, first, last});
      sum += (size + 63) / 64 * 64;
      REQUIRE(planner.add_buffer(size, first, last).ok());
    }
    REQUIRE(planner.plan().is_ok());
    check_no_live_overlap(planner, specs);
    CHECK(planner.total_size() <= sum);
  }
}

TEST_CASE("greedy planner: rejects an empty lifetime and prints a plan") {
  GreedyMemoryPlanner planner;
  CHECK(planner.add_buffer(10, 3, 2).error() == Error::kInvalidArgument);
  REQUIRE(planner.add_buffer(10, 0, 0).ok());
  REQUIRE(planner.plan().is_ok());
  CHECK(planner.total_size() == 64);
  char text[512] = {0};
  FILE* out = fmemopen(text, sizeof(text) - 1, "w");
  REQUIRE(out);
  planner.print_plan(out);
  std::fclose(out);
  CHECK(std::string(text).find("arena: 64 bytes") != std::string::npos);
}

}  // namespace
}  // namespace edgemtl
