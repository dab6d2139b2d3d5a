// What an operator sees of the Session while it is prepared and while it runs,
// and the per-operator state it keeps in between. Internal to the runtime.
#pragma once


#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/kernels/f32_gemm.h"
#include "runtime/kernels/tensor_view.h"
#include "runtime/planner/allocation_info.h"
#include "runtime/threads/thread_pool.h"
#include "schema/edgemtl_generated.h"

namespace edgemtl {

struct OpRegistration;

/// Run-time state of one tensor, owned by the Session.
struct TensorSlot {
  uint8_t* data = nullptr;  // arena, Model bytes, or a padded constant copy
  Shape shape;              // at run time (rows filled in when written); constants: as declared
};

/// One operator's own state (kernels, packed weights, message strings), made
/// by its registration's prepare and owned by the PreparedOp; freed with it.
/// Type-erased without RTTI: only the registration that made it reads it, and
/// it sets the matching destroy function at the same time.
class OpState {
 public:
  OpState() = default;
  OpState(OpState&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), destroy_(std::exchange(other.destroy_, nullptr)) {}
  OpState& operator=(OpState&& other) noexcept {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    destroy_ = std::exchange(other.destroy_, nullptr);
    return *this;
  }
  OpState(const OpState&) = delete;
  OpState& operator=(const OpState&) = delete;
  ~OpState() { reset(); }

  /// Replaces the state with a new T; null when out of memory.
  template <typename T, typename... Args>
  T* emplace(Args&&... args) {
    reset();
    T* state = new (std::nothrow) T(std::forward<Args>(args)...);
    if (!state) return nullptr;
    data_ = state;
    destroy_ = [](void* data) { delete static_cast<T*>(data); };
    return state;
  }
  /// Shares `owner`'s state without owning it (another lane's copy of a
  /// reentrant operator); `owner` outlives this.
  void borrow(const OpState& owner) {
    reset();
    data_ = owner.data_;
  }
  /// The T made by emplace<T> (the caller knows T: it made it).
  template <typename T>
  T& get() const { return *static_cast<T*>(data_); }
  void reset() {
    if (destroy_) destroy_(data_);
    data_ = nullptr;
    destroy_ = nullptr;
  }

 private:
  void* data_ = nullptr;
  void (*destroy_)(void* data) = nullptr;
};

struct RunContext;
struct PreparedOp;
using RunFn = Status (*)(const RunContext& context, PreparedOp& op);

/// One operator of a stage, ready to run. Owned by the Session.
struct PreparedOp {
  const schema::Operator* op = nullptr;  // in the Model
  const OpRegistration* registration = nullptr;
  /// The registration's run, or a variant chosen by its prepare (e.g. the int8 FC).
  RunFn run = nullptr;
  int stage = kUserStage;
  uint32_t index = 0;
  int output = -1;
  /// Set by prepare: run only reads `state` (and writes what the RunContext
  /// points at), so the lanes of a Session run the operator concurrently on
  /// this one state. False: each lane prepares its own.
  bool reentrant = false;
  OpState state;

  int input(uint32_t k) const { return op->inputs()->Get(k); }
  uint32_t num_inputs() const { return op->inputs()->size(); }
};

/// Given to an operator's prepare; lives for Session::create only.
struct PrepareContext {
  const schema::Model* model = nullptr;
  const uint8_t* file = nullptr;  // the model file's bytes (Buffer offsets are absolute in it)
  const AllocationInfo* allocation = nullptr;
  TensorSlot* slots = nullptr;  // an operator may point a constant at its own padded copy
  size_t max_rows = 0;          // rows of the operator's stage at once (one item tile, or the user rows)
  bool map_out_of_range_ids = false;
  bool int8_vnni = true;
  F32Isa f32_isa = F32Gemm::best_isa();  // F32Isa::kNone: f32 fully-connected layers on XNNPACK
  // Accumulated over the operators; the Session reads them afterwards.
  size_t packed_weight_bytes = 0;
  size_t copied_bytes = 0;        // constants copied by pad_constant
  size_t int8_scratch_bytes = 0;  // the INT8 fully-connected layers share one scratch of the largest size
  size_t input_scratch_bytes = 0;  // so do the fully-connected layers that stage x + addend
  std::vector<void*>* constant_copies = nullptr;  // owned by the Session, freed (std::free) with it

  const TensorAllocation& tensor(int index) const { return allocation->tensor(index); }
  const schema::Tensor* file_tensor(int index) const { return model->tensors()->Get(static_cast<uint32_t>(index)); }
  /// Points constant `tensor` at a 64-byte aligned copy with `slack` readable
  /// bytes past its end (XNNPACK reads past its inputs); the Session frees it.
  Status pad_constant(int tensor, size_t slack);
  /// "feature 'x'" or "tensor 'y' (node 'z')": how messages name the ids `tensor` of `op`.
  void describe_ids(int tensor, const schema::Operator* op, char* text, size_t size) const;
};

/// Given to every run; owned by the Session, valid while it lives.
struct RunContext {
  const TensorAllocation* tensors = nullptr;
  TensorSlot* slots = nullptr;
  KernelThreads threads;  // for the GEMMs (fully connected, recurrent); elementwise kernels run on one thread
  int8_t* int8_scratch = nullptr;  // PrepareContext::int8_scratch_bytes bytes
  float* input_scratch = nullptr;  // PrepareContext::input_scratch_bytes bytes

  TensorView view(int index) const {
    TensorView v;
    v.data = slots[index].data;
    v.dtype = tensors[index].dtype;
    v.shape = slots[index].shape;
    return v;
  }
  TensorView input(const PreparedOp& p, uint32_t k) const { return view(p.input(k)); }
  TensorView output(const PreparedOp& p) const { return view(p.output); }
};

/// A prepare for operators with any number of inputs (CONCAT, MIX): the state
/// is a std::vector<TensorView> of one view per input, filled on every run.
Status prepare_input_views(PrepareContext& context, PreparedOp& op);

}  // namespace edgemtl
