#!/usr/bin/env bash
# CPU ms per image of each image-feature producer of `irbis index` and of the decode they share
# (build/bench/producers_bench, one thread), and how many hash bits would move if the hashes shared
# the 224 px decode instead of their own 32 px one: on the Debian photos (opencv-doc,
# python3-skimage) and on N generated JPEGs of SIZE (bench/lib/image_size.bash: 1mp, 12mp).
#   usage: bench/producers.sh [SIZE=1mp] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1mp}
source bench/lib/image_size.bash
bench_image_size "$SIZE" "${2:-}" 200 30
PY=/usr/bin/python3
BENCH=build/bench/producers_bench
OUT=bench/out
IMG=$OUT/img${SIZE}_$N
[[ -x $BENCH && -x build/irbis ]] || { echo "build first: cmake --build build -j2 --target irbis producers_bench" >&2; exit 1; }
if [[ ! -f $IMG.done ]]; then
  [[ -f $OUT/sample/truth.csv ]] || build/irbis sample $OUT/sample >/dev/null
  rm -rf "$IMG"
  $PY bench/make_bench_images.py $OUT/sample "$IMG" "$N" $W $H
  touch "$IMG.done"
fi
DEB=$(mktemp -d)
trap 'rm -rf "$DEB"' EXIT
cp /usr/share/doc/opencv-doc/examples/data/*.jpg /usr/lib/python3/dist-packages/skimage/data/*.png "$DEB/" 2>/dev/null || true
echo "== $(date -u '+%F %T UTC') $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for dir in "$DEB" "$IMG"; do
  label=$([[ $dir == "$DEB" ]] && echo "Debian photos (opencv-doc, skimage)" || echo "$N x ${W}x${H} JPEG")
  echo "-- $label"
  $BENCH "$dir"
done
