package org.edgemtl;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The PyTorch fixtures (tests/fixtures/NAME: model.onnx, rows.jsonl, expected.jsonl, meta.json),
 * converted by the built edgemtl-convert. Paths come from system properties set by ctest.
 */
final class Fixtures {
  static final Path SOURCE = Paths.get(System.getProperty("edgemtl.fixtures"));
  static final Path SCRATCH = Paths.get(System.getProperty("edgemtl.scratch"));
  static final String CONVERT = System.getProperty("edgemtl.convert");
  static final String RUN = System.getProperty("edgemtl.run");

  final String name;
  final Path onnx;
  final Path rowsPath;
  final List<String> userInputs = new ArrayList<>();
  final String tasks;
  final String convertFlags;
  final List<Map<String, Object>> rows = new ArrayList<>();
  final List<Map<String, Object>> expected = new ArrayList<>();

  Fixtures(String name) throws IOException {
    this.name = name;
    Path folder = SOURCE.resolve(name);
    onnx = folder.resolve("model.onnx");
    rowsPath = folder.resolve("rows.jsonl");
    Map<String, Object> meta = Json.object(new String(Files.readAllBytes(folder.resolve("meta.json")), StandardCharsets.UTF_8));
    for (Object user : (List<?>) meta.get("user_inputs")) userInputs.add((String) user);
    tasks = (String) meta.get("tasks");
    convertFlags = (String) meta.get("convert_flags");
    for (String line : Files.readAllLines(rowsPath, StandardCharsets.UTF_8))
      if (!line.trim().isEmpty()) rows.add(Json.object(line));
    for (String line : Files.readAllLines(folder.resolve("expected.jsonl"), StandardCharsets.UTF_8))
      if (!line.trim().isEmpty()) expected.add(Json.object(line));
  }

  static List<String> names() throws IOException {
    List<String> names = new ArrayList<>();
    try (java.util.stream.Stream<Path> entries = Files.list(SOURCE)) {
      entries.filter(p -> Files.exists(p.resolve("model.onnx"))).forEach(p -> names.add(p.getFileName().toString()));
    }
    java.util.Collections.sort(names);
    return names;
  }

  /** Converts with edgemtl-convert into the scratch folder as NAME.VARIANT.emtl. */
  Path convert(String variant, String... extra) throws IOException, InterruptedException {
    Files.createDirectories(SCRATCH);
    Path out = SCRATCH.resolve(name + "." + variant + ".emtl");
    List<String> command = new ArrayList<>();
    command.add(CONVERT);
    command.add(onnx.toString());
    command.add("-o");
    command.add(out.toString());
    if (!userInputs.isEmpty()) {
      command.add("--user-inputs");
      command.add(String.join(",", userInputs));
    }
    if (tasks != null) {
      command.add("--tasks");
      command.add(tasks);
    }
    // The fixture's own converter flags (meta.json convert_flags: --input-shape, --fix-input, ...).
    if (convertFlags != null && !convertFlags.trim().isEmpty())
      for (String arg : convertFlags.trim().split("\\s+")) command.add(arg);
    for (String arg : extra) command.add(arg);
    run(command);
    return out;
  }

  /** Runs a command; returns its stdout, fails on a non-zero exit. */
  static String run(List<String> command) throws IOException, InterruptedException {
    Path log = Files.createTempFile(SCRATCH, "command", ".log");
    Process process = new ProcessBuilder(command).redirectError(log.toFile()).start();
    String out = new String(readAll(process.getInputStream()), StandardCharsets.UTF_8);
    int code = process.waitFor();
    String errors = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
    Files.delete(log);
    if (code != 0) throw new IOException(String.join(" ", command) + " failed (" + code + "): " + errors);
    return out;
  }

  private static byte[] readAll(java.io.InputStream in) throws IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    byte[] chunk = new byte[8192];
    for (int n; (n = in.read(chunk)) > 0;) out.write(chunk, 0, n);
    return out.toByteArray();
  }

  /** A row's value as the Map API takes it: long[] for ids, float[] for dense values. */
  static Object value(FeatureInfo feature, Object json) {
    List<Object> list = new ArrayList<>();
    if (json instanceof List) list.addAll((List<?>) json);
    else list.add(json);
    if (feature.kind == FeatureInfo.Kind.DENSE) {
      float[] out = new float[list.size()];
      for (int i = 0; i < out.length; ++i) out[i] = ((Number) list.get(i)).floatValue();
      return out;
    }
    long[] out = new long[list.size()];
    for (int i = 0; i < out.length; ++i) out[i] = ((Number) list.get(i)).longValue();
    return out;
  }

  /** Several rows' values of one feature, concatenated (row-major). */
  static Object column(FeatureInfo feature, List<Map<String, Object>> rows) {
    if (feature.kind == FeatureInfo.Kind.DENSE) {
      float[] out = new float[(int) (rows.size() * feature.width)];
      int k = 0;
      for (Map<String, Object> row : rows) for (float v : (float[]) value(feature, row.get(feature.name))) out[k++] = v;
      return out;
    }
    long[] out = new long[(int) (rows.size() * feature.width)];
    int k = 0;
    for (Map<String, Object> row : rows) for (long v : (long[]) value(feature, row.get(feature.name))) out[k++] = v;
    return out;
  }

  /** Just enough JSON for the fixture files: objects, arrays, strings without escapes, numbers. */
  static final class Json {
    private final String text;
    private int at;

    private Json(String text) {
      this.text = text;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(String text) {
      Json json = new Json(text);
      Object value = json.parse();
      json.skip();
      if (json.at != text.length()) throw new IllegalArgumentException("trailing text in " + text);
      return (Map<String, Object>) value;
    }

    private void skip() {
      while (at < text.length() && Character.isWhitespace(text.charAt(at))) ++at;
    }

    private void expect(char c) {
      skip();
      if (at >= text.length() || text.charAt(at) != c)
        throw new IllegalArgumentException("expected '" + c + "' at " + at + " in " + text);
      ++at;
    }

    private Object parse() {
      skip();
      char c = text.charAt(at);
      if (c == '{') {
        Map<String, Object> out = new LinkedHashMap<>();
        ++at;
        skip();
        if (text.charAt(at) == '}') {
          ++at;
          return out;
        }
        while (true) {
          String key = (String) parse();
          expect(':');
          out.put(key, parse());
          skip();
          if (text.charAt(at) == ',') {
            ++at;
            continue;
          }
          expect('}');
          return out;
        }
      }
      if (c == '[') {
        List<Object> out = new ArrayList<>();
        ++at;
        skip();
        if (text.charAt(at) == ']') {
          ++at;
          return out;
        }
        while (true) {
          out.add(parse());
          skip();
          if (text.charAt(at) == ',') {
            ++at;
            continue;
          }
          expect(']');
          return out;
        }
      }
      if (c == '"') {
        int end = text.indexOf('"', at + 1);
        String s = text.substring(at + 1, end);
        if (s.indexOf('\\') >= 0) throw new IllegalArgumentException("escapes are not supported: " + s);
        at = end + 1;
        return s;
      }
      if (text.startsWith("null", at)) {  // a missing dense value (rows.jsonl): NaN, as the request library reads it
        at += 4;
        return Double.NaN;
      }
      int start = at;
      while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) ++at;
      String number = text.substring(start, at);
      if (number.isEmpty()) throw new IllegalArgumentException("unexpected '" + c + "' at " + at + " in " + text);
      if (number.contains(".") || number.contains("e") || number.contains("E")) return Double.parseDouble(number);
      return Long.parseLong(number);
    }
  }
}
