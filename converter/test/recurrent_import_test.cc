// ONNX LSTM and GRU as torch writes nn.LSTM / nn.GRU(batch_first=True) without an
// initial state: the zero state from Shape -> ConstantOfShape([dirs, rows, H]),
// the batch-first -> time-major Transposes, Squeeze / Reshape of Y and h_n[-1].
// They must import as one RECURRENT with no TRANSPOSE left; the scores come from
// the reference interpreter (its LSTM/GRU is written from the ONNX definitions)
// and are checked against the time-major ONNX outputs rearranged by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "converter/onnx_import.h"
#include "converter/pipeline.h"
#include "converter/test/graph_builders.h"
#include "converter/test/onnx_builder.h"

namespace edgemtl::converter::test {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int64_t T = 3, D = 2, H = 2;

void string_attr(onnx::NodeProto* n, const char* name, const char* value) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

std::vector<float> pattern(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i * 7 % 11) - 5);
  return v;
}

// Outputs: "seq" [B, T·dirs·H] (Y batch-first, flattened) and "last" [B, H] (Y_h[-1]).
OnnxBuilder torch_style(bool lstm, bool bidirectional, int64_t lbr) {
  const int64_t dirs = bidirectional ? 2 : 1, G = lstm ? 4 : 3;
  OnnxBuilder b;
  b.input("x_in", kFloat, {-1, T * D});
  b.ints("shape_x", {3}, {0, T, D});
  b.node("Reshape", {"x_in", "shape_x"}, {"x"}, "Reshape_x");
  b.ints("zero", {}, {0});
  b.ints("axes0", {1}, {0});
  b.ints("dirs", {1}, {dirs});
  b.ints("hidden", {1}, {H});
  b.node("Shape", {"x"}, {"shape"}, "Shape_0");
  OnnxBuilder::attr(b.node("Gather", {"shape", "zero"}, {"rows"}, "Gather_1"), "axis", int64_t{0});
  b.node("Unsqueeze", {"rows", "axes0"}, {"rows1"}, "Unsqueeze_2");
  OnnxBuilder::attr(b.node("Concat", {"dirs", "rows1", "hidden"}, {"state_shape"}, "Concat_3"), "axis", int64_t{0});
  b.node("ConstantOfShape", {"state_shape"}, {"zeros"}, "ConstantOfShape_4");
  OnnxBuilder::attr(b.node("Transpose", {"x"}, {"xt"}, "Transpose_5"), "perm", std::vector<int64_t>{1, 0, 2});
  b.floats("W", {dirs, G * H, D}, pattern(dirs * G * H * D, 0.15f));
  b.floats("R", {dirs, G * H, H}, pattern(dirs * G * H * H, -0.1f));
  b.floats("B", {dirs, 2 * G * H}, pattern(dirs * 2 * G * H, 0.05f));
  std::vector<std::string> inputs = {"xt", "W", "R", "B", "", "zeros"};
  std::vector<std::string> outputs = {"Y", "Y_h"};
  if (lstm) {
    inputs.push_back("zeros");
    outputs.push_back("Y_c");
  }
  auto* rnn = b.node(lstm ? "LSTM" : "GRU", inputs, outputs, "RNN_6");
  OnnxBuilder::attr(rnn, "hidden_size", H);
  if (!lstm) OnnxBuilder::attr(rnn, "linear_before_reset", lbr);
  if (bidirectional) string_attr(rnn, "direction", "bidirectional");
  if (bidirectional) {  // [T, dirs, B, H] -> [T, B, dirs, H] -> [T, B, dirs·H]
    OnnxBuilder::attr(b.node("Transpose", {"Y"}, {"Yt"}, "Transpose_7"), "perm", std::vector<int64_t>{0, 2, 1, 3});
    b.ints("shape3", {3}, {0, 0, -1});
    b.node("Reshape", {"Yt", "shape3"}, {"Ytm"}, "Reshape_8");
  } else {
    b.ints("axes1", {1}, {1});
    b.node("Squeeze", {"Y", "axes1"}, {"Ytm"}, "Squeeze_8");
  }
  OnnxBuilder::attr(b.node("Transpose", {"Ytm"}, {"Ybf"}, "Transpose_9"), "perm", std::vector<int64_t>{1, 0, 2});
  OnnxBuilder::attr(b.node("Flatten", {"Ybf"}, {"seq"}, "Flatten_10"), "axis", int64_t{1});
  b.ints("minus_one", {}, {-1});
  OnnxBuilder::attr(b.node("Gather", {"Y_h", "minus_one"}, {"last"}, "Gather_11"), "axis", int64_t{0});
  b.output("seq");
  b.output("last");
  return b;
}

// The packed RECURRENT output of the reference interpreter for the same x.
RefTensor packed_reference(bool lstm, bool bidirectional, int64_t lbr, const RefTensor& x) {
  const int64_t dirs = bidirectional ? 2 : 1, G = lstm ? 4 : 3;
  Graph g;
  const int xv = g.add_activation("x", DType::kFloat32, {kRows, T, D});
  g.features.push_back(Feature{"x", false, FeatureKind::kDense, T * D, 0, 0, xv});
  const int w = g.add_float_constant("W", {dirs, G * H, D}, pattern(dirs * G * H * D, 0.15f));
  const int r = g.add_float_constant("R", {dirs, G * H, H}, pattern(dirs * G * H * H, -0.1f));
  const int b = g.add_float_constant("B", {dirs, 2 * G * H}, pattern(dirs * 2 * G * H, 0.05f));
  NodeOptions o;
  o.lstm = lstm;
  o.direction = bidirectional ? 2 : 0;
  o.hidden_size = H;
  o.linear_before_reset = !lstm && lbr != 0;
  const int out = g.emit(Op::kRecurrent, {xv, w, r, b}, o, "rnn");
  NodeOptions flat;
  flat.shape = {kRows, (T + (lstm ? 2 : 1)) * dirs * H};
  const int flattened = g.emit(Op::kReshape, {out}, flat, "flat");
  const int64_t width = flat.shape[1];
  for (int64_t c = 0; c < width; ++c) g.tasks.push_back(Task{"p" + std::to_string(c), false, flattened, c});
  const auto rows = run_reference(g, {{xv, x}});
  RefTensor t;
  t.shape = {x.shape[0], T + (lstm ? 2 : 1), dirs * H};
  for (const auto& row : rows) t.data.insert(t.data.end(), row.begin(), row.end());
  return t;
}

TEST_CASE("torch's LSTM and GRU import as one RECURRENT, rows first, and compute the ONNX outputs") {
  struct Case {
    bool lstm, bidirectional;
    int64_t lbr;
  };
  for (const Case c : {Case{true, false, 0}, Case{true, true, 0}, Case{false, false, 1}, Case{false, true, 1},
                       Case{false, false, 0}}) {
    CAPTURE(c.lstm);
    CAPTURE(c.bidirectional);
    CAPTURE(c.lbr);
    const int64_t dirs = c.bidirectional ? 2 : 1;
    Graph g = import_onnx_bytes(torch_style(c.lstm, c.bidirectional, c.lbr).bytes(), {});
    run_pipeline(g, {});
    CHECK(live_nodes(g, Op::kRecurrent) == 1);
    CHECK(live_nodes(g, Op::kTranspose) == 0);
    for (const Node& n : g.nodes)
      if (!n.dead && n.op == Op::kRecurrent) CHECK_FALSE(n.options.initial_state);  // the zero state is dropped
    REQUIRE(g.tasks.size() == static_cast<size_t>(T * dirs * H + H));
    std::mt19937 rng(5);
    auto inputs = random_inputs(g, rng, 3, false);
    RefTensor x = inputs.at(g.features[0].value);
    x.shape = {3, T, D};
    const auto got = run_reference(g, inputs);
    const RefTensor packed = packed_reference(c.lstm, c.bidirectional, c.lbr, x);
    const int64_t steps = packed.shape[1], width = packed.shape[2];
    for (int64_t row = 0; row < 3; ++row) {
      // seq: Y[t, d, row, :] at column (t·dirs + d)·H; last: Y_h[dirs - 1, row, :].
      for (int64_t e = 0; e < T * dirs * H; ++e)
        CHECK(got[row][e] == doctest::Approx(packed.data[(row * steps) * width + e]).epsilon(1e-9));
      for (int64_t j = 0; j < H; ++j)
        CHECK(got[row][T * dirs * H + j] ==
              doctest::Approx(packed.data[(row * steps + T) * width + (dirs - 1) * H + j]).epsilon(1e-9));
    }
  }
}

TEST_CASE("the reference LSTM and GRU match the ONNX formulas on one step by hand") {
  // The first step from a zero state: LSTM h = o·tanh(i·c~), GRU h = (1 - z)·h~.
  RefTensor x;
  x.shape = {1, T, D};
  x.data = {0.5, -1.0, 0.25, 0.75, -0.5, 1.5};
  for (bool lstm : {true, false}) {
    CAPTURE(lstm);
    const RefTensor out = packed_reference(lstm, false, 1, x);
    const int64_t G = lstm ? 4 : 3;
    const auto w = pattern(G * H * D, 0.15f), b = pattern(2 * G * H, 0.05f);
    auto pre = [&](int64_t gate, int64_t j) {  // x_0·W_gᵀ + Wb_g + Rb_g (h = 0)
      double s = b[gate * H + j] + b[G * H + gate * H + j];
      for (int64_t k = 0; k < D; ++k) s += x.data[k] * w[(gate * H + j) * D + k];
      return s;
    };
    auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
    for (int64_t j = 0; j < H; ++j) {
      // GRU with linear_before_reset: h~ = tanh(x·W_hᵀ + Wb_h + r ⊙ Rb_h) from h = 0.
      const double rb_h = b[G * H + 2 * H + j];
      const double h = lstm ? sig(pre(1, j)) * std::tanh(sig(pre(0, j)) * std::tanh(pre(3, j)))
                            : (1 - sig(pre(0, j))) * std::tanh(pre(2, j) - rb_h + sig(pre(1, j)) * rb_h);
      CHECK(out.data[j] == doctest::Approx(h).epsilon(1e-6));
    }
  }
}

TEST_CASE("an initial state computed from the rows and run-time sequence_lens import into RECURRENT's inputs") {
  // initial_h (and initial_c, or zeros_like(initial_h) for it: a 1-row zero constant) = Unsqueeze(input
  // [B, H], 0), sequence_lens an int64 [B] input; the
  // imported graph must compute what one RECURRENT with those inputs computes (the reference
  // interpreter's LSTM/GRU, from the ONNX definitions), for lengths 1..T.
  constexpr int kInt64 = onnx::TensorProto::INT64;
  struct Case {
    bool lstm, zero_c;  // zero_c: initial_c = zeros_like(initial_h) (ConstantOfShape(Shape(h0)))
  };
  for (const Case c : {Case{true, false}, Case{true, true}, Case{false, false}}) {
    const bool lstm = c.lstm;
    CAPTURE(lstm);
    CAPTURE(c.zero_c);
    const int64_t G = lstm ? 4 : 3;
    OnnxBuilder b;
    b.input("x_in", kFloat, {-1, T * D});
    b.input("h_in", kFloat, {-1, H});
    if (lstm && !c.zero_c) b.input("c_in", kFloat, {-1, H});
    b.input("lens", kInt64, {-1});
    b.ints("axes0", {1}, {0});
    b.ints("shape_x", {3}, {0, T, D});
    b.node("Reshape", {"x_in", "shape_x"}, {"x"}, "Reshape_x");
    OnnxBuilder::attr(b.node("Transpose", {"x"}, {"xt"}, "Transpose_0"), "perm", std::vector<int64_t>{1, 0, 2});
    b.node("Unsqueeze", {"h_in", "axes0"}, {"h0"}, "Unsqueeze_h");
    if (lstm && !c.zero_c) b.node("Unsqueeze", {"c_in", "axes0"}, {"c0"}, "Unsqueeze_c");
    if (c.zero_c) {
      b.node("Shape", {"h0"}, {"h0_shape"}, "Shape_h");
      b.node("ConstantOfShape", {"h0_shape"}, {"c0"}, "ConstantOfShape_c");
    }
    b.floats("W", {1, G * H, D}, pattern(G * H * D, 0.15f));
    b.floats("R", {1, G * H, H}, pattern(G * H * H, -0.1f));
    b.floats("B", {1, 2 * G * H}, pattern(2 * G * H, 0.05f));
    std::vector<std::string> inputs = {"xt", "W", "R", "B", "lens", "h0"};
    if (lstm) inputs.push_back("c0");
    auto* rnn = b.node(lstm ? "LSTM" : "GRU", inputs, {"", "Y_h"}, "RNN_1");
    OnnxBuilder::attr(rnn, "hidden_size", H);
    b.ints("zero", {}, {0});
    OnnxBuilder::attr(b.node("Gather", {"Y_h", "zero"}, {"last"}, "Gather_2"), "axis", int64_t{0});
    b.output("last");
    Graph g = import_onnx_bytes(b.bytes(), {});
    run_pipeline(g, {});
    REQUIRE(live_nodes(g, Op::kRecurrent) == 1);
    for (const Node& n : g.nodes)
      if (!n.dead && n.op == Op::kRecurrent) {
        CHECK(n.options.initial_state);
        CHECK(n.options.sequence_lens);
      }
    std::mt19937 rng(21);
    auto feeds = random_inputs(g, rng, 4, false);
    auto feature = [&](const char* name) {
      for (const Feature& f : g.features)
        if (f.name == name) return f.value;
      FAIL("no feature " << name);
      return -1;
    };
    RefTensor& lens = feeds.at(feature("lens"));
    lens.data = {1, 3, 2, 3};
    const auto got = run_reference(g, feeds);

    // The same RECURRENT built by hand.
    Graph want;
    const int xv = want.add_activation("x", DType::kFloat32, {kRows, T, D});
    const int hv = want.add_activation("h0", DType::kFloat32, {kRows, 1, H});
    const int cv = want.add_activation("c0", DType::kFloat32, {kRows, 1, H});
    const int lv = want.add_activation("lens", DType::kInt64, {kRows});
    for (auto [name, v] : {std::pair<const char*, int>{"x", xv}, {"h0", hv}, {"c0", cv}, {"lens", lv}})
      want.features.push_back(Feature{name, false, v == lv ? FeatureKind::kId : FeatureKind::kDense, 1, 0, 0, v});
    NodeOptions o;
    o.lstm = lstm;
    o.hidden_size = H;
    o.initial_state = true;
    o.sequence_lens = true;
    std::vector<int> rnn_inputs = {xv, want.add_float_constant("W", {1, G * H, D}, pattern(G * H * D, 0.15f)),
                                   want.add_float_constant("R", {1, G * H, H}, pattern(G * H * H, -0.1f)),
                                   want.add_float_constant("B", {1, 2 * G * H}, pattern(2 * G * H, 0.05f)), hv};
    if (lstm) rnn_inputs.push_back(cv);
    rnn_inputs.push_back(lv);
    const int out = want.emit(Op::kRecurrent, rnn_inputs, o, "rnn");
    NodeOptions take;
    take.axis = 1;
    take.indices = {T};
    const int last = want.emit(Op::kTake, {out}, take, "last");  // [rows, 1, H]: Y_h
    NodeOptions flat;
    flat.shape = {kRows, H};
    add_tasks(want, want.emit(Op::kReshape, {last}, flat, "flat"));
    RefTensor x = feeds.at(feature("x_in"));
    x.shape = {4, T, D};
    std::map<int, RefTensor> want_feeds = {{xv, x}, {lv, lens}};
    RefTensor h0 = feeds.at(feature("h_in"));
    h0.shape = {4, 1, H};
    want_feeds[hv] = h0;
    if (lstm && c.zero_c) {
      RefTensor c0;
      c0.shape = {4, 1, H};
      c0.data.assign(4 * H, 0.0);
      want_feeds[cv] = c0;
    } else if (lstm) {
      RefTensor c0 = feeds.at(feature("c_in"));
      c0.shape = {4, 1, H};
      want_feeds[cv] = c0;
    } else {
      want_feeds[cv] = h0;  // unused
    }
    const auto expected = run_reference(want, want_feeds);
    REQUIRE(got.size() == expected.size());
    CHECK(max_difference(got, expected) < 1e-12);
    // A length-1 row differs from the full-length one (the lengths are read).
    CHECK(std::abs(got[0][0] - got[1][0]) > 0);
  }
}

TEST_CASE("a time-major tensor that reaches a graph output or another op is refused by name") {
  OnnxBuilder b;
  b.input("x", kFloat, {-1, T, D});
  OnnxBuilder::attr(b.node("Transpose", {"x"}, {"xt"}, "Transpose_1"), "perm", std::vector<int64_t>{1, 0, 2});
  b.node("Relu", {"xt"}, {"y"}, "Relu_2");
  b.output("y");
  std::string error;
  try {
    import_onnx_bytes(b.bytes(), {});
  } catch (const ConversionError& e) {
    error = e.what();
  }
  CHECK(error.find("node 'Relu_2' (Relu): reads 'xt', a tensor with its rows at axis 1") == 0);
}

}  // namespace
}  // namespace edgemtl::converter::test
