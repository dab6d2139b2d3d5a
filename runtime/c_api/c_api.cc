// The C API: thin wrappers over Model and Session that turn Status into
// emtl_status plus a thread-local message.
#include "edgemtl.h"

#include <cstdio>
#include <cstring>

#include "runtime/executor/session.h"
#include "runtime/format/model.h"

struct emtl_model {
  std::unique_ptr<edgemtl::Model> model;
};

struct emtl_session {
  std::unique_ptr<edgemtl::Session> session;
};

namespace {

thread_local char last_error[edgemtl::Status::kMaxMessage] = {0};

emtl_status fail(const edgemtl::Status& status) {
  std::snprintf(last_error, sizeof(last_error), "%s", status.message());
  return static_cast<emtl_status>(status.code());
}

emtl_status fail(emtl_status code, const char* message) {
  std::snprintf(last_error, sizeof(last_error), "%s", message);
  return code;
}

emtl_status adopt_model(edgemtl::Result<std::unique_ptr<edgemtl::Model>> loaded, emtl_model** out_model) {
  if (!loaded.ok()) return fail(loaded.status());
  emtl_model* handle = new (std::nothrow) emtl_model;
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the model handle");
  handle->model = std::move(loaded).value();
  *out_model = handle;
  return EMTL_OK;
}

static_assert(sizeof(emtl_feature_input) == sizeof(edgemtl::FeatureInput) &&
                  offsetof(emtl_feature_input, ids) == offsetof(edgemtl::FeatureInput, ids) &&
                  offsetof(emtl_feature_input, values) == offsetof(edgemtl::FeatureInput, values) &&
                  offsetof(emtl_feature_input, count) == offsetof(edgemtl::FeatureInput, count),
              "emtl_feature_input must match edgemtl::FeatureInput");
static_assert(static_cast<int>(EMTL_ERROR_INTERNAL) == static_cast<int>(edgemtl::Error::kInternal),
              "emtl_status must mirror edgemtl::Error");

}  // namespace

extern "C" {

const char* emtl_last_error_message(void) { return last_error; }

const char* emtl_status_name(emtl_status status) { return edgemtl::error_name(static_cast<edgemtl::Error>(status)); }

emtl_status emtl_model_load_file(const char* path, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_file: out_model is NULL");
  *out_model = nullptr;
  return adopt_model(edgemtl::Model::load_file(path), out_model);
}

emtl_status emtl_model_load_buffer(const void* data, size_t size, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_buffer: out_model is NULL");
  *out_model = nullptr;
  return adopt_model(edgemtl::Model::load_buffer(data, size), out_model);
}

void emtl_model_free(emtl_model* model) { delete model; }

size_t emtl_model_num_features(const emtl_model* model) { return model ? model->model->num_features() : 0; }

emtl_status emtl_model_feature_info(const emtl_model* model, size_t index, emtl_feature_info* out_info) {
  if (!model || !out_info) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_feature_info: NULL argument");
  if (index >= model->model->num_features())
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_feature_info: index out of range");
  const edgemtl::FeatureInfo info = model->model->feature(index);
  out_info->name = info.name;
  out_info->side = static_cast<emtl_side>(info.side);
  out_info->kind = static_cast<emtl_feature_kind>(info.kind);
  out_info->width = info.width;
  out_info->padding_id = info.padding_id;
  out_info->table_size = info.table_size;
  return EMTL_OK;
}

int32_t emtl_model_find_feature(const emtl_model* model, const char* name) {
  if (!model || !name) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_find_feature: NULL argument"), -1;
  const int index = model->model->find_feature(name);
  if (index < 0) {
    char message[edgemtl::Status::kMaxMessage];
    std::snprintf(message, sizeof(message), "no feature named '%s'", name);
    fail(EMTL_ERROR_NOT_FOUND, message);
  }
  return index;
}

size_t emtl_model_num_tasks(const emtl_model* model) { return model ? model->model->num_tasks() : 0; }

emtl_status emtl_model_task_info(const emtl_model* model, size_t index, emtl_task_info* out_info) {
  if (!model || !out_info) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_task_info: NULL argument");
  if (index >= model->model->num_tasks())
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_task_info: index out of range");
  const edgemtl::TaskInfo info = model->model->task(index);
  out_info->name = info.name;
  out_info->kind = static_cast<emtl_task_kind>(info.kind);
  return EMTL_OK;
}

int32_t emtl_model_find_task(const emtl_model* model, const char* name) {
  if (!model || !name) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_find_task: NULL argument"), -1;
  const int index = model->model->find_task(name);
  if (index < 0) {
    char message[edgemtl::Status::kMaxMessage];
    std::snprintf(message, sizeof(message), "no task named '%s'", name);
    fail(EMTL_ERROR_NOT_FOUND, message);
  }
  return index;
}

emtl_session_options emtl_session_options_default(void) {
  const edgemtl::SessionOptions defaults;
  emtl_session_options options;
  options.max_items = defaults.max_items;
  options.threads = defaults.threads;
  options.map_out_of_range_ids = defaults.map_out_of_range_ids ? 1 : 0;
  return options;
}

emtl_status emtl_session_create(const emtl_model* model, const emtl_session_options* options,
                                emtl_session** out_session) {
  if (!model || !out_session) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_create: NULL argument");
  *out_session = nullptr;
  const emtl_session_options given = options ? *options : emtl_session_options_default();
  edgemtl::SessionOptions settings;
  settings.max_items = given.max_items;
  settings.threads = given.threads;
  settings.map_out_of_range_ids = given.map_out_of_range_ids != 0;
  auto created = edgemtl::Session::create(*model->model, settings);
  if (!created.ok()) return fail(created.status());
  emtl_session* handle = new (std::nothrow) emtl_session;
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the session handle");
  handle->session = std::move(created).value();
  *out_session = handle;
  return EMTL_OK;
}

void emtl_session_free(emtl_session* session) { delete session; }

emtl_status emtl_session_set_user(emtl_session* session, const emtl_feature_input* features, size_t num_features) {
  if (!session || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_set_user: NULL argument");
  const edgemtl::Span<const edgemtl::FeatureInput> inputs(
      reinterpret_cast<const edgemtl::FeatureInput*>(features), num_features);
  const edgemtl::Status status = session->session->set_user(inputs);
  return status.is_ok() ? EMTL_OK : fail(status);
}

emtl_status emtl_session_score(emtl_session* session, const emtl_feature_input* features, size_t num_features,
                               size_t n, const float** out_scores) {
  if (!session || !out_scores || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_score: NULL argument");
  *out_scores = nullptr;
  const edgemtl::Span<const edgemtl::FeatureInput> inputs(
      reinterpret_cast<const edgemtl::FeatureInput*>(features), num_features);
  auto scores = session->session->score(inputs, n);
  if (!scores.ok()) return fail(scores.status());
  *out_scores = scores.value().data();
  return EMTL_OK;
}

size_t emtl_session_arena_bytes(const emtl_session* session) {
  return session ? session->session->arena_bytes() : 0;
}

size_t emtl_session_packed_weight_bytes(const emtl_session* session) {
  return session ? session->session->packed_weight_bytes() : 0;
}

}  // extern "C"
