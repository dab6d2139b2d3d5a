package org.edgemtl;

import java.io.FileDescriptor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An immutable, verified model (emtl_model). Thread-safe: share one Model between threads, each
 * with its own {@link Session}. Close it after every session created from it.
 */
public final class Model implements AutoCloseable {
  private long handle;
  private int openSessions;
  private final ByteBuffer keepAlive; // a direct buffer used in place
  private final List<FeatureInfo> features;
  private final List<TaskInfo> tasks;
  private final Map<String, Integer> featureIndex = new HashMap<>();

  private Model(long handle, ByteBuffer keepAlive) {
    this.handle = handle;
    this.keepAlive = keepAlive;
    String[] names = NativeApi.featureNames(handle);
    List<FeatureInfo> featureList = new ArrayList<>(names.length);
    for (int i = 0; i < names.length; ++i) {
      featureList.add(new FeatureInfo(i, names[i], NativeApi.featureInfo(handle, i)));
      featureIndex.put(names[i], i);
    }
    features = Collections.unmodifiableList(featureList);
    String[] taskNames = NativeApi.taskNames(handle);
    int[] kinds = NativeApi.taskKinds(handle);
    List<TaskInfo> taskList = new ArrayList<>(taskNames.length);
    for (int i = 0; i < taskNames.length; ++i) taskList.add(new TaskInfo(i, taskNames[i], kinds[i] == 0));
    tasks = Collections.unmodifiableList(taskList);
  }

  /** Memory-maps and verifies the .emtl file at {@code path}. */
  public static Model fromFile(String path) {
    if (path == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "path is null");
    return new Model(NativeApi.modelLoadFile(path), null);
  }

  /**
   * Loads the bytes between the buffer's position and limit (the position is not moved). A direct
   * buffer whose bytes start 64-byte aligned (e.g. {@code FileChannel.map}, or {@code
   * allocateDirect(n).alignedSlice(64)}) is used in place: the Model keeps a reference to it, and
   * its contents must not change while the Model is open. Any other buffer (heap, read-only,
   * unaligned direct) is copied into aligned native memory the Model owns.
   */
  public static Model fromByteBuffer(ByteBuffer buffer) {
    if (buffer == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "buffer is null");
    int position = buffer.position(), length = buffer.remaining();
    if (buffer.isDirect()) {
      return new Model(NativeApi.modelLoadDirect(buffer, position, length), buffer);
    }
    if (buffer.hasArray()) {
      return new Model(NativeApi.modelLoadArray(buffer.array(), buffer.arrayOffset() + position, length), null);
    }
    byte[] bytes = new byte[length]; // read-only heap buffer: no array access
    buffer.duplicate().get(bytes);
    return new Model(NativeApi.modelLoadArray(bytes, 0, length), null);
  }

  /** Copies {@code bytes} into aligned native memory and loads them. */
  public static Model fromBytes(byte[] bytes) {
    if (bytes == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "bytes is null");
    return new Model(NativeApi.modelLoadArray(bytes, 0, bytes.length), null);
  }

  /**
   * Loads {@code length} bytes at {@code offset} of an open file (length 0: to the end), as an
   * Android {@code AssetFileDescriptor} describes an uncompressed asset inside the APK
   * ({@code getFileDescriptor(), getStartOffset(), getLength()}). Mapped in place when the offset
   * is a multiple of 64, read into aligned memory otherwise. The descriptor is neither closed nor
   * moved and may be closed once this returns.
   */
  public static Model fromFileDescriptor(FileDescriptor descriptor, long offset, long length) {
    if (descriptor == null || !descriptor.valid())
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "the file descriptor is null or closed");
    return fromFd(NativeApi.fileDescriptorInt(descriptor), offset, length);
  }

  /** The same with a raw descriptor number (Android: {@code ParcelFileDescriptor.getFd()}). */
  public static Model fromFd(int fd, long offset, long length) {
    return new Model(NativeApi.modelLoadFd(fd, offset, length), null);
  }

  /** Library version, e.g. "0.2.0". */
  public static String version() {
    return NativeApi.version();
  }

  /** Newest model format version this library reads. */
  public static int libraryFormatVersion() {
    return NativeApi.formatVersion();
  }

  long handle() {
    if (handle == 0) throw EdgemtlException.of(EdgemtlException.INVALID_STATE, "the model is closed");
    return handle;
  }

  public List<FeatureInfo> features() {
    return features;
  }

  public List<TaskInfo> tasks() {
    return tasks;
  }

  public int numTasks() {
    return tasks.size();
  }

  /** Index of the feature named {@code name}; throws NOT_FOUND when there is none. */
  public int featureIndex(String name) {
    Integer index = featureIndex.get(name);
    if (index == null)
      throw EdgemtlException.of(EdgemtlException.NOT_FOUND, "no feature named '" + name + "'");
    return index;
  }

  public FeatureInfo feature(String name) {
    return features.get(featureIndex(name));
  }

  /** The converter that wrote the file, e.g. "edgemtl-convert 0.1". */
  public String producer() {
    return NativeApi.producer(handle());
  }

  /** format_version of the file. */
  public int formatVersion() {
    return NativeApi.modelFormatVersion(handle());
  }

  /**
   * Checks the weights against the checksum stored in the file (emtl_model_verify_weights): throws
   * INVALID_MODEL when one is corrupt, UNSUPPORTED for a file written before checksums.
   */
  public void verifyWeights() {
    NativeApi.verifyWeights(handle());
  }

  /** Key/value metadata set at conversion (edgemtl-convert --metadata), in file order. */
  public Map<String, String> metadata() {
    String[] flat = NativeApi.metadata(handle());
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i + 1 < flat.length; i += 2) out.put(flat[i], flat[i + 1]);
    return Collections.unmodifiableMap(out);
  }

  public Session newSession() {
    return new Session(this, new Session.Options());
  }

  public Session newSession(Session.Options options) {
    return new Session(this, options);
  }

  synchronized void sessionOpened() {
    handle();
    ++openSessions;
  }

  synchronized void sessionClosed() {
    --openSessions;
  }

  /** Frees the native model; throws INVALID_STATE while sessions of it are open. Idempotent. */
  @Override
  public synchronized void close() {
    if (openSessions > 0)
      throw EdgemtlException.of(EdgemtlException.INVALID_STATE,
          "the model still has " + openSessions + " open session(s): close them first");
    if (handle != 0) {
      NativeApi.modelFree(handle);
      handle = 0;
    }
  }

  ByteBuffer buffer() {
    return keepAlive;
  }
}
