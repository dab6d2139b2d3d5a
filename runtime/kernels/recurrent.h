// RecurrentLayer: one ONNX LSTM or GRU layer (default activations) over rows
// of sequences [rows, T, D], the row dimension first. The input projection of
// all rows and steps of a direction is one XNNPACK fully-connected call over
// rows * T; each step then multiplies the hidden state [rows, H] by the
// recurrent weight (XNNPACK FC) and applies the gates in a plain loop.
// Everything it needs at run time is allocated by create.
#pragma once


#include <cstdint>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/kernels/fully_connected.h"

namespace edgemtl {

struct RecurrentConfig {
  bool lstm = true;                  // false: GRU
  int directions = 1;                // 1 or 2 (bidirectional: direction 1 runs backwards)
  bool reverse = false;              // one direction that runs backwards
  bool linear_before_reset = false;  // GRU only
  size_t steps = 0;                  // T
  size_t input_size = 0;             // D
  size_t hidden_size = 0;            // H
  size_t gates() const { return lstm ? 4 : 3; }
  /// Output rows per sequence row: T steps, then h (and c for LSTM).
  size_t output_steps() const { return steps + (lstm ? 2 : 1); }
};

class RecurrentLayer {
 public:
  /// W [dirs, G·H, D], R [dirs, G·H, H], B [dirs, 2·G·H] as ONNX lays them out
  /// (only read here); max_rows: the most rows a run may have.
  Status create(const RecurrentConfig& config, const float* w, const float* r, const float* b, size_t max_rows);
  /// x [rows, T, D]; h0, c0 [rows or 1, dirs, H] or null (zeros); lens [rows]
  /// or null (all T), each in [0, T]; out [rows, T + S, dirs·H] (see the schema).
  Status run(const float* x, size_t rows, const float* h0, bool h0_one_row, const float* c0, bool c0_one_row,
             const int64_t* lens, float* out, const KernelThreads& threads);
  size_t packed_weight_bytes() const;
  size_t scratch_bytes() const;

 private:
  Status run_direction(int d, const float* x, size_t rows, const float* h0, bool h0_one_row, const float* c0,
                       bool c0_one_row, const int64_t* lens, float* out, const KernelThreads& threads);

  RecurrentConfig config_;
  FullyConnected input_[2];      // x · W_dᵀ + bias, over rows · T
  FullyConnected recurrent_[2];  // h · R_dᵀ (GRU without linear_before_reset: the z and r rows only)
  FullyConnected reset_[2];      // GRU without linear_before_reset: (r ⊙ h) · R_hᵀ
  std::vector<float> projection_, gates_, h_, c_, reset_h_, reset_out_;
};

}  // namespace edgemtl
