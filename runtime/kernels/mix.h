// MIX: the gate-weighted sum of the experts of a mixture (MMoE, PLE) in one
// pass, instead of CONCAT, MUL by the reshaped gate and REDUCE_SUM.
#pragma once

#include "runtime/core/span.h"
#include "runtime/kernels/tensor_view.h"

namespace edgemtl {

/// inputs[0] is the gates [rows, G * E] (G mixtures of the same E experts,
/// side by side), inputs[1 .. E] the experts [rows, D] (FLOAT32; any of them
/// may have 1 row, repeated for every output row). out [rows, G * D]: mixture
/// g in columns [g * D, (g + 1) * D):
///   gate[r, g E] * h_0[r, :] + ... + gate[r, g E + E-1] * h_{E-1}[r, :],
/// added left to right as REDUCE_SUM adds the products. The G mixtures of a
/// row run one after the other, so the experts' rows are read from memory
/// once for all of them (MMoE: one gate per task over the same experts).
void mix_f32(Span<const TensorView> inputs, const TensorView& out);

/// The copies of mix_f32's loops: the baseline ISA, and on x86-64 with AVX2
/// (picked by mix_f32 when the CPU has it). Both give the same bits.
enum class MixIsa { kBaseline, kAvx2 };
/// False for kAvx2 off x86-64 or on a CPU without AVX2.
bool mix_isa_available(MixIsa isa);
/// mix_f32 on `isa`, which must be available (for tests).
void mix_f32_on(MixIsa isa, Span<const TensorView> inputs, const TensorView& out);

}  // namespace edgemtl
