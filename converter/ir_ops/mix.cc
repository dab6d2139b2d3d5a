// MIX: the gate-weighted sum of experts (passes/fuse_mixture.cc).
#include "converter/ir_ops/ir_ops.h"

namespace edgemtl::converter {
namespace {

// gates [rows, G * E], then E experts [rows, D]; output [rows, G * D], mixture g
// in columns [g D, (g + 1) D) (passes/merge_mixtures.cc puts G > 1 together).
void infer_mix(const OpCall& call, DType* dtype, std::vector<int64_t>* shape) {
  require(call.inputs.size() >= 2, "MIX needs a gate and experts");
  const Value& gate = call.in(0);
  const int64_t experts = static_cast<int64_t>(call.inputs.size()) - 1;
  require(gate.is_activation() && gate.dtype == DType::kFloat32 && gate.rank() == 2 && gate.shape[0] == kRows &&
              gate.shape[1] >= experts && gate.shape[1] % experts == 0,
          "MIX gate must be float32 [rows,G*" + std::to_string(experts) + "], one weight per expert and mixture");
  const Value& first = call.in(1);
  require(first.rank() == 2 && first.shape[1] >= 1, "MIX experts must be [rows,D]");
  for (size_t j = 1; j < call.inputs.size(); ++j)
    require(call.in(j).is_activation() && call.in(j).dtype == DType::kFloat32 && call.in(j).shape == first.shape,
            "MIX experts must be float32 activations of one shape [rows,D]");
  *dtype = DType::kFloat32;
  *shape = {first.shape[0], gate.shape[1] / experts * first.shape[1]};
}

// f32 products summed in double, as MUL then REDUCE_SUM evaluate here.
void evaluate_mix(const OpCall& call, Value* out) {
  const int64_t d = call.in(1).shape[1], experts = static_cast<int64_t>(call.inputs.size()) - 1;
  const int64_t rows = out->shape[0], mixtures = out->shape[1] / d;
  const Value& gate = call.in(0);
  out->floats.resize(product(out->shape));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < mixtures; ++m) {
      const float* g = gate.floats.data() + ((gate.shape[0] == 1 ? 0 : r) * mixtures + m) * experts;
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0.0;
        for (int64_t e = 0; e < experts; ++e) {
          const Value& h = call.in(static_cast<size_t>(e) + 1);
          acc += g[e] * h.floats[(h.shape[0] == 1 ? 0 : r) * d + i];  // a float product
        }
        out->floats[(r * mixtures + m) * d + i] = static_cast<float>(acc);
      }
    }
}

}  // namespace

std::vector<OpRules> mix_op_rules() { return {{Op::kMix, infer_mix, evaluate_mix, nullptr, kBroadcastsRows}}; }

}  // namespace edgemtl::converter
