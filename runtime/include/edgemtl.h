/* edgemtl C API: load a model, score items. C99; safe to wrap from JNI or Swift.
 *
 * This header is the stable ABI of libedgemtl.so (docs/API.md): the shared
 * library exports exactly the functions declared here (EMTL_API) and nothing
 * of the C++ API. Within one major version functions are only added, enums
 * only grow, and the structs a caller allocates carry a `struct_size` so that
 * they can grow at the end without breaking callers built against an older
 * header.
 *
 * Handles and lifetimes
 *   emtl_model    an immutable, verified model. Create with emtl_model_load_file,
 *                 _load_buffer, _load_buffer_no_copy or _load_fd; release with emtl_model_free. Share
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

#if defined(_WIN32)
#define EMTL_API
#elif defined(__GNUC__) || defined(__clang__)
#define EMTL_API __attribute__((visibility("default")))
#else
#define EMTL_API
#endif

/* The version of this header; emtl_version() gives the library's. CMake reads
 * these three lines (the project version). */
#define EMTL_VERSION_MAJOR 0
#define EMTL_VERSION_MINOR 2
#define EMTL_VERSION_PATCH 0
#define EMTL_VERSION_STRING "0.2.0"

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

/** Description of one feature; `name` lives as long as the model. Set
 *  struct_size = sizeof(emtl_feature_info) before emtl_model_feature_info:
 *  the library fills only the fields that fit in struct_size bytes. */
typedef struct emtl_feature_info {
  size_t struct_size;
  const char* name;
  emtl_side side;
  emtl_feature_kind kind;
  int64_t width;      /**< values per row */
  int64_t padding_id; /**< ID_LIST only */
  int64_t table_size; /**< ids only: valid ids are [0, table_size) */
  int32_t accepts_nan;   /**< DENSE only: 1 when NaN means "missing" (see emtl_feature_input) */
  int32_t pad_before;    /**< ID_LIST: short lists are padded before the ids (0: after them) */
  int32_t keep_last_ids; /**< ID_LIST: a longer list keeps its last `width` ids (0: it is an error) */
} emtl_feature_info;

/** Description of one task; `name` lives as long as the model. Set
 *  struct_size = sizeof(emtl_task_info) first, as for emtl_feature_info. */
typedef struct emtl_task_info {
  size_t struct_size;
  const char* name;
  emtl_task_kind kind;
} emtl_task_info;

/** Values of one feature for all rows of a call, row-major (rows * width).
 *  Set `ids` for ID / ID_LIST features and `values` for DENSE ones; the other
 *  stays NULL. Read during the call only.
 *  Missing dense values: give NaN. A DENSE feature whose model tests it for NaN
 *  (torch.isnan, e.g. a learned default per feature: emtl_feature_info.accepts_nan
 *  is 1) takes NaN as "missing"; any other non-finite dense value (NaN in other
 *  features, +-infinity anywhere) is refused with EMTL_ERROR_INVALID_VALUE naming
 *  the feature and row. The request library and edgemtl-run read JSON `null` as
 *  such a missing value, for one value or for a whole dense feature. */
typedef struct emtl_feature_input {
  int32_t feature; /**< index from emtl_model_find_feature */
  const int64_t* ids;
  const float* values;
  size_t count; /**< number of ids or values: rows * width. In a one-row call (set_user, score with
                     n = 1) an ID_LIST takes any list of 0..width ids, padded with padding_id on the
                     model's side; a longer one fails unless keep_last_ids. For n > 1 rows pad each
                     row with emtl_model_pad_list. */
} emtl_feature_input;

/** The same, naming the feature instead of giving its index
 *  (emtl_session_set_user_named / emtl_session_score_named). */
typedef struct emtl_named_feature_input {
  const char* name; /**< the feature's name as emtl_feature_info.name */
  const int64_t* ids;
  const float* values;
  size_t count;
} emtl_named_feature_input;

/** Session settings; start from emtl_session_options_default(), which sets
 *  struct_size: a newer library reads only the fields that fit in it (the
 *  others keep their defaults), so options compiled against this header keep
 *  working. struct_size 0 (a zeroed struct) is refused. */
typedef struct emtl_session_options {
  size_t struct_size;
  size_t max_items;           /**< largest n for emtl_session_score (items run in tiles of up to 72) */
  int32_t threads;            /**< threads including the caller's (threads - 1 workers, owned by the
                                   session); 1 runs on the calling thread. A score or rank of several item
                                   tiles runs whole tiles in parallel, each thread in its own activation
                                   arena; otherwise large layers split their rows. Scores are bitwise
                                   identical for any count; workers sleep between calls. */
  int32_t map_out_of_range_ids; /**< nonzero: out-of-range ids read the model's default row if it has one
                                     (each call that does so reports it to the log callback, if one is set) */
  size_t max_arena_bytes;     /**< (appended in 0.2) the most the session allocates for each block sized from
                                   the model file (activation arena, candidate cache, int8 scratch, scores;
                                   packed and copied weights together): emtl_session_create refuses a model
                                   needing more with EMTL_ERROR_OUT_OF_MEMORY and the sizes in the message,
                                   before allocating. Default 1 GiB. */
} emtl_session_options;

/** Library version, e.g. "0.2.0" (EMTL_VERSION_STRING of the library's build). Static storage. */
EMTL_API const char* emtl_version(void);
/** Newest model format_version this library reads (older ones it reads too, if any). */
EMTL_API uint32_t emtl_format_version(void);

/** Severity of a log message. */
typedef enum emtl_log_level { EMTL_LOG_WARNING = 1 } emtl_log_level;
/** Receives warnings. Today there is one kind: a set_user or score call that
 *  succeeded by reading a default row for out-of-range ids (options'
 *  map_out_of_range_ids), naming the feature, how many ids and the first one.
 *  (Format 1 is the only format so far; a model of an older format will be
 *  reported here once there is one.) Called on the thread that made the call, during it; `message` is valid
 *  during the callback only. */
typedef void (*emtl_log_callback)(void* user_data, emtl_log_level level, const char* message);
/** Sets the process-wide log callback (NULL: none, the default; warnings are
 *  then not even computed). Thread-safe; takes effect for calls that start
 *  after it returns. */
EMTL_API void emtl_set_log_callback(emtl_log_callback callback, void* user_data);

/** Message of the last failing call on this thread ("" if none). Valid until
 *  the next failing call on this thread. */
EMTL_API const char* emtl_last_error_message(void);
/** Short stable name of a status, e.g. "InvalidModel". Static storage. */
EMTL_API const char* emtl_status_name(emtl_status status);

/** Memory-maps the file at `path` read-only and verifies it. On success
 *  *out_model receives a new model (free with emtl_model_free). */
EMTL_API emtl_status emtl_model_load_file(const char* path, emtl_model** out_model);
/** Loads a model from memory at any alignment. When `data` is 64-byte aligned
 *  it is used in place (no copy) and must stay alive and unchanged until
 *  emtl_model_free; otherwise the library copies the `size` bytes into aligned
 *  memory it owns, and `data` may be released as soon as the call returns.
 *  Keeping `data` alive until emtl_model_free is always correct. */
EMTL_API emtl_status emtl_model_load_buffer(const void* data, size_t size, emtl_model** out_model);
/** Never copies: `data` must be 64-byte aligned (else EMTL_ERROR_INVALID_ARGUMENT)
 *  and stay alive and unchanged until emtl_model_free. */
EMTL_API emtl_status emtl_model_load_buffer_no_copy(const void* data, size_t size, emtl_model** out_model);
/** Loads `length` bytes at `offset` of the open file `fd` (e.g. an uncompressed
 *  asset inside an APK: AssetFileDescriptor's fd, start offset and length);
 *  length 0 means up to the end of the file. Memory-maps the range read-only
 *  when `offset` is a multiple of 64 and the descriptor can be mapped; else
 *  reads it into aligned memory. The descriptor is not closed, not moved
 *  (pread) and may be closed once the call returns. */
EMTL_API emtl_status emtl_model_load_fd(int fd, int64_t offset, int64_t length, emtl_model** out_model);
/** Frees a model (NULL is fine). Its sessions must be freed first. */
EMTL_API void emtl_model_free(emtl_model* model);
/** Checks the model's weights against the checksum stored in its file (XXH3-64
 *  of the weight segment; reads every weight byte once: about one read of the
 *  file, 10-20 ms for 24 MB on the measuring VM, docs/ROBUSTNESS.md).
 *  Every loader already checks the rest of the file (the FlatBuffer part) when
 *  the file has checksums; call this after loading, e.g. once for a file that
 *  came over the air. EMTL_OK; EMTL_ERROR_INVALID_MODEL when a weight is
 *  corrupt ("checksum mismatch ..."); EMTL_ERROR_UNSUPPORTED for a file
 *  written before checksums (it still loads and scores; it cannot be verified). */
EMTL_API emtl_status emtl_model_verify_weights(const emtl_model* model);

/** format_version stored in the model file. */
EMTL_API uint32_t emtl_model_format_version(const emtl_model* model);
/** The converter that wrote the file, e.g. "edgemtl-convert 0.1" ("" if none). */
EMTL_API const char* emtl_model_producer(const emtl_model* model);
/** Free key/value metadata set at conversion (edgemtl-convert --metadata
 *  k=v,...); a file with metadata also holds "edgemtl.convert_options", the
 *  converter options it was written with. 0 for files without metadata. */
EMTL_API size_t emtl_model_num_metadata(const emtl_model* model);
/** Key and value of entry `index` (both live as long as the model). */
EMTL_API emtl_status emtl_model_metadata(const emtl_model* model, size_t index, const char** out_key,
                                         const char** out_value);
/** Value of the entry with key `key`, or NULL when there is none. */
EMTL_API const char* emtl_model_find_metadata(const emtl_model* model, const char* key);

EMTL_API size_t emtl_model_num_features(const emtl_model* model);
/** EMTL_ERROR_INVALID_ARGUMENT if index >= emtl_model_num_features. */
EMTL_API emtl_status emtl_model_feature_info(const emtl_model* model, size_t index, emtl_feature_info* out_info);
/** Index of the feature named `name`, or -1 (also sets the last error message). */
EMTL_API int32_t emtl_model_find_feature(const emtl_model* model, const char* name);
/** Writes one row (width ids) of ID_LIST feature `feature` to `out_row` from a list of `length`
 *  ids (0..width; longer only if the feature keeps its last ids): padded with its padding_id on
 *  the side the model was trained with. EMTL_ERROR_INVALID_ARGUMENT names the feature otherwise. */
EMTL_API emtl_status emtl_model_pad_list(const emtl_model* model, int32_t feature, const int64_t* ids, size_t length,
                                         int64_t* out_row);
EMTL_API size_t emtl_model_num_tasks(const emtl_model* model);
EMTL_API emtl_status emtl_model_task_info(const emtl_model* model, size_t index, emtl_task_info* out_info);
/** Index of the task named `name`, or -1 (also sets the last error message). */
EMTL_API int32_t emtl_model_find_task(const emtl_model* model, const char* name);

/** max_items 4096, threads 1, map_out_of_range_ids 0, max_arena_bytes 1 GiB. */
EMTL_API emtl_session_options emtl_session_options_default(void);
/** Plans memory and prepares kernels for `model` (options may be NULL for the
 *  defaults). The model must outlive the session. Free with emtl_session_free. */
EMTL_API emtl_status emtl_session_create(const emtl_model* model, const emtl_session_options* options,
                                emtl_session** out_session);
/** Frees a session (NULL is fine). */
EMTL_API void emtl_session_free(emtl_session* session);

/** Runs the user stage on one row: every USER feature exactly once. The result
 *  is cached for the following emtl_session_score calls. */
EMTL_API emtl_status emtl_session_set_user(emtl_session* session, const emtl_feature_input* features, size_t num_features);
/** Scores `n` items (1 <= n <= max_items) given every ITEM feature with n rows.
 *  On success *out_scores points at n * num_tasks floats, row-major (item, task),
 *  owned by the session and valid until the next call on it. */
EMTL_API emtl_status emtl_session_score(emtl_session* session, const emtl_feature_input* features, size_t num_features,
                               size_t n, const float** out_scores);
/** emtl_session_set_user / emtl_session_score with features given by name;
 *  an unknown name fails with EMTL_ERROR_NOT_FOUND. No allocation once the
 *  session has seen as many features. */
EMTL_API emtl_status emtl_session_set_user_named(emtl_session* session, const emtl_named_feature_input* features,
                                                 size_t num_features);
EMTL_API emtl_status emtl_session_score_named(emtl_session* session, const emtl_named_feature_input* features,
                                              size_t num_features, size_t n, const float** out_scores);
/** Re-ranking the same candidates after every user action (the candidate
 *  cache). emtl_session_set_candidates runs the item stage on `n` candidates
 *  (1 <= n <= max_items, every ITEM feature with n rows, read during the call
 *  only) and keeps what the cross stage reads (emtl_session_candidate_cache_bytes,
 *  allocated by the first call, owned by the session); it needs no user and
 *  replaces the previous candidates (none are kept on failure). */
EMTL_API emtl_status emtl_session_set_candidates(emtl_session* session, const emtl_feature_input* features,
                                                 size_t num_features, size_t n);
/** Replaces the candidates at positions[0 .. k-1] (each < the number of
 *  candidates) by k new ones given with k rows per ITEM feature: row j becomes
 *  candidate positions[j]. Runs the item stage on those k rows only. On failure
 *  no candidates are kept. */
EMTL_API emtl_status emtl_session_replace_candidates(emtl_session* session, const size_t* positions, size_t k,
                                                     const emtl_feature_input* features, size_t num_features);
/** Runs only the cross stage over the cached candidates with the user of the
 *  last emtl_session_set_user. On success *out_scores points at
 *  emtl_session_num_candidates() * num_tasks floats, row-major (candidate,
 *  task), bitwise equal to emtl_session_score of the same user and items; owned
 *  by the session and valid until the next call on it. No allocation. */
EMTL_API emtl_status emtl_session_rank(emtl_session* session, const float** out_scores);
/** Candidates in the cache (0 before emtl_session_set_candidates or after a failed one). */
EMTL_API size_t emtl_session_num_candidates(const emtl_session* session);
/** Bytes of the candidate cache (max_items rows), allocated by the first emtl_session_set_candidates. */
EMTL_API size_t emtl_session_candidate_cache_bytes(const emtl_session* session);

/** The model the session was created with. */
EMTL_API const emtl_model* emtl_session_model(const emtl_session* session);

/** Bytes of the activation arena (one per thread when the session runs item tiles in parallel). */
EMTL_API size_t emtl_session_arena_bytes(const emtl_session* session);
/** Estimated bytes of fully-connected weights packed by XNNPACK for this session. */
EMTL_API size_t emtl_session_packed_weight_bytes(const emtl_session* session);
/** Item tiles the session runs at once, each in a lane with its own arena (appended): 1, or up to
 *  `threads` when threads >= 2, the user is cached and the model's GEMMs can be shared between lanes
 *  (the runtime's own x86-64 kernels). Activation memory is arena_bytes times this. 0 for NULL. */
EMTL_API size_t emtl_session_tile_lanes(const emtl_session* session);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* EDGEMTL_H_ */
