package org.edgemtl;

import java.nio.ByteBuffer;

/** The JNI shim over edgemtl.h (libedgemtl_jni). Handles are C pointers in longs. */
final class NativeApi {
  private NativeApi() {}

  static {
    // -Dedgemtl.library=/path/to/libedgemtl_jni.so, else the library path (Android: the APK's lib/<abi>/).
    String explicit = System.getProperty("edgemtl.library");
    if (explicit != null && !explicit.isEmpty()) {
      System.load(explicit);
    } else {
      System.loadLibrary("edgemtl_jni");
    }
  }

  static native String version();

  static native int formatVersion();

  static native String statusName(int status);

  static native long modelLoadFile(String path);

  /** Direct buffers: `address + position`, `length` bytes; used in place when 64-byte aligned. */
  static native long modelLoadDirect(ByteBuffer buffer, int position, int length);

  /** Copies `length` bytes of `array` from `offset` into aligned native memory the model owns. */
  static native long modelLoadArray(byte[] array, int offset, int length);

  static native long modelLoadFd(int fd, long offset, long length);

  static native int fileDescriptorInt(java.io.FileDescriptor descriptor);

  static native void modelFree(long model);

  static native String[] featureNames(long model);

  /** Per feature: side, kind, width, padding id, table size. */
  static native long[] featureInfo(long model, int index);

  static native String[] taskNames(long model);

  static native int[] taskKinds(long model);

  static native int findFeature(long model, String name);

  static native String producer(long model);

  static native int modelFormatVersion(long model);

  static native void verifyWeights(long model);

  /** key0, value0, key1, value1, ... */
  static native String[] metadata(long model);

  static native long sessionCreate(
      long model, long maxItems, int threads, boolean mapOutOfRangeIds, long maxArenaBytes);

  static native void sessionFree(long session);

  /** arrays[i] is a long[] (ids) or a float[] (values) of feature features[i]. */
  static native void sessionSetUser(long session, int[] features, Object[] arrays);

  static native float[] sessionScore(long session, int[] features, Object[] arrays, int n);

  static native long sessionArenaBytes(long session);

  static native long sessionTileLanes(long session);

  static native void sessionSetCandidates(long session, int[] features, Object[] arrays, int n);

  static native void sessionReplaceCandidates(long session, long[] positions, int[] features, Object[] arrays);

  static native float[] sessionRank(long session);

  static native long sessionNumCandidates(long session);

  static native long sessionCandidateCacheBytes(long session);
}
