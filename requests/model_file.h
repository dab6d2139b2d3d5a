// Loading a model file in the host tools with a bound on its size: a file
// larger than the limit is refused before it is mapped or verified.
// (Model::load_file itself has no limit; an app sets its own.)
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/format/model.h"

namespace edgemtl::requests {

/// Default limit of the tools' --max-model-bytes: 2 GiB.
constexpr uint64_t kDefaultMaxModelBytes = uint64_t{2} << 30;

/// Model::load_file(path, options) when the file holds at most `max_bytes`
/// bytes, else an Error::kInvalidModel naming both sizes (Error::kIo when it
/// cannot be read).
Result<std::unique_ptr<Model>> load_model_file(const char* path, uint64_t max_bytes = kDefaultMaxModelBytes,
                                               const LoadOptions& options = {});

}  // namespace edgemtl::requests
