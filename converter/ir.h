// Graph IR of the converter: the runtime's operator set (schema/edgemtl.fbs)
// over values with known dtype and shape. Activations have the row dimension
// first (kRows); constants carry their data. Shape arithmetic is done on int64
// constants in which the row count may appear as the symbol kRowsSymbol.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace edgemtl::converter {

/// A conversion that cannot be done exactly. The message names the node.
struct ConversionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Dimension 0 of every activation shape.
constexpr int64_t kRows = -1;
/// The row count as an element of an int64 shape constant (Shape(x)[0]).
constexpr int64_t kRowsSymbol = INT64_MIN;

enum class DType { kFloat32, kInt64, kBool };
const char* dtype_name(DType dtype);

// The operator set, in the order and with the names of schema::OpType
// (schema/edgemtl.fbs): X(IR enumerator, schema enumerator). The enum, op_name
// and the writer's mapping are generated from this list; schema_mapping.cc
// fails to compile when an entry's value differs from the schema's.
#define EDGEMTL_CONVERTER_OPS(X)                                                                    \
  X(kFullyConnected, FULLY_CONNECTED) X(kEmbedding, EMBEDDING) X(kAdd, ADD) X(kSub, SUB)           \
  X(kMul, MUL) X(kDiv, DIV) X(kMax, MAXIMUM) X(kMin, MINIMUM) X(kEqual, EQUAL) X(kNot, NOT)         \
  X(kWhere, WHERE) X(kCast, CAST) X(kRelu, RELU) X(kSigmoid, SIGMOID) X(kTanh, TANH)               \
  X(kLeakyRelu, LEAKY_RELU) X(kClip, CLIP) X(kPRelu, PRELU) X(kSoftmax, SOFTMAX)                   \
  X(kReduceSum, REDUCE_SUM) X(kReduceMean, REDUCE_MEAN) X(kConcat, CONCAT) X(kTake, TAKE)          \
  X(kTranspose, TRANSPOSE) X(kMatMul, MATMUL) X(kReshape, RESHAPE) X(kBroadcastRows, BROADCAST_ROWS) \
  X(kEmbeddingMulti, EMBEDDING_MULTI) X(kMix, MIX) X(kUnary, UNARY) X(kCompare, COMPARE) X(kLogical, LOGICAL)   \
  X(kIsNan, IS_NAN) X(kIsInf, IS_INF) X(kReduceMax, REDUCE_MAX) X(kReduceMin, REDUCE_MIN)                      \
  X(kReduceProd, REDUCE_PROD) X(kReduceL2, REDUCE_L2) X(kLayerNorm, LAYER_NORM) X(kBag, BAG) X(kRecurrent, RECURRENT)

#define EDGEMTL_CONVERTER_ENUMERATOR(ir, schema) ir,
enum class Op { EDGEMTL_CONVERTER_OPS(EDGEMTL_CONVERTER_ENUMERATOR) };
#define EDGEMTL_CONVERTER_OP_VALUE(ir, schema) Op::ir,
/// Every Op, in enum order.
constexpr Op kAllOps[] = {EDGEMTL_CONVERTER_OPS(EDGEMTL_CONVERTER_OP_VALUE)};
#undef EDGEMTL_CONVERTER_OP_VALUE
/// The schema's name of `op` ("FULLY_CONNECTED").
const char* op_name(Op op);
// Op traits (declared by each op's rules in ir_ops/).
bool is_binary_elementwise(Op op);  // ADD .. MIN: takes a fused activation
bool is_elementwise(Op op);         // row by row: may read a row-broadcast constant
bool broadcasts_rows(Op op);        // repeats a 1-row (user-stage) input for every row

// UNARY's functions, COMPARE's predicates and LOGICAL's functions, in the order
// and with the names of schema::UnaryFunction / ComparePredicate / LogicalFunction
// (schema_mapping.cc holds them to it).
enum class UnaryFunction { kLog, kExp, kSqrt, kReciprocal, kAbs, kNeg, kPow, kErf, kSoftplus, kFloor, kCeil, kGelu, kGeluTanh };
enum class Compare { kGreater, kLess, kGreaterEqual, kLessEqual };
enum class Logical { kAnd, kOr, kXor };

// Fused activations, as schema::Activation: X(IR enumerator, schema enumerator).
#define EDGEMTL_CONVERTER_ACTIVATIONS(X) \
  X(kNone, NONE) X(kRelu, RELU) X(kSigmoid, SIGMOID) X(kTanh, TANH) X(kLeakyRelu, LEAKY_RELU)
enum class Activation { EDGEMTL_CONVERTER_ACTIVATIONS(EDGEMTL_CONVERTER_ENUMERATOR) };
#undef EDGEMTL_CONVERTER_ENUMERATOR

/// Which stage computes a value; constants belong to none. kUser: depends on
/// user features only (once per request); kItem: on item features only (once
/// per candidate, cacheable); kCross: on both (every re-rank).
enum class Side { kConstant = 0, kUser = 1, kItem = 2, kCross = 3 };

/// The side of a value computed from values of sides `a` and `b`: constants
/// take the other side, equal sides stay, user with item (or anything with
/// cross) is cross.
inline Side join(Side a, Side b) {
  if (a == Side::kConstant || a == b) return b;
  if (b == Side::kConstant) return a;
  return Side::kCross;
}

struct Value {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;  // activations: shape[0] == kRows
  bool is_constant = false;
  std::vector<float> floats;   // kFloat32 constants
  std::vector<int64_t> ints;   // kInt64 and kBool (0/1) constants
  int producer = -1;           // node index, -1 for inputs and constants
  // A constant of shape [1, ...] standing for a tensor with the row dimension
  // whose rows are all equal (zeros_like(x), ConstantOfShape(Shape(x))). Only
  // elementwise ops, which broadcast it, may read it.
  bool row_broadcast = false;

  bool is_activation() const { return !is_constant; }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Elements of a constant, or elements per row of an activation.
  int64_t elements_per_row() const;
  bool has_rows_symbol() const;
};

// Every field takes part in the common-subexpression key (passes/common_subexpressions.cc): a new
// field goes there too.
struct NodeOptions {
  Activation activation = Activation::kNone;  // FULLY_CONNECTED, binary ops
  // FULLY_CONNECTED with a 4th input (the addend): x := input_activation(x + addend[:, addend_offset + k])
  Activation input_activation = Activation::kNone;
  int64_t addend_offset = 0;
  float input_alpha = 0.01f;                  // input_activation LEAKY_RELU
  float alpha = 0.01f;                        // LEAKY_RELU (also fused)
  int64_t axis = 0;                           // SOFTMAX, CONCAT, TAKE
  std::vector<int64_t> indices;               // TAKE
  std::vector<int64_t> axes;                  // REDUCE_*; TRANSPOSE perm
  bool keepdims = true;                       // REDUCE_*
  float clip_min = -3.4e38f, clip_max = 3.4e38f;
  DType cast_to = DType::kFloat32;            // CAST
  int64_t default_row = -1;                   // EMBEDDING, BAG
  int64_t bag_mode = 0;                       // BAG: 0 sum, 1 mean, 2 max (schema::BagMode)
  std::vector<int64_t> shape;                 // RESHAPE target (kRows first for activations)
  // EMBEDDING_MULTI, one entry per ids input: its rows of the stacked table and
  // its default row (relative to its rows, -1: none)
  std::vector<int64_t> row_offsets, row_counts, default_rows;
  UnaryFunction function = UnaryFunction::kLog;  // UNARY
  float exponent = 1.0f;                         // UNARY POW
  Compare predicate = Compare::kGreater;         // COMPARE
  Logical logical = Logical::kAnd;               // LOGICAL
  bool detect_positive = true, detect_negative = true;  // IS_INF
  float epsilon = 1e-5f;                         // LAYER_NORM (axis: `axis`)
  // RECURRENT (schema RecurrentOptions): direction 0 forward, 1 reverse, 2 bidirectional
  bool lstm = true;
  int64_t direction = 0;
  int64_t hidden_size = 0;
  bool linear_before_reset = false, initial_state = false, sequence_lens = false;
};

struct Node {
  Op op;
  std::vector<int> inputs;
  std::vector<int> outputs;
  NodeOptions options;
  std::string name;  // the ONNX node it came from
  bool dead = false;
  Side stage = Side::kItem;
};

enum class FeatureKind { kId, kIdList, kDense };

struct Feature {
  std::string name;
  bool user = false;
  FeatureKind kind = FeatureKind::kDense;
  int64_t width = 1;
  int64_t padding_id = 0;
  int64_t table_size = 0;
  int value = -1;
  bool accepts_nan = false;  // DENSE read by IS_NAN: NaN means missing
  bool pad_before = false;  // ID_LIST: short lists padded before the ids (schema ListPadding)
  bool keep_last = false;   // ID_LIST: long lists keep their last `width` ids
};

struct Task {
  std::string name;
  bool probability = false;
  int value = -1;
  int64_t column = 0;
};

class Graph {
 public:
  std::vector<Value> values;
  std::vector<Node> nodes;  // kept in execution (topological) order
  std::vector<Feature> features;
  std::vector<Task> tasks;

  int add_activation(const std::string& name, DType dtype, std::vector<int64_t> shape);
  int add_float_constant(const std::string& name, std::vector<int64_t> shape, std::vector<float> data);
  int add_int_constant(const std::string& name, DType dtype, std::vector<int64_t> shape,
                       std::vector<int64_t> data);

  /// Adds `op` over `inputs` with a fresh output and returns the output value.
  /// Infers dtype and shape (throws ConversionError when the op would move or
  /// reduce the row dimension or shapes do not fit). When every input is a
  /// constant the result is computed now and no node is added.
  int emit(Op op, const std::vector<int>& inputs, const NodeOptions& options, const std::string& node_name,
           const std::string& output_name = "");
  /// Adds a node whose output value already exists (passes rewriting in place).
  int add_node(Op op, const std::vector<int>& inputs, int output, const NodeOptions& options,
               const std::string& node_name);

  /// consumers[v] = live nodes reading value v (once per reading node).
  std::vector<std::vector<int>> consumers() const;
  /// Values read by tasks (graph outputs).
  std::vector<bool> output_mask() const;
  /// Makes every node input and task reading `from` read `to` instead.
  void replace_uses(int from, int to);
  /// Drops dead nodes and re-sorts the rest topologically (stable).
  void compact();
  std::string unique_name(const std::string& base);

 private:
  std::unordered_set<std::string> names_used_;
};

/// Output dtype and shape of `op` on `inputs` (throws ConversionError).
/// The rules of each op are in ir_ops/, beside its evaluation.
void infer_output(const Graph& graph, Op op, const std::vector<int>& inputs, const NodeOptions& options,
                  DType* dtype, std::vector<int64_t>* shape);

/// Computes `op` on constant `inputs` (constant folding); `dtype`/`shape` come
/// from infer_output. Int64 data may contain kRowsSymbol: ops that only move
/// elements carry it, arithmetic on it throws ConversionError.
Value evaluate(const Graph& graph, Op op, const std::vector<int>& inputs, const NodeOptions& options, DType dtype,
               const std::vector<int64_t>& shape);

/// Numpy broadcast of shapes aligned on the right; kRows (activation dim 0)
/// must meet kRows or 1 (constant) at the same position.
std::vector<int64_t> broadcast_shapes(const std::vector<std::vector<int64_t>>& shapes);

/// For each element of `out_shape` (row-major), the offset of the element of
/// a tensor of `in_shape` that numpy broadcasting reads.
std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape);

/// ONNX-style axis (negative counts from the end) -> [0, rank); throws if out of range.
int64_t normalize_axis(int64_t axis, int64_t rank);

int64_t product(const std::vector<int64_t>& dims, size_t begin = 0, size_t end = SIZE_MAX);
std::string shape_string(const std::vector<int64_t>& shape);

/// The most elements the converter computes for one constant from a shape the
/// file gives (ConstantOfShape, Expand): 2^26, 256 MB of f32. Constants read
/// from the file (initializers) are bounded by the file itself.
constexpr int64_t kMaxComputedElements = int64_t{1} << 26;
/// Elements of a static `shape`, refusing negative dimensions, a product that
/// overflows int64 and (when `limit` > 0) one over `limit`, before anything is
/// allocated. `what` names the tensor in the ConversionError.
int64_t checked_element_count(const std::vector<int64_t>& shape, const std::string& what, int64_t limit = 0);

}  // namespace edgemtl::converter
