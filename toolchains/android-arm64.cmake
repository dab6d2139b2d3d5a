# Android arm64-v8a: wraps the NDK's own toolchain file, found through the
# ANDROID_NDK environment variable (or -DANDROID_NDK=...). NOT TRIED HERE (no
# NDK on the build machine); see docs/PORTING.md for the whole recipe.
#
#   export ANDROID_NDK=$HOME/android-ndk-r26d
#   cmake -S . -B build-android -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/android-arm64.cmake \
#         -DEDGEMTL_DEPS_PREFIX=$HOME/edgemtl-deps/android-arm64 \
#         -DEDGEMTL_BUILD_TESTS=OFF
#   cmake --build build-android && cmake --install build-android --prefix $HOME/edgemtl/android-arm64
#
# EDGEMTL_DEPS_PREFIX holds XNNPACK, pthreadpool and cpuinfo built for Android
# with the same NDK (lib/, include/) plus copies of the FlatBuffers headers and xxhash.h.
if(NOT ANDROID_NDK)
  set(ANDROID_NDK "$ENV{ANDROID_NDK}")
endif()
if(NOT ANDROID_NDK OR NOT EXISTS "${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  message(FATAL_ERROR "Set ANDROID_NDK to an Android NDK (r23 or newer): "
                      "'${ANDROID_NDK}/build/cmake/android.toolchain.cmake' does not exist")
endif()

set(ANDROID_ABI arm64-v8a CACHE STRING "")
# API 28: the runtime's arena uses aligned_alloc, which bionic has from API 28.
set(ANDROID_PLATFORM android-28 CACHE STRING "")
# Static libc++: the app then ships no libc++_shared.so for edgemtl's sake.
set(ANDROID_STL c++_static CACHE STRING "")
include("${ANDROID_NDK}/build/cmake/android.toolchain.cmake")

set(EDGEMTL_DEPS_PREFIX "" CACHE PATH "XNNPACK, pthreadpool, cpuinfo (and the FlatBuffers and xxHash headers) built for Android arm64")
if(EDGEMTL_DEPS_PREFIX)
  list(APPEND CMAKE_FIND_ROOT_PATH "${EDGEMTL_DEPS_PREFIX}")
endif()
# flatc (a host program) from the build machine's PATH.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
