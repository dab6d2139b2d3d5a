// The ONNX importer on small hand-written graphs: shape chains, feature and
// task signatures, and clear errors for what cannot be converted exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "converter/onnx_import.h"
#include "converter/pipeline.h"
#include "converter/test/graph_builders.h"
#include "converter/test/onnx_builder.h"

namespace edgemtl::converter::test {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

namespace {

std::string error_of(const std::string& bytes, const ImportOptions& options = {}) {
  try {
    import_onnx_bytes(bytes, options);
  } catch (const ConversionError& e) {
    return e.what();
  }
  return "";
}

// x [B,6] -> view(0, 2, 3) -> x.view(x.size(0), -1) -> Gemm [4,6] -> Sigmoid
OnnxBuilder flatten_gemm_model() {
  OnnxBuilder b;
  b.input("x_in", kFloat, {-1, 6});
  b.ints("shape3", {3}, {0, 2, 3});
  b.node("Reshape", {"x_in", "shape3"}, {"x"}, "Reshape_3d");
  std::vector<float> w(24), bias = {0.1f, -0.2f, 0.3f, 0.0f};
  for (int i = 0; i < 24; ++i) w[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
  b.floats("W", {4, 6}, w);
  b.floats("bias", {4}, bias);
  b.ints("zero", {}, {0});
  b.ints("axes0", {1}, {0});
  b.ints("minus_one", {1}, {-1});
  b.node("Shape", {"x"}, {"shape"}, "Shape_0");
  OnnxBuilder::attr(b.node("Gather", {"shape", "zero"}, {"rows"}, "Gather_1"), "axis", int64_t{0});
  b.node("Unsqueeze", {"rows", "axes0"}, {"rows1"}, "Unsqueeze_2");
  OnnxBuilder::attr(b.node("Concat", {"rows1", "minus_one"}, {"target"}, "Concat_3"), "axis", int64_t{0});
  b.node("Reshape", {"x", "target"}, {"flat"}, "Reshape_4");
  OnnxBuilder::attr(b.node("Gemm", {"flat", "W", "bias"}, {"logits"}, "Gemm_5"), "transB", int64_t{1});
  b.node("Sigmoid", {"logits"}, {"out"}, "Sigmoid_6");
  b.output("out");
  return b;
}

}  // namespace

TEST_CASE("a batch-size shape chain imports as a RESHAPE and the model computes Gemm exactly") {
  OnnxBuilder b = flatten_gemm_model();
  Graph g = import_onnx_bytes(b.bytes(), {});
  run_pipeline(g, {});
  REQUIRE(g.tasks.size() == 4);
  CHECK(g.tasks[0].name == "out:0");
  CHECK(g.tasks[3].name == "out:3");
  CHECK(g.tasks[0].probability);
  CHECK(live_nodes(g, Op::kFullyConnected) == 1);
  // [rows,6] -> [rows,2,3] -> [rows,6]: both reshapes collapse away.
  CHECK(live_nodes(g, Op::kReshape) == 0);
  Graph imported = import_onnx_bytes(b.bytes(), {});
  REQUIRE(live_nodes(imported, Op::kReshape) == 2);
  CHECK(imported.nodes[0].options.shape == std::vector<int64_t>{kRows, 2, 3});
  CHECK(imported.nodes[1].options.shape == std::vector<int64_t>{kRows, 6});
  // Independent check: sigmoid(W x + b) by hand.
  std::mt19937 rng(11);
  auto inputs = random_inputs(g, rng, 3, false);
  auto got = run_reference(g, inputs);
  std::vector<float> w(24);
  for (int i = 0; i < 24; ++i) w[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
  const double bias[4] = {0.1, -0.2, 0.3, 0.0};
  const RefTensor& x = inputs.at(g.features[0].value);
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 4; ++j) {
      double s = bias[j];
      for (int k = 0; k < 6; ++k) s += w[j * 6 + k] * x.data[r * 6 + k];
      CHECK(std::abs(got[r][j] - 1 / (1 + std::exp(-s))) < 1e-6);
    }
}

TEST_CASE("ops that move or reduce rows stop the conversion naming the node") {
  SUBCASE("Transpose of the row dimension") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 3});
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"y"}, "Transpose_7"), "perm", std::vector<int64_t>{1, 0});
    b.output("y");
    CHECK(error_of(b.bytes()).find("node 'Transpose_7' (Transpose)") == 0);
  }
  SUBCASE("ReduceSum over rows") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 3});
    b.ints("axes", {1}, {0});
    b.node("ReduceSum", {"x", "axes"}, {"y"}, "ReduceSum_1");
    b.output("y");
    CHECK(error_of(b.bytes()).find("node 'ReduceSum_1' (ReduceSum): reduction over the row dimension") == 0);
  }
  SUBCASE("view(-1, 2) merging rows") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.ints("shape", {2}, {-1, 2});
    b.node("Reshape", {"x", "shape"}, {"y"}, "Reshape_2");
    b.output("y");
    CHECK(error_of(b.bytes()).find("node 'Reshape_2' (Reshape)") == 0);
  }
  SUBCASE("Gather along the rows") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.ints("i", {}, {0});
    b.node("Gather", {"x", "i"}, {"y"}, "Gather_3");
    b.output("y");
    CHECK(error_of(b.bytes()).find("node 'Gather_3' (Gather)") == 0);
  }
  SUBCASE("an operator the runtime lacks") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.node("Sin", {"x"}, {"y"}, "Sin_4");
    b.output("y");
    CHECK(error_of(b.bytes()) == "node 'Sin_4' (Sin): unsupported operator");
  }
}

TEST_CASE("features: sides, kinds, padding id and table size; packed columns become TAKE") {
  OnnxBuilder b;
  b.input("uid", kInt64, {-1});
  b.input("hist", kInt64, {-1, 3});
  b.input("packed", kFloat, {-1, 4});
  b.floats("small_table", {7, 2}, std::vector<float>(14, 0.5f));
  b.floats("big_table", {9, 2}, std::vector<float>(18, 0.25f));
  b.ints("pad", {}, {5});
  b.ints("col", {}, {2});
  b.node("Gather", {"small_table", "uid"}, {"u"}, "Gather_u");
  b.node("Gather", {"big_table", "hist"}, {"h"}, "Gather_h");
  b.node("Equal", {"hist", "pad"}, {"is_pad"}, "Equal_0");
  b.node("Not", {"is_pad"}, {"keep"}, "Not_1");
  OnnxBuilder::attr(b.node("Cast", {"keep"}, {"keepf"}, "Cast_2"), "to", int64_t{kFloat});
  b.ints("axes_last", {1}, {-1});
  b.node("Unsqueeze", {"keepf", "axes_last"}, {"mask"}, "Unsqueeze_3");
  b.node("Mul", {"h", "mask"}, {"masked"}, "Mul_4");
  b.ints("axes1", {1}, {1});
  OnnxBuilder::attr(b.node("ReduceSum", {"masked", "axes1"}, {"pooled"}, "ReduceSum_5"), "keepdims", int64_t{0});
  OnnxBuilder::attr(b.node("Gather", {"packed", "col"}, {"price"}, "Gather_price"), "axis", int64_t{1});
  b.node("Unsqueeze", {"price", "axes_last"}, {"price2"}, "Unsqueeze_6");
  OnnxBuilder::attr(b.node("Concat", {"u", "pooled", "price2"}, {"x"}, "Concat_7"), "axis", int64_t{1});
  b.node("Identity", {"x"}, {"out"}, "Identity_8");
  b.output("out");

  ImportOptions options;
  options.user_inputs = {"uid", "hist"};
  Graph g = import_onnx_bytes(b.bytes(), options);
  REQUIRE(g.features.size() == 3);
  CHECK(g.features[0].kind == FeatureKind::kId);
  CHECK(g.features[0].user);
  CHECK(g.features[0].table_size == 7);
  CHECK(g.features[1].kind == FeatureKind::kIdList);
  CHECK(g.features[1].width == 3);
  CHECK(g.features[1].padding_id == 5);
  CHECK(g.features[1].table_size == 9);
  CHECK(g.features[2].kind == FeatureKind::kDense);
  CHECK_FALSE(g.features[2].user);
  CHECK(g.features[2].width == 4);
  bool found_take = false;
  for (const Node& n : g.nodes)
    if (n.op == Op::kTake) {
      found_take = true;
      CHECK(n.options.axis == 1);
      CHECK(n.options.indices == std::vector<int64_t>{2});
    }
  CHECK(found_take);
  REQUIRE(g.tasks.size() == 5);
  CHECK(g.tasks[4].name == "out:4");
  CHECK_FALSE(g.tasks[0].probability);

  SUBCASE("--tasks overrides names and kinds, and must match the column count") {
    ImportOptions with_tasks = options;
    with_tasks.tasks = {{"a", true}, {"b", std::nullopt}, {"c", false}, {"d", false}, {"e", true}};
    Graph named = import_onnx_bytes(b.bytes(), with_tasks);
    CHECK(named.tasks[0].name == "a");
    CHECK(named.tasks[0].probability);
    CHECK_FALSE(named.tasks[1].probability);
    with_tasks.tasks.pop_back();
    CHECK(error_of(b.bytes(), with_tasks).find("--tasks lists 4 tasks but the model has 5") == 0);
  }
  SUBCASE("unknown --user-inputs names are an error") {
    ImportOptions bad = options;
    bad.user_inputs.push_back("nope");
    CHECK(error_of(b.bytes(), bad).find("'nope'") != std::string::npos);
  }
  SUBCASE("--oov-row must be a row of every table") {
    ImportOptions oov = options;
    oov.oov_row = 6;
    Graph ok = import_onnx_bytes(b.bytes(), oov);
    for (const Node& n : ok.nodes)
      if (n.op == Op::kEmbedding) CHECK(n.options.default_row == 6);
    oov.oov_row = 7;
    CHECK(error_of(b.bytes(), oov).find("--oov-row 7") == 0);
  }
}

TEST_CASE("sizes from the file are checked before anything is allocated") {
  SUBCASE("Split sizes that exceed the axis (once expanded into gigabytes of indices)") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.ints("sizes", {2}, {int64_t{1} << 40, int64_t{1} << 40});
    OnnxBuilder::attr(b.node("Split", {"x", "sizes"}, {"a", "b"}, "Split_0"), "axis", int64_t{1});
    b.output("a");
    b.output("b");
    CHECK(error_of(b.bytes()) ==
          "node 'Split_0' (Split): Split sizes [1099511627776,1099511627776] do not add up to dimension 1 of size 4");
  }
  SUBCASE("Split sizes that overflow, are negative or do not cover the axis") {
    for (const std::vector<int64_t>& sizes :
         {std::vector<int64_t>{INT64_MAX, 2}, std::vector<int64_t>{-2, 6}, std::vector<int64_t>{1, 2}}) {
      CAPTURE(shape_string(sizes));
      OnnxBuilder b;
      b.input("x", kFloat, {-1, 4});
      b.ints("sizes", {2}, sizes);
      OnnxBuilder::attr(b.node("Split", {"x", "sizes"}, {"a", "b"}, "Split_1"), "axis", int64_t{1});
      b.output("a");
      b.output("b");
      CHECK(error_of(b.bytes()).find("do not add up to dimension 1 of size 4") != std::string::npos);
    }
  }
  SUBCASE("Split without outputs is dead; along the rows is refused") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    OnnxBuilder::attr(b.node("Split", {"x"}, {}, "Split_2"), "axis", int64_t{1});
    b.node("Relu", {"x"}, {"y"}, "Relu_3");
    b.output("y");
    // Dead (no output can be needed): the importer lowers only the nodes the outputs need.
    CHECK(error_of(b.bytes()).empty());
    OnnxBuilder rows;
    rows.input("x", kFloat, {-1, 4});
    rows.node("Split", {"x"}, {"a", "b"}, "Split_4");
    rows.output("a");
    CHECK(error_of(rows.bytes()) == "node 'Split_4' (Split): Split along the row dimension");
  }
  SUBCASE("initializer dims whose product overflows, or is negative") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.raw("w", kFloat, {int64_t{1} << 32, int64_t{1} << 32}, "");
    b.node("Relu", {"x"}, {"y"}, "Relu_0");
    b.output("y");
    CHECK(error_of(b.bytes()) == "tensor 'w': shape [4294967296,4294967296] has more than 2^63 elements");
    OnnxBuilder negative;
    negative.input("x", kFloat, {-1, 4});
    negative.raw("w", kFloat, {-4, 4}, std::string(64, '\0'));
    negative.node("Relu", {"x"}, {"y"}, "Relu_0");
    negative.output("y");
    CHECK(error_of(negative.bytes()) == "tensor 'w': shape [-4,4] has a negative dimension");
  }
  SUBCASE("raw data compared in elements (2^62 floats of 4 bytes wrap to 0 bytes)") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.raw("w", kFloat, {int64_t{1} << 62}, "");
    b.node("Relu", {"x"}, {"y"}, "Relu_0");
    b.output("y");
    CHECK(error_of(b.bytes()) == "tensor 'w': raw data size mismatch");
  }
  SUBCASE("ConstantOfShape and Expand: computed constants are bounded") {
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.ints("shape", {2}, {1000000, 1000000});
    b.node("ConstantOfShape", {"shape"}, {"c"}, "ConstantOfShape_0");
    b.node("Add", {"x", "c"}, {"y"}, "Add_1");
    b.output("y");
    CHECK(error_of(b.bytes()) ==
          "node 'ConstantOfShape_0' (ConstantOfShape): ConstantOfShape: shape [1000000,1000000] has 1000000000000 "
          "elements, more than the 67108864 the converter computes");
    OnnxBuilder expand;
    expand.input("x", kFloat, {-1, 4});
    expand.floats("one", {1}, {1.0f});
    expand.ints("shape", {3}, {1, 1 << 20, 1 << 20});
    expand.node("Expand", {"one", "shape"}, {"c"}, "Expand_0");
    expand.node("Add", {"x", "c"}, {"y"}, "Add_1");
    expand.output("y");
    CHECK(error_of(expand.bytes()).find("Expand: shape [1,1048576,1048576] has 1099511627776 elements") !=
          std::string::npos);
  }
}

TEST_CASE("outputs: at least one task, at most 65536 (a fuzz finding: a graph without outputs was written)") {
  OnnxBuilder none;
  none.input("x", kFloat, {-1, 4});
  none.node("Relu", {"x"}, {"y"}, "Relu_0");
  CHECK(error_of(none.bytes()) == "the graph has no outputs: a model needs at least one task");
  OnnxBuilder wide;
  wide.input("x", kFloat, {-1, 70000});
  wide.node("Relu", {"x"}, {"y"}, "Relu_0");
  wide.output("y");
  CHECK(error_of(wide.bytes()) == "output 'y' has 70000 columns: the outputs make more than 65536 tasks");
  // A fuzz finding: one output listed twice made two tasks of one name, which the runtime refuses.
  OnnxBuilder twice;
  twice.input("x", kFloat, {-1, 1});
  twice.node("Relu", {"x"}, {"y"}, "Relu_0");
  twice.output("y");
  twice.output("y");
  CHECK(error_of(twice.bytes()) == "two tasks are named 'y'");
}

TEST_CASE("malformed input gives an error, not a crash") {
  CHECK(error_of("this is not protobuf").find("not a valid ONNX model") == 0);
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 4});
  b.node("Relu", {"missing"}, {"y"}, "Relu_0");
  b.output("y");
  CHECK(error_of(b.bytes()).find("node 'Relu_0' (Relu): input 'missing' is not produced") == 0);
}

}  // namespace edgemtl::converter::test

namespace edgemtl::converter::test {

TEST_CASE("an output that is an input is copied by its stage") {
  OnnxBuilder b;
  b.input("score", kFloat, {-1});
  b.node("Identity", {"score"}, {"out"}, "Identity_0");
  b.output("out");
  ImportOptions options;
  options.user_inputs = {"score"};
  Graph g = import_onnx_bytes(b.bytes(), options);
  run_pipeline(g, {});
  REQUIRE(g.nodes.size() == 1);
  CHECK(g.nodes[0].op == Op::kReshape);
  CHECK(g.nodes[0].stage == Side::kUser);
  CHECK(g.tasks[0].value == g.nodes[0].outputs[0]);
  CHECK(g.tasks[0].name == "out");
}

}  // namespace edgemtl::converter::test

namespace edgemtl::converter::test {

TEST_CASE("every supported ONNX op type reaches its handler; others are refused naming the node") {
  const std::vector<std::string> types = supported_onnx_ops();
  CHECK(std::is_sorted(types.begin(), types.end()));
  CHECK(std::adjacent_find(types.begin(), types.end()) == types.end());
  for (const char* expected : {"BatchNormalization", "Gather", "Gemm", "MatMul", "Reshape", "Softmax"})
    CHECK(std::find(types.begin(), types.end(), expected) != types.end());
  for (const std::string& type : types) {
    CAPTURE(type);
    // Without inputs a handler fails on its own terms, never as unsupported.
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 2});
    b.node(type, {}, {"y"}, "n");
    b.output("y");
    CHECK(error_of(b.bytes()).find("unsupported operator") == std::string::npos);
  }
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 2});
  b.node("NoSuchOp", {"x"}, {"y"}, "n");
  b.output("y");
  CHECK(error_of(b.bytes()) == "node 'n' (NoSuchOp): unsupported operator");
}

}  // namespace edgemtl::converter::test
