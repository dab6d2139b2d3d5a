// Graph rewrites, each exact (the rewritten graph computes the same values up
// to float rounding). Run in the order of run_pipeline() in pipeline.cc.
#pragma once

#include <set>

#include "converter/ir.h"

namespace edgemtl::converter {

/// Computes every node whose inputs are all constants.
void fold_constants(Graph& graph);

/// Makes a RESHAPE of a RESHAPE read the first input, and drops RESHAPEs that
/// keep the shape.
void collapse_reshapes(Graph& graph);

/// Replaces nodes computing the same op on the same inputs with the same
/// options by the first of them (e.g. one Unsqueeze per reader in PLE gates).
void eliminate_common_subexpressions(Graph& graph);

/// Fuses the opset-13 decomposition of layer normalisation torch writes
/// (REDUCE_MEAN, SUB, POW 2, REDUCE_MEAN, ADD eps, SQRT, DIV over the trailing axes,
/// then optionally MUL by a constant scale and ADD of a constant bias) into one
/// LAYER_NORM, and GELU in its erf form (x * (1 + erf(x / sqrt 2)) * 0.5) and its
/// tanh form (0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))) into one UNARY
/// GELU / GELU_TANH, when the intermediate values have no other reader. Runs
/// before fold_affine_into_fc, which would take their constant MULs.
void fuse_norms(Graph& graph);

/// Folds MUL/ADD/SUB/DIV by per-column constants into a neighbouring
/// FULLY_CONNECTED: after it (its output's only consumer) or before it (every
/// consumer of the scaled value is a FULLY_CONNECTED). Covers BatchNorm, which
/// the importer lowers to MUL+ADD, and Add-bias after MatMul.
void fold_affine_into_fc(Graph& graph);

/// Fuses RELU/SIGMOID/TANH/LEAKY_RELU into the FULLY_CONNECTED or binary op
/// producing its input when it is that value's only consumer.
void fuse_activations(Graph& graph);

/// Replaces FULLY_CONNECTEDs reading the same input with the same activation
/// by one wide FULLY_CONNECTED (activation fused) and a TAKE per original.
void stack_parallel_fcs(Graph& graph);

/// Replaces the EMBEDDINGs of ID features (ids [rows], constant tables of equal
/// width D) whose outputs are consecutive inputs of one CONCAT (directly or
/// through RESHAPEs), in the CONCAT's stage, by one EMBEDDING_MULTI reading
/// the stacked tables: the CONCAT gets one input for each such run of >= 2.
/// Runs after assign_stages.
void merge_lookups(Graph& graph);

/// Rewrites a CONCAT of RESHAPEs of [rows, m_i] tensors whose rows lie one
/// after the other (nothing before the axis, e.g. [n,1,64] experts stacked to
/// [n,k,64]) as one RESHAPE of the CONCAT of the [rows, m_i] tensors; the
/// RESHAPEs then die (eliminate_dead_code) once no other reader needs them.
void concat_of_reshapes(Graph& graph);

/// Replaces the mixture of experts of MMoE/PLE by one MIX(gate, h_0 .. h_{E-1})
/// in the stage of the node it replaces. Recognised: REDUCE_SUM over axis 1
/// (no keepdims) of MUL(RESHAPE(gate [rows, E]) to [rows, E, 1], stack), operands
/// in either order, and RESHAPE to [rows, D] of MATMUL(RESHAPE(gate) to
/// [rows, 1, E], stack), where stack is RESHAPE(CONCAT(h_0 .. h_{E-1} [rows, D]
/// along the columns)) to [rows, E, D], and the MUL or MATMUL output has no
/// other reader. The RESHAPEs and the CONCAT stay while something else reads
/// them (MMoE: the task gates share one stack). MIX broadcasts 1-row
/// (user-stage) inputs as CONCAT, MUL and MATMUL did.
/// Runs after assign_stages and concat_of_reshapes.
void fuse_mixtures(Graph& graph);

/// Replaces MIXes of the same experts in one stage whose gates [rows, E] are
/// computed in that stage (MMoE: a gate per task) by one MIX of the CONCAT of
/// their gates, [rows, G * D], and a TAKE of its columns per original (a view
/// for FULLY_CONNECTED readers). Gates that are SOFTMAXes of adjacent column
/// ranges of one value become one SOFTMAX over [rows, G, E] instead of a CONCAT.
/// Runs after fuse_mixtures.
void merge_mixtures(Graph& graph);

/// Moves ADD(a, b) with activation NONE or RELU into the FULLY_CONNECTEDs
/// that read it, when each is one of `layers` (node indices) and has a bias,
/// directly or through TAKEs of consecutive columns read only by such layers:
/// each reads a (or the TAKE of a) as x and
/// b as its addend (4th input, addend_offset = the TAKE's first column); the
/// ADD dies. The operand of the user stage is the addend (1 row when the user
/// is cached). Runs after the quantisation plan (convert_api.cc), whose node
/// and value indices it keeps.
void fuse_input_adds(Graph& graph, const std::set<int>& layers);
/// Removes nodes whose outputs no task needs.
void eliminate_dead_code(Graph& graph);

}  // namespace edgemtl::converter
