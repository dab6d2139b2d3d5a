// The operators of issue 11, each imported from a hand-written ONNX graph,
// converted (every pass), written and run by the runtime, against the naive
// reference interpreter on the imported graph; the fusions of LayerNorm and
// GELU; all unsupported nodes in one error; docs/OPERATORS.md.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "converter/onnx_import.h"
#include "converter/pipeline.h"
#include "converter/test/graph_builders.h"
#include "converter/test/onnx_builder.h"
#include "converter/writer.h"
#include "runtime/executor/session.h"

namespace edgemtl::converter::test {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int64_t kRowsUsed = 5;

std::string import_error(const OnnxBuilder& b) {
  try {
    import_onnx_bytes(b.bytes(), {});
  } catch (const ConversionError& e) {
    return e.what();
  }
  return "";
}

// x, x2 [-1, 4]: positive values (Log, Sqrt, Pow) or any sign, with ties between them.
std::vector<float> inputs_for(unsigned seed, bool positive) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(positive ? 0.1f : -3.0f, 3.0f);
  std::vector<float> v(kRowsUsed * 4);
  for (float& x : v) x = std::round(dist(rng) * 8.0f) / 8.0f;  // eighths: equal values occur
  return v;
}

// Converts `b` (features x and x2, one float output), scores kRowsUsed rows with the
// runtime and compares with the reference interpreter on the imported graph.
// Returns the converted graph.
Graph check_against_reference(const OnnxBuilder& b, bool positive) {
  const Graph imported = import_onnx_bytes(b.bytes(), {});
  Graph g = imported;
  run_pipeline(g, {});
  const std::vector<uint8_t> file = write_model(g);
  std::vector<float> x = inputs_for(1, positive), x2 = inputs_for(2, positive);
  std::map<int, RefTensor> refs;
  for (const Feature& f : imported.features) {
    RefTensor t;
    t.shape = {kRowsUsed, 4};
    const std::vector<float>& source = f.name == "x" ? x : x2;
    t.data.assign(source.begin(), source.end());
    refs[f.value] = t;
  }
  const auto want = run_reference(imported, refs);
  void* memory = std::aligned_alloc(64, (file.size() + 63) / 64 * 64);
  std::memcpy(memory, file.data(), file.size());
  {
    auto model = Model::load_buffer(memory, file.size());
    REQUIRE_MESSAGE(model.ok(), model.status().message());
    auto session = Session::create(**model, {});
    REQUIRE(session.ok());
    std::vector<FeatureInput> in;
    for (size_t f = 0; f < (*model)->num_features(); ++f)
      in.push_back({static_cast<int32_t>(f), nullptr,
                    std::strcmp((*model)->feature(f).name, "x") == 0 ? x.data() : x2.data(), x.size()});
    auto scores = (*session)->score(Span<const FeatureInput>(in.data(), in.size()), kRowsUsed);
    REQUIRE_MESSAGE(scores.ok(), scores.status().message());
    const size_t tasks = (*model)->num_tasks();
    for (int64_t r = 0; r < kRowsUsed; ++r)
      for (size_t t = 0; t < tasks; ++t) {
        CAPTURE(r);
        CAPTURE(t);
        CHECK((*scores)[r * tasks + t] == doctest::Approx(want[r][t]).epsilon(1e-5));
      }
  }
  std::free(memory);
  return g;
}

OnnxBuilder one_node(const std::string& op, bool binary, bool bool_output, const std::vector<std::string>& extra = {}) {
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 4});
  if (binary) b.input("x2", kFloat, {-1, 4});
  std::vector<std::string> inputs = {"x"};
  if (binary) inputs.push_back("x2");
  for (const std::string& e : extra) inputs.push_back(e);
  b.node(op, inputs, {bool_output ? "flags" : "y"}, op + "_node");
  if (bool_output) {
    auto* cast = b.node("Cast", {"flags"}, {"y"}, "cast");
    OnnxBuilder::attr(cast, "to", static_cast<int64_t>(onnx::TensorProto::FLOAT));
  }
  b.output("y");
  return b;
}

TEST_CASE("unary ops on run-time values: one UNARY each, as the reference") {
  for (const char* op : {"Log", "Exp", "Sqrt", "Reciprocal", "Abs", "Neg", "Erf", "Softplus", "Floor", "Ceil"}) {
    CAPTURE(op);
    const bool positive = std::strcmp(op, "Log") == 0 || std::strcmp(op, "Sqrt") == 0 || std::strcmp(op, "Reciprocal") == 0;
    Graph g = check_against_reference(one_node(op, false, false), positive);
    CHECK(live_nodes(g, std::strcmp(op, "Neg") == 0 ? Op::kMul : Op::kUnary) == 1);
  }
  for (float exponent : {2.0f, 3.0f, 0.5f, -1.5f}) {
    CAPTURE(exponent);
    OnnxBuilder b = one_node("Pow", false, false, {"e"});
    b.floats("e", {}, {exponent});
    check_against_reference(b, true);
  }
  OnnxBuilder b = one_node("Pow", true, false);
  CHECK(std::string(import_error(b)).find("exponent must be a constant") != std::string::npos);
}

TEST_CASE("comparisons, logical ops, IsNaN, IsInf on run-time values") {
  for (const char* op : {"Greater", "Less", "GreaterOrEqual", "LessOrEqual"}) {
    CAPTURE(op);
    Graph g = check_against_reference(one_node(op, true, true), false);
    CHECK(live_nodes(g, Op::kCompare) == 1);
  }
  for (const char* op : {"And", "Or", "Xor"}) {
    CAPTURE(op);
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    b.input("x2", kFloat, {-1, 4});
    b.floats("zero", {}, {0.0f});
    b.node("Greater", {"x", "zero"}, {"p"}, "p");
    b.node("Less", {"x2", "zero"}, {"q"}, "q");
    b.node(op, {"p", "q"}, {"flags"}, "logic");
    OnnxBuilder::attr(b.node("Cast", {"flags"}, {"y"}, "cast"), "to", static_cast<int64_t>(onnx::TensorProto::FLOAT));
    b.output("y");
    Graph g = check_against_reference(b, false);
    CHECK(live_nodes(g, Op::kLogical) == 1);
  }
  for (const char* op : {"IsNaN", "IsInf"}) {
    CAPTURE(op);
    Graph g = check_against_reference(one_node(op, false, true), false);
    CHECK(live_nodes(g, std::strcmp(op, "IsNaN") == 0 ? Op::kIsNan : Op::kIsInf) == 1);
  }
}

TEST_CASE("torch.isinf's Cast to double before IsInf stays float32; any other reader of the double is refused") {
  for (const char* test : {"IsInf", "IsNaN"}) {
    CAPTURE(test);
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    OnnxBuilder::attr(b.node("Cast", {"x"}, {"xd"}, "to_double"), "to", static_cast<int64_t>(onnx::TensorProto::DOUBLE));
    b.node(test, {"xd"}, {"flags"}, "test");
    OnnxBuilder::attr(b.node("Cast", {"flags"}, {"y"}, "cast"), "to", static_cast<int64_t>(onnx::TensorProto::FLOAT));
    b.output("y");
    Graph g = check_against_reference(b, false);
    CHECK(live_nodes(g, std::strcmp(test, "IsNaN") == 0 ? Op::kIsNan : Op::kIsInf) == 1);
    CHECK(live_nodes(g, Op::kCast) == 1);  // only the bool -> float one
  }
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 4});
  OnnxBuilder::attr(b.node("Cast", {"x"}, {"xd"}, "to_double"), "to", static_cast<int64_t>(onnx::TensorProto::DOUBLE));
  b.node("Relu", {"xd"}, {"y"}, "relu_of_double");
  b.output("y");
  CHECK(import_error(b).find("node 'relu_of_double' (Relu): reads 'xd', a float32 value cast to double") == 0);
}

TEST_CASE("ReduceMax / ReduceMin / ReduceProd / ReduceL2 over the columns") {
  for (const char* op : {"ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2"}) {
    CAPTURE(op);
    OnnxBuilder b;
    b.input("x", kFloat, {-1, 4});
    OnnxBuilder::attr(b.node(op, {"x"}, {"y"}, "reduce"), "axes", std::vector<int64_t>{1});
    b.output("y");
    Graph g = check_against_reference(b, false);
    CHECK(live_nodes(g) == 1);
  }
}

// x -> LayerNorm over the last axis (decomposed as torch's opset 13 or LayerNormalization) -> GELU.
OnnxBuilder norm_model(bool decomposed, bool tanh_gelu) {
  OnnxBuilder b(decomposed ? 13 : 17);
  b.input("x", kFloat, {-1, 4});
  b.floats("gamma", {4}, {1.0f, 0.5f, -2.0f, 1.5f});
  b.floats("beta", {4}, {0.1f, 0.0f, -0.3f, 0.2f});
  if (decomposed) {
    b.floats("two", {}, {2.0f});
    b.floats("eps", {}, {1e-5f});
    OnnxBuilder::attr(b.node("ReduceMean", {"x"}, {"m"}, "/ln/ReduceMean"), "axes", std::vector<int64_t>{-1});
    b.node("Sub", {"x", "m"}, {"d"}, "/ln/Sub");
    b.node("Pow", {"d", "two"}, {"p"}, "/ln/Pow");
    OnnxBuilder::attr(b.node("ReduceMean", {"p"}, {"v"}, "/ln/ReduceMean_1"), "axes", std::vector<int64_t>{-1});
    b.node("Add", {"v", "eps"}, {"ve"}, "/ln/Add");
    b.node("Sqrt", {"ve"}, {"s"}, "/ln/Sqrt");
    b.node("Div", {"d", "s"}, {"n"}, "/ln/Div");
    b.node("Mul", {"n", "gamma"}, {"ng"}, "/ln/Mul");
    b.node("Add", {"ng", "beta"}, {"h"}, "/ln/Add_1");
  } else {
    b.node("LayerNormalization", {"x", "gamma", "beta"}, {"h"}, "/ln/LayerNormalization");
  }
  b.floats("half", {}, {0.5f});
  b.floats("one", {}, {1.0f});
  if (!tanh_gelu) {
    b.floats("sqrt2", {}, {1.41421353816986083984f});
    b.node("Div", {"h", "sqrt2"}, {"g0"}, "/g/Div");
    b.node("Erf", {"g0"}, {"g1"}, "/g/Erf");
    b.node("Add", {"g1", "one"}, {"g2"}, "/g/Add");
    b.node("Mul", {"h", "g2"}, {"g3"}, "/g/Mul");
    b.node("Mul", {"g3", "half"}, {"y"}, "/g/Mul_1");
  } else {
    b.floats("c", {}, {0.044715f});
    b.floats("k", {}, {0.79788458347320556641f});
    b.node("Mul", {"h", "h"}, {"t0"}, "/g/Mul");
    b.node("Mul", {"h", "t0"}, {"t1"}, "/g/Mul_1");
    b.node("Mul", {"c", "t1"}, {"t2"}, "/g/Mul_2");
    b.node("Add", {"h", "t2"}, {"t3"}, "/g/Add");
    b.node("Mul", {"k", "t3"}, {"t4"}, "/g/Mul_3");
    b.node("Tanh", {"t4"}, {"t5"}, "/g/Tanh");
    b.node("Add", {"one", "t5"}, {"t6"}, "/g/Add_1");
    b.node("Mul", {"h", "t6"}, {"t7"}, "/g/Mul_4");
    b.node("Mul", {"half", "t7"}, {"y"}, "/g/Mul_5");
  }
  b.output("y");
  return b;
}

TEST_CASE("LayerNorm (opset-13 decomposition or LayerNormalization) and GELU (erf, tanh) fuse into one op each") {
  for (bool decomposed : {true, false})
    for (bool tanh_gelu : {false, true}) {
      CAPTURE(decomposed);
      CAPTURE(tanh_gelu);
      OnnxBuilder b = norm_model(decomposed, tanh_gelu);
      Graph g = check_against_reference(b, false);
      CHECK(live_nodes(g, Op::kLayerNorm) == 1);
      CHECK(live_nodes(g, Op::kUnary) == 1);
      CHECK(live_nodes(g) == 2);
      for (const Node& n : g.nodes)
        if (!n.dead && n.op == Op::kUnary)
          CHECK(n.options.function == (tanh_gelu ? UnaryFunction::kGeluTanh : UnaryFunction::kGelu));
    }
  // Without the fusion the decomposition still computes the same (each op on its own).
  const Graph imported = import_onnx_bytes(norm_model(true, false).bytes(), {});
  Graph g = imported;
  ConvertOptions options;
  options.fuse_norms = false;
  run_pipeline(g, options);
  CHECK(live_nodes(g, Op::kLayerNorm) == 0);
}

TEST_CASE("log1p of a raw dense feature, and the NaN test marks the feature") {
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 4});
  b.input("x2", kFloat, {-1, 4});
  b.floats("one", {}, {1.0f});
  b.floats("default", {4}, {0.5f, -1.0f, 2.0f, 0.0f});
  b.node("Add", {"one", "x"}, {"x1"}, "/Add");
  b.node("Log", {"x1"}, {"lx"}, "/Log");
  b.node("IsNaN", {"x2"}, {"nan"}, "/IsNaN");
  b.node("Where", {"nan", "default", "x2"}, {"filled"}, "/Where");
  b.node("Add", {"lx", "filled"}, {"y"}, "/Add_1");
  b.output("y");
  Graph g = check_against_reference(b, true);
  for (const Feature& f : g.features) CHECK(f.accepts_nan == (f.name == "x2"));
}

TEST_CASE("several unsupported nodes are reported at once, each with its type and name") {
  OnnxBuilder b;
  b.input("x", kFloat, {-1, 4});
  b.node("Sin", {"x"}, {"a"}, "first_sin");
  b.node("Relu", {"a"}, {"r"}, "relu");
  b.node("HardMax", {"r"}, {"c"}, "the_hardmax");
  b.node("Cos", {"c"}, {"y"}, "");
  b.output("y");
  const std::string error = import_error(b);
  CHECK(error.find("3 unsupported operators") == 0);
  CHECK(error.find("node 'first_sin' (Sin): unsupported operator") != std::string::npos);
  CHECK(error.find("node 'the_hardmax' (HardMax): unsupported operator") != std::string::npos);
  CHECK(error.find("node 'Cos_3' (Cos): unsupported operator") != std::string::npos);
}

TEST_CASE("docs/OPERATORS.md lists every supported ONNX op") {
  const std::string markdown = operators_markdown();
  for (const std::string& type : supported_onnx_ops()) CHECK(markdown.find("| " + type + " | ") != std::string::npos);
}

}  // namespace
}  // namespace edgemtl::converter::test
