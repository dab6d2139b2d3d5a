/* rank_items_c (C API, C99): the same program as rank_items.cc through
 * edgemtl.h, as a JNI or Swift wrapper would use it.
 *   rank_items_c MODEL.emtl [NUM_ITEMS] */
#include <edgemtl.h>
#include <stdio.h>
#include <stdlib.h>

/* Same synthetic rule as rank_items.cc. */
static int64_t synthetic_id(const emtl_feature_info* info, size_t f, size_t r, int64_t k) {
  return (int64_t)((r * 7 + (size_t)k * 3 + f + 1) % (size_t)info->table_size);
}
static float synthetic_value(size_t f, size_t r, int64_t k) { return 0.1f * (float)((r + (size_t)k + f) % 10); }

/* Fills inputs for every feature of `side`, rows [first_row, first_row + rows).
 * Returns the number of inputs; buffers are malloc'ed into ids / values. */
static size_t fill_features(const emtl_model* model, emtl_side side, size_t first_row, size_t rows,
                            emtl_feature_input* inputs, void** buffers) {
  size_t count = 0;
  for (size_t f = 0; f < emtl_model_num_features(model); ++f) {
    emtl_feature_info info;
    info.struct_size = sizeof(info);
    if (emtl_model_feature_info(model, f, &info) != EMTL_OK || info.side != side) continue;
    size_t n = rows * (size_t)info.width;
    emtl_feature_input* input = &inputs[count];
    input->feature = (int32_t)f;
    input->ids = NULL;
    input->values = NULL;
    input->count = n;
    if (info.kind == EMTL_FEATURE_DENSE) {
      float* values = malloc(n * sizeof(float));
      if (!values) exit(1);
      for (size_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < info.width; ++k) values[r * (size_t)info.width + (size_t)k] = synthetic_value(f, first_row + r, k);
      input->values = values;
      buffers[count] = values;
    } else {
      int64_t* ids = malloc(n * sizeof(int64_t));
      if (!ids) exit(1);
      for (size_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < info.width; ++k) ids[r * (size_t)info.width + (size_t)k] = synthetic_id(&info, f, first_row + r, k);
      input->ids = ids;
      buffers[count] = ids;
    }
    ++count;
  }
  return count;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.emtl [NUM_ITEMS]\n", argv[0]);
    return 2;
  }
  size_t num_items = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
  if (num_items < 1 || num_items > 4096) {
    fprintf(stderr, "NUM_ITEMS must be in [1, 4096]\n");
    return 2;
  }

  emtl_model* model = NULL;
  if (emtl_model_load_file(argv[1], &model) != EMTL_OK) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], emtl_last_error_message());
    return 1;
  }
  emtl_session_options options = emtl_session_options_default();
  options.max_items = num_items;
  emtl_session* session = NULL;
  if (emtl_session_create(model, &options, &session) != EMTL_OK) {
    fprintf(stderr, "cannot create a session: %s\n", emtl_last_error_message());
    emtl_model_free(model);
    return 1;
  }

  size_t num_features = emtl_model_num_features(model);
  emtl_feature_input* inputs = calloc(num_features + 1, sizeof(emtl_feature_input));
  void** buffers = calloc(num_features + 1, sizeof(void*));
  size_t num_tasks = emtl_model_num_tasks(model);
  double* ranking = malloc(num_items * sizeof(double));
  size_t* order = malloc(num_items * sizeof(size_t));
  int exit_code = 1;
  const float* scores = NULL;
  if (!inputs || !buffers || !ranking || !order) goto done;

  size_t num_user = fill_features(model, EMTL_SIDE_USER, 0, 1, inputs, buffers);
  if (num_user > 0 && emtl_session_set_user(session, inputs, num_user) != EMTL_OK) {
    fprintf(stderr, "set_user: %s\n", emtl_last_error_message());
    goto done;
  }
  for (size_t i = 0; i < num_user; ++i) free(buffers[i]);
  size_t num_item = fill_features(model, EMTL_SIDE_ITEM, 1, num_items, inputs, buffers);
  emtl_status status = emtl_session_score(session, inputs, num_item, num_items, &scores);
  for (size_t i = 0; i < num_item; ++i) free(buffers[i]);
  if (status != EMTL_OK) {
    fprintf(stderr, "score: %s\n", emtl_last_error_message());
    goto done;
  }

  /* Product of the probability tasks (the first task when there are none). */
  for (size_t i = 0; i < num_items; ++i) {
    int any = 0;
    ranking[i] = 1.0;
    for (size_t t = 0; t < num_tasks; ++t) {
      emtl_task_info task;
      task.struct_size = sizeof(task);
      emtl_model_task_info(model, t, &task);
      if (task.kind == EMTL_TASK_PROBABILITY) {
        ranking[i] *= scores[i * num_tasks + t];
        any = 1;
      }
    }
    if (!any) ranking[i] = scores[i * num_tasks];
  }
  /* Insertion sort, best first, stable (ties keep item order). */
  for (size_t i = 0; i < num_items; ++i) {
    size_t j = i;
    while (j > 0 && ranking[order[j - 1]] < ranking[i]) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = i;
  }
  for (size_t rank = 0; rank < num_items; ++rank) {
    size_t i = order[rank];
    printf("%zu item %zu score %.6f", rank + 1, i, ranking[i]);
    for (size_t t = 0; t < num_tasks; ++t) {
      emtl_task_info task;
      task.struct_size = sizeof(task);
      emtl_model_task_info(model, t, &task);
      printf(" %s=%.6f", task.name, scores[i * num_tasks + t]);
    }
    printf("\n");
  }
  exit_code = 0;

done:
  free(order);
  free(ranking);
  free(buffers);
  free(inputs);
  emtl_session_free(session);
  emtl_model_free(model);
  return exit_code;
}
