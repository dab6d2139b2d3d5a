// Checksums of a model file (schema/edgemtl.fbs: struct Checksums,
// Model.checksums): XXH3-64 of the FlatBuffer part and of the weight segment.
// Internal to the runtime; the converter's writer seals files with it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/error.h"

namespace edgemtl {

namespace schema {
struct Model;
}

/// XXH3-64 (xxHash 0.8, XXH3_64bits, seed 0) of `size` bytes.
uint64_t xxh3_64(const void* data, size_t size);

/// Checks the layout the checksums describe (the FlatBuffer part and the
/// weight segment cover the file exactly, the FlatBuffer lies within its part)
/// and the FlatBuffer part's hash. `root` is the verified root of `bytes`;
/// files without checksums pass. Every load runs it.
Status verify_flatbuffer_checksum(const uint8_t* bytes, size_t size, const schema::Model* root);

/// Checks the weight segment's hash (reads every byte of it). After
/// verify_flatbuffer_checksum; a file without checksums is refused with
/// Error::kUnsupported (its weights cannot be verified).
Status verify_weights_checksum(const uint8_t* bytes, size_t size, const schema::Model* root);

/// Computes both hashes of the model file `bytes` and stores them in its
/// Checksums, whose weights_offset and weights_size must already describe the
/// file. The converter's last step; tests and the fuzz target re-seal a file
/// they changed with it. Fails (nothing written) when the FlatBuffer does not
/// verify, has no Checksums or they do not describe the file.
Status seal_checksums(uint8_t* bytes, size_t size);

}  // namespace edgemtl
