// JNI shim for org.edgemtl.NativeApi over the C API (edgemtl.h) only. Every
// failure throws org.edgemtl.EdgemtlException(status, name, message).
#include <jni.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "edgemtl.h"

namespace {

jclass exception_class = nullptr;  // global ref to org.edgemtl.EdgemtlException
jmethodID exception_init = nullptr;

void throw_status(JNIEnv* env, int status, const char* message) {
  if (env->ExceptionCheck()) return;  // keep the first
  jstring name = env->NewStringUTF(emtl_status_name(static_cast<emtl_status>(status)));
  jstring text = env->NewStringUTF(message);
  jobject error = env->NewObject(exception_class, exception_init, static_cast<jint>(status), name, text);
  if (error) env->Throw(static_cast<jthrowable>(error));
}

void throw_last(JNIEnv* env, emtl_status status) { throw_status(env, status, emtl_last_error_message()); }

emtl_model* model_of(jlong handle) { return reinterpret_cast<emtl_model*>(static_cast<intptr_t>(handle)); }
emtl_session* session_of(jlong handle) { return reinterpret_cast<emtl_session*>(static_cast<intptr_t>(handle)); }
jlong handle_of(const void* pointer) { return static_cast<jlong>(reinterpret_cast<intptr_t>(pointer)); }

// Calls `use` with every feature's / task's info; false (exception thrown) on failure.
template <typename Info, typename Count, typename Get, typename Use>
bool collect(JNIEnv* env, const emtl_model* model, Count count, Get get, Use use) {
  for (size_t i = 0; i < count(model); ++i) {
    Info info;
    info.struct_size = sizeof(info);
    const emtl_status status = get(model, i, &info);
    if (status != EMTL_OK) return throw_last(env, status), false;
    use(info);
  }
  return true;
}

template <typename Use>
bool collect_features(JNIEnv* env, const emtl_model* model, Use use) {
  return collect<emtl_feature_info>(env, model, emtl_model_num_features, emtl_model_feature_info, use);
}

template <typename Use>
bool collect_tasks(JNIEnv* env, const emtl_model* model, Use use) {
  return collect<emtl_task_info>(env, model, emtl_model_num_tasks, emtl_model_task_info, use);
}

jobjectArray string_array(JNIEnv* env, const std::vector<const char*>& strings) {
  jclass string_class = env->FindClass("java/lang/String");
  if (!string_class) return nullptr;
  jobjectArray out = env->NewObjectArray(static_cast<jsize>(strings.size()), string_class, nullptr);
  for (size_t i = 0; out && i < strings.size(); ++i) {
    jstring s = env->NewStringUTF(strings[i]);
    if (!s) return nullptr;
    env->SetObjectArrayElement(out, static_cast<jsize>(i), s);
    env->DeleteLocalRef(s);
  }
  return out;
}

// The primitive arrays of one call, pinned or copied by the JVM, released
// (without copy-back) when this goes out of scope.
class PinnedInputs {
 public:
  PinnedInputs(JNIEnv* env, jintArray features, jobjectArray arrays) : env_(env) {
    if (!features || !arrays) { fail(EMTL_ERROR_INVALID_ARGUMENT, "features and arrays must not be null"); return; }
    const jsize count = env->GetArrayLength(features);
    if (env->GetArrayLength(arrays) != count) { fail(EMTL_ERROR_INVALID_ARGUMENT, "one array per feature"); return; }
    std::vector<jint> indices(static_cast<size_t>(count));
    env->GetIntArrayRegion(features, 0, count, indices.data());
    jclass long_array = env->FindClass("[J");
    jclass float_array = env->FindClass("[F");
    if (!long_array || !float_array) return;
    inputs_.resize(static_cast<size_t>(count));
    for (jsize i = 0; i < count; ++i) {
      jobject array = env->GetObjectArrayElement(arrays, i);
      emtl_feature_input& input = inputs_[static_cast<size_t>(i)];
      input.feature = indices[static_cast<size_t>(i)];
      input.ids = nullptr;
      input.values = nullptr;
      if (array && env->IsInstanceOf(array, long_array)) {
        jlongArray longs = static_cast<jlongArray>(array);
        jlong* elements = env->GetLongArrayElements(longs, nullptr);
        if (!elements) { fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot access a long[]"); return; }
        held_.push_back({array, elements, true});
        static_assert(sizeof(jlong) == sizeof(int64_t), "jlong is int64_t");
        input.ids = reinterpret_cast<const int64_t*>(elements);
        input.count = static_cast<size_t>(env->GetArrayLength(longs));
      } else if (array && env->IsInstanceOf(array, float_array)) {
        jfloatArray floats = static_cast<jfloatArray>(array);
        jfloat* elements = env->GetFloatArrayElements(floats, nullptr);
        if (!elements) { fail(EMTL_ERROR_OUT_OF_MEMORY, "cannot access a float[]"); return; }
        held_.push_back({array, elements, false});
        input.values = elements;
        input.count = static_cast<size_t>(env->GetArrayLength(floats));
      } else {
        { fail(EMTL_ERROR_INVALID_ARGUMENT, "each feature array must be a long[] or a float[]"); return; }
      }
    }
    ok_ = true;
  }

  ~PinnedInputs() {
    for (const Held& held : held_) {
      if (held.ids)
        env_->ReleaseLongArrayElements(static_cast<jlongArray>(held.array), static_cast<jlong*>(held.elements), JNI_ABORT);
      else
        env_->ReleaseFloatArrayElements(static_cast<jfloatArray>(held.array), static_cast<jfloat*>(held.elements),
                                        JNI_ABORT);
      env_->DeleteLocalRef(held.array);
    }
  }

  bool ok() const { return ok_; }
  const emtl_feature_input* data() const { return inputs_.data(); }
  size_t size() const { return inputs_.size(); }

 private:
  struct Held {
    jobject array;
    void* elements;
    bool ids;
  };
  void fail(emtl_status status, const char* message) { throw_status(env_, status, message); }

  JNIEnv* env_;
  bool ok_ = false;
  std::vector<emtl_feature_input> inputs_;
  std::vector<Held> held_;
};

// A new Java array of n rows of scores (n * num_tasks floats, owned by the session until its next call).
jfloatArray scores_array(JNIEnv* env, emtl_session* session, const float* scores, size_t n) {
  const size_t count = n * emtl_model_num_tasks(emtl_session_model(session));
  jfloatArray out = env->NewFloatArray(static_cast<jsize>(count));
  if (out) env->SetFloatArrayRegion(out, 0, static_cast<jsize>(count), scores);
  return out;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  jclass local = env->FindClass("org/edgemtl/EdgemtlException");
  if (!local) return JNI_ERR;
  exception_class = static_cast<jclass>(env->NewGlobalRef(local));
  exception_init = env->GetMethodID(exception_class, "<init>", "(ILjava/lang/String;Ljava/lang/String;)V");
  return exception_init ? JNI_VERSION_1_6 : JNI_ERR;
}

JNIEXPORT jstring JNICALL Java_org_edgemtl_NativeApi_version(JNIEnv* env, jclass) {
  return env->NewStringUTF(emtl_version());
}

JNIEXPORT jint JNICALL Java_org_edgemtl_NativeApi_formatVersion(JNIEnv*, jclass) {
  return static_cast<jint>(emtl_format_version());
}

JNIEXPORT jstring JNICALL Java_org_edgemtl_NativeApi_statusName(JNIEnv* env, jclass, jint status) {
  return env->NewStringUTF(emtl_status_name(static_cast<emtl_status>(status)));
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_modelLoadFile(JNIEnv* env, jclass, jstring path) {
  const char* chars = env->GetStringUTFChars(path, nullptr);
  if (!chars) return 0;
  emtl_model* model = nullptr;
  const emtl_status status = emtl_model_load_file(chars, &model);
  env->ReleaseStringUTFChars(path, chars);
  if (status != EMTL_OK) throw_last(env, status);
  return handle_of(model);
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_modelLoadDirect(JNIEnv* env, jclass, jobject buffer, jint position,
                                                                   jint length) {
  uint8_t* address = static_cast<uint8_t*>(env->GetDirectBufferAddress(buffer));
  const jlong capacity = env->GetDirectBufferCapacity(buffer);
  if (!address || capacity < 0) {
    throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "the buffer is not a direct buffer this JVM gives access to");
    return 0;
  }
  if (position < 0 || length < 0 || static_cast<jlong>(position) + length > capacity) {
    throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "position and length lie outside the buffer");
    return 0;
  }
  // Aligned: used in place (the Java Model keeps the buffer reachable);
  // unaligned: emtl_model_load_buffer copies into memory the model owns.
  emtl_model* model = nullptr;
  const emtl_status status = emtl_model_load_buffer(address + position, static_cast<size_t>(length), &model);
  if (status != EMTL_OK) throw_last(env, status);
  return handle_of(model);
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_modelLoadArray(JNIEnv* env, jclass, jbyteArray array, jint offset,
                                                                  jint length) {
  if (!array || offset < 0 || length < 0 || offset > env->GetArrayLength(array) - length) {
    throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "offset and length lie outside the array");
    return 0;
  }
  // The JVM may move a Java array, so the model must own a copy. Staged one
  // byte past a 64-byte boundary, emtl_model_load_buffer always copies it
  // into aligned memory of its own, and the staging buffer goes at once.
  void* staging = std::malloc(static_cast<size_t>(length) + 64);
  if (!staging) {
    throw_status(env, EMTL_ERROR_OUT_OF_MEMORY, "cannot allocate a copy of the model bytes");
    return 0;
  }
  uint8_t* start = static_cast<uint8_t*>(staging);
  while (reinterpret_cast<uintptr_t>(start) % 64 != 1) ++start;
  env->GetByteArrayRegion(array, offset, length, reinterpret_cast<jbyte*>(start));
  emtl_model* model = nullptr;
  const emtl_status status = emtl_model_load_buffer(start, static_cast<size_t>(length), &model);
  std::free(staging);
  if (status != EMTL_OK) throw_last(env, status);
  return handle_of(model);
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_modelLoadFd(JNIEnv* env, jclass, jint fd, jlong offset,
                                                               jlong length) {
  emtl_model* model = nullptr;
  const emtl_status status = emtl_model_load_fd(fd, offset, length, &model);
  if (status != EMTL_OK) throw_last(env, status);
  return handle_of(model);
}

JNIEXPORT jint JNICALL Java_org_edgemtl_NativeApi_fileDescriptorInt(JNIEnv* env, jclass, jobject descriptor) {
  jclass type = env->GetObjectClass(descriptor);
  // OpenJDK names the field "fd", Android "descriptor".
  jfieldID field = env->GetFieldID(type, "fd", "I");
  if (!field) {
    env->ExceptionClear();
    field = env->GetFieldID(type, "descriptor", "I");
  }
  if (!field) {
    env->ExceptionClear();
    throw_status(env, EMTL_ERROR_UNSUPPORTED, "cannot read the descriptor number of this JVM's FileDescriptor");
    return -1;
  }
  return env->GetIntField(descriptor, field);
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_modelFree(JNIEnv*, jclass, jlong model) {
  emtl_model_free(model_of(model));
}

JNIEXPORT jobjectArray JNICALL Java_org_edgemtl_NativeApi_featureNames(JNIEnv* env, jclass, jlong handle) {
  std::vector<const char*> names;
  if (!collect_features(env, model_of(handle), [&](const emtl_feature_info& info) { names.push_back(info.name); }))
    return nullptr;
  return string_array(env, names);
}

JNIEXPORT jlongArray JNICALL Java_org_edgemtl_NativeApi_featureInfo(JNIEnv* env, jclass, jlong handle, jint index) {
  emtl_feature_info info;
  info.struct_size = sizeof(info);
  const emtl_status status = emtl_model_feature_info(model_of(handle), static_cast<size_t>(index), &info);
  if (status != EMTL_OK) return throw_last(env, status), nullptr;
  const jlong values[5] = {info.side, info.kind, info.width, info.padding_id, info.table_size};
  jlongArray out = env->NewLongArray(5);
  if (out) env->SetLongArrayRegion(out, 0, 5, values);
  return out;
}

JNIEXPORT jobjectArray JNICALL Java_org_edgemtl_NativeApi_taskNames(JNIEnv* env, jclass, jlong handle) {
  std::vector<const char*> names;
  if (!collect_tasks(env, model_of(handle), [&](const emtl_task_info& info) { names.push_back(info.name); }))
    return nullptr;
  return string_array(env, names);
}

JNIEXPORT jintArray JNICALL Java_org_edgemtl_NativeApi_taskKinds(JNIEnv* env, jclass, jlong handle) {
  std::vector<jint> kinds;
  if (!collect_tasks(env, model_of(handle), [&](const emtl_task_info& info) { kinds.push_back(info.kind); }))
    return nullptr;
  jintArray out = env->NewIntArray(static_cast<jsize>(kinds.size()));
  if (out) env->SetIntArrayRegion(out, 0, static_cast<jsize>(kinds.size()), kinds.data());
  return out;
}

JNIEXPORT jint JNICALL Java_org_edgemtl_NativeApi_findFeature(JNIEnv* env, jclass, jlong handle, jstring name) {
  const char* chars = env->GetStringUTFChars(name, nullptr);
  if (!chars) return -1;
  const int32_t index = emtl_model_find_feature(model_of(handle), chars);
  env->ReleaseStringUTFChars(name, chars);
  if (index < 0) throw_status(env, EMTL_ERROR_NOT_FOUND, emtl_last_error_message());
  return index;
}

JNIEXPORT jstring JNICALL Java_org_edgemtl_NativeApi_producer(JNIEnv* env, jclass, jlong handle) {
  return env->NewStringUTF(emtl_model_producer(model_of(handle)));
}

JNIEXPORT jint JNICALL Java_org_edgemtl_NativeApi_modelFormatVersion(JNIEnv*, jclass, jlong handle) {
  return static_cast<jint>(emtl_model_format_version(model_of(handle)));
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_verifyWeights(JNIEnv* env, jclass, jlong handle) {
  const emtl_status status = emtl_model_verify_weights(model_of(handle));
  if (status != EMTL_OK) throw_last(env, status);
}

JNIEXPORT jobjectArray JNICALL Java_org_edgemtl_NativeApi_metadata(JNIEnv* env, jclass, jlong handle) {
  const emtl_model* model = model_of(handle);
  std::vector<const char*> flat;
  for (size_t i = 0; i < emtl_model_num_metadata(model); ++i) {
    const char *key = nullptr, *value = nullptr;
    const emtl_status status = emtl_model_metadata(model, i, &key, &value);
    if (status != EMTL_OK) return throw_last(env, status), nullptr;
    flat.push_back(key);
    flat.push_back(value);
  }
  return string_array(env, flat);
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_sessionCreate(JNIEnv* env, jclass, jlong model, jlong max_items,
                                                                 jint threads, jboolean map_out_of_range_ids,
                                                                 jlong max_arena_bytes) {
  emtl_session_options options = emtl_session_options_default();
  options.max_items = static_cast<size_t>(max_items);
  options.threads = threads;
  options.map_out_of_range_ids = map_out_of_range_ids ? 1 : 0;
  options.max_arena_bytes = static_cast<size_t>(max_arena_bytes);  // >= 0, checked by Session
  emtl_session* session = nullptr;
  const emtl_status status = emtl_session_create(model_of(model), &options, &session);
  if (status != EMTL_OK) throw_last(env, status);
  return handle_of(session);
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_sessionFree(JNIEnv*, jclass, jlong session) {
  emtl_session_free(session_of(session));
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_sessionSetUser(JNIEnv* env, jclass, jlong session,
                                                                 jintArray features, jobjectArray arrays) {
  PinnedInputs inputs(env, features, arrays);
  if (!inputs.ok()) return;
  const emtl_status status = emtl_session_set_user(session_of(session), inputs.data(), inputs.size());
  if (status != EMTL_OK) throw_last(env, status);
}

JNIEXPORT jfloatArray JNICALL Java_org_edgemtl_NativeApi_sessionScore(JNIEnv* env, jclass, jlong handle,
                                                                      jintArray features, jobjectArray arrays, jint n) {
  if (n < 1) {
    throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "n must be at least 1");
    return nullptr;
  }
  const float* scores = nullptr;
  emtl_session* session = session_of(handle);
  emtl_status status;
  {
    PinnedInputs inputs(env, features, arrays);
    if (!inputs.ok()) return nullptr;
    status = emtl_session_score(session, inputs.data(), inputs.size(), static_cast<size_t>(n), &scores);
  }
  if (status != EMTL_OK) return throw_last(env, status), nullptr;
  return scores_array(env, session, scores, static_cast<size_t>(n));
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_sessionSetCandidates(JNIEnv* env, jclass, jlong session,
                                                                       jintArray features, jobjectArray arrays,
                                                                       jint n) {
  if (n < 1) return throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "n must be at least 1");
  PinnedInputs inputs(env, features, arrays);
  if (!inputs.ok()) return;
  const emtl_status status =
      emtl_session_set_candidates(session_of(session), inputs.data(), inputs.size(), static_cast<size_t>(n));
  if (status != EMTL_OK) throw_last(env, status);
}

JNIEXPORT void JNICALL Java_org_edgemtl_NativeApi_sessionReplaceCandidates(JNIEnv* env, jclass, jlong session,
                                                                           jlongArray positions, jintArray features,
                                                                           jobjectArray arrays) {
  const jsize k = positions ? env->GetArrayLength(positions) : 0;
  std::vector<size_t> at(static_cast<size_t>(k));
  std::vector<jlong> given(static_cast<size_t>(k));
  if (k > 0) env->GetLongArrayRegion(positions, 0, k, given.data());
  for (jsize j = 0; j < k; ++j) {
    if (given[j] < 0) return throw_status(env, EMTL_ERROR_INVALID_ARGUMENT, "a candidate position is negative");
    at[j] = static_cast<size_t>(given[j]);
  }
  PinnedInputs inputs(env, features, arrays);
  if (!inputs.ok()) return;
  const emtl_status status =
      emtl_session_replace_candidates(session_of(session), at.data(), at.size(), inputs.data(), inputs.size());
  if (status != EMTL_OK) throw_last(env, status);
}

JNIEXPORT jfloatArray JNICALL Java_org_edgemtl_NativeApi_sessionRank(JNIEnv* env, jclass, jlong handle) {
  emtl_session* session = session_of(handle);
  const float* scores = nullptr;
  const emtl_status status = emtl_session_rank(session, &scores);
  if (status != EMTL_OK) return throw_last(env, status), nullptr;
  return scores_array(env, session, scores, emtl_session_num_candidates(session));
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_sessionNumCandidates(JNIEnv*, jclass, jlong session) {
  return static_cast<jlong>(emtl_session_num_candidates(session_of(session)));
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_sessionCandidateCacheBytes(JNIEnv*, jclass, jlong session) {
  return static_cast<jlong>(emtl_session_candidate_cache_bytes(session_of(session)));
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_sessionArenaBytes(JNIEnv*, jclass, jlong session) {
  return static_cast<jlong>(emtl_session_arena_bytes(session_of(session)));
}

JNIEXPORT jlong JNICALL Java_org_edgemtl_NativeApi_sessionTileLanes(JNIEnv*, jclass, jlong session) {
  return static_cast<jlong>(emtl_session_tile_lanes(session_of(session)));
}

}  // extern "C"
