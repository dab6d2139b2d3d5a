# Sourced by the build scripts: sets `launcher` to the cmake arguments that run
# the compilers through ccache when it is installed (empty otherwise). Paths are
# taken relative to the checkout, so git worktrees and clean clones at the same
# place share the cache.
launcher=()
if command -v ccache > /dev/null; then
  export CCACHE_BASEDIR="$PWD"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
