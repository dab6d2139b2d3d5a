package org.edgemtl;

/** One input feature of a model (emtl_feature_info). */
public final class FeatureInfo {
  public enum Side { USER, ITEM }

  public enum Kind {
    /** One int64 id per row. */
    ID,
    /** {@code width} ids per row, padded with {@link #paddingId}. */
    ID_LIST,
    /** {@code width} floats per row. */
    DENSE
  }

  public final int index;
  public final String name;
  public final Side side;
  public final Kind kind;
  /** Values per row. */
  public final long width;
  /** ID_LIST only. */
  public final long paddingId;
  /** Ids only: valid ids are [0, tableSize). */
  public final long tableSize;

  FeatureInfo(int index, String name, long[] info) {
    this.index = index;
    this.name = name;
    this.side = info[0] == 0 ? Side.USER : Side.ITEM;
    this.kind = Kind.values()[(int) info[1]];
    this.width = info[2];
    this.paddingId = info[3];
    this.tableSize = info[4];
  }

  @Override
  public String toString() {
    return "FeatureInfo(" + name + ", " + side + ", " + kind + ", width " + width + ")";
  }
}
