package org.edgemtl;

/**
 * An edgemtl error: the C API's status code ({@code emtl_status}) and its message, e.g. status
 * {@link #ID_OUT_OF_RANGE} with "feature 'item_id' row 2: id 9999 outside [0, 1000)". Unchecked, so
 * that Kotlin callers are not forced to catch it; every method of this package that fails throws it.
 */
public class EdgemtlException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public static final int INVALID_ARGUMENT = 1;
  public static final int INVALID_MODEL = 2;
  public static final int UNSUPPORTED = 3;
  public static final int MISSING_FEATURE = 4;
  public static final int ID_OUT_OF_RANGE = 5;
  public static final int INVALID_VALUE = 6;
  public static final int NOT_FOUND = 7;
  public static final int IO = 8;
  public static final int OUT_OF_MEMORY = 9;
  public static final int INVALID_STATE = 10;
  public static final int INTERNAL = 11;

  private final int status;
  private final String statusName;

  public EdgemtlException(int status, String statusName, String message) {
    super(statusName + ": " + message);
    this.status = status;
    this.statusName = statusName;
  }

  /** The {@code emtl_status} value, one of the constants above. */
  public int getStatus() {
    return status;
  }

  /** Short stable name of the status, e.g. "IdOutOfRange". */
  public String getStatusName() {
    return statusName;
  }

  /** The message without the status name prefix. */
  public String getDetail() {
    String message = getMessage();
    return message.substring(statusName.length() + 2);
  }

  static EdgemtlException of(int status, String message) {
    return new EdgemtlException(status, NativeApi.statusName(status), message);
  }
}
