#!/usr/bin/env bash
# The shared library's dynamic symbol table holds exactly the functions that
# edgemtl.h declares with EMTL_API: no C++ internals, no dependency symbols.
#   exports_test.sh LIBEDGEMTL.so edgemtl.h [NM]
set -euo pipefail
library=$1 header=$2 nm=${3:-nm}
[ -n "$nm" ] || nm=nm
exported=$("$nm" -D --defined-only "$library" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)
declared=$(grep -o '^EMTL_API [^(]*(' "$header" | sed 's/($//; s/.*[ *]//' | sort -u)
[ -n "$declared" ] || { echo "no EMTL_API declarations found in $header"; exit 1; }
if [ "$exported" != "$declared" ]; then
  echo "exported but not declared:"; comm -23 <(echo "$exported") <(echo "$declared")
  echo "declared but not exported:"; comm -13 <(echo "$exported") <(echo "$declared")
  exit 1
fi
echo "libedgemtl.so exports the $(echo "$declared" | wc -l) functions of edgemtl.h and nothing else"
