/* The C API from plain C99: load, inspect, score, and the error paths; the
 * loaders (unaligned buffers, descriptor ranges), growable structs, named
 * inputs, the log callback and the version. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgemtl.h"

const void* emtl_test_two_tower_model(size_t* size);
const void* emtl_test_two_tower_model_variant(int64_t default_row, uint32_t format_version, size_t* size);
const void* emtl_test_two_tower_model_without_checksums(size_t* size);

static int failures = 0;
#define EXPECT(condition)                                                        \
  do {                                                                           \
    if (!(condition)) {                                                          \
      fprintf(stderr, "%s:%d: EXPECT(%s) failed; last error: %s\n", __FILE__,    \
              __LINE__, #condition, emtl_last_error_message());                  \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

static int close_to(float a, double b) { return fabs((double)a - b) <= 1e-5 * (1.0 + fabs(b)); }

/* The two-tower model's inputs: user "u" (feature 0) and item ids (feature 1). */
static void two_tower_inputs(const float* user_values, const int64_t* ids, size_t n, emtl_feature_input* user,
                             emtl_feature_input* items) {
  memset(user, 0, sizeof(*user));
  memset(items, 0, sizeof(*items));
  user->feature = 0;
  user->values = user_values;
  user->count = 2;
  items->feature = 1;
  items->ids = ids;
  items->count = n;
}

/* Scores of ids {1, 3, 0} for user (2, 1) with a fresh session; 0 on success. */
static int score_three(const emtl_model* model, float out[6]) {
  emtl_session* session = NULL;
  if (emtl_session_create(model, NULL, &session) != EMTL_OK) return 1;
  const float user_values[2] = {2.0f, 1.0f};
  const int64_t ids[3] = {1, 3, 0};
  emtl_feature_input user = {0}, items = {0};
  user.feature = emtl_model_find_feature(model, "u");
  user.values = user_values;
  user.count = 2;
  items.feature = emtl_model_find_feature(model, "item");
  items.ids = ids;
  items.count = 3;
  const float* scores = NULL;
  int bad = emtl_session_set_user(session, &user, 1) != EMTL_OK ||
            emtl_session_score(session, &items, 1, 3, &scores) != EMTL_OK;
  if (!bad) memcpy(out, scores, 6 * sizeof(float));
  emtl_session_free(session);
  return bad;
}

/* A model loaded some other way scores exactly like the reference. */
static void expect_same_scores(const emtl_model* model, const float reference[6]) {
  float got[6];
  EXPECT(model != NULL);
  if (!model) return;
  EXPECT(score_three(model, got) == 0);
  EXPECT(memcmp(got, reference, sizeof(got)) == 0);
}

/* Writes `prefix` junk bytes, the model, `suffix` junk bytes to a temporary
 * file; returns an open descriptor (the file is already unlinked). */
static int temp_file_with(const void* bytes, size_t size, size_t prefix, size_t suffix) {
  char path[] = "/tmp/emtl_c_api_test_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  unsigned char junk[128];
  memset(junk, 0xAB, sizeof(junk));
  if (write(fd, junk, prefix) != (ssize_t)prefix || write(fd, bytes, size) != (ssize_t)size ||
      write(fd, junk, suffix) != (ssize_t)suffix) {
    close(fd);
    return -1;
  }
  return fd;
}

static int warnings = 0;
static char last_warning[512];
static void record_warning(void* user_data, emtl_log_level level, const char* message) {
  EXPECT(user_data == &warnings);
  EXPECT(level == EMTL_LOG_WARNING);
  ++warnings;
  snprintf(last_warning, sizeof(last_warning), "%s", message);
}

static void test_version_and_metadata(const emtl_model* model) {
  EXPECT(strcmp(emtl_version(), EMTL_VERSION_STRING) == 0);
  char expected[32];
  snprintf(expected, sizeof(expected), "%d.%d.%d", EMTL_VERSION_MAJOR, EMTL_VERSION_MINOR, EMTL_VERSION_PATCH);
  EXPECT(strcmp(emtl_version(), expected) == 0);
  EXPECT(emtl_format_version() == 1);
  EXPECT(emtl_model_format_version(model) == emtl_format_version());
  EXPECT(emtl_model_producer(model) != NULL);
  EXPECT(emtl_model_num_metadata(model) == 0); /* the test builder writes none */
  EXPECT(emtl_model_find_metadata(model, "model_name") == NULL);
  const char *key = NULL, *value = NULL;
  EXPECT(emtl_model_metadata(model, 0, &key, &value) == EMTL_ERROR_INVALID_ARGUMENT);

  /* A newer format than this library reads is refused, naming both versions. */
  size_t size = 0;
  const void* newer = emtl_test_two_tower_model_variant(-1, emtl_format_version() + 1, &size);
  emtl_model* none = NULL;
  EXPECT(emtl_model_load_buffer(newer, size, &none) == EMTL_ERROR_UNSUPPORTED);
  EXPECT(none == NULL);
  EXPECT(strstr(emtl_last_error_message(), "format_version 2") != NULL);
}

static void test_struct_sizes(const emtl_model* model) {
  emtl_feature_info info;
  memset(&info, 0, sizeof(info));
  EXPECT(emtl_model_feature_info(model, 1, &info) == EMTL_ERROR_INVALID_ARGUMENT); /* struct_size 0 */
  EXPECT(strstr(emtl_last_error_message(), "struct_size") != NULL);
  /* A caller built against a header whose struct ended before table_size. */
  info.struct_size = offsetof(emtl_feature_info, table_size);
  info.table_size = -77;
  EXPECT(emtl_model_feature_info(model, 1, &info) == EMTL_OK);
  EXPECT(strcmp(info.name, "item") == 0 && info.width == 1 && info.table_size == -77);
  EXPECT(info.struct_size == offsetof(emtl_feature_info, table_size));
  emtl_task_info task;
  memset(&task, 0, sizeof(task));
  EXPECT(emtl_model_task_info(model, 0, &task) == EMTL_ERROR_INVALID_ARGUMENT);

  emtl_session_options options;
  memset(&options, 0, sizeof(options));
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(session == NULL && strstr(emtl_last_error_message(), "emtl_session_options_default") != NULL);
  /* Only max_items known to the caller: threads and the rest keep their defaults. */
  options.struct_size = offsetof(emtl_session_options, threads);
  options.max_items = 2;
  options.threads = 999;
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_OK);
  const int64_t ids[3] = {1, 2, 3};
  const float user_values[2] = {1.0f, 1.0f};
  emtl_feature_input user, items;
  two_tower_inputs(user_values, ids, 3, &user, &items);
  const float* scores = NULL;
  EXPECT(emtl_session_set_user(session, &user, 1) == EMTL_OK);
  EXPECT(emtl_session_score(session, &items, 1, 3, &scores) == EMTL_ERROR_INVALID_ARGUMENT); /* 3 > max_items 2 */
  EXPECT(emtl_session_model(session) == model);
  EXPECT(emtl_session_model(NULL) == NULL);
  emtl_session_free(session);
}

/* max_arena_bytes (appended to emtl_session_options): a session needing more
 * is refused with the sizes; a caller built before the field keeps the default. */
static void test_arena_bound(const emtl_model* model) {
  emtl_session_options options = emtl_session_options_default();
  EXPECT(options.max_arena_bytes == (size_t)1 << 30);
  options.max_arena_bytes = 64;
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_ERROR_OUT_OF_MEMORY);
  EXPECT(session == NULL);
  EXPECT(strstr(emtl_last_error_message(), "more than SessionOptions::max_arena_bytes = 64") != NULL);
  options.struct_size = offsetof(emtl_session_options, max_arena_bytes);
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_OK);
  emtl_session_free(session);
}

/* emtl_model_verify_weights: a flipped weight bit is reported; a file from
 * before checksums loads but cannot be verified. */
static void test_verify_weights(const emtl_model* model, const void* bytes, size_t size) {
  EXPECT(emtl_model_verify_weights(model) == EMTL_OK);
  EXPECT(emtl_model_verify_weights(NULL) == EMTL_ERROR_INVALID_ARGUMENT);
  /* The last constant, "ones" = {1.0f, 1.0f}, starts the file's last 64 bytes. */
  unsigned char* flipped = malloc(size);
  EXPECT(flipped != NULL);
  if (!flipped) return;
  memcpy(flipped, bytes, size);
  float one;
  memcpy(&one, flipped + size - 64, sizeof(one));
  EXPECT(one == 1.0f);
  flipped[size - 64 + 1] ^= 0x01;
  emtl_model* corrupt = NULL;
  EXPECT(emtl_model_load_buffer(flipped, size, &corrupt) == EMTL_OK); /* weights are not read at load */
  EXPECT(emtl_model_verify_weights(corrupt) == EMTL_ERROR_INVALID_MODEL);
  EXPECT(strstr(emtl_last_error_message(), "checksum mismatch in the weight segment") != NULL);
  emtl_model_free(corrupt);
  free(flipped);

  size_t old_size = 0;
  const void* old_bytes = emtl_test_two_tower_model_without_checksums(&old_size);
  emtl_model* old = NULL;
  EXPECT(emtl_model_load_buffer(old_bytes, old_size, &old) == EMTL_OK);
  EXPECT(emtl_model_verify_weights(old) == EMTL_ERROR_UNSUPPORTED);
  EXPECT(strstr(emtl_last_error_message(), "no checksums") != NULL);
  float scores[6], reference[6];
  EXPECT(score_three(old, scores) == 0 && score_three(model, reference) == 0);
  EXPECT(memcmp(scores, reference, sizeof(scores)) == 0);
  emtl_model_free(old);
}

static void test_loading(const void* bytes, size_t size, const float reference[6]) {
  /* Unaligned buffer: copied, so the caller's bytes may go right away. */
  unsigned char* storage = malloc(size + 64 + 1);
  EXPECT(storage != NULL);
  if (!storage) return;
  unsigned char* unaligned = storage + 1;
  while (((size_t)unaligned) % 64 == 0 || ((size_t)unaligned) % 2 == 0) ++unaligned;
  memcpy(unaligned, bytes, size);
  emtl_model* model = NULL;
  EXPECT(emtl_model_load_buffer_no_copy(unaligned, size, &model) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(model == NULL && strstr(emtl_last_error_message(), "aligned") != NULL);
  EXPECT(emtl_model_load_buffer(unaligned, size, &model) == EMTL_OK);
  memset(storage, 0, size + 65);
  free(storage);
  expect_same_scores(model, reference);
  emtl_model_free(model);

  /* Aligned: used in place by both. */
  model = NULL;
  EXPECT(emtl_model_load_buffer_no_copy(bytes, size, &model) == EMTL_OK);
  expect_same_scores(model, reference);
  emtl_model_free(model);

  /* Descriptor ranges: at a 64-byte offset (mapped), at an odd one (read), to the end. */
  const size_t offsets[3] = {64, 13, 128};
  const size_t suffixes[3] = {7, 0, 0};
  const int64_t lengths[3] = {(int64_t)size, (int64_t)size, 0};
  for (int i = 0; i < 3; ++i) {
    int fd = temp_file_with(bytes, size, offsets[i], suffixes[i]);
    EXPECT(fd >= 0);
    if (fd < 0) continue;
    model = NULL;
    EXPECT(emtl_model_load_fd(fd, (int64_t)offsets[i], lengths[i], &model) == EMTL_OK);
    close(fd); /* the model no longer needs the descriptor */
    expect_same_scores(model, reference);
    emtl_model_free(model);
  }
  int fd = temp_file_with(bytes, size, 64, 7);
  model = NULL;
  EXPECT(emtl_model_load_fd(fd, 64, (int64_t)size + 64, &model) == EMTL_ERROR_IO); /* past the end */
  EXPECT(strstr(emtl_last_error_message(), "beyond the end") != NULL);
  EXPECT(emtl_model_load_fd(fd, 64, 0, &model) == EMTL_ERROR_INVALID_MODEL); /* the 7 junk bytes */
  EXPECT(emtl_model_load_fd(fd, -1, 10, &model) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_model_load_fd(-1, 0, 10, &model) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_model_load_fd(fd, 0, 0, NULL) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(model == NULL);
  close(fd);
  int pipe_fds[2];
  EXPECT(pipe(pipe_fds) == 0);
  EXPECT(write(pipe_fds[1], bytes, 64) == 64);
  EXPECT(emtl_model_load_fd(pipe_fds[0], 0, 64, &model) == EMTL_ERROR_IO); /* no pread on a pipe */
  EXPECT(model == NULL);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

static void test_named_inputs(const emtl_model* model, const float reference[6]) {
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, NULL, &session) == EMTL_OK);
  if (!session) return;
  const float user_values[2] = {2.0f, 1.0f};
  const int64_t ids[3] = {1, 3, 0};
  emtl_named_feature_input user = {"u", NULL, user_values, 2};
  emtl_named_feature_input items = {"item", ids, NULL, 3};
  const float* scores = NULL;
  EXPECT(emtl_session_set_user_named(session, &user, 1) == EMTL_OK);
  EXPECT(emtl_session_score_named(session, &items, 1, 3, &scores) == EMTL_OK);
  EXPECT(scores != NULL && memcmp(scores, reference, 6 * sizeof(float)) == 0);
  emtl_named_feature_input wrong = {"itme", ids, NULL, 3};
  EXPECT(emtl_session_score_named(session, &wrong, 1, 3, &scores) == EMTL_ERROR_NOT_FOUND);
  EXPECT(scores == NULL && strstr(emtl_last_error_message(), "'itme'") != NULL);
  wrong.name = NULL;
  EXPECT(emtl_session_score_named(session, &wrong, 1, 3, &scores) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_set_user_named(session, NULL, 1) == EMTL_ERROR_INVALID_ARGUMENT);
  /* A user feature given to score by name is refused by the session itself. */
  EXPECT(emtl_session_score_named(session, &user, 1, 1, &scores) != EMTL_OK);
  emtl_session_free(session);
}

/* The candidate cache on a file without a cross stage (its item stage is item
 * and cross in one): rank after set_candidates / set_user / replace equals score
 * bitwise, and the calls refuse what they must. */
static void test_rank(const emtl_model* model, const float reference[6]) {
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, NULL, &session) == EMTL_OK);
  if (!session) return;
  const float* scores = NULL;
  EXPECT(emtl_session_rank(session, &scores) == EMTL_ERROR_INVALID_STATE); /* no candidates yet */
  EXPECT(emtl_session_num_candidates(session) == 0);
  const float user_values[2] = {2.0f, 1.0f}, other_user[2] = {-1.0f, 0.5f};
  const int64_t ids[3] = {1, 3, 0};
  emtl_feature_input user, items;
  two_tower_inputs(user_values, ids, 3, &user, &items);
  EXPECT(emtl_session_set_candidates(session, &items, 1, 3) == EMTL_OK); /* before the user: fine */
  EXPECT(emtl_session_num_candidates(session) == 3);
  EXPECT(emtl_session_candidate_cache_bytes(session) > 0);
  EXPECT(emtl_session_rank(session, &scores) == EMTL_ERROR_INVALID_STATE); /* the user is missing */
  EXPECT(emtl_session_set_user(session, &user, 1) == EMTL_OK);
  EXPECT(emtl_session_rank(session, &scores) == EMTL_OK);
  EXPECT(scores != NULL && memcmp(scores, reference, 6 * sizeof(float)) == 0);
  /* Another user, then candidate 1 (id 3) replaced by id 2: equal to a full score of {1, 2, 0}. */
  emtl_feature_input other;
  two_tower_inputs(other_user, ids, 3, &other, &items);
  EXPECT(emtl_session_set_user(session, &other, 1) == EMTL_OK);
  const size_t position = 1;
  const int64_t replacement = 2;
  emtl_feature_input one;
  two_tower_inputs(other_user, &replacement, 1, &other, &one);
  EXPECT(emtl_session_replace_candidates(session, &position, 1, &one, 1) == EMTL_OK);
  float ranked[6];
  EXPECT(emtl_session_rank(session, &scores) == EMTL_OK);
  if (scores) memcpy(ranked, scores, sizeof(ranked));
  const int64_t now[3] = {1, 2, 0};
  two_tower_inputs(other_user, now, 3, &other, &items);
  EXPECT(emtl_session_score(session, &items, 1, 3, &scores) == EMTL_OK);
  EXPECT(scores != NULL && memcmp(scores, ranked, sizeof(ranked)) == 0);
  /* score() leaves the cache alone. */
  EXPECT(emtl_session_rank(session, &scores) == EMTL_OK);
  EXPECT(scores != NULL && memcmp(scores, ranked, sizeof(ranked)) == 0);
  const size_t outside = 3;
  EXPECT(emtl_session_replace_candidates(session, &outside, 1, &one, 1) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_replace_candidates(session, NULL, 1, &one, 1) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_rank(NULL, &scores) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_set_candidates(session, &items, 1, 0) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_num_candidates(session) == 0); /* a failed set_candidates keeps none */
  emtl_session_free(session);
}

static void test_log_callback(void) {
  size_t size = 0;
  const void* bytes = emtl_test_two_tower_model_variant(0, 1, &size); /* default row 0 */
  emtl_model* model = NULL;
  EXPECT(emtl_model_load_buffer(bytes, size, &model) == EMTL_OK);
  if (!model) return;
  emtl_session_options options = emtl_session_options_default();
  options.map_out_of_range_ids = 1;
  emtl_session *mapping = NULL, *strict = NULL;
  EXPECT(emtl_session_create(model, &options, &mapping) == EMTL_OK);
  EXPECT(emtl_session_create(model, NULL, &strict) == EMTL_OK);
  if (!mapping || !strict) return;
  const float user_values[2] = {2.0f, 1.0f};
  const int64_t ids[4] = {1, 9, -2, 3};
  emtl_feature_input user, items;
  two_tower_inputs(user_values, ids, 4, &user, &items);
  const float* scores = NULL;
  EXPECT(emtl_session_set_user(mapping, &user, 1) == EMTL_OK);
  EXPECT(emtl_session_set_user(strict, &user, 1) == EMTL_OK);

  warnings = 0;
  EXPECT(emtl_session_score(mapping, &items, 1, 4, &scores) == EMTL_OK); /* no callback yet */
  EXPECT(warnings == 0);
  emtl_set_log_callback(record_warning, &warnings);
  EXPECT(emtl_session_score(mapping, &items, 1, 4, &scores) == EMTL_OK);
  EXPECT(warnings == 1);
  EXPECT(strstr(last_warning, "feature 'item'") != NULL && strstr(last_warning, "2 id(s)") != NULL &&
         strstr(last_warning, "id 9") != NULL);
  /* Default row 0 reads (0, 0): raw score 0. */
  EXPECT(scores != NULL && close_to(scores[1 * 2 + 1], 0.0) && close_to(scores[2 * 2 + 1], 0.0));
  const int64_t in_range[2] = {1, 2};
  items.ids = in_range;
  items.count = 2;
  EXPECT(emtl_session_score(mapping, &items, 1, 2, &scores) == EMTL_OK);
  EXPECT(warnings == 1); /* nothing mapped, nothing said */
  items.ids = ids;
  items.count = 4;
  EXPECT(emtl_session_score(strict, &items, 1, 4, &scores) == EMTL_ERROR_ID_OUT_OF_RANGE);
  EXPECT(warnings == 1); /* an error is an error, not a warning */
  emtl_set_log_callback(NULL, NULL);
  EXPECT(emtl_session_score(mapping, &items, 1, 4, &scores) == EMTL_OK);
  EXPECT(warnings == 1);
  emtl_session_free(mapping);
  emtl_session_free(strict);
  emtl_model_free(model);
}

int main(void) {
  size_t size = 0;
  const void* bytes = emtl_test_two_tower_model(&size);
  emtl_model* model = NULL;
  EXPECT(emtl_model_load_buffer(bytes, size, &model) == EMTL_OK);
  if (!model) return 1;

  EXPECT(emtl_model_num_features(model) == 2);
  EXPECT(emtl_model_num_tasks(model) == 2);
  const int32_t u = emtl_model_find_feature(model, "u");
  const int32_t item = emtl_model_find_feature(model, "item");
  EXPECT(u == 0 && item == 1);
  EXPECT(emtl_model_find_feature(model, "missing") == -1);
  EXPECT(strstr(emtl_last_error_message(), "missing") != NULL);
  emtl_feature_info info;
  info.struct_size = sizeof(info);
  EXPECT(emtl_model_feature_info(model, 1, &info) == EMTL_OK);
  EXPECT(strcmp(info.name, "item") == 0 && info.kind == EMTL_FEATURE_ID && info.table_size == 4);
  EXPECT(emtl_model_feature_info(model, 2, &info) == EMTL_ERROR_INVALID_ARGUMENT);
  emtl_task_info task;
  task.struct_size = sizeof(task);
  EXPECT(emtl_model_task_info(model, 1, &task) == EMTL_OK);
  EXPECT(strcmp(task.name, "raw") == 0 && task.kind == EMTL_TASK_VALUE);
  EXPECT(emtl_model_find_task(model, "click") == 0);

  emtl_session_options options = emtl_session_options_default();
  options.max_items = 4;
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_OK);
  if (!session) return 1;
  EXPECT(emtl_session_arena_bytes(session) > 0);
  EXPECT(emtl_session_tile_lanes(session) == 1); /* one thread */
  EXPECT(emtl_session_tile_lanes(NULL) == 0);
  /* One output column, K = 2, bias: 3 floats, times up to 16 on x86-64 where the own f32 kernel pads
     the column to a panel of 16. */
  EXPECT(emtl_session_packed_weight_bytes(session) == 3 * sizeof(float) ||
         emtl_session_packed_weight_bytes(session) == 16 * 3 * sizeof(float) ||
         emtl_session_packed_weight_bytes(session) == 8 * 3 * sizeof(float));

  const int64_t ids[3] = {1, 3, 0};
  emtl_feature_input items = {0};
  items.feature = item;
  items.ids = ids;
  items.count = 3;
  const float* scores = NULL;
  EXPECT(emtl_session_score(session, &items, 1, 3, &scores) == EMTL_ERROR_INVALID_STATE);
  EXPECT(strstr(emtl_last_error_message(), "set_user") != NULL);

  const float user_values[2] = {2.0f, 1.0f};
  emtl_feature_input user = {0};
  user.feature = u;
  user.values = user_values;
  user.count = 2;
  EXPECT(emtl_session_set_user(session, &user, 1) == EMTL_OK);
  EXPECT(emtl_session_score(session, &items, 1, 3, &scores) == EMTL_OK);
  if (scores) {
    for (int i = 0; i < 3; ++i) {
      /* emb = 0.5 * (id, -id); raw = 2 * 0.5 id - 1 * 0.5 id = 0.5 id */
      const double raw = 0.5 * (double)ids[i];
      EXPECT(close_to(scores[i * 2 + 1], raw));
      EXPECT(close_to(scores[i * 2 + 0], 1.0 / (1.0 + exp(-raw))));
    }
  }

  const int64_t bad_ids[1] = {4};
  items.ids = bad_ids;
  items.count = 1;
  EXPECT(emtl_session_score(session, &items, 1, 1, &scores) == EMTL_ERROR_ID_OUT_OF_RANGE);
  EXPECT(strstr(emtl_last_error_message(), "feature 'item'") != NULL);
  EXPECT(scores == NULL);
  EXPECT(emtl_session_score(session, &items, 1, 5, &scores) == EMTL_ERROR_INVALID_ARGUMENT);
  EXPECT(emtl_session_score(session, NULL, 0, 1, &scores) == EMTL_ERROR_MISSING_FEATURE);
  const float nan_values[2] = {NAN, 1.0f};
  user.values = nan_values;
  EXPECT(emtl_session_set_user(session, &user, 1) == EMTL_ERROR_INVALID_VALUE);
  EXPECT(strcmp(emtl_status_name(EMTL_ERROR_INVALID_VALUE), "InvalidValue") == 0);

  emtl_model* none = NULL;
  EXPECT(emtl_model_load_file("/nonexistent.emtl", &none) == EMTL_ERROR_IO);
  EXPECT(none == NULL);
  EXPECT(strstr(emtl_last_error_message(), "/nonexistent.emtl") != NULL);
  EXPECT(emtl_model_load_buffer(bytes, 16, &none) == EMTL_ERROR_INVALID_MODEL);
  EXPECT(emtl_session_create(NULL, NULL, &session) == EMTL_ERROR_INVALID_ARGUMENT);

  emtl_session_free(session);

  float reference[6];
  EXPECT(score_three(model, reference) == 0);
  test_version_and_metadata(model);
  test_struct_sizes(model);
  test_arena_bound(model);
  test_verify_weights(model, bytes, size);
  test_loading(bytes, size, reference);
  test_named_inputs(model, reference);
  test_rank(model, reference);
  test_log_callback();

  emtl_model_free(model);
  emtl_session_free(NULL);
  emtl_model_free(NULL);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("c_api_test: all passed\n");
  return failures ? 1 : 0;
}
