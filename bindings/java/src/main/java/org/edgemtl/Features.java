package org.edgemtl;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The feature values of one call, by name or by index: ids as {@code long[]} (ID: one per row;
 * ID_LIST: width per row, row-major), dense values as {@code float[]} (width per row). Arrays are
 * read during the call only. Reusable: {@link #clear()} and fill again.
 */
public final class Features {
  private final Model model;
  private final List<Integer> indices = new ArrayList<>();
  private final List<Object> arrays = new ArrayList<>();

  public Features(Model model) {
    if (model == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "model is null");
    this.model = model;
  }

  /** Every entry of {@code values}: long[], int[], Long, Integer (ids) or float[], double[], Float, Double (values). */
  public static Features of(Model model, Map<String, ?> values) {
    Features features = new Features(model);
    if (values == null) throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "the feature map is null");
    for (Map.Entry<String, ?> entry : values.entrySet()) features.add(model.featureIndex(entry.getKey()), entry.getKey(), entry.getValue());
    return features;
  }

  public Features ids(String name, long... ids) {
    return ids(model.featureIndex(name), ids);
  }

  public Features ids(int index, long... ids) {
    return put(index, requireArray(index, ids));
  }

  public Features values(String name, float... values) {
    return values(model.featureIndex(name), values);
  }

  public Features values(int index, float... values) {
    return put(index, requireArray(index, values));
  }

  public Features clear() {
    indices.clear();
    arrays.clear();
    return this;
  }

  Model model() {
    return model;
  }

  int[] indexArray() {
    int[] out = new int[indices.size()];
    for (int i = 0; i < out.length; ++i) out[i] = indices.get(i);
    return out;
  }

  Object[] arrayArray() {
    return arrays.toArray();
  }

  private Features put(int index, Object array) {
    if (index < 0 || index >= model.features().size())
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT,
          "feature index " + index + " out of range (the model has " + model.features().size() + ")");
    indices.add(index);
    arrays.add(array);
    return this;
  }

  private static Object requireArray(int index, Object array) {
    if (array == null)
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "feature " + index + ": the array is null");
    return array;
  }

  private void add(int index, String name, Object value) {
    if (value instanceof long[]) {
      ids(index, (long[]) value);
    } else if (value instanceof float[]) {
      values(index, (float[]) value);
    } else if (value instanceof int[]) {
      int[] given = (int[]) value;
      long[] ids = new long[given.length];
      for (int i = 0; i < given.length; ++i) ids[i] = given[i];
      ids(index, ids);
    } else if (value instanceof double[]) {
      double[] given = (double[]) value;
      float[] values = new float[given.length];
      for (int i = 0; i < given.length; ++i) values[i] = (float) given[i];
      values(index, values);
    } else if (value instanceof Long || value instanceof Integer) {
      ids(index, ((Number) value).longValue());
    } else if (value instanceof Float || value instanceof Double) {
      values(index, ((Number) value).floatValue());
    } else {
      throw EdgemtlException.of(EdgemtlException.INVALID_ARGUMENT, "feature '" + name + "': expected long[], int[], "
          + "float[], double[] or a single number, got " + (value == null ? "null" : value.getClass().getSimpleName()));
    }
  }
}
