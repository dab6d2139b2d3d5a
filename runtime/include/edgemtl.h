/* edgemtl C API: load a model, score items. C99; safe to wrap from JNI or Swift.
 *
 * Handles and lifetimes
 *   emtl_model    an immutable, verified model. Create with emtl_model_load_file
 *                 or emtl_model_load_buffer, release with emtl_model_free. Share
 *                 it freely between threads and sessions; free it only after every
 *                 session created from it has been freed.
 *   emtl_session  scoring state (arena, kernels, user cache) for one model. Not
 *                 thread-safe: use one session per thread. Free with
 *                 emtl_session_free before freeing its model.
 * Strings returned by the API (names, messages) are owned by the library:
 * names live as long as their model, messages until the next failing call on
 * the same thread. Nothing here aborts the process: every failure returns an
 * emtl_status and sets the thread's last error message.
 */
#ifndef EDGEMTL_H_
#define EDGEMTL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every fallible call. Values equal edgemtl::Error. */
typedef enum emtl_status {
  EMTL_OK = 0,
  EMTL_ERROR_INVALID_ARGUMENT = 1, /**< null pointer, wrong count, n > max_items, ... */
  EMTL_ERROR_INVALID_MODEL = 2,    /**< corrupt or inconsistent model file */
  EMTL_ERROR_UNSUPPORTED = 3,      /**< valid model this runtime cannot run (version, operator, dtype) */
  EMTL_ERROR_MISSING_FEATURE = 4,  /**< a required feature was not given */
  EMTL_ERROR_ID_OUT_OF_RANGE = 5,  /**< an id outside its embedding table */
  EMTL_ERROR_INVALID_VALUE = 6,    /**< NaN or infinity in a dense feature */
  EMTL_ERROR_NOT_FOUND = 7,        /**< no feature or task of that name */
  EMTL_ERROR_IO = 8,               /**< the file could not be opened or mapped */
  EMTL_ERROR_OUT_OF_MEMORY = 9,
  EMTL_ERROR_INVALID_STATE = 10,   /**< e.g. score before set_user on a model with user features */
  EMTL_ERROR_INTERNAL = 11
} emtl_status;

typedef struct emtl_model emtl_model;     /**< opaque, see above */
typedef struct emtl_session emtl_session; /**< opaque, see above */

typedef enum emtl_side { EMTL_SIDE_USER = 0, EMTL_SIDE_ITEM = 1 } emtl_side;
typedef enum emtl_feature_kind {
  EMTL_FEATURE_ID = 0,      /**< one int64 id per row */
  EMTL_FEATURE_ID_LIST = 1, /**< `width` int64 ids per row, padded with padding_id */
  EMTL_FEATURE_DENSE = 2    /**< `width` floats per row */
} emtl_feature_kind;
typedef enum emtl_task_kind { EMTL_TASK_PROBABILITY = 0, EMTL_TASK_VALUE = 1 } emtl_task_kind;

/** Description of one feature; `name` lives as long as the model. */
typedef struct emtl_feature_info {
  const char* name;
  emtl_side side;
  emtl_feature_kind kind;
  int64_t width;      /**< values per row */
  int64_t padding_id; /**< ID_LIST only */
  int64_t table_size; /**< ids only: valid ids are [0, table_size) */
} emtl_feature_info;

/** Description of one task; `name` lives as long as the model. */
typedef struct emtl_task_info {
  const char* name;
  emtl_task_kind kind;
} emtl_task_info;

/** Values of one feature for all rows of a call, row-major (rows * width).
 *  Set `ids` for ID / ID_LIST features and `values` for DENSE ones; the other
 *  stays NULL. Read during the call only. */
typedef struct emtl_feature_input {
  int32_t feature; /**< index from emtl_model_find_feature */
  const int64_t* ids;
  const float* values;
  size_t count; /**< number of ids or values */
} emtl_feature_input;

/** Session settings; start from emtl_session_options_default(). */
typedef struct emtl_session_options {
  size_t max_items;           /**< largest n for emtl_session_score (items run in tiles of up to 168) */
  int32_t threads;            /**< kernel threads including the caller's (a pthreadpool of threads - 1
                                   workers, owned by the session); 1 runs on the calling thread. Scores
                                   are bitwise identical for any count; workers sleep between calls. */
  int32_t map_out_of_range_ids; /**< nonzero: out-of-range ids read the model's default row if it has one */
} emtl_session_options;

/** Message of the last failing call on this thread ("" if none). Valid until
 *  the next failing call on this thread. */
const char* emtl_last_error_message(void);
/** Short stable name of a status, e.g. "InvalidModel". Static storage. */
const char* emtl_status_name(emtl_status status);

/** Memory-maps the file at `path` read-only and verifies it. On success
 *  *out_model receives a new model (free with emtl_model_free). */
emtl_status emtl_model_load_file(const char* path, emtl_model** out_model);
/** Verifies and uses `data` in place: it must be 64-byte aligned and stay alive
 *  and unchanged until emtl_model_free. */
emtl_status emtl_model_load_buffer(const void* data, size_t size, emtl_model** out_model);
/** Frees a model (NULL is fine). Its sessions must be freed first. */
void emtl_model_free(emtl_model* model);

size_t emtl_model_num_features(const emtl_model* model);
/** EMTL_ERROR_INVALID_ARGUMENT if index >= emtl_model_num_features. */
emtl_status emtl_model_feature_info(const emtl_model* model, size_t index, emtl_feature_info* out_info);
/** Index of the feature named `name`, or -1 (also sets the last error message). */
int32_t emtl_model_find_feature(const emtl_model* model, const char* name);
size_t emtl_model_num_tasks(const emtl_model* model);
emtl_status emtl_model_task_info(const emtl_model* model, size_t index, emtl_task_info* out_info);
/** Index of the task named `name`, or -1 (also sets the last error message). */
int32_t emtl_model_find_task(const emtl_model* model, const char* name);

/** max_items 4096, threads 1, map_out_of_range_ids 0. */
emtl_session_options emtl_session_options_default(void);
/** Plans memory and prepares kernels for `model` (options may be NULL for the
 *  defaults). The model must outlive the session. Free with emtl_session_free. */
emtl_status emtl_session_create(const emtl_model* model, const emtl_session_options* options,
                                emtl_session** out_session);
/** Frees a session (NULL is fine). */
void emtl_session_free(emtl_session* session);

/** Runs the user stage on one row: every USER feature exactly once. The result
 *  is cached for the following emtl_session_score calls. */
emtl_status emtl_session_set_user(emtl_session* session, const emtl_feature_input* features, size_t num_features);
/** Scores `n` items (1 <= n <= max_items) given every ITEM feature with n rows.
 *  On success *out_scores points at n * num_tasks floats, row-major (item, task),
 *  owned by the session and valid until the next call on it. */
emtl_status emtl_session_score(emtl_session* session, const emtl_feature_input* features, size_t num_features,
                               size_t n, const float** out_scores);

/** Bytes of the activation arena. */
size_t emtl_session_arena_bytes(const emtl_session* session);
/** Estimated bytes of fully-connected weights packed by XNNPACK for this session. */
size_t emtl_session_packed_weight_bytes(const emtl_session* session);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* EDGEMTL_H_ */
