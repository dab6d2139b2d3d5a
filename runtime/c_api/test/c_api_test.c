/* The C API from plain C99: load, inspect, score, and the error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgemtl.h"

const void* emtl_test_two_tower_model(size_t* size);

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
  EXPECT(emtl_model_feature_info(model, 1, &info) == EMTL_OK);
  EXPECT(strcmp(info.name, "item") == 0 && info.kind == EMTL_FEATURE_ID && info.table_size == 4);
  EXPECT(emtl_model_feature_info(model, 2, &info) == EMTL_ERROR_INVALID_ARGUMENT);
  emtl_task_info task;
  EXPECT(emtl_model_task_info(model, 1, &task) == EMTL_OK);
  EXPECT(strcmp(task.name, "raw") == 0 && task.kind == EMTL_TASK_VALUE);
  EXPECT(emtl_model_find_task(model, "click") == 0);

  emtl_session_options options = emtl_session_options_default();
  options.max_items = 4;
  emtl_session* session = NULL;
  EXPECT(emtl_session_create(model, &options, &session) == EMTL_OK);
  if (!session) return 1;
  EXPECT(emtl_session_arena_bytes(session) > 0);
  EXPECT(emtl_session_packed_weight_bytes(session) == 3 * sizeof(float));

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
  emtl_model_free(model);
  emtl_session_free(NULL);
  emtl_model_free(NULL);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("c_api_test: all passed\n");
  return failures ? 1 : 0;
}
