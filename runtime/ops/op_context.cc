#include "runtime/ops/op_context.h"

#include <cstdio>
#include <cstring>

#include "runtime/core/aligned_memory.h"

namespace edgemtl {

Status PrepareContext::pad_constant(int tensor, size_t slack) {
  TensorSlot& slot = slots[tensor];
  // Already padded (another operator reads it too, or another lane's copy of this one).
  for (const void* copy : *constant_copies)
    if (copy == slot.data) return Status::ok();
  const TensorAllocation& info = allocation->tensor(tensor);
  const size_t bytes = static_cast<size_t>(info.declared.num_elements()) * sizeof(float);
  void* copy = aligned_allocate(bytes + slack);
  if (!copy) return Status::error(Error::kOutOfMemory, "cannot copy a constant of %zu bytes", bytes);
  std::memcpy(copy, slot.data, bytes);
  constant_copies->push_back(copy);
  copied_bytes += bytes + slack;
  slot.data = static_cast<uint8_t*>(copy);
  return Status::ok();
}

void PrepareContext::describe_ids(int tensor, const schema::Operator* op, char* text, size_t size) const {
  const int feature = allocation->tensor(tensor).feature;
  if (feature >= 0)
    std::snprintf(text, size, "feature '%s'", model->features()->Get(static_cast<uint32_t>(feature))->name()->c_str());
  else
    std::snprintf(text, size, "tensor '%s' (node '%s')", tensor_name(file_tensor(tensor)),
                  op->name() ? op->name()->c_str() : "");
}

Status prepare_input_views(PrepareContext&, PreparedOp& p) {
  auto* views = p.state.emplace<std::vector<TensorView>>();
  if (!views) return Status::error(Error::kOutOfMemory, "cannot allocate input views");
  views->resize(p.num_inputs());
  return Status::ok();
}

}  // namespace edgemtl
