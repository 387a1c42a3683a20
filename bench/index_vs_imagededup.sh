#!/usr/bin/env bash
# End-to-end benchmark: `irbis index --features hashes` vs a Python imagededup-style PHash
# reference (bench/ref_phash.py) on N distinct ~1-megapixel JPEGs (1200x900, cached in bench/out/).
# Runs alternate: irbis (default threads = one per core), python, irbis --threads 1, ... ROUNDS
# times; reports the median images/s of each (wall clock of the whole command, start-up included)
# and the CPU seconds (user+sys) per image.
#   usage: bench/index_vs_imagededup.sh [N=1000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
ROUNDS=${2:-3}
PY=/usr/bin/python3
IRBIS=build/irbis
OUT=bench/out
IMG=$OUT/img1mp_$N
[[ -x $IRBIS ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
if [[ ! -f $IMG.done ]]; then
  [[ -f $OUT/sample/truth.csv ]] || $IRBIS sample $OUT/sample >/dev/null
  rm -rf "$IMG"
  $PY bench/make_bench_images.py $OUT/sample "$IMG" "$N" 1200 900
  touch "$IMG.done"
fi
echo "== $(date -u '+%F %T UTC')  $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== images: $N x 1200x900 JPEG q90, $(du -sh "$IMG" | cut -f1) in $IMG"
# Warm-up: read every file once so all runs start from the page cache.
cat "$IMG"/*.jpg > /dev/null
RES=$OUT/index_bench_results.txt
: > "$RES"
TIMEFORMAT='%R %U %S'
run() {  # name, command...: appends "name real user sys" to $RES
  local name=$1; shift
  local t
  { t=$( { time "$@" > /dev/null 2>&1; } 2>&1 ); } || { echo "FAILED: $*" >&2; exit 1; }
  echo "$name $t" >> "$RES"
  echo "   $name: $t (real user sys)"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r"
  rm -rf $OUT/bench_t2.irbis; run irbis_2t $IRBIS index "$IMG" --into $OUT/bench_t2.irbis --features hashes
  run python $PY bench/ref_phash.py "$IMG"
  rm -rf $OUT/bench_t1.irbis; run irbis_1t $IRBIS index "$IMG" --into $OUT/bench_t1.irbis --features hashes --threads 1
done
rm -rf $OUT/bench_t1.irbis $OUT/bench_t2.irbis
$PY - "$RES" "$N" <<'PY'
import sys, statistics as st
res, n = sys.argv[1], int(sys.argv[2])
rows = {}
for line in open(res):
    name, real, user, sys_ = line.split()
    rows.setdefault(name, []).append((float(real), float(user) + float(sys_)))
def med(name):
    r = rows[name]
    return n / st.median(x[0] for x in r), 1000 * st.median(x[1] for x in r) / n
print("\n== summary (median of %d rounds, wall clock incl. start-up)" % len(rows["python"]))
ips = {}
for name, label in [("irbis_2t", "irbis index --features hashes (2 threads)"),
                    ("irbis_1t", "irbis index --features hashes --threads 1"),
                    ("python", "python imagededup-style PHash (1 process)")]:
    v, cpu = med(name)
    ips[name] = v
    print(f"{label:45s} {v:8.1f} images/s   {cpu:6.2f} ms CPU/image   rounds: " +
          " ".join(f"{n / x[0]:.0f}" for x in rows[name]))
print(f"ratio irbis(2t)/python: {ips['irbis_2t'] / ips['python']:.2f}x   irbis(1t)/python: {ips['irbis_1t'] / ips['python']:.2f}x")
cpu2 = med("irbis_2t")[1]
print(f"irbis CPU-bound projection on 2 idle cores: {2000 / cpu2:.0f} images/s (CPU ms/image {cpu2:.2f});"
      f" CPU per image python/irbis: {med('python')[1] / cpu2:.2f}x; load now: {open('/proc/loadavg').read().split()[0]}")
print(f"target >= 500 images/s on 2 cores: {'MET' if ips['irbis_2t'] >= 500 else 'NOT MET'};"
      f" target >= 5x python: {'MET' if ips['irbis_2t'] >= 5 * ips['python'] else 'NOT MET'}")
PY
