// Builders of the small bad model files committed in tests/bad_models/*.emtl
// (what the tools and scripts/bad_input_matrix.sh feed to edgemtl-run and
// edgemtl-inspect). runtime/format/test/bad_models_test.cc checks that each
// committed file is what its builder writes (EDGEMTL_WRITE_BAD_MODELS=1
// rewrites them after a format change).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/test_util/model_builder.h"

namespace edgemtl {
namespace test {

/// item feature "wide" DENSE of `width` floats -> RELU -> task "score": a few
/// hundred bytes whatever the width. huge_arena.emtl: width 2^22 (16 MiB per
/// row; 2.25 GiB of arena for the default tiles of 72 rows).
ModelBytes wide_model(int64_t width);
/// no_tasks.emtl: no features, no tasks, no tensors (edgemtl-inspect crashed on it).
ModelBytes empty_model();
/// misaligned_vector.emtl: a TAKE whose [long] indices sit at 4 mod 8 (the
/// vector written by hand: FlatBufferBuilder aligns them), node 'take_misaligned'.
ModelBytes misaligned_vector_model();

struct BadModelFile {
  const char* name;  ///< in tests/bad_models/
  ModelBytes (*build)();
};
/// Every committed bad model file and its builder.
std::vector<BadModelFile> bad_model_files();

}  // namespace test
}  // namespace edgemtl
