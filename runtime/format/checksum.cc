// XXH3-64 from Debian's libxxhash-dev, header only (XXH_INLINE_ALL): nothing to
// link, and the cross builds (arm64, Android, iOS) need only xxhash.h.
#include "runtime/format/checksum.h"

#include <cstring>

#include "flatbuffers/flatbuffers.h"
#include "schema/edgemtl_generated.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace edgemtl {
namespace {

constexpr size_t kAlignment = 64;
// Where flatbuffer_hash sits in struct Checksums (the schema fixes the layout:
// four ulongs in declaration order). seal_checksums re-reads it through the
// generated accessor, so a layout change cannot go unnoticed.
constexpr size_t kFlatbufferHashField = 16;
static_assert(sizeof(schema::Checksums) == 32, "struct Checksums is four ulongs");

// XXH3-64 of [0, end) with the 8 bytes at `hole` read as zero.
uint64_t hash_with_hole(const uint8_t* bytes, size_t end, size_t hole) {
  static const uint8_t kZeros[8] = {};
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, bytes, hole);
  XXH3_64bits_update(&state, kZeros, sizeof(kZeros));
  XXH3_64bits_update(&state, bytes + hole + sizeof(kZeros), end - hole - sizeof(kZeros));
  return XXH3_64bits_digest(&state);
}

// The checks every load makes of the layout the checksums describe. On
// success *hole is the offset of flatbuffer_hash in the file.
Status check_layout(const uint8_t* bytes, size_t size, const schema::Checksums& sums, size_t* hole) {
  const uint64_t offset = sums.weights_offset(), weights = sums.weights_size();
  if (offset % kAlignment != 0 || offset > size)
    return Status::error(Error::kInvalidModel,
                         "checksums: weights_offset %llu is not a multiple of %zu within the file of %zu bytes",
                         static_cast<unsigned long long>(offset), kAlignment, size);
  if (weights != size - offset)
    return Status::error(Error::kInvalidModel,
                         "the file has %zu bytes but its checksums describe %llu + %llu bytes: truncated or extended",
                         size, static_cast<unsigned long long>(offset), static_cast<unsigned long long>(weights));
  const size_t at = static_cast<size_t>(reinterpret_cast<const uint8_t*>(&sums) - bytes) + kFlatbufferHashField;
  // The whole FlatBuffer, the Checksums included, lies in the part its hash covers.
  flatbuffers::Verifier within(bytes, static_cast<size_t>(offset));
  if (at + 8 > offset || !schema::VerifyModelBuffer(within))
    return Status::error(Error::kInvalidModel, "the model FlatBuffer extends past weights_offset %llu (its checksum's range)",
                         static_cast<unsigned long long>(offset));
  *hole = at;
  return Status::ok();
}

}  // namespace

uint64_t xxh3_64(const void* data, size_t size) { return XXH3_64bits(data, size); }

Status verify_flatbuffer_checksum(const uint8_t* bytes, size_t size, const schema::Model* root) {
  const schema::Checksums* sums = root->checksums();
  if (!sums) return Status::ok();  // written before checksums: loads as before
  size_t hole = 0;
  EMTL_RETURN_IF_ERROR(check_layout(bytes, size, *sums, &hole));
  const uint64_t end = sums->weights_offset();
  const uint64_t computed = hash_with_hole(bytes, static_cast<size_t>(end), hole);
  if (computed != sums->flatbuffer_hash())
    return Status::error(Error::kInvalidModel,
                         "checksum mismatch in the FlatBuffer part (bytes [0, %llu)): stored %016llx, computed %016llx; "
                         "the file is corrupt",
                         static_cast<unsigned long long>(end), static_cast<unsigned long long>(sums->flatbuffer_hash()),
                         static_cast<unsigned long long>(computed));
  return Status::ok();
}

Status verify_weights_checksum(const uint8_t* bytes, size_t size, const schema::Model* root) {
  const schema::Checksums* sums = root->checksums();
  if (!sums)
    return Status::error(Error::kUnsupported,
                         "cannot verify the weights: the file has no checksums (written before they were added); "
                         "convert it again");
  const uint64_t offset = sums->weights_offset(), weights = sums->weights_size();
  if (offset > size || weights != size - offset)  // checked at load; kept for a direct caller
    return Status::error(Error::kInvalidModel, "checksums: the weight segment does not match the file of %zu bytes", size);
  const uint64_t computed = XXH3_64bits(bytes + offset, static_cast<size_t>(weights));
  if (computed != sums->weights_hash())
    return Status::error(Error::kInvalidModel,
                         "checksum mismatch in the weight segment (bytes [%llu, %zu)): stored %016llx, computed %016llx; "
                         "a weight is corrupt",
                         static_cast<unsigned long long>(offset), size,
                         static_cast<unsigned long long>(sums->weights_hash()),
                         static_cast<unsigned long long>(computed));
  return Status::ok();
}

Status seal_checksums(uint8_t* bytes, size_t size) {
  if (!bytes || size < 8 || !schema::ModelBufferHasIdentifier(bytes))
    return Status::error(Error::kInvalidModel, "seal_checksums: not an edgemtl model");
  flatbuffers::Verifier verifier(bytes, size < FLATBUFFERS_MAX_BUFFER_SIZE ? size : FLATBUFFERS_MAX_BUFFER_SIZE - 1);
  if (!schema::VerifyModelBuffer(verifier))
    return Status::error(Error::kInvalidModel, "seal_checksums: the model FlatBuffer does not verify");
  const schema::Model* root = schema::GetModel(bytes);
  const schema::Checksums* sums = root->checksums();
  if (!sums) return Status::error(Error::kInvalidModel, "seal_checksums: the model has no Checksums");
  size_t hole = 0;
  EMTL_RETURN_IF_ERROR(check_layout(bytes, size, *sums, &hole));
  const size_t offset = static_cast<size_t>(sums->weights_offset());
  // weights_hash lies in the FlatBuffer part: set it first, then hash that part.
  const uint64_t weights = XXH3_64bits(bytes + offset, size - offset);
  flatbuffers::WriteScalar(bytes + hole + 8, weights);
  const uint64_t flatbuffer = hash_with_hole(bytes, offset, hole);
  flatbuffers::WriteScalar(bytes + hole, flatbuffer);
  if (sums->weights_hash() != weights || sums->flatbuffer_hash() != flatbuffer)
    return Status::error(Error::kInternal, "seal_checksums: struct Checksums does not have the schema's layout");
  return Status::ok();
}

}  // namespace edgemtl
