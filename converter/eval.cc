#include "converter/eval.h"

#include <algorithm>
#include <cmath>

namespace edgemtl::converter {

std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape) {
  const size_t rank = out_shape.size();
  std::vector<int64_t> in_stride(rank, 0);  // 0 on broadcast (and missing) dims
  int64_t stride = 1;
  for (size_t k = 0; k < in_shape.size(); ++k) {
    size_t i = in_shape.size() - 1 - k;
    size_t o = rank - 1 - k;
    in_stride[o] = in_shape[i] == 1 ? 0 : stride;
    stride *= in_shape[i];
  }
  const int64_t total = product(out_shape);
  std::vector<int64_t> offsets(total);
  std::vector<int64_t> index(rank, 0);
  int64_t offset = 0;
  for (int64_t e = 0; e < total; ++e) {
    offsets[e] = offset;
    for (size_t d = rank; d-- > 0;) {  // odometer increment
      ++index[d];
      offset += in_stride[d];
      if (index[d] < out_shape[d]) break;
      offset -= in_stride[d] * index[d];
      index[d] = 0;
    }
  }
  return offsets;
}

namespace {

std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

void check_no_symbol(const Value& v, Op op) {
  if (v.has_rows_symbol())
    throw ConversionError(std::string(op_name(op)) + " computes with the row count (only shapes may carry it)");
}

// Applies a gather-style mapping (output element -> input element) to either storage.
Value gather_elements(const Value& in, const std::vector<int64_t>& source, DType dtype,
                      const std::vector<int64_t>& shape) {
  Value out;
  out.dtype = dtype;
  out.shape = shape;
  out.is_constant = true;
  if (in.dtype == DType::kFloat32) {
    out.floats.resize(source.size());
    for (size_t i = 0; i < source.size(); ++i) out.floats[i] = in.floats[source[i]];
  } else {
    out.ints.resize(source.size());
    for (size_t i = 0; i < source.size(); ++i) out.ints[i] = in.ints[source[i]];
  }
  return out;
}

float apply_activation(float x, Activation a, float alpha) {
  switch (a) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x > 0 ? x : 0.0f;
    case Activation::kSigmoid: return 1.0f / (1.0f + std::exp(-x));
    case Activation::kTanh: return std::tanh(x);
    case Activation::kLeakyRelu: return x >= 0 ? x : alpha * x;
  }
  return x;
}

template <typename T>
T binary(Op op, T a, T b) {
  switch (op) {
    case Op::kAdd: return a + b;
    case Op::kSub: return a - b;
    case Op::kMul: return a * b;
    case Op::kDiv:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) throw ConversionError("integer division by zero in a constant");
      }
      return a / b;
    case Op::kMax: return std::max(a, b);
    case Op::kMin: return std::min(a, b);
    default: return a;
  }
}

}  // namespace

Value evaluate(const Graph& g, Op op, const std::vector<int>& inputs, const NodeOptions& o, DType dtype,
               const std::vector<int64_t>& shape) {
  auto in = [&](size_t i) -> const Value& { return g.values.at(inputs.at(i)); };
  Value out;
  out.dtype = dtype;
  out.shape = shape;
  out.is_constant = true;
  const int64_t total = product(shape);
  switch (op) {
    case Op::kFullyConnected: {
      const Value& x = in(0);
      const Value& w = in(1);
      const int64_t n = w.shape[0], k = w.shape[1], rows = product(x.shape) / k;
      out.floats.resize(total);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n; ++j) {
          double acc = inputs.size() == 3 ? in(2).floats[j] : 0.0;
          for (int64_t i = 0; i < k; ++i) acc += double(x.floats[r * k + i]) * w.floats[j * k + i];
          out.floats[r * n + j] = apply_activation(static_cast<float>(acc), o.activation, o.alpha);
        }
      return out;
    }
    case Op::kEmbedding: {
      const Value& table = in(0);
      check_no_symbol(in(1), op);
      const int64_t d = table.shape[1];
      out.floats.resize(total);
      for (size_t r = 0; r < in(1).ints.size(); ++r) {
        int64_t id = in(1).ints[r];
        if (id < 0 || id >= table.shape[0]) throw ConversionError("constant id out of the embedding table");
        std::copy_n(table.floats.begin() + id * d, d, out.floats.begin() + r * d);
      }
      return out;
    }
    case Op::kEmbeddingMulti: {
      const Value& table = in(0);
      const int64_t d = table.shape[1];
      const size_t k = inputs.size() - 1;
      const int64_t rows = shape[0];
      out.floats.resize(total);
      for (size_t j = 0; j < k; ++j) {
        check_no_symbol(in(j + 1), op);
        const auto& ids = in(j + 1).ints;
        for (int64_t r = 0; r < rows; ++r) {
          int64_t id = ids[ids.size() == 1 ? 0 : r];
          if (id < 0 || id >= o.row_counts[j]) {
            if (o.default_rows[j] < 0) throw ConversionError("id out of its embedding table");
            id = o.default_rows[j];
          }
          std::copy_n(table.floats.begin() + (o.row_offsets[j] + id) * d, d,
                      out.floats.begin() + (r * int64_t(k) + int64_t(j)) * d);
        }
      }
      return out;
    }
    case Op::kMix: {
      // f32 products summed in double, as MUL then REDUCE_SUM evaluate here.
      const int64_t d = shape[1], experts = static_cast<int64_t>(inputs.size()) - 1;
      const int64_t rows = shape[0];
      out.floats.resize(total);
      for (int64_t r = 0; r < rows; ++r) {
        const float* g = in(0).floats.data() + (in(0).shape[0] == 1 ? 0 : r) * experts;
        for (int64_t i = 0; i < d; ++i) {
          double acc = 0.0;
          for (int64_t e = 0; e < experts; ++e) {
            const Value& h = in(static_cast<size_t>(e) + 1);
            acc += g[e] * h.floats[(h.shape[0] == 1 ? 0 : r) * d + i];  // a float product
          }
          out.floats[r * d + i] = static_cast<float>(acc);
        }
      }
      return out;
    }
    case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kDiv: case Op::kMax: case Op::kMin: {
      auto a = broadcast_offsets(in(0).shape, shape);
      auto b = broadcast_offsets(in(1).shape, shape);
      if (dtype == DType::kFloat32) {
        out.floats.resize(total);
        for (int64_t e = 0; e < total; ++e)
          out.floats[e] = apply_activation(binary<float>(op, in(0).floats[a[e]], in(1).floats[b[e]]), o.activation, o.alpha);
      } else {
        check_no_symbol(in(0), op);
        check_no_symbol(in(1), op);
        out.ints.resize(total);
        for (int64_t e = 0; e < total; ++e) out.ints[e] = binary<int64_t>(op, in(0).ints[a[e]], in(1).ints[b[e]]);
      }
      return out;
    }
    case Op::kEqual: {
      auto a = broadcast_offsets(in(0).shape, shape);
      auto b = broadcast_offsets(in(1).shape, shape);
      out.ints.resize(total);
      for (int64_t e = 0; e < total; ++e) {
        if (in(0).dtype == DType::kFloat32) {
          out.ints[e] = in(0).floats[a[e]] == in(1).floats[b[e]];
          continue;
        }
        int64_t x = in(0).ints[a[e]], y = in(1).ints[b[e]];
        bool x_rows = x == kRowsSymbol, y_rows = y == kRowsSymbol;
        if (x_rows != y_rows && (x_rows ? y : x) > 0)
          throw ConversionError("EQUAL compares the row count with a positive number");
        out.ints[e] = x == y;
      }
      return out;
    }
    case Op::kNot:
      out.ints.resize(total);
      for (int64_t e = 0; e < total; ++e) out.ints[e] = !in(0).ints[e];
      return out;
    case Op::kWhere: {
      auto c = broadcast_offsets(in(0).shape, shape);
      auto a = broadcast_offsets(in(1).shape, shape);
      auto b = broadcast_offsets(in(2).shape, shape);
      if (dtype == DType::kFloat32) {
        out.floats.resize(total);
        for (int64_t e = 0; e < total; ++e) out.floats[e] = in(0).ints[c[e]] ? in(1).floats[a[e]] : in(2).floats[b[e]];
      } else {
        out.ints.resize(total);
        for (int64_t e = 0; e < total; ++e) out.ints[e] = in(0).ints[c[e]] ? in(1).ints[a[e]] : in(2).ints[b[e]];
      }
      return out;
    }
    case Op::kCast: {
      const Value& x = in(0);
      if (x.dtype != DType::kFloat32 && dtype != DType::kInt64) check_no_symbol(x, op);
      for (int64_t e = 0; e < total; ++e) {
        double v = x.dtype == DType::kFloat32 ? x.floats[e] : static_cast<double>(x.ints[e]);
        if (dtype == DType::kFloat32) out.floats.push_back(static_cast<float>(v));
        else if (dtype == DType::kBool) out.ints.push_back(v != 0);
        else out.ints.push_back(x.dtype == DType::kFloat32 ? static_cast<int64_t>(std::trunc(v)) : x.ints[e]);
      }
      return out;
    }
    case Op::kRelu: case Op::kSigmoid: case Op::kTanh: case Op::kLeakyRelu: {
      Activation a = op == Op::kRelu ? Activation::kRelu
                   : op == Op::kSigmoid ? Activation::kSigmoid
                   : op == Op::kTanh ? Activation::kTanh : Activation::kLeakyRelu;
      for (float x : in(0).floats) out.floats.push_back(apply_activation(x, a, o.alpha));
      return out;
    }
    case Op::kClip:
      for (float x : in(0).floats) out.floats.push_back(std::min(std::max(x, o.clip_min), o.clip_max));
      return out;
    case Op::kPRelu: {
      auto s = broadcast_offsets(in(1).shape, shape);
      for (int64_t e = 0; e < total; ++e) {
        float x = in(0).floats[e];
        out.floats.push_back(x >= 0 ? x : x * in(1).floats[s[e]]);
      }
      return out;
    }
    case Op::kSoftmax: {
      out.floats = in(0).floats;
      const int64_t n = shape[o.axis], inner = product(shape, o.axis + 1), outer = product(shape, 0, o.axis);
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t i = 0; i < inner; ++i) {
          float* base = out.floats.data() + a * n * inner + i;
          float m = base[0];
          for (int64_t j = 1; j < n; ++j) m = std::max(m, base[j * inner]);
          double sum = 0;
          for (int64_t j = 0; j < n; ++j) sum += std::exp(double(base[j * inner]) - m);
          for (int64_t j = 0; j < n; ++j) base[j * inner] = static_cast<float>(std::exp(double(base[j * inner]) - m) / sum);
        }
      return out;
    }
    case Op::kReduceSum: case Op::kReduceMean: {
      const Value& x = in(0);
      check_no_symbol(x, op);
      std::vector<int64_t> kept_shape = x.shape;  // reduced dims become 1
      int64_t count = 1;
      for (int64_t a : o.axes) { count *= kept_shape[a]; kept_shape[a] = 1; }
      auto strides = strides_of(kept_shape);
      std::vector<double> acc(product(kept_shape), 0.0);
      std::vector<int64_t> index(x.rank(), 0);
      for (int64_t e = 0; e < product(x.shape); ++e) {
        int64_t target = 0;
        for (int64_t d = 0; d < x.rank(); ++d) target += (kept_shape[d] == 1 ? 0 : index[d]) * strides[d];
        acc[target] += x.dtype == DType::kFloat32 ? x.floats[e] : static_cast<double>(x.ints[e]);
        for (int64_t d = x.rank(); d-- > 0;) {
          if (++index[d] < x.shape[d]) break;
          index[d] = 0;
        }
      }
      for (double v : acc) {
        double r = op == Op::kReduceMean ? v / count : v;
        if (dtype == DType::kFloat32) out.floats.push_back(static_cast<float>(r));
        else out.ints.push_back(static_cast<int64_t>(r));
      }
      return out;
    }
    case Op::kConcat: {
      const int64_t outer = product(shape, 0, o.axis), inner = product(shape, o.axis + 1);
      for (int64_t a = 0; a < outer; ++a)
        for (int v : inputs) {
          const Value& x = g.values[v];
          const int64_t chunk = x.shape[o.axis] * inner;
          if (dtype == DType::kFloat32)
            out.floats.insert(out.floats.end(), x.floats.begin() + a * chunk, x.floats.begin() + (a + 1) * chunk);
          else
            out.ints.insert(out.ints.end(), x.ints.begin() + a * chunk, x.ints.begin() + (a + 1) * chunk);
        }
      return out;
    }
    case Op::kTake: {
      const Value& x = in(0);
      const int64_t outer = product(x.shape, 0, o.axis), inner = product(x.shape, o.axis + 1), n = x.shape[o.axis];
      std::vector<int64_t> source;
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t index : o.indices)
          for (int64_t i = 0; i < inner; ++i) source.push_back((a * n + index) * inner + i);
      return gather_elements(x, source, dtype, shape);
    }
    case Op::kTranspose: {
      const Value& x = in(0);
      auto in_strides = strides_of(x.shape);
      std::vector<int64_t> source(total);
      std::vector<int64_t> index(shape.size(), 0);
      for (int64_t e = 0; e < total; ++e) {
        int64_t offset = 0;
        for (size_t d = 0; d < shape.size(); ++d) offset += index[d] * in_strides[o.axes[d]];
        source[e] = offset;
        for (size_t d = shape.size(); d-- > 0;) {
          if (++index[d] < shape[d]) break;
          index[d] = 0;
        }
      }
      return gather_elements(x, source, dtype, shape);
    }
    case Op::kMatMul: {
      const Value& a = in(0);
      const Value& b = in(1);
      const int64_t m = a.shape[a.rank() - 2], k = a.shape.back(), n = b.shape.back();
      std::vector<int64_t> batch(shape.begin(), shape.end() - 2);
      std::vector<int64_t> a_batch_shape(a.shape.begin(), a.shape.end() - 2);
      std::vector<int64_t> b_batch_shape(b.shape.begin(), b.shape.end() - 2);
      auto a_off = broadcast_offsets(a_batch_shape, batch);
      auto b_off = broadcast_offsets(b_batch_shape, batch);
      out.floats.assign(total, 0.0f);
      for (size_t p = 0; p < a_off.size(); ++p)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t q = 0; q < k; ++q)
              acc += double(a.floats[a_off[p] * m * k + i * k + q]) * b.floats[b_off[p] * k * n + q * n + j];
            out.floats[p * m * n + i * n + j] = static_cast<float>(acc);
          }
      return out;
    }
    case Op::kReshape: case Op::kBroadcastRows:
      out.floats = in(0).floats;
      out.ints = in(0).ints;
      return out;
  }
  throw ConversionError("cannot evaluate op");
}

}  // namespace edgemtl::converter
