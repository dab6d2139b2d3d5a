package org.edgemtl;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The Java binding on the PyTorch fixtures: scores against PyTorch (1e-5) and bitwise against the
 * C++ API (edgemtl-run), every loader, every error path, two threads with their own sessions.
 */
public class EdgemtlTest {
  private static final double TOLERANCE = 1e-5;
  private static final List<Fixtures> fixtures = new ArrayList<>();
  private static final Map<String, Path> models = new HashMap<>();

  @BeforeClass
  public static void convertFixtures() throws Exception {
    for (String name : Fixtures.names()) {
      Fixtures fixture = new Fixtures(name);
      fixtures.add(fixture);
      models.put(name, fixture.convert("java"));
    }
    assertTrue("fixtures found", fixtures.size() >= 5);
  }

  private static Fixtures fixture(String name) {
    for (Fixtures f : fixtures) if (f.name.equals(name)) return f;
    throw new AssertionError("no fixture " + name);
  }

  private static boolean closeEnough(double actual, double expected) {
    return Math.abs(actual - expected) <= TOLERANCE * Math.max(1.0, Math.abs(expected));
  }

  /** Row indices grouped by identical user-side values. */
  private static List<List<Integer>> users(Model model, Fixtures fixture) {
    Map<String, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < fixture.rows.size(); ++i) {
      StringBuilder key = new StringBuilder();
      for (FeatureInfo f : model.features())
        if (f.side == FeatureInfo.Side.USER) key.append(fixture.rows.get(i).get(f.name)).append('|');
      groups.computeIfAbsent(key.toString(), k -> new ArrayList<>()).add(i);
    }
    return new ArrayList<>(groups.values());
  }

  private static Map<String, Object> userMap(Model model, Map<String, Object> row) {
    Map<String, Object> user = new HashMap<>();
    for (FeatureInfo f : model.features())
      if (f.side == FeatureInfo.Side.USER) user.put(f.name, Fixtures.value(f, row.get(f.name)));
    return user;
  }

  private static Map<String, Object> itemMap(Model model, List<Map<String, Object>> rows) {
    Map<String, Object> items = new HashMap<>();
    for (FeatureInfo f : model.features())
      if (f.side == FeatureInfo.Side.ITEM) items.put(f.name, Fixtures.column(f, rows));
    return items;
  }

  /** All rows of a fixture, batched per user, through the Map API. */
  private static float[] scoreAll(Model model, Session session, Fixtures fixture) {
    int tasks = model.numTasks();
    float[] all = new float[fixture.rows.size() * tasks];
    for (List<Integer> group : users(model, fixture)) {
      List<Map<String, Object>> rows = new ArrayList<>();
      for (int i : group) rows.add(fixture.rows.get(i));
      session.setUser(userMap(model, rows.get(0)));
      float[] scores = session.score(itemMap(model, rows), rows.size());
      assertEquals(rows.size() * tasks, scores.length);
      for (int r = 0; r < group.size(); ++r) System.arraycopy(scores, r * tasks, all, group.get(r) * tasks, tasks);
    }
    return all;
  }

  @Test
  public void fixturesMatchPyTorch() throws Exception {
    for (Fixtures fixture : fixtures) {
      try (Model model = Model.fromFile(models.get(fixture.name).toString());
           Session session = model.newSession(new Session.Options().maxItems(fixture.rows.size()))) {
        assertEquals(fixture.userInputs.size(),
            model.features().stream().filter(f -> f.side == FeatureInfo.Side.USER).count());
        float[] scores = scoreAll(model, session, fixture);
        for (int i = 0; i < fixture.rows.size(); ++i) {
          for (TaskInfo task : model.tasks()) {
            double expected = ((Number) fixture.expected.get(i).get(task.name)).doubleValue();
            float got = scores[i * model.numTasks() + task.index];
            assertTrue(fixture.name + " row " + i + " " + task.name + ": " + got + " vs PyTorch " + expected,
                closeEnough(got, expected));
          }
        }
      }
    }
  }

  @Test
  public void rankOverCachedCandidatesEqualsScore() throws Exception {
    for (Fixtures fixture : fixtures) {
      try (Model model = Model.fromFile(models.get(fixture.name).toString());
           Session session = model.newSession(new Session.Options().maxItems(fixture.rows.size()))) {
        if (model.features().stream().noneMatch(f -> f.side == FeatureInfo.Side.ITEM)) continue;
        List<Integer> group = users(model, fixture).stream().max((a, b) -> a.size() - b.size()).get();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i : group) rows.add(fixture.rows.get(i));
        assertEquals(0, session.numCandidates());
        session.setCandidates(itemMap(model, rows), rows.size());
        assertEquals(rows.size(), session.numCandidates());
        assertTrue(session.candidateCacheBytes() > 0);
        assertEquals(1, session.tileLanes());  // one thread
        session.setUser(userMap(model, rows.get(0)));
        float[] ranked = session.rank();
        float[] scored = session.score(itemMap(model, rows), rows.size());
        assertArrayEquals(fixture.name, scored, ranked, 0.0f);
        int tasks = model.numTasks();
        for (int r = 0; r < rows.size(); ++r)
          for (TaskInfo task : model.tasks()) {
            double expected = ((Number) fixture.expected.get(group.get(r)).get(task.name)).doubleValue();
            assertTrue(fixture.name, closeEnough(ranked[r * tasks + task.index], expected));
          }
        if (rows.size() > 1) {
          session.replaceCandidates(new long[] {0}, itemMap(model, rows.subList(rows.size() - 1, rows.size())));
          float[] swapped = session.rank();
          for (int t = 0; t < tasks; ++t) {
            assertEquals(scored[(rows.size() - 1) * tasks + t], swapped[t], 0.0f);
            assertEquals(scored[tasks + t], swapped[tasks + t], 0.0f);
          }
        }
        final int past = rows.size();
        expectError(EdgemtlException.INVALID_ARGUMENT, "there are " + past + " candidates",
            () -> session.replaceCandidates(new long[] {past}, itemMap(model, rows.subList(0, 1))));
      }
    }
  }

  @Test
  public void scoresEqualTheCppApiRowByRow() throws Exception {
    for (Fixtures fixture : fixtures) {
      Path path = models.get(fixture.name);
      String out = Fixtures.run(Arrays.asList(Fixtures.RUN, path.toString(), "--rows", fixture.rowsPath.toString()));
      String[] lines = out.trim().split("\n");
      assertEquals(fixture.rows.size(), lines.length);
      try (Model model = Model.fromFile(path.toString()); Session session = new Session(model)) {
        Features user = new Features(model), items = new Features(model);
        for (int i = 0; i < fixture.rows.size(); ++i) {
          Map<String, Object> row = fixture.rows.get(i);
          user.clear();
          items.clear();
          for (FeatureInfo f : model.features()) {  // by index this time
            Object value = Fixtures.value(f, row.get(f.name));
            Features target = f.side == FeatureInfo.Side.USER ? user : items;
            if (value instanceof long[]) target.ids(f.index, (long[]) value);
            else target.values(f.index, (float[]) value);
          }
          if (!fixture.userInputs.isEmpty()) session.setUser(user);
          float[] scores = session.score(items, 1);
          Map<String, Object> cpp = Fixtures.Json.object(lines[i]);
          for (TaskInfo task : model.tasks()) {
            float expected = (float) ((Number) cpp.get(task.name)).doubleValue();
            assertEquals(fixture.name + " row " + i + " " + task.name, expected, scores[task.index], 0.0f);
          }
        }
      }
    }
  }

  private static float[] reference(Fixtures fixture) {
    try (Model model = Model.fromFile(models.get(fixture.name).toString()); Session session = model.newSession()) {
      return scoreAll(model, session, fixture);
    }
  }

  private static void assertScores(float[] expected, Model model, Fixtures fixture) {
    try (Session session = model.newSession()) {
      assertArrayEquals(expected, scoreAll(model, session, fixture), 0.0f);
    }
  }

  @Test
  public void loadsFromByteBuffersOfAnyKindAndAlignment() throws Exception {
    Fixtures fixture = fixture("mmoe");
    float[] expected = reference(fixture);
    byte[] bytes = Files.readAllBytes(models.get(fixture.name));

    ByteBuffer aligned = ByteBuffer.allocateDirect(bytes.length + 128).alignedSlice(64);
    aligned.put(bytes).flip();
    try (Model model = Model.fromByteBuffer(aligned)) {  // in place
      assertEquals(0, aligned.position());
      assertScores(expected, model, fixture);
    }

    ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length + 128).alignedSlice(64);
    direct.position(1);
    direct.put(bytes).flip().position(1);
    try (Model model = Model.fromByteBuffer(direct)) {  // unaligned: copied
      direct.clear();
      while (direct.hasRemaining()) direct.put((byte) 0);
      assertScores(expected, model, fixture);
    }

    byte[] padded = new byte[bytes.length + 7];
    System.arraycopy(bytes, 0, padded, 3, bytes.length);
    ByteBuffer heap = ByteBuffer.wrap(padded, 3, bytes.length).slice();
    try (Model model = Model.fromByteBuffer(heap)) {
      Arrays.fill(padded, (byte) 0);  // copied: the model does not care
      assertScores(expected, model, fixture);
    }
    try (Model model = Model.fromByteBuffer(ByteBuffer.wrap(bytes).asReadOnlyBuffer())) {
      assertScores(expected, model, fixture);
    }
    try (Model model = Model.fromBytes(bytes)) {
      assertScores(expected, model, fixture);
    }
    try (FileChannel channel = FileChannel.open(models.get(fixture.name), StandardOpenOption.READ);
         Model model = Model.fromByteBuffer(channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()))) {
      assertScores(expected, model, fixture);
    }
  }

  @Test
  public void loadsFromFileDescriptorRanges() throws Exception {
    Fixtures fixture = fixture("esmm");
    float[] expected = reference(fixture);
    byte[] bytes = Files.readAllBytes(models.get(fixture.name));
    for (int prefix : new int[] {64, 13, 4096}) {  // mapped, read, mapped from a later page
      Path asset = Files.createTempFile(Fixtures.SCRATCH, "asset", ".bin");
      byte[] container = new byte[prefix + bytes.length + 100];  // like an APK: other bytes around the asset
      Arrays.fill(container, (byte) 0x5A);
      System.arraycopy(bytes, 0, container, prefix, bytes.length);
      Files.write(asset, container);
      try (RandomAccessFile file = new RandomAccessFile(asset.toFile(), "r");
           Model model = Model.fromFileDescriptor(file.getFD(), prefix, bytes.length)) {
        assertEquals(0L, file.getFilePointer());  // pread: the descriptor does not move
        assertScores(expected, model, fixture);
      } finally {
        Files.delete(asset);
      }
    }
  }

  private interface Action {
    void run() throws Exception;
  }

  private static EdgemtlException expectError(int status, String text, Action action) throws Exception {
    try {
      action.run();
    } catch (EdgemtlException e) {
      assertEquals(e.getMessage(), status, e.getStatus());
      assertTrue(e.getMessage() + " should contain " + text, e.getMessage().contains(text));
      assertTrue(e.getMessage().startsWith(e.getStatusName() + ": "));
      return e;
    }
    fail("expected status " + status + " (" + text + ")");
    return null;
  }

  @Test
  public void everyErrorPathThrowsWithStatusAndMessage() throws Exception {
    Fixtures fixture = fixture("esmm");
    Path path = models.get(fixture.name);
    expectError(EdgemtlException.IO, "/nonexistent.emtl", () -> Model.fromFile("/nonexistent.emtl"));
    expectError(EdgemtlException.INVALID_ARGUMENT, "null", () -> Model.fromFile(null));
    expectError(EdgemtlException.INVALID_MODEL, "EMTL", () -> Model.fromBytes(new byte[256]));
    byte[] bytes = Files.readAllBytes(path);
    expectError(EdgemtlException.INVALID_MODEL, "truncated", () -> Model.fromBytes(Arrays.copyOf(bytes, bytes.length - 1)));
    expectError(EdgemtlException.INVALID_ARGUMENT, "null", () -> Model.fromByteBuffer(null));
    expectError(EdgemtlException.INVALID_ARGUMENT, "descriptor", () -> Model.fromFileDescriptor(new java.io.FileDescriptor(), 0, 0));
    try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "r")) {
      expectError(EdgemtlException.IO, "beyond the end", () -> Model.fromFileDescriptor(file.getFD(), 64, bytes.length));
      expectError(EdgemtlException.INVALID_ARGUMENT, ">= 0", () -> Model.fromFileDescriptor(file.getFD(), -1, 0));
    }
    expectError(EdgemtlException.INVALID_ARGUMENT, "not a descriptor", () -> Model.fromFd(-1, 0, 0));

    // Checked weights: a flipped bit of the last constant loads (weights are not read) but does not verify.
    Model.fromFile(path.toString()).verifyWeights();
    byte[] flipped = bytes.clone();
    flipped[flipped.length - 64] ^= 0x10;
    try (Model corrupt = Model.fromBytes(flipped)) {
      expectError(EdgemtlException.INVALID_MODEL, "checksum mismatch in the weight segment", corrupt::verifyWeights);
    }
    // tests/compat: a file written before checksums loads but cannot be verified.
    try (Model old = Model.fromFile(Path.of(System.getProperty("edgemtl.fixtures"), "..", "compat",
        "esmm.before_checksums.emtl").toString())) {
      expectError(EdgemtlException.UNSUPPORTED, "no checksums", old::verifyWeights);
    }

    Model model = Model.fromFile(path.toString());
    Map<String, Object> row = fixture.rows.get(0);
    Map<String, Object> user = userMap(model, row);
    Map<String, Object> items = itemMap(model, fixture.rows.subList(0, 1));
    Session session = model.newSession(new Session.Options().maxItems(4));
    expectError(EdgemtlException.INVALID_STATE, "set_user", () -> session.score(items, 1));
    expectError(EdgemtlException.NOT_FOUND, "no feature named 'userid'", () -> session.setUser(Map.of("userid", 1L)));
    expectError(EdgemtlException.NOT_FOUND, "'nope'", () -> model.featureIndex("nope"));
    session.setUser(user);
    assertEquals(2, session.score(items, 1).length);

    Map<String, Object> badId = new HashMap<>(items);
    badId.put("itemId", new long[] {1_000_000_000L});
    EdgemtlException e = expectError(EdgemtlException.ID_OUT_OF_RANGE, "itemId", () -> session.score(badId, 1));
    assertEquals("IdOutOfRange", e.getStatusName());
    Map<String, Object> nan = new HashMap<>(items);
    nan.put("itemCtr7d", new float[] {Float.NaN});
    expectError(EdgemtlException.INVALID_VALUE, "itemCtr7d", () -> session.score(nan, 1));
    Map<String, Object> missing = new HashMap<>(items);
    missing.remove("brandId");
    expectError(EdgemtlException.MISSING_FEATURE, "brandId", () -> session.score(missing, 1));
    expectError(EdgemtlException.INVALID_ARGUMENT, "", () -> session.score(items, 2));  // 1 row given
    expectError(EdgemtlException.INVALID_ARGUMENT, "", () -> session.score(items, 5));  // > maxItems
    expectError(EdgemtlException.INVALID_ARGUMENT, "n must be", () -> session.score(items, 0));
    Map<String, Object> wrongType = new HashMap<>(items);
    wrongType.put("itemId", "seven");
    expectError(EdgemtlException.INVALID_ARGUMENT, "String", () -> session.score(wrongType, 1));
    expectError(EdgemtlException.INVALID_ARGUMENT, "out of range", () -> new Features(model).ids(99, 1L));
    expectError(EdgemtlException.INVALID_ARGUMENT, "null", () -> new Features(model).ids(0, (long[]) null));
    expectError(EdgemtlException.INVALID_ARGUMENT, "", () -> model.newSession(new Session.Options().maxItems(0)));
    // A bound below what the model needs: refused before allocating, with the sizes in the message.
    expectError(EdgemtlException.OUT_OF_MEMORY, "max_arena_bytes",
        () -> model.newSession(new Session.Options().maxArenaBytes(64)));
    expectError(EdgemtlException.INVALID_ARGUMENT, "negative",
        () -> model.newSession(new Session.Options().maxArenaBytes(-1)));
    try (Model other = Model.fromFile(path.toString())) {
      expectError(EdgemtlException.INVALID_ARGUMENT, "another model", () -> session.score(Features.of(other, items), 1));
    }
    expectError(EdgemtlException.INVALID_STATE, "open session", model::close);
    session.close();
    session.close();  // idempotent
    expectError(EdgemtlException.INVALID_STATE, "closed", () -> session.score(items, 1));
    model.close();
    expectError(EdgemtlException.INVALID_STATE, "closed", model::newSession);
    expectError(EdgemtlException.INVALID_STATE, "closed", model::metadata);
  }

  @Test
  public void twoThreadsWithTheirOwnSessions() throws Exception {
    Fixtures fixture = fixture("ple2");
    float[] expected = reference(fixture);
    try (Model model = Model.fromFile(models.get(fixture.name).toString())) {
      final Throwable[] failures = new Throwable[2];
      Thread[] threads = new Thread[2];
      for (int t = 0; t < 2; ++t) {
        final int id = t;
        threads[t] = new Thread(() -> {
          try (Session session = model.newSession()) {
            for (int round = 0; round < 20; ++round)
              assertArrayEquals("thread " + id + " round " + round, expected, scoreAll(model, session, fixture), 0.0f);
          } catch (Throwable error) {
            failures[id] = error;
          }
        });
        threads[t].start();
      }
      for (Thread thread : threads) thread.join();
      for (Throwable failure : failures) if (failure != null) throw new AssertionError(failure);
    }
  }

  @Test
  public void versionAndMetadata() throws Exception {
    assertEquals(System.getProperty("edgemtl.version"), Model.version());
    assertEquals(1, Model.libraryFormatVersion());
    Fixtures fixture = fixture("esmm");
    try (Model plain = Model.fromFile(models.get(fixture.name).toString())) {
      assertTrue(plain.metadata().isEmpty());
      assertEquals(Model.libraryFormatVersion(), plain.formatVersion());
      assertTrue(plain.producer(), plain.producer().startsWith("edgemtl-convert"));
      assertEquals(Arrays.asList("ctr", "ctcvr"), Arrays.asList(plain.tasks().get(0).name, plain.tasks().get(1).name));
      assertTrue(plain.tasks().get(0).probability);
      FeatureInfo history = plain.feature("userClickSeq");
      assertEquals(FeatureInfo.Kind.ID_LIST, history.kind);
      assertEquals(FeatureInfo.Side.USER, history.side);
      assertEquals(10, history.width);
    }
    Path tagged = fixture.convert("java-metadata", "--metadata", "model_name=ranker,trained=2026-11-30");
    try (Model model = Model.fromFile(tagged.toString())) {
      Map<String, String> metadata = model.metadata();
      assertEquals("ranker", metadata.get("model_name"));
      assertEquals("2026-11-30", metadata.get("trained"));
      assertNotNull(metadata.get("edgemtl.convert_options"));
      assertEquals(Arrays.asList("model_name", "trained", "edgemtl.convert_options"), new ArrayList<>(metadata.keySet()));
    }
  }
}
