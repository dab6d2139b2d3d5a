package org.edgemtl;

/** One output task of a model (emtl_task_info). */
public final class TaskInfo {
  public final int index;
  public final String name;
  /** true: a probability (sigmoid/softmax output); false: a regression value. */
  public final boolean probability;

  TaskInfo(int index, String name, boolean probability) {
    this.index = index;
    this.name = name;
    this.probability = probability;
  }

  @Override
  public String toString() {
    return "TaskInfo(" + name + ", " + (probability ? "probability" : "value") + ")";
  }
}
