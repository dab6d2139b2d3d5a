// libFuzzer target: arbitrary bytes as a model file -> Model::load_buffer; a
// model that loads gets a session with small limits, valid values for every
// feature from its own metadata, set_user and a few score calls. Nothing may
// crash, read out of bounds, hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/executor/session.h"
#include "tests/fuzz/fuzz_inputs.h"

namespace {

using namespace edgemtl;

std::vector<FeatureInput> as_inputs(const std::vector<fuzz::FeatureValues>& values) {
  std::vector<FeatureInput> inputs;
  for (const fuzz::FeatureValues& v : values) {
    FeatureInput& input = inputs.emplace_back();
    input.feature = v.feature;
    input.ids = v.ids.empty() ? nullptr : v.ids.data();
    input.values = v.values.empty() ? nullptr : v.values.data();
    input.count = v.ids.empty() ? v.values.size() : v.ids.size();
  }
  return inputs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::AlignedBytes bytes(data, size);
  auto model = Model::load_buffer(bytes.data(), bytes.size());
  if (!model.ok()) return 0;
  const Model& m = **model;
  std::vector<fuzz::FeatureSpec> specs;
  bool has_user = false;
  for (size_t f = 0; f < m.num_features(); ++f) {
    const FeatureInfo info = m.feature(f);
    specs.push_back({info.side == Side::kUser, static_cast<int>(info.kind), info.width, info.padding_id, info.table_size});
    has_user = has_user || info.side == Side::kUser;
    if (m.find_feature(info.name) < 0) __builtin_trap();  // every listed feature is found by its name
  }
  for (size_t t = 0; t < m.num_tasks(); ++t)
    if (m.find_task(m.task(t).name) < 0) __builtin_trap();

  SessionOptions options;
  options.max_items = 4;
  options.item_tile_rows = 3;  // 4 items run as two tiles
  auto session = Session::create(m, options);
  if (!session.ok()) return 0;
  const uint32_t seed = fuzz::seed_of(data, size);
  std::vector<fuzz::FeatureValues> user, items;
  if (has_user) {
    if (!fuzz::fill_side(specs, true, 1, seed, &user)) return 0;
    const std::vector<FeatureInput> inputs = as_inputs(user);
    if (!(*session)->set_user(Span<const FeatureInput>(inputs.data(), inputs.size())).is_ok()) return 0;
  }
  for (size_t n : {size_t{1}, size_t{4}}) {
    if (!fuzz::fill_side(specs, false, n, seed + static_cast<uint32_t>(n), &items)) return 0;
    const std::vector<FeatureInput> inputs = as_inputs(items);
    auto scores = (*session)->score(Span<const FeatureInput>(inputs.data(), inputs.size()), n);
    if (scores.ok() && scores->size() != n * m.num_tasks()) __builtin_trap();
  }
  return 0;
}
