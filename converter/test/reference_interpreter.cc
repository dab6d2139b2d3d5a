#include "converter/test/reference_interpreter.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <stdexcept>

namespace edgemtl::converter::test {
namespace {

int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Multi-index <-> flat index, row-major.
std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

// Element of `t` read at output position `index` under numpy broadcasting.
double at_broadcast(const RefTensor& t, const std::vector<int64_t>& index) {
  std::vector<int64_t> own(t.shape.size());
  size_t offset = index.size() - t.shape.size();
  for (size_t d = 0; d < t.shape.size(); ++d) own[d] = t.shape[d] == 1 ? 0 : index[offset + d];
  return t.data[ravel(own, t.shape)];
}

std::vector<int64_t> broadcast(const std::vector<const RefTensor*>& ts) {
  size_t rank = 0;
  for (auto* t : ts) rank = std::max(rank, t->shape.size());
  std::vector<int64_t> out(rank, 1);
  for (auto* t : ts)
    for (size_t d = 0; d < t->shape.size(); ++d) {
      int64_t& o = out[rank - t->shape.size() + d];
      if (t->shape[d] != 1) {
        if (o != 1 && o != t->shape[d]) throw std::runtime_error("reference: shapes do not broadcast");
        o = t->shape[d];
      }
    }
  return out;
}

double activate(double x, Activation a, double alpha) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x < 0 ? 0 : x;
    case Activation::kSigmoid: return 1 / (1 + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kLeakyRelu: return x < 0 ? alpha * x : x;
  }
  return x;
}

RefTensor constant_tensor(const Value& v) {
  RefTensor t;
  t.shape = v.shape;
  if (v.dtype == DType::kFloat32) t.data.assign(v.floats.begin(), v.floats.end());
  else for (int64_t i : v.ints) t.data.push_back(static_cast<double>(i));
  return t;
}

// ONNX LSTM / GRU (default activations) written from the operator definitions in
// their own time-major layout (X[t][b], Y[t][dir][b], Y_h[dir][b]), then stored as
// RECURRENT's row-first output [b, T + S, dirs·H].
RefTensor run_recurrent(const NodeOptions& o, const std::vector<const RefTensor*>& in) {
  const RefTensor& x = *in[0];
  const int64_t B = x.shape[0], T = x.shape[1], D = x.shape[2], H = o.hidden_size;
  const int64_t dirs = o.direction == 2 ? 2 : 1, G = o.lstm ? 4 : 3, S = o.lstm ? 2 : 1;
  const RefTensor &W = *in[1], &R = *in[2], &Bias = *in[3];
  const size_t states = o.initial_state ? (o.lstm ? 2 : 1) : 0;
  const RefTensor* lens = o.sequence_lens ? in[4 + states] : nullptr;
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  // X[t][b][k]
  auto X = [&](int64_t t, int64_t b, int64_t k) { return x.data[(b * T + t) * D + k]; };
  std::vector<double> Y(T * dirs * B * H, 0.0), Yh(dirs * B * H), Yc(dirs * B * H);
  for (int64_t dir = 0; dir < dirs; ++dir) {
    // gate g's row j of W, R and its biases Wb, Rb
    auto w = [&](int64_t g, int64_t j, int64_t k) { return W.data[(dir * G * H + g * H + j) * D + k]; };
    auto r = [&](int64_t g, int64_t j, int64_t k) { return R.data[(dir * G * H + g * H + j) * H + k]; };
    auto wb = [&](int64_t g, int64_t j) { return Bias.data[dir * 2 * G * H + g * H + j]; };
    auto rb = [&](int64_t g, int64_t j) { return Bias.data[dir * 2 * G * H + G * H + g * H + j]; };
    for (int64_t b = 0; b < B; ++b) {
      std::vector<double> h(H, 0.0), c(H, 0.0);
      if (states) {
        const RefTensor& h0 = *in[4];
        const int64_t row = h0.shape[0] == 1 ? 0 : b;
        for (int64_t j = 0; j < H; ++j) h[j] = h0.data[(row * dirs + dir) * H + j];
        if (o.lstm)
          for (int64_t j = 0; j < H; ++j) c[j] = in[5]->data[((in[5]->shape[0] == 1 ? 0 : b) * dirs + dir) * H + j];
      }
      const int64_t L = lens ? static_cast<int64_t>(lens->data[b]) : T;
      const bool reverse = dir == 1 || o.direction == 1;
      for (int64_t s = 0; s < L; ++s) {
        const int64_t t = reverse ? L - 1 - s : s;
        // Xt*(W^T) + Wb and Ht-1*(R^T) + Rb, per gate
        auto xw = [&](int64_t g, int64_t j) {
          double v = wb(g, j);
          for (int64_t k = 0; k < D; ++k) v += X(t, b, k) * w(g, j, k);
          return v;
        };
        auto hr = [&](const std::vector<double>& state, int64_t g, int64_t j) {
          double v = rb(g, j);
          for (int64_t k = 0; k < H; ++k) v += state[k] * r(g, j, k);
          return v;
        };
        std::vector<double> next(H);
        if (o.lstm) {
          // it = f(Xt*Wi + Ht-1*Ri + Wbi + Rbi), ft, ct = g(..), Ct = ft (.) Ct-1 + it (.) ct, ot, Ht = ot (.) h(Ct)
          std::vector<double> cell(H);
          for (int64_t j = 0; j < H; ++j) {
            const double it = sigmoid(xw(0, j) + hr(h, 0, j));
            const double ot = sigmoid(xw(1, j) + hr(h, 1, j));
            const double ft = sigmoid(xw(2, j) + hr(h, 2, j));
            const double ct = std::tanh(xw(3, j) + hr(h, 3, j));
            cell[j] = ft * c[j] + it * ct;
            next[j] = ot * std::tanh(cell[j]);
          }
          c = cell;
        } else {
          // zt = f(Xt*Wz + Ht-1*Rz + Wbz + Rbz), rt likewise; ht = g(Xt*Wh + (rt (.) Ht-1)*Rh + Rbh + Wbh)
          // or, linear_before_reset, g(Xt*Wh + (rt (.) (Ht-1*Rh + Rbh)) + Wbh); Ht = (1 - zt) (.) ht + zt (.) Ht-1
          std::vector<double> rt(H), rh(H);
          for (int64_t k = 0; k < H; ++k) {
            rt[k] = sigmoid(xw(1, k) + hr(h, 1, k));
            rh[k] = rt[k] * h[k];
          }
          for (int64_t j = 0; j < H; ++j) {
            const double zt = sigmoid(xw(0, j) + hr(h, 0, j));
            const double ht = o.linear_before_reset ? std::tanh(xw(2, j) + rt[j] * hr(h, 2, j))
                                                    : std::tanh(xw(2, j) + hr(rh, 2, j));
            next[j] = (1 - zt) * ht + zt * h[j];
          }
        }
        h = next;
        for (int64_t j = 0; j < H; ++j) Y[((t * dirs + dir) * B + b) * H + j] = h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        Yh[(dir * B + b) * H + j] = h[j];
        Yc[(dir * B + b) * H + j] = c[j];
      }
    }
  }
  RefTensor out;
  out.shape = {B, T + S, dirs * H};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t dir = 0; dir < dirs; ++dir)
        for (int64_t j = 0; j < H; ++j) out.data.push_back(Y[((t * dirs + dir) * B + b) * H + j]);
    for (int64_t dir = 0; dir < dirs; ++dir)
      for (int64_t j = 0; j < H; ++j) out.data.push_back(Yh[(dir * B + b) * H + j]);
    if (o.lstm)
      for (int64_t dir = 0; dir < dirs; ++dir)
        for (int64_t j = 0; j < H; ++j) out.data.push_back(Yc[(dir * B + b) * H + j]);
  }
  return out;
}

RefTensor run_node(const Graph& g, const Node& n, const std::vector<const RefTensor*>& in, int64_t stage_rows) {
  const NodeOptions& o = n.options;
  RefTensor out;
  auto elementwise = [&](auto f) {
    out.shape = broadcast(in);
    for (int64_t e = 0; e < count(out.shape); ++e) {
      auto index = unravel(e, out.shape);
      std::vector<double> args;
      for (auto* t : in) args.push_back(at_broadcast(*t, index));
      out.data.push_back(f(args));
    }
  };
  switch (n.op) {
    case Op::kFullyConnected: {
      const RefTensor& x = *in[0];
      const RefTensor& w = *in[1];
      int64_t units = w.shape[0], k = w.shape[1];
      out.shape = x.shape;
      out.shape.back() = units;
      // A 4th input (addend): x + its columns addend_offset.., one row for all when it has one, then input_activation.
      auto input = [&](int64_t r, int64_t i) {
        if (in.size() < 4) return x.data[r * k + i];
        const RefTensor& a = *in[3];
        const int64_t width = a.shape.back(), row = count(a.shape) / width == 1 ? 0 : r;
        return activate(x.data[r * k + i] + a.data[row * width + o.addend_offset + i], o.input_activation, o.input_alpha);
      };
      for (int64_t r = 0; r < count(x.shape) / k; ++r)
        for (int64_t j = 0; j < units; ++j) {
          double s = in.size() >= 3 ? in[2]->data[j] : 0;
          for (int64_t i = 0; i < k; ++i) s += input(r, i) * w.data[j * k + i];
          out.data.push_back(activate(s, o.activation, o.alpha));
        }
      return out;
    }
    case Op::kEmbedding: {
      const RefTensor& table = *in[0];
      out.shape = in[1]->shape;
      out.shape.push_back(table.shape[1]);
      for (double id : in[1]->data) {
        int64_t row = static_cast<int64_t>(id);
        if (row < 0 || row >= table.shape[0]) row = o.default_row;
        for (int64_t d = 0; d < table.shape[1]; ++d) out.data.push_back(table.data[row * table.shape[1] + d]);
      }
      return out;
    }
    case Op::kBag: {  // every position of the list, in order; mean over all of them
      const RefTensor& table = *in[0];
      const RefTensor& ids = *in[1];
      const int64_t d = table.shape[1], length = ids.shape[1], rows = ids.shape[0];
      out.shape = {rows, d};
      out.data.assign(static_cast<size_t>(rows * d), 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < d; ++k) {
          double acc = o.bag_mode == 2 ? -1e300 : 0.0;
          for (int64_t j = 0; j < length; ++j) {
            const double v = table.data[static_cast<int64_t>(ids.data[r * length + j]) * d + k];
            if (o.bag_mode == 2) acc = v > acc ? v : acc;
            else acc += (in.size() == 3 ? in[2]->data[r * length + j] : 1.0) * v;
          }
          out.data[r * d + k] = o.bag_mode == 1 ? acc / static_cast<double>(length) : acc;
        }
      return out;
    }
    case Op::kEmbeddingMulti: {
      const RefTensor& table = *in[0];
      const int64_t d = table.shape[1];
      const size_t k = in.size() - 1;
      int64_t rows = 1;
      for (size_t j = 1; j < in.size(); ++j) rows = std::max(rows, in[j]->shape[0]);
      out.shape = {rows, static_cast<int64_t>(k) * d};
      for (int64_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < k; ++j) {
          const RefTensor& ids = *in[j + 1];
          int64_t id = static_cast<int64_t>(ids.data[ids.shape[0] == 1 ? 0 : r]);
          if (id < 0 || id >= o.row_counts[j]) id = o.default_rows[j];
          const int64_t row = o.row_offsets[j] + id;
          for (int64_t e = 0; e < d; ++e) out.data.push_back(table.data[row * d + e]);
        }
      return out;
    }
    case Op::kAdd: elementwise([&](auto& a) { return activate(a[0] + a[1], o.activation, o.alpha); }); return out;
    case Op::kSub: elementwise([&](auto& a) { return activate(a[0] - a[1], o.activation, o.alpha); }); return out;
    case Op::kMul: elementwise([&](auto& a) { return activate(a[0] * a[1], o.activation, o.alpha); }); return out;
    case Op::kDiv: elementwise([&](auto& a) { return activate(a[0] / a[1], o.activation, o.alpha); }); return out;
    case Op::kMax: elementwise([&](auto& a) { return activate(std::max(a[0], a[1]), o.activation, o.alpha); }); return out;
    case Op::kMin: elementwise([&](auto& a) { return activate(std::min(a[0], a[1]), o.activation, o.alpha); }); return out;
    case Op::kEqual: elementwise([](auto& a) { return a[0] == a[1] ? 1.0 : 0.0; }); return out;
    case Op::kNot: elementwise([](auto& a) { return a[0] != 0 ? 0.0 : 1.0; }); return out;
    case Op::kWhere: elementwise([](auto& a) { return a[0] != 0 ? a[1] : a[2]; }); return out;
    case Op::kCast:
      elementwise([&](auto& a) {
        return o.cast_to == DType::kBool ? (a[0] != 0 ? 1.0 : 0.0) : o.cast_to == DType::kInt64 ? std::trunc(a[0]) : a[0];
      });
      return out;
    case Op::kRelu: elementwise([](auto& a) { return activate(a[0], Activation::kRelu, 0); }); return out;
    case Op::kSigmoid: elementwise([](auto& a) { return activate(a[0], Activation::kSigmoid, 0); }); return out;
    case Op::kTanh: elementwise([](auto& a) { return activate(a[0], Activation::kTanh, 0); }); return out;
    case Op::kLeakyRelu: elementwise([&](auto& a) { return activate(a[0], Activation::kLeakyRelu, o.alpha); }); return out;
    case Op::kClip: elementwise([&](auto& a) { return std::min<double>(std::max<double>(a[0], o.clip_min), o.clip_max); }); return out;
    case Op::kPRelu: elementwise([](auto& a) { return a[0] < 0 ? a[0] * a[1] : a[0]; }); return out;
    case Op::kSoftmax: case Op::kReduceSum: case Op::kReduceMean: {
      const RefTensor& x = *in[0];
      std::vector<int64_t> axes = n.op == Op::kSoftmax ? std::vector<int64_t>{o.axis} : o.axes;
      std::vector<int64_t> kept = x.shape;
      for (int64_t a : axes) kept[a] = 1;
      std::vector<double> sum(count(kept), 0.0), maximum(count(kept), -1e300);
      auto target = [&](int64_t e) {
        auto index = unravel(e, x.shape);
        for (int64_t a : axes) index[a] = 0;
        return ravel(index, kept);
      };
      for (int64_t e = 0; e < count(x.shape); ++e) maximum[target(e)] = std::max(maximum[target(e)], x.data[e]);
      for (int64_t e = 0; e < count(x.shape); ++e)
        sum[target(e)] += n.op == Op::kSoftmax ? std::exp(x.data[e] - maximum[target(e)]) : x.data[e];
      if (n.op == Op::kSoftmax) {
        out.shape = x.shape;
        for (int64_t e = 0; e < count(x.shape); ++e) out.data.push_back(std::exp(x.data[e] - maximum[target(e)]) / sum[target(e)]);
        return out;
      }
      int64_t reduced = count(x.shape) / count(kept);
      for (double s : sum) out.data.push_back(n.op == Op::kReduceMean ? s / reduced : s);
      for (size_t d = 0; d < kept.size(); ++d) {
        bool is_reduced = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
        if (!is_reduced || o.keepdims) out.shape.push_back(kept[d]);
      }
      return out;
    }
    case Op::kConcat: {
      int64_t rows = 1;
      for (auto* t : in) rows = std::max(rows, t->shape[0]);
      out.shape = in[0]->shape;
      out.shape[0] = rows;
      out.shape[o.axis] = 0;
      for (auto* t : in) out.shape[o.axis] += t->shape[o.axis];
      for (int64_t e = 0; e < count(out.shape); ++e) {
        auto index = unravel(e, out.shape);
        int64_t along = index[o.axis];
        for (auto* t : in) {
          if (along < t->shape[o.axis]) {
            index[o.axis] = along;
            if (t->shape[0] == 1) index[0] = 0;  // a user tensor, broadcast
            out.data.push_back(t->data[ravel(index, t->shape)]);
            break;
          }
          along -= t->shape[o.axis];
        }
      }
      return out;
    }
    case Op::kMatMul: {
      // Batch dims broadcast (a 1-row user tensor too), then [m, k] x [k, n].
      const RefTensor& a = *in[0];
      const RefTensor& b = *in[1];
      const size_t rank = std::max(a.shape.size(), b.shape.size());
      RefTensor a_batch{std::vector<int64_t>(a.shape.begin(), a.shape.end() - 2), {}};
      RefTensor b_batch{std::vector<int64_t>(b.shape.begin(), b.shape.end() - 2), {}};
      out.shape = broadcast({&a_batch, &b_batch});
      const int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back(), cols = b.shape.back();
      out.shape.push_back(m);
      out.shape.push_back(cols);
      for (int64_t e = 0; e < count(out.shape); ++e) {
        const auto index = unravel(e, out.shape);
        double sum = 0;
        for (int64_t q = 0; q < k; ++q) {
          std::vector<int64_t> ai(index.begin(), index.end()), bi(index.begin(), index.end());
          ai[rank - 1] = q;
          bi[rank - 2] = q;
          sum += at_broadcast(a, ai) * at_broadcast(b, bi);
        }
        out.data.push_back(sum);
      }
      return out;
    }
    case Op::kMix: {
      // Mixture m: out[r, m D + i] = sum_e gate[r, m E + e] * h_e[r, i]; 1-row inputs broadcast.
      const int64_t experts = static_cast<int64_t>(in.size()) - 1;
      int64_t rows = 1;
      for (auto* t : in) rows = std::max(rows, t->shape[0]);
      const int64_t d = in[1]->shape[1], mixtures = in[0]->shape[1] / experts;
      out.shape = {rows, mixtures * d};
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t m = 0; m < mixtures; ++m)
          for (int64_t i = 0; i < d; ++i) {
            double sum = 0;
            for (int64_t e = 0; e < experts; ++e) {
              const RefTensor& h = *in[static_cast<size_t>(e) + 1];
              sum += in[0]->data[(in[0]->shape[0] == 1 ? 0 : r) * mixtures * experts + m * experts + e] *
                     h.data[(h.shape[0] == 1 ? 0 : r) * d + i];
            }
            out.data.push_back(sum);
          }
      return out;
    }
    case Op::kTake: {
      const RefTensor& x = *in[0];
      out.shape = x.shape;
      out.shape[o.axis] = static_cast<int64_t>(o.indices.size());
      for (int64_t e = 0; e < count(out.shape); ++e) {
        auto index = unravel(e, out.shape);
        index[o.axis] = o.indices[index[o.axis]];
        out.data.push_back(x.data[ravel(index, x.shape)]);
      }
      return out;
    }
    case Op::kReshape:
      out = *in[0];
      out.shape = o.shape;
      if (out.shape[0] == kRows) out.shape[0] = in[0]->shape[0];
      return out;
    case Op::kBroadcastRows:
      return repeat_rows(*in[0], stage_rows);
    case Op::kUnary: {
      // Written from the ONNX / torch definitions.
      const double pi = 3.14159265358979323846;
      elementwise([&](auto& a) {
        const double x = a[0];
        switch (o.function) {
          case UnaryFunction::kLog: return std::log(x);
          case UnaryFunction::kExp: return std::exp(x);
          case UnaryFunction::kSqrt: return std::sqrt(x);
          case UnaryFunction::kReciprocal: return 1 / x;
          case UnaryFunction::kAbs: return x < 0 ? -x : x;
          case UnaryFunction::kNeg: return -x;
          case UnaryFunction::kPow: return std::pow(x, static_cast<double>(o.exponent));
          case UnaryFunction::kErf: return std::erf(x);
          case UnaryFunction::kSoftplus: return std::log(1 + std::exp(x));
          case UnaryFunction::kFloor: return std::floor(x);
          case UnaryFunction::kCeil: return std::ceil(x);
          case UnaryFunction::kGelu: return x * 0.5 * (1 + std::erf(x / std::sqrt(2.0)));
          case UnaryFunction::kGeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x)));
        }
        return x;
      });
      return out;
    }
    case Op::kCompare:
      elementwise([&](auto& a) {
        switch (o.predicate) {
          case Compare::kGreater: return a[0] > a[1] ? 1.0 : 0.0;
          case Compare::kLess: return a[0] < a[1] ? 1.0 : 0.0;
          case Compare::kGreaterEqual: return a[0] >= a[1] ? 1.0 : 0.0;
          case Compare::kLessEqual: return a[0] <= a[1] ? 1.0 : 0.0;
        }
        return 0.0;
      });
      return out;
    case Op::kLogical:
      elementwise([&](auto& a) {
        const bool p = a[0] != 0, q = a[1] != 0;
        return (o.logical == Logical::kAnd ? p && q : o.logical == Logical::kOr ? p || q : p != q) ? 1.0 : 0.0;
      });
      return out;
    case Op::kIsNan: elementwise([](auto& a) { return std::isnan(a[0]) ? 1.0 : 0.0; }); return out;
    case Op::kIsInf:
      elementwise([&](auto& a) {
        return std::isinf(a[0]) && (a[0] > 0 ? o.detect_positive : o.detect_negative) ? 1.0 : 0.0;
      });
      return out;
    case Op::kReduceMax: case Op::kReduceMin: case Op::kReduceProd: case Op::kReduceL2: {
      const RefTensor& x = *in[0];
      std::vector<int64_t> kept = x.shape;
      for (int64_t a : o.axes) kept[a] = 1;
      std::vector<std::vector<double>> groups(count(kept));
      for (int64_t e = 0; e < count(x.shape); ++e) {
        auto index = unravel(e, x.shape);
        for (int64_t a : o.axes) index[a] = 0;
        groups[ravel(index, kept)].push_back(x.data[e]);
      }
      for (const std::vector<double>& values : groups) {
        double r = n.op == Op::kReduceProd ? 1 : 0;
        if (n.op == Op::kReduceMax) r = *std::max_element(values.begin(), values.end());
        else if (n.op == Op::kReduceMin) r = *std::min_element(values.begin(), values.end());
        else for (double v : values) r = n.op == Op::kReduceProd ? r * v : r + v * v;
        out.data.push_back(n.op == Op::kReduceL2 ? std::sqrt(r) : r);
      }
      for (size_t d = 0; d < kept.size(); ++d) {
        bool is_reduced = std::find(o.axes.begin(), o.axes.end(), static_cast<int64_t>(d)) != o.axes.end();
        if (!is_reduced || o.keepdims) out.shape.push_back(kept[d]);
      }
      return out;
    }
    case Op::kLayerNorm: {
      const RefTensor& x = *in[0];
      const int64_t inner = count(std::vector<int64_t>(x.shape.begin() + o.axis, x.shape.end()));
      out.shape = x.shape;
      for (int64_t start = 0; start < count(x.shape); start += inner) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner; ++i) mean += x.data[start + i] / inner;
        for (int64_t i = 0; i < inner; ++i) var += (x.data[start + i] - mean) * (x.data[start + i] - mean) / inner;
        for (int64_t i = 0; i < inner; ++i)
          out.data.push_back((x.data[start + i] - mean) / std::sqrt(var + o.epsilon) * in[1]->data[i] +
                             (in.size() > 2 ? in[2]->data[i] : 0.0));
      }
      return out;
    }
    case Op::kRecurrent:
      return run_recurrent(o, in);
    default:
      throw std::runtime_error(std::string("reference interpreter lacks ") + op_name(n.op));
  }
  (void)g;
}

}  // namespace

RefTensor random_tensor(std::mt19937& rng, std::vector<int64_t> shape, int64_t id_limit) {
  RefTensor t;
  t.shape = std::move(shape);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  for (int64_t e = 0; e < count(t.shape); ++e)
    t.data.push_back(id_limit > 0 ? static_cast<double>(rng() % id_limit) : static_cast<float>(uniform(rng)));
  return t;
}

RefTensor repeat_rows(const RefTensor& t, int64_t rows) {
  RefTensor out = t;
  out.shape[0] = rows;
  out.data.clear();
  for (int64_t r = 0; r < rows; ++r) out.data.insert(out.data.end(), t.data.begin(), t.data.begin() + count(t.shape) / t.shape[0]);
  return out;
}

std::vector<std::vector<double>> run_reference(const Graph& g, const std::map<int, RefTensor>& inputs, bool two_stages) {
  std::map<int, RefTensor> values = inputs;
  int64_t item_rows = 1;
  for (const Feature& f : g.features)
    if (!f.user || !two_stages) item_rows = std::max(item_rows, inputs.at(f.value).shape[0]);
  auto get = [&](int v) -> const RefTensor* {
    auto it = values.find(v);
    if (it == values.end()) {
      if (!g.values[v].is_constant) throw std::runtime_error("reference: value '" + g.values[v].name + "' not computed");
      it = values.emplace(v, constant_tensor(g.values[v])).first;
    }
    return &it->second;
  };
  std::vector<Side> order = two_stages ? std::vector<Side>{Side::kUser, Side::kItem, Side::kCross} : std::vector<Side>{Side::kConstant};
  for (Side stage : order) {
    for (const Node& n : g.nodes) {
      if (n.dead || (two_stages && n.stage != stage)) continue;
      std::vector<const RefTensor*> in;
      for (int v : n.inputs) in.push_back(get(v));
      values[n.outputs[0]] = run_node(g, n, in, stage == Side::kUser ? 1 : item_rows);
    }
  }
  std::vector<std::vector<double>> result(item_rows);
  for (const Task& t : g.tasks) {
    const RefTensor& v = *get(t.value);
    int64_t per_row = count(v.shape) / v.shape[0];
    for (int64_t r = 0; r < item_rows; ++r) {
      int64_t row = v.shape[0] == 1 ? 0 : r;
      result[r].push_back(v.data[row * per_row + t.column]);
    }
  }
  return result;
}

}  // namespace edgemtl::converter::test
