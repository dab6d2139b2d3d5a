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

void exercise(const fuzz::AlignedBytes& bytes, const uint8_t* data, size_t size) {
  LoadOptions load;
  load.verify_weights = (fuzz::seed_of(data, size) & 1) != 0;
  auto model = Model::load_buffer(bytes.data(), bytes.size(), load);
  if (!model.ok()) return;
  if (model.value()->has_checksums() && !model.value()->verify_weights().is_ok() && load.verify_weights)
    __builtin_trap();  // verified at load, so it verifies again
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
  options.item_tile_rows = 3;           // 4 items run as two tiles
  options.max_arena_bytes = 64 << 20;   // under -malloc_limit_mb: a bigger model is refused, not allocated
  auto session = Session::create(m, options);
  if (!session.ok()) return;
  const uint32_t seed = fuzz::seed_of(data, size);
  std::vector<fuzz::FeatureValues> user, items;
  if (has_user) {
    if (!fuzz::fill_side(specs, true, 1, seed, &user)) return;
    const std::vector<FeatureInput> inputs = as_inputs(user);
    if (!(*session)->set_user(Span<const FeatureInput>(inputs.data(), inputs.size())).is_ok()) return;
  }
  for (size_t n : {size_t{1}, size_t{4}}) {
    if (!fuzz::fill_side(specs, false, n, seed + static_cast<uint32_t>(n), &items)) return;
    const std::vector<FeatureInput> inputs = as_inputs(items);
    auto scores = (*session)->score(Span<const FeatureInput>(inputs.data(), inputs.size()), n);
    if (scores.ok() && scores->size() != n * m.num_tasks()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::AlignedBytes bytes(data, size);
  exercise(bytes, data, size);  // as given: mostly stopped by the checksum
  if (fuzz::reseal(&bytes)) exercise(bytes, data, size);  // behind the checksum
  return 0;
}
