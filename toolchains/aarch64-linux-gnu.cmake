# Cross-compiling edgemtl's runtime, C API and tools for 64-bit ARM Linux with
# Debian's g++-aarch64-linux-gnu, against XNNPACK/pthreadpool/cpuinfo from
# Debian's arm64 packages unpacked into a sysroot by make-aarch64-sysroot.sh.
# scripts/test_arm64.sh does all of this; by hand (docs/PORTING.md):
#
#   bash toolchains/make-aarch64-sysroot.sh build-arm64/sysroot
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=$PWD/toolchains/aarch64-linux-gnu.cmake \
#         -DEDGEMTL_ARM64_SYSROOT=$PWD/build-arm64/sysroot \
#         -DEDGEMTL_HOST_CONVERT=$PWD/build/converter/edgemtl-convert   # optional: the e2e tests need a converter
# (the converter and the examples are host-only and default to OFF when cross-compiling)
#   cmake --build build-arm64 -j2 && (cd build-arm64 && ctest)    # ctest runs the tests under qemu
#   qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=$PWD/build-arm64/sysroot/usr/lib/aarch64-linux-gnu ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT EDGEMTL_ARM64_SYSROOT)
  set(EDGEMTL_ARM64_SYSROOT "${CMAKE_BINARY_DIR}/sysroot")
endif()
set(EDGEMTL_ARM64_SYSROOT "${EDGEMTL_ARM64_SYSROOT}" CACHE PATH "Unpacked arm64 packages (make-aarch64-sysroot.sh)")

# Libraries, headers and CMake packages come only from the unpacked packages
# (never the host's /usr/include, whose glibc headers are x86's); programs
# (flatc) from the host.
set(CMAKE_FIND_ROOT_PATH "${EDGEMTL_ARM64_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# libXNNPACK.so needs libcpuinfo.so.0 at link time too.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${EDGEMTL_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${EDGEMTL_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu
    -E LD_LIBRARY_PATH=${EDGEMTL_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu)
