// The one translation unit that holds doctest's main() for edgemtl_runtime_tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
