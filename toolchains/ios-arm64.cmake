# iOS arm64 (devices), with Xcode's clang through CMake's own iOS support.
# NOT TRIED HERE (no macOS, no Xcode on the build machine); see
# docs/PORTING.md for the whole recipe.
#
#   cmake -S . -B build-ios -G Xcode -DCMAKE_TOOLCHAIN_FILE=toolchains/ios-arm64.cmake \
#         -DEDGEMTL_DEPS_PREFIX=$HOME/edgemtl-deps/ios-arm64 \
#         -DEDGEMTL_BUILD_TOOLS=OFF -DEDGEMTL_BUILD_TESTS=OFF
#   cmake --build build-ios --config Release && cmake --install build-ios --config Release --prefix $HOME/edgemtl/ios-arm64
#
# EDGEMTL_DEPS_PREFIX holds XNNPACK, pthreadpool and cpuinfo built as static
# libraries for iOS arm64 (lib/, include/) plus copies of the FlatBuffers headers and xxhash.h.
set(CMAKE_SYSTEM_NAME iOS)
set(CMAKE_OSX_ARCHITECTURES arm64 CACHE STRING "")
# iOS 13: libc++'s std::aligned_alloc (the runtime's arena) needs it.
set(CMAKE_OSX_DEPLOYMENT_TARGET 13.0 CACHE STRING "")
set(CMAKE_XCODE_ATTRIBUTE_ONLY_ACTIVE_ARCH NO)

set(EDGEMTL_DEPS_PREFIX "" CACHE PATH "XNNPACK, pthreadpool, cpuinfo (and the FlatBuffers and xxHash headers) built for iOS arm64")
if(EDGEMTL_DEPS_PREFIX)
  list(APPEND CMAKE_FIND_ROOT_PATH "${EDGEMTL_DEPS_PREFIX}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
