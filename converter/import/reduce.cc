// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL2.
#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

template <Op kOp>
void lower_reduce(Importer& node) {
  const Value& x = node.val(node.in(0));
  // Axes became an input in opset 13 for ReduceSum, in 18 for the others.
  const bool axes_input = (kOp == Op::kReduceSum && node.opset() >= 13) || node.opset() >= 18;
  auto axes = axes_input ? node.axes_from("axes", 1) : node.attr_ints("axes");
  NodeOptions o;
  o.keepdims = node.attr_int("keepdims", 1) != 0;
  if (!axes || axes->empty()) {
    if (node.attr_int("noop_with_empty_axes", 0)) {
      node.set_output(0, node.in(0));
      return;
    }
    for (int64_t d = 0; d < x.rank(); ++d) o.axes.push_back(d);
  } else {
    o.axes = *axes;
  }
  node.set_output(0, node.emit(kOp, {node.in(0)}, o));
}

}  // namespace

std::vector<OnnxOp> reduce_onnx_ops() {
  const char* kNote = "float32 activations; axes other than the rows (axis 0); keepdims either way";
  return {
      {"ReduceSum", lower_reduce<Op::kReduceSum>, kNote},
      {"ReduceMean", lower_reduce<Op::kReduceMean>, kNote},
      {"ReduceMax", lower_reduce<Op::kReduceMax>, kNote},
      {"ReduceMin", lower_reduce<Op::kReduceMin>, kNote},
      {"ReduceProd", lower_reduce<Op::kReduceProd>, kNote},
      {"ReduceL2", lower_reduce<Op::kReduceL2>, kNote},
  };
}

}  // namespace edgemtl::converter
