// libFuzzer target: the model target of fuzz_model.cc through the C API
// (edgemtl.h): arbitrary bytes -> emtl_model_load_buffer; a model that loads
// gets a session with small limits, valid values for every feature from its
// own metadata, emtl_session_set_user and a few emtl_session_score calls.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "edgemtl.h"
#include "tests/fuzz/fuzz_inputs.h"

namespace {

using namespace edgemtl;

std::vector<emtl_feature_input> as_inputs(const std::vector<fuzz::FeatureValues>& values) {
  std::vector<emtl_feature_input> inputs;
  for (const fuzz::FeatureValues& v : values) {
    emtl_feature_input input{};
    input.feature = v.feature;
    input.ids = v.ids.empty() ? nullptr : v.ids.data();
    input.values = v.values.empty() ? nullptr : v.values.data();
    input.count = v.ids.empty() ? v.values.size() : v.ids.size();
    inputs.push_back(input);
  }
  return inputs;
}

// Every failing call leaves a message and a status name.
void check_error(emtl_status status) {
  if (status == EMTL_OK) return;
  if (emtl_last_error_message() == nullptr || emtl_status_name(status) == nullptr) __builtin_trap();
}

void exercise(emtl_model* model, const uint8_t* data, size_t size) {
  std::vector<fuzz::FeatureSpec> specs;
  bool has_user = false;
  for (size_t f = 0; f < emtl_model_num_features(model); ++f) {
    emtl_feature_info info;
    info.struct_size = sizeof(info);  // the library reads it first (it was left uninitialised)
    if (emtl_model_feature_info(model, f, &info) != EMTL_OK) __builtin_trap();
    specs.push_back({info.side == EMTL_SIDE_USER, static_cast<int>(info.kind), info.width, info.padding_id,
                     info.table_size});
    has_user = has_user || info.side == EMTL_SIDE_USER;
  }
  emtl_feature_info past_end;
  past_end.struct_size = sizeof(past_end);
  if (emtl_model_feature_info(model, specs.size(), &past_end) == EMTL_OK) __builtin_trap();
  for (size_t t = 0; t < emtl_model_num_tasks(model); ++t) {
    emtl_task_info info;
    info.struct_size = sizeof(info);
    if (emtl_model_task_info(model, t, &info) != EMTL_OK) __builtin_trap();
    if (emtl_model_find_task(model, info.name) < 0) __builtin_trap();
  }

  // Checksums: a file that loaded verifies its weights or says why not.
  check_error(emtl_model_verify_weights(model));

  emtl_session_options options = emtl_session_options_default();
  options.max_items = 3;
  options.max_arena_bytes = 64 << 20;  // under -malloc_limit_mb: a bigger model is refused, not allocated
  emtl_session* session = nullptr;
  emtl_status status = emtl_session_create(model, &options, &session);
  check_error(status);
  if (status != EMTL_OK) return;
  const uint32_t seed = fuzz::seed_of(data, size);
  std::vector<fuzz::FeatureValues> user, items;
  bool ok = true;
  if (has_user) {
    ok = fuzz::fill_side(specs, true, 1, seed, &user);
    if (ok) {
      const std::vector<emtl_feature_input> inputs = as_inputs(user);
      status = emtl_session_set_user(session, inputs.data(), inputs.size());
      check_error(status);
      ok = status == EMTL_OK;
    }
  }
  for (size_t n : {size_t{1}, size_t{3}, size_t{4}}) {  // 4 > max_items: refused
    if (!ok || !fuzz::fill_side(specs, false, n, seed + static_cast<uint32_t>(n), &items)) break;
    const std::vector<emtl_feature_input> inputs = as_inputs(items);
    const float* scores = nullptr;
    status = emtl_session_score(session, inputs.data(), inputs.size(), n, &scores);
    check_error(status);
    if (n > options.max_items && status == EMTL_OK) __builtin_trap();
    if (status == EMTL_OK && scores == nullptr) __builtin_trap();
  }
  emtl_session_free(session);
}

void load_and_exercise(const fuzz::AlignedBytes& bytes, const uint8_t* data, size_t size) {
  emtl_model* model = nullptr;
  const emtl_status status = emtl_model_load_buffer(bytes.data(), bytes.size(), &model);
  check_error(status);
  if (status != EMTL_OK) {
    if (model != nullptr) __builtin_trap();
    return;
  }
  exercise(model, data, size);
  emtl_model_free(model);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::AlignedBytes bytes(data, size);
  load_and_exercise(bytes, data, size);  // as given: mostly stopped by the checksum
  if (fuzz::reseal(&bytes)) load_and_exercise(bytes, data, size);  // behind the checksum
  return 0;
}
