#!/usr/bin/env bash
# What checking the weights costs (LoadOptions::verify_weights, edgemtl-inspect
# --verify) next to reading the file once, for the figures of
# docs/ROBUSTNESS.md. Per file, the median of RUNS runs (default 5) of:
#   read:   dd if=FILE of=/dev/null bs=128K (its own timing of the copy loop;
#           128 KiB is cat's buffer: with 4 MiB, faulting the buffer's pages in
#           cost more than the copy on the measuring VM)
#   verify: edgemtl-inspect FILE --verify ("verified in X ms": XXH3-64 over the
#           memory-mapped weight segment, bringing its pages in as the first
#           scoring would; "again: Y ms": the hash alone, pages mapped)
#   load:   edgemtl-inspect's "loaded and verified in X ms" (Model::load_file:
#           the FlatBuffer verifier and, for a file with checksums, the
#           FlatBuffer part's hash); give files without checksums too, to compare
# cold: the file's pages evicted first (dd iflag=nocache count=0, i.e.
# posix_fadvise DONTNEED: no root needed; fincore checks it), so both read
# from the disk (or the host's cache under a VM); warm: from the page cache.
# Usage: measure_checksums.sh [-n RUNS] [-b BUILD_DIR] FILE.emtl...
set -euo pipefail
cd "$(dirname "$0")/.."
runs=5 build=build
while getopts "n:b:" option; do
  case $option in
    n) runs=$OPTARG ;;
    b) build=$OPTARG ;;
    *) echo "usage: measure_checksums.sh [-n RUNS] [-b BUILD_DIR] FILE.emtl..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
inspect="$build/tools/edgemtl-inspect"
[ -x "$inspect" ] || { echo "measure_checksums: no $inspect (run scripts/build.sh)"; exit 1; }

evict() {
  dd if="$1" iflag=nocache count=0 status=none
  [ "$(fincore --noheadings --output PAGES "$1" | tr -d ' ')" = 0 ] || echo "measure_checksums: $1 stays cached" >&2
}
read_ms() { LC_ALL=C dd if="$1" of=/dev/null bs=128K 2>&1 | awk '/copied/ { print $(NF - 3) * 1000 }'; }
# verify_ms FILE [FIELD]: the first pass (FIELD "in") or the hash alone ("alone):")
verify_ms() {
  "$inspect" "$1" --verify | awk -v field="${2:-in}" '/verified in/ { for (i = 1; i <= NF; ++i) if ($i == field) print $(i + 1) }'
}
load_ms() { "$inspect" "$1" | sed -n 's/.*loaded and verified in \([0-9.]*\) ms.*/\1/p'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $runs runs per figure (median); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| file | bytes | load, warm (ms) | read cold (ms) | verify cold (ms) | read warm (ms) | verify warm (ms) | hash alone (ms) | verify / read, warm |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for file in "$@"; do
  cat "$file" > /dev/null
  load=$(for _ in $(seq "$runs"); do load_ms "$file"; done | median)
  if ! "$inspect" "$file" --verify > /dev/null 2>&1; then  # no checksums (or corrupt): the load only
    printf '| %s (no checksums) | %s | %.3f | | | | | | |\n' "$(basename "$file")" "$(stat -c %s "$file")" "$load"
    continue
  fi
  cold_read=$(for _ in $(seq "$runs"); do evict "$file"; read_ms "$file"; done | median)
  cold_verify=$(for _ in $(seq "$runs"); do evict "$file"; verify_ms "$file"; done | median)
  cat "$file" > /dev/null
  warm_read=$(for _ in $(seq "$runs"); do read_ms "$file"; done | median)
  warm_verify=$(for _ in $(seq "$runs"); do verify_ms "$file"; done | median)
  hash_alone=$(for _ in $(seq "$runs"); do verify_ms "$file" "alone):"; done | median)
  printf '| %s | %s | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n' "$(basename "$file")" "$(stat -c %s "$file")" \
    "$load" "$cold_read" "$cold_verify" "$warm_read" "$warm_verify" "$hash_alone" \
    "$(echo "$warm_verify $warm_read" | awk '{ print $1 / $2 }')"
done
