#include "requests/model_file.h"

#include <sys/stat.h>

namespace edgemtl::requests {

Result<std::unique_ptr<Model>> load_model_file(const char* path, uint64_t max_bytes, const LoadOptions& options) {
  struct stat info;
  if (::stat(path, &info) != 0) return Model::load_file(path, options);  // the loader says why, as usual
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > max_bytes)
    return Status::error(Error::kInvalidModel, "model file is %llu bytes, more than the limit of %llu bytes",
                         static_cast<unsigned long long>(info.st_size), static_cast<unsigned long long>(max_bytes));
  return Model::load_file(path, options);
}

}  // namespace edgemtl::requests
