// nn.EmbeddingBag with 2-D input as torch 1.13 exports it: the bag offsets
// computed from Shape/ReduceProd/Range/Concat/Slice, then a Loop over the bags
// whose body slices the flattened ids (and per_sample_weights), gathers the
// table rows, multiplies by the weights and reduces over the bag (ReduceSum,
// ReduceMean or ReduceMax, axis 0). The Loop becomes one BAG op over the 2-D
// ids (and weights); the offset computation is left unlowered (it only feeds
// the Loop; onnx_import.cc skips nodes nothing live reads).
#include <functional>

#include "converter/import/importer.h"

namespace edgemtl::converter {
namespace {

using onnx::NodeProto;

const onnx::AttributeProto* attribute(const NodeProto& node, const char* name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// The int64 data of a Constant node's value, or nothing.
bool constant_ints(const NodeProto* node, std::vector<int64_t>* out) {
  if (!node || node->op_type() != "Constant") return false;
  const onnx::AttributeProto* value = attribute(*node, "value");
  if (!value || !value->has_t()) return false;
  const Value v = constant_from_tensor(value->t());
  if (v.dtype != DType::kInt64) return false;
  *out = v.ints;
  return true;
}

}  // namespace

bool match_bag_loop(const NodeProto& loop, const OnnxProducer& outer, BagLoop* bag) {
  if (loop.op_type() != "Loop" || loop.input_size() != 2 || loop.output_size() != 1) return false;
  const onnx::AttributeProto* body_attr = attribute(loop, "body");
  if (!body_attr || !body_attr->has_g()) return false;
  const onnx::GraphProto& body = body_attr->g();
  if (body.input_size() != 2 || body.output_size() != 2) return false;
  std::unordered_map<std::string, const NodeProto*> inner;
  for (const NodeProto& n : body.node())
    for (const std::string& o : n.output()) inner[o] = &n;
  auto in_body = [&](const std::string& name) -> const NodeProto* {
    auto found = inner.find(name);
    return found == inner.end() ? nullptr : found->second;
  };
  // The reduction over the bag (axis 0, keepdims 0).
  const NodeProto* reduce = in_body(body.output(1).name());
  if (!reduce || attribute(*reduce, "keepdims") == nullptr || attribute(*reduce, "keepdims")->i() != 0) return false;
  std::vector<int64_t> axes;
  if (const onnx::AttributeProto* a = attribute(*reduce, "axes")) axes.assign(a->ints().begin(), a->ints().end());
  else if (reduce->input_size() > 1 && !constant_ints(in_body(reduce->input(1)), &axes)) return false;
  if (axes != std::vector<int64_t>{0}) return false;
  if (reduce->op_type() == "ReduceSum") bag->mode = 0;
  else if (reduce->op_type() == "ReduceMean") bag->mode = 1;
  else if (reduce->op_type() == "ReduceMax") bag->mode = 2;
  else return false;
  // Gather(table, Slice(flat ids)), optionally times Unsqueeze(Slice(flat weights), 1).
  const NodeProto* gather = in_body(reduce->input(0));
  const NodeProto* weight_slice = nullptr;
  if (gather && gather->op_type() == "Mul") {
    const NodeProto* a = in_body(gather->input(0));
    const NodeProto* b = in_body(gather->input(1));
    if (a && a->op_type() == "Unsqueeze") std::swap(a, b);
    if (!a || !b || b->op_type() != "Unsqueeze" || bag->mode != 0) return false;
    weight_slice = in_body(b->input(0));
    gather = a;
    if (!weight_slice || weight_slice->op_type() != "Slice") return false;
  }
  if (!gather || gather->op_type() != "Gather" || gather->input_size() != 2) return false;
  if (attribute(*gather, "axis") && attribute(*gather, "axis")->i() != 0) return false;
  const NodeProto* id_slice = in_body(gather->input(1));
  if (!id_slice || id_slice->op_type() != "Slice" || id_slice->input_size() < 3) return false;
  if (weight_slice && (weight_slice->input_size() < 3 || weight_slice->input(1) != id_slice->input(1) ||
                       weight_slice->input(2) != id_slice->input(2)))
    return false;
  // Bag starts: Unsqueeze(Gather(Concat(Range(...), ...), i)), the offsets of equal bags.
  const NodeProto* start = in_body(id_slice->input(1));
  const NodeProto* start_gather = start && start->op_type() == "Unsqueeze" ? in_body(start->input(0)) : nullptr;
  const NodeProto* offsets = start_gather && start_gather->op_type() == "Gather" ? outer(start_gather->input(0)) : nullptr;
  if (!offsets || offsets->op_type() != "Concat") return false;
  const NodeProto* range = outer(offsets->input(0));
  if (!range || range->op_type() != "Range") return false;
  // The flattened 2-D inputs: Reshape(x, [-1]).
  auto flattened = [&](const NodeProto* slice, std::string* source) {
    const NodeProto* reshape = outer(slice->input(0));
    std::vector<int64_t> shape;
    if (!reshape || reshape->op_type() != "Reshape" || !constant_ints(outer(reshape->input(1)), &shape) ||
        shape != std::vector<int64_t>{-1})
      return false;
    *source = reshape->input(0);
    return true;
  };
  bag->table = gather->input(0);
  if (!flattened(id_slice, &bag->ids)) return false;
  bag->weights.clear();
  if (weight_slice && !flattened(weight_slice, &bag->weights)) return false;
  return true;
}

namespace {

void lower_loop(Importer& node) {
  BagLoop bag;
  if (!match_bag_loop(node.proto(), node.producers(), &bag))
    throw ConversionError("Loop is supported only as nn.EmbeddingBag's loop over bags of a 2-D input");
  const int table = node.value(bag.table);
  const Value& t = node.val(table);
  if (!t.is_constant || t.dtype != DType::kFloat32 || t.rank() != 2)
    throw ConversionError("EmbeddingBag table must be a float32 constant [V,D]");
  std::vector<int> inputs = {table, node.value(bag.ids)};
  const Value& ids = node.val(inputs[1]);
  if (ids.is_constant || ids.dtype != DType::kInt64 || ids.rank() != 2)
    throw ConversionError("EmbeddingBag ids must be a run-time int64 [rows,L] tensor");
  if (!bag.weights.empty()) inputs.push_back(node.value(bag.weights));
  NodeOptions o;
  o.bag_mode = bag.mode;
  node.set_output(0, node.emit(Op::kBag, inputs, o));
}

}  // namespace

std::vector<OnnxOp> bag_onnx_ops() {
  return {{"Loop", lower_loop,
           "only nn.EmbeddingBag's loop over the bags of a 2-D int64 input (modes sum, mean, max; "
           "per_sample_weights with sum) -> one BAG"}};
}

}  // namespace edgemtl::converter
