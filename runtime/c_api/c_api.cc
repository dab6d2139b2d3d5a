// The C API: thin wrappers over Model and Session that turn Status into
// emtl_status plus a thread-local message. Everything else in the runtime is
// hidden from libedgemtl.so (visibility hidden + export map); only the
// functions marked EMTL_API in edgemtl.h are exported.
#include "edgemtl.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "runtime/executor/session.h"
#include "runtime/format/model.h"
#include "schema/edgemtl_generated.h"

namespace {

// Newest (and so far only) Model.format_version the runtime's verifier accepts
// (runtime/format/model.cc); the C API test checks it against a converted file.
constexpr uint32_t kNewestFormatVersion = 1;
constexpr size_t kAlignment = 64;

}  // namespace

struct emtl_model {
  std::unique_ptr<edgemtl::Model> model;
  void* mapping = nullptr;  // owned mmap of a descriptor range (emtl_model_load_fd)
  size_t mapping_size = 0;
  void* copy = nullptr;     // owned aligned copy (unaligned buffer, unmappable descriptor)

  ~emtl_model() {
    model.reset();  // before the bytes it reads
    if (mapping) ::munmap(mapping, mapping_size);
    std::free(copy);
  }
};

struct emtl_session {
  std::unique_ptr<edgemtl::Session> session;
  const emtl_model* model = nullptr;
  bool map_out_of_range_ids = false;
  edgemtl::FeatureInput* named = nullptr;  // scratch for the *_named calls
  size_t named_capacity = 0;

  ~emtl_session() { delete[] named; }
};

namespace {

thread_local char last_error[edgemtl::Status::kMaxMessage] = {0};

emtl_status fail(const edgemtl::Status& status) {
  std::snprintf(last_error, sizeof(last_error), "%s", status.message());
  return static_cast<emtl_status>(status.code());
}

emtl_status fail(emtl_status code, const char* format, ...) __attribute__((format(printf, 2, 3)));
emtl_status fail(emtl_status code, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(last_error, sizeof(last_error), format, args);
  va_end(args);
  return code;
}

// ---- log callback -----------------------------------------------------------
std::mutex log_mutex;
emtl_log_callback log_callback = nullptr;
void* log_user_data = nullptr;
std::atomic<bool> log_enabled{false};

void log_warning(const char* format, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char* format, ...) {
  emtl_log_callback callback;
  void* user_data;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    callback = log_callback;
    user_data = log_user_data;
  }
  if (!callback) return;
  char message[edgemtl::Status::kMaxMessage];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  callback(user_data, EMTL_LOG_WARNING, message);
}

// After a successful call with map_out_of_range_ids: the ids outside their
// table read the default row. Reported per feature (count and first one).
void report_default_rows(const emtl_session* session, const edgemtl::FeatureInput* inputs, size_t count) {
  if (!session->map_out_of_range_ids || !log_enabled.load(std::memory_order_acquire)) return;
  const edgemtl::Model& model = *session->model->model;
  for (size_t i = 0; i < count; ++i) {
    const edgemtl::FeatureInput& input = inputs[i];
    if (!input.ids || input.feature < 0 || static_cast<size_t>(input.feature) >= model.num_features()) continue;
    const edgemtl::FeatureInfo info = model.feature(static_cast<size_t>(input.feature));
    if (info.kind == edgemtl::FeatureKind::kDense) continue;
    size_t outside = 0, first = 0;
    for (size_t k = 0; k < input.count; ++k) {
      const int64_t id = input.ids[k];
      if (info.kind == edgemtl::FeatureKind::kIdList && id == info.padding_id) continue;
      if (id < 0 || id >= info.table_size) {
        if (outside++ == 0) first = k;
      }
    }
    if (outside)
      log_warning("feature '%s': %zu id(s) outside [0, %lld) read the default row (first: id %lld at value %zu)",
                  info.name, outside, static_cast<long long>(info.table_size),
                  static_cast<long long>(input.ids[first]), first);
  }
}

// ---- loading ------------------------------------------------------------------
emtl_status adopt_model(edgemtl::Result<std::unique_ptr<edgemtl::Model>> loaded, emtl_model* handle,
                        emtl_model** out_model) {
  if (!loaded.ok()) {
    delete handle;
    return fail(loaded.status());
  }
  handle->model = std::move(loaded).value();
  *out_model = handle;
  return EMTL_OK;
}

emtl_model* new_handle() { return new (std::nothrow) emtl_model; }

void* aligned_copy_buffer(size_t size) {
  const size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  return std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
}

const edgemtl::schema::Model* root_of(const emtl_model* model) { return model->model->root(); }

// Fills a caller struct that starts with `size_t struct_size`: at most
// struct_size bytes of `full`, keeping the caller's struct_size.
template <typename T>
emtl_status fill_sized(const char* function, const T& full, T* out) {
  const size_t given = out->struct_size;
  if (given < sizeof(size_t) + sizeof(const char*))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "%s: struct_size is %zu: set it to sizeof the struct", function, given);
  std::memcpy(out, &full, given < sizeof(T) ? given : sizeof(T));
  out->struct_size = given;
  return EMTL_OK;
}

emtl_status resolve_names(emtl_session* session, const char* function, const emtl_named_feature_input* features,
                          size_t num_features) {
  if (!features && num_features > 0) return fail(EMTL_ERROR_INVALID_ARGUMENT, "%s: NULL argument", function);
  if (num_features > session->named_capacity) {
    edgemtl::FeatureInput* grown = new (std::nothrow) edgemtl::FeatureInput[num_features];
    if (!grown) return fail(EMTL_ERROR_OUT_OF_MEMORY, "%s: cannot allocate %zu inputs", function, num_features);
    delete[] session->named;
    session->named = grown;
    session->named_capacity = num_features;
  }
  const edgemtl::Model& model = *session->model->model;
  for (size_t i = 0; i < num_features; ++i) {
    const char* name = features[i].name;
    if (!name) return fail(EMTL_ERROR_INVALID_ARGUMENT, "%s: feature %zu has a NULL name", function, i);
    const int index = model.find_feature(name);
    if (index < 0) return fail(EMTL_ERROR_NOT_FOUND, "no feature named '%s'", name);
    session->named[i].feature = index;
    session->named[i].ids = features[i].ids;
    session->named[i].values = features[i].values;
    session->named[i].count = features[i].count;
  }
  return EMTL_OK;
}

emtl_status set_user(emtl_session* session, const edgemtl::FeatureInput* inputs, size_t num_features) {
  const edgemtl::Status status = session->session->set_user(edgemtl::Span<const edgemtl::FeatureInput>(inputs, num_features));
  if (!status.is_ok()) return fail(status);
  report_default_rows(session, inputs, num_features);
  return EMTL_OK;
}

emtl_status score(emtl_session* session, const edgemtl::FeatureInput* inputs, size_t num_features, size_t n,
                  const float** out_scores) {
  auto scores = session->session->score(edgemtl::Span<const edgemtl::FeatureInput>(inputs, num_features), n);
  if (!scores.ok()) return fail(scores.status());
  *out_scores = scores.value().data();
  report_default_rows(session, inputs, num_features);
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

const char* emtl_version(void) { return EMTL_VERSION_STRING; }

uint32_t emtl_format_version(void) { return kNewestFormatVersion; }

void emtl_set_log_callback(emtl_log_callback callback, void* user_data) {
  std::lock_guard<std::mutex> lock(log_mutex);
  log_callback = callback;
  log_user_data = user_data;
  log_enabled.store(callback != nullptr, std::memory_order_release);
}

const char* emtl_last_error_message(void) { return last_error; }

const char* emtl_status_name(emtl_status status) { return edgemtl::error_name(static_cast<edgemtl::Error>(status)); }

emtl_status emtl_model_load_file(const char* path, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_file: out_model is NULL");
  *out_model = nullptr;
  emtl_model* handle = new_handle();
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the model handle");
  return adopt_model(edgemtl::Model::load_file(path), handle, out_model);
}

emtl_status emtl_model_load_buffer_no_copy(const void* data, size_t size, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_buffer_no_copy: out_model is NULL");
  *out_model = nullptr;
  emtl_model* handle = new_handle();
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the model handle");
  return adopt_model(edgemtl::Model::load_buffer(data, size), handle, out_model);
}

emtl_status emtl_model_load_buffer(const void* data, size_t size, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_buffer: out_model is NULL");
  *out_model = nullptr;
  if (!data) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_buffer: data is NULL");
  if (reinterpret_cast<uintptr_t>(data) % kAlignment == 0) return emtl_model_load_buffer_no_copy(data, size, out_model);
  emtl_model* handle = new_handle();
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the model handle");
  handle->copy = aligned_copy_buffer(size);
  if (!handle->copy) {
    delete handle;
    return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes for an aligned copy of the model", size);
  }
  std::memcpy(handle->copy, data, size);
  return adopt_model(edgemtl::Model::load_buffer(handle->copy, size), handle, out_model);
}

emtl_status emtl_model_load_fd(int fd, int64_t offset, int64_t length, emtl_model** out_model) {
  if (!out_model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_fd: out_model is NULL");
  *out_model = nullptr;
  if (fd < 0) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_fd: fd %d is not a descriptor", fd);
  if (offset < 0 || length < 0)
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_fd: offset %lld and length %lld must be >= 0",
                static_cast<long long>(offset), static_cast<long long>(length));
  struct stat info;
  if (::fstat(fd, &info) != 0) return fail(EMTL_ERROR_IO, "emtl_model_load_fd: fd %d: %s", fd, std::strerror(errno));
  const bool regular = S_ISREG(info.st_mode);
  if (regular) {
    const int64_t file_size = static_cast<int64_t>(info.st_size);
    if (offset > file_size || (length > 0 && length > file_size - offset))
      return fail(EMTL_ERROR_IO, "emtl_model_load_fd: bytes [%lld, %lld) lie beyond the end of the file (%lld bytes)",
                  static_cast<long long>(offset), static_cast<long long>(offset + length),
                  static_cast<long long>(file_size));
    if (length == 0) length = file_size - offset;
  }
  if (length == 0) return fail(EMTL_ERROR_INVALID_MODEL, "emtl_model_load_fd: the range is empty");
  if (static_cast<uint64_t>(length) > SIZE_MAX / 2)
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_load_fd: length %lld is too large",
                static_cast<long long>(length));
  const size_t size = static_cast<size_t>(length);
  emtl_model* handle = new_handle();
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the model handle");

  const void* data = nullptr;
  if (regular && offset % static_cast<int64_t>(kAlignment) == 0) {
    // Map from the page holding `offset`; the model starts `delta` bytes in,
    // a multiple of 64 because pages are.
    const long page = ::sysconf(_SC_PAGESIZE);
    const int64_t base = page > 0 ? offset - offset % page : offset;
    const size_t delta = static_cast<size_t>(offset - base);
    void* mapping = ::mmap(nullptr, delta + size, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(base));
    if (mapping != MAP_FAILED) {
      handle->mapping = mapping;
      handle->mapping_size = delta + size;
      data = static_cast<const uint8_t*>(mapping) + delta;
    }
  }
  if (!data) {  // unaligned offset or an unmappable descriptor: read into aligned memory
    handle->copy = aligned_copy_buffer(size);
    if (!handle->copy) {
      delete handle;
      return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes for the model", size);
    }
    size_t done = 0;
    while (done < size) {
      const ssize_t got = ::pread(fd, static_cast<uint8_t*>(handle->copy) + done, size - done,
                                  static_cast<off_t>(offset + static_cast<int64_t>(done)));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        const int saved = errno;
        delete handle;
        if (got == 0)
          return fail(EMTL_ERROR_IO, "emtl_model_load_fd: the descriptor ended after %zu of %zu bytes", done, size);
        return fail(EMTL_ERROR_IO, "emtl_model_load_fd: cannot read fd %d: %s", fd, std::strerror(saved));
      }
      done += static_cast<size_t>(got);
    }
    data = handle->copy;
  }
  return adopt_model(edgemtl::Model::load_buffer(data, size), handle, out_model);
}

void emtl_model_free(emtl_model* model) { delete model; }

emtl_status emtl_model_verify_weights(const emtl_model* model) {
  if (!model) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_verify_weights: model is NULL");
  const edgemtl::Status status = model->model->verify_weights();
  return status.is_ok() ? EMTL_OK : fail(status);
}

uint32_t emtl_model_format_version(const emtl_model* model) { return model ? root_of(model)->format_version() : 0; }

const char* emtl_model_producer(const emtl_model* model) {
  if (!model || !root_of(model)->producer()) return "";
  return root_of(model)->producer()->c_str();
}

size_t emtl_model_num_metadata(const emtl_model* model) {
  if (!model || !root_of(model)->metadata()) return 0;
  return root_of(model)->metadata()->size();
}

emtl_status emtl_model_metadata(const emtl_model* model, size_t index, const char** out_key, const char** out_value) {
  if (!model || !out_key || !out_value) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_metadata: NULL argument");
  if (index >= emtl_model_num_metadata(model))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_metadata: index %zu out of range (%zu entries)", index,
                emtl_model_num_metadata(model));
  const edgemtl::schema::KeyValue* entry = root_of(model)->metadata()->Get(static_cast<uint32_t>(index));
  *out_key = entry && entry->key() ? entry->key()->c_str() : "";
  *out_value = entry && entry->value() ? entry->value()->c_str() : "";
  return EMTL_OK;
}

const char* emtl_model_find_metadata(const emtl_model* model, const char* key) {
  if (!model || !key) return nullptr;
  const size_t count = emtl_model_num_metadata(model);
  for (size_t i = 0; i < count; ++i) {
    const edgemtl::schema::KeyValue* entry = root_of(model)->metadata()->Get(static_cast<uint32_t>(i));
    if (entry && entry->key() && std::strcmp(entry->key()->c_str(), key) == 0)
      return entry->value() ? entry->value()->c_str() : "";
  }
  return nullptr;
}

size_t emtl_model_num_features(const emtl_model* model) { return model ? model->model->num_features() : 0; }

emtl_status emtl_model_feature_info(const emtl_model* model, size_t index, emtl_feature_info* out_info) {
  if (!model || !out_info) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_feature_info: NULL argument");
  if (index >= model->model->num_features())
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_feature_info: index out of range");
  const edgemtl::FeatureInfo info = model->model->feature(index);
  emtl_feature_info full;
  full.struct_size = sizeof(full);
  full.name = info.name;
  full.side = static_cast<emtl_side>(info.side);
  full.kind = static_cast<emtl_feature_kind>(info.kind);
  full.width = info.width;
  full.padding_id = info.padding_id;
  full.table_size = info.table_size;
  full.accepts_nan = info.accepts_nan ? 1 : 0;
  full.pad_before = info.pad_before ? 1 : 0;
  full.keep_last_ids = info.keep_last_ids ? 1 : 0;
  return fill_sized("emtl_model_feature_info", full, out_info);
}

emtl_status emtl_model_pad_list(const emtl_model* model, int32_t feature, const int64_t* ids, size_t length,
                                int64_t* out_row) {
  if (!model || !out_row || (!ids && length > 0)) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_pad_list: NULL argument");
  if (feature < 0 || static_cast<size_t>(feature) >= model->model->num_features())
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_pad_list: feature index %d out of range", feature);
  const edgemtl::FeatureInfo info = model->model->feature(static_cast<size_t>(feature));
  if (info.kind != edgemtl::FeatureKind::kIdList)
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_pad_list: feature '%s' is not an id list", info.name);
  const edgemtl::Status status = edgemtl::pad_id_list(info, ids, length, out_row, "emtl_model_pad_list");
  return status.is_ok() ? EMTL_OK : fail(status);
}

int32_t emtl_model_find_feature(const emtl_model* model, const char* name) {
  if (!model || !name) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_find_feature: NULL argument"), -1;
  const int index = model->model->find_feature(name);
  if (index < 0) fail(EMTL_ERROR_NOT_FOUND, "no feature named '%s'", name);
  return index;
}

size_t emtl_model_num_tasks(const emtl_model* model) { return model ? model->model->num_tasks() : 0; }

emtl_status emtl_model_task_info(const emtl_model* model, size_t index, emtl_task_info* out_info) {
  if (!model || !out_info) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_task_info: NULL argument");
  if (index >= model->model->num_tasks())
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_task_info: index out of range");
  const edgemtl::TaskInfo info = model->model->task(index);
  emtl_task_info full;
  full.struct_size = sizeof(full);
  full.name = info.name;
  full.kind = static_cast<emtl_task_kind>(info.kind);
  return fill_sized("emtl_model_task_info", full, out_info);
}

int32_t emtl_model_find_task(const emtl_model* model, const char* name) {
  if (!model || !name) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_model_find_task: NULL argument"), -1;
  const int index = model->model->find_task(name);
  if (index < 0) fail(EMTL_ERROR_NOT_FOUND, "no task named '%s'", name);
  return index;
}

emtl_session_options emtl_session_options_default(void) {
  const edgemtl::SessionOptions defaults;
  emtl_session_options options;
  options.struct_size = sizeof(options);
  options.max_items = defaults.max_items;
  options.threads = defaults.threads;
  options.map_out_of_range_ids = defaults.map_out_of_range_ids ? 1 : 0;
  options.max_arena_bytes = defaults.max_arena_bytes;
  return options;
}

emtl_status emtl_session_create(const emtl_model* model, const emtl_session_options* options,
                                emtl_session** out_session) {
  if (!model || !out_session) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_create: NULL argument");
  *out_session = nullptr;
  emtl_session_options given = emtl_session_options_default();
  if (options) {
    // Fields beyond the caller's struct_size keep their defaults.
    const size_t minimum = offsetof(emtl_session_options, max_items) + sizeof(size_t);
    if (options->struct_size < minimum)
      return fail(EMTL_ERROR_INVALID_ARGUMENT,
                  "emtl_session_create: options struct_size is %zu: start from emtl_session_options_default()",
                  options->struct_size);
    std::memcpy(&given, options, options->struct_size < sizeof(given) ? options->struct_size : sizeof(given));
  }
  edgemtl::SessionOptions settings;
  settings.max_items = given.max_items;
  settings.threads = given.threads;
  settings.map_out_of_range_ids = given.map_out_of_range_ids != 0;
  settings.max_arena_bytes = given.max_arena_bytes;
  auto created = edgemtl::Session::create(*model->model, settings);
  if (!created.ok()) return fail(created.status());
  emtl_session* handle = new (std::nothrow) emtl_session;
  if (!handle) return fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate the session handle");
  handle->session = std::move(created).value();
  handle->model = model;
  handle->map_out_of_range_ids = settings.map_out_of_range_ids;
  *out_session = handle;
  return EMTL_OK;
}

void emtl_session_free(emtl_session* session) { delete session; }

const emtl_model* emtl_session_model(const emtl_session* session) { return session ? session->model : nullptr; }

emtl_status emtl_session_set_user(emtl_session* session, const emtl_feature_input* features, size_t num_features) {
  if (!session || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_set_user: NULL argument");
  return set_user(session, reinterpret_cast<const edgemtl::FeatureInput*>(features), num_features);
}

emtl_status emtl_session_score(emtl_session* session, const emtl_feature_input* features, size_t num_features,
                               size_t n, const float** out_scores) {
  if (!session || !out_scores || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_score: NULL argument");
  *out_scores = nullptr;
  return score(session, reinterpret_cast<const edgemtl::FeatureInput*>(features), num_features, n, out_scores);
}

emtl_status emtl_session_set_user_named(emtl_session* session, const emtl_named_feature_input* features,
                                        size_t num_features) {
  if (!session) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_set_user_named: NULL argument");
  const emtl_status resolved = resolve_names(session, "emtl_session_set_user_named", features, num_features);
  if (resolved != EMTL_OK) return resolved;
  return set_user(session, session->named, num_features);
}

emtl_status emtl_session_score_named(emtl_session* session, const emtl_named_feature_input* features,
                                     size_t num_features, size_t n, const float** out_scores) {
  if (!session || !out_scores) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_score_named: NULL argument");
  *out_scores = nullptr;
  const emtl_status resolved = resolve_names(session, "emtl_session_score_named", features, num_features);
  if (resolved != EMTL_OK) return resolved;
  return score(session, session->named, num_features, n, out_scores);
}

emtl_status emtl_session_set_candidates(emtl_session* session, const emtl_feature_input* features, size_t num_features,
                                        size_t n) {
  if (!session || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_set_candidates: NULL argument");
  const auto* inputs = reinterpret_cast<const edgemtl::FeatureInput*>(features);
  const edgemtl::Status status =
      session->session->set_candidates(edgemtl::Span<const edgemtl::FeatureInput>(inputs, num_features), n);
  if (!status.is_ok()) return fail(status);
  report_default_rows(session, inputs, num_features);
  return EMTL_OK;
}

emtl_status emtl_session_replace_candidates(emtl_session* session, const size_t* positions, size_t k,
                                            const emtl_feature_input* features, size_t num_features) {
  if (!session || (!positions && k > 0) || (!features && num_features > 0))
    return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_replace_candidates: NULL argument");
  const auto* inputs = reinterpret_cast<const edgemtl::FeatureInput*>(features);
  const edgemtl::Status status = session->session->replace_candidates(
      edgemtl::Span<const size_t>(positions, k), edgemtl::Span<const edgemtl::FeatureInput>(inputs, num_features));
  if (!status.is_ok()) return fail(status);
  report_default_rows(session, inputs, num_features);
  return EMTL_OK;
}

emtl_status emtl_session_rank(emtl_session* session, const float** out_scores) {
  if (!session || !out_scores) return fail(EMTL_ERROR_INVALID_ARGUMENT, "emtl_session_rank: NULL argument");
  *out_scores = nullptr;
  auto scores = session->session->rank();
  if (!scores.ok()) return fail(scores.status());
  *out_scores = scores.value().data();
  return EMTL_OK;
}

size_t emtl_session_num_candidates(const emtl_session* session) {
  return session ? session->session->num_candidates() : 0;
}

size_t emtl_session_candidate_cache_bytes(const emtl_session* session) {
  return session ? session->session->candidate_cache_bytes() : 0;
}

size_t emtl_session_arena_bytes(const emtl_session* session) {
  return session ? session->session->arena_bytes() : 0;
}

size_t emtl_session_tile_lanes(const emtl_session* session) {
  return session ? session->session->tile_lanes() : 0;
}

size_t emtl_session_packed_weight_bytes(const emtl_session* session) {
  return session ? session->session->packed_weight_bytes() : 0;
}

}  // extern "C"
