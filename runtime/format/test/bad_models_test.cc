// The bad model files committed in tests/bad_models/ (used by the tools'
// tests and scripts/bad_input_matrix.sh) are exactly what their builders in
// runtime/test_util/bad_models.cc write, and each is refused as documented.
// After a format change: EDGEMTL_WRITE_BAD_MODELS=1 edgemtl_runtime_tests -tc="*bad_models*"
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/test_util/bad_models.h"

namespace edgemtl {
namespace {

TEST_CASE("tests/bad_models/*.emtl are what their builders write, and none loads") {
  const bool rewrite = std::getenv("EDGEMTL_WRITE_BAD_MODELS") != nullptr;
  for (const test::BadModelFile& file : test::bad_model_files()) {
    CAPTURE(file.name);
    const std::string path = std::string(EDGEMTL_SOURCE_DIR) + "/tests/bad_models/" + file.name;
    const test::ModelBytes built = file.build();
    if (rewrite) REQUIRE(built.write_file(path));
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in, "missing ", path, ": run with EDGEMTL_WRITE_BAD_MODELS=1");
    const std::vector<char> committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(committed.size() == built.size, path, " differs from its builder: run with EDGEMTL_WRITE_BAD_MODELS=1");
    CHECK(std::memcmp(committed.data(), built.get(), std::min(committed.size(), built.size)) == 0);
    // huge_arena.emtl loads (a Session refuses it); the others do not.
    const Status status = test::load_status(built);
    CHECK(status.is_ok() == (std::strcmp(file.name, "huge_arena.emtl") == 0));
  }
}

}  // namespace
}  // namespace edgemtl
