package org.edgemtl;

import java.util.Map;

/**
 * Scoring state for one model (emtl_session): the arena, the kernels and the user cache. Not
 * thread-safe: one Session per thread. Close it before its model.
 */
public final class Session implements AutoCloseable {
  /** Session settings (emtl_session_options). */
  public static final class Options {
    long maxItems = 4096;
    int threads = 1;
    boolean mapOutOfRangeIds = false;
    long maxArenaBytes = 1L << 30;

    /** Largest n for score (default 4096). */
    public Options maxItems(long maxItems) {
      this.maxItems = maxItems;
      return this;
    }

    /** Kernel threads including the caller's (default 1). */
    public Options threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** Out-of-range ids read the model's default row, if it has one (default false). */
    public Options mapOutOfRangeIds(boolean map) {
      this.mapOutOfRangeIds = map;
      return this;
    }

    /**
     * The most the session allocates for each block sized from the model file (arena, candidate
     * cache, scratch, scores, packed weights); a model needing more fails with OUT_OF_MEMORY before
     * allocating (default 1 GiB; SessionOptions::max_arena_bytes).
     */
    public Options maxArenaBytes(long bytes) {
      this.maxArenaBytes = bytes;
      return this;
    }
  }

  private final Model model;
  private long handle;

  public Session(Model model) {
    this(model, new Options());
  }

  public Session(Model model, Options options) {
    if (model == null || options == null)
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "model and options must not be null");
    if (options.maxItems < 0)
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "maxItems " + options.maxItems + " is negative");
    if (options.maxArenaBytes < 0)
      throw EdgemtlException.of(
          EdgemtlException.INVALID_ARGUMENT, "maxArenaBytes " + options.maxArenaBytes + " is negative");
    this.model = model;
    synchronized (model) {
      this.handle = NativeApi.sessionCreate(
          model.handle(), options.maxItems, options.threads, options.mapOutOfRangeIds, options.maxArenaBytes);
      model.sessionOpened();
    }
  }

  public Model model() {
    return model;
  }

  /** Runs the user stage on one row: every USER feature once; cached for the following score calls. */
  public void setUser(Features user) {
    check(user);
    NativeApi.sessionSetUser(handle(), user.indexArray(), user.arrayArray());
  }

  public void setUser(Map<String, ?> user) {
    setUser(Features.of(model, user));
  }

  /**
   * Scores {@code n} items given every ITEM feature with n rows. Returns n * numTasks scores,
   * row-major (item, task), in a new array.
   */
  public float[] score(Features items, int n) {
    check(items);
    return NativeApi.sessionScore(handle(), items.indexArray(), items.arrayArray(), n);
  }

  public float[] score(Map<String, ?> items, int n) {
    return score(Features.of(model, items), n);
  }

  /**
   * Runs the item stage on {@code n} candidates (every ITEM feature with n rows) and keeps what the
   * cross stage reads (the candidate cache); needs no user. Replaces the previous candidates.
   */
  public void setCandidates(Features items, int n) {
    check(items);
    NativeApi.sessionSetCandidates(handle(), items.indexArray(), items.arrayArray(), n);
  }

  public void setCandidates(Map<String, ?> items, int n) {
    setCandidates(Features.of(model, items), n);
  }

  /**
   * Replaces the cached candidates at {@code positions} by new ones given with positions.length
   * rows per ITEM feature: row j becomes candidate positions[j]. On failure no candidates are kept.
   */
  public void replaceCandidates(long[] positions, Features items) {
    check(items);
    NativeApi.sessionReplaceCandidates(handle(), positions, items.indexArray(), items.arrayArray());
  }

  public void replaceCandidates(long[] positions, Map<String, ?> items) {
    replaceCandidates(positions, Features.of(model, items));
  }

  /**
   * Scores the cached candidates for the user of the last setUser (the cross stage only):
   * numCandidates() * numTasks scores, row-major, equal to score() of the same user and items.
   */
  public float[] rank() {
    return NativeApi.sessionRank(handle());
  }

  /** Candidates in the cache (0 before setCandidates or after a failed one). */
  public long numCandidates() {
    return NativeApi.sessionNumCandidates(handle());
  }

  /** Bytes of the candidate cache, allocated by the first setCandidates. */
  public long candidateCacheBytes() {
    return NativeApi.sessionCandidateCacheBytes(handle());
  }

  /** Bytes of the activation arena (one per tile lane). */
  public long arenaBytes() {
    return NativeApi.sessionArenaBytes(handle());
  }

  /**
   * Item tiles run at once, each in a lane with its own arena: 1, or up to {@code threads} when the
   * model's GEMMs can be shared between lanes (the runtime's own x86-64 kernels).
   */
  public long tileLanes() {
    return NativeApi.sessionTileLanes(handle());
  }

  /** Frees the native session. Idempotent. */
  @Override
  public synchronized void close() {
    if (handle != 0) {
      NativeApi.sessionFree(handle);
      handle = 0;
      model.sessionClosed();
    }
  }

  private long handle() {
    if (handle == 0) throw EdgemtlException.of(EdgemtlException.INVALID_STATE, "the session is closed");
    return handle;
  }

  private void check(Features features) {
    if (features == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "features is null");
    if (features.model() != model)
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "the features were built for another model");
  }
}
