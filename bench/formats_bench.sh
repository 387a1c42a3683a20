#!/usr/bin/env bash
# Index speed per image format (issue 19): the same real photos (opencv-doc) as JPEG, HEIC (with and
# without a stored thumbnail), AVIF, JPEG XL (recompressed JPEG and from pixels), PPM; `irbis index
# --features hashes` (decode-bound: the hashes need 32 px) and, with FEATURES=cnn, the CNN too.
# Usage: bench/formats_bench.sh [irbis binary] ; env N (photos, default 24), SIDE (long side,
# default 1600), THREADS (default 1), FEATURES (default hashes), REPS (default 3, best is kept).
set -euo pipefail
IRBIS=${1:-build/irbis}
N=${N:-24}
SIDE=${SIDE:-1600}
THREADS=${THREADS:-1}
FEATURES=${FEATURES:-hashes}
REPS=${REPS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/irbis-formats-bench-XXXXXX")
trap 'rm -rf "$W"' EXIT

mkdir -p "$W"/{jpeg,heic,heic_thumb,avif,jxl_jpeg,jxl_pixels,ppm}
i=0
for f in /usr/share/doc/opencv-doc/examples/data/*.jpg; do
  [ $i -ge "$N" ] && break
  b=$(basename "$f" .jpg)
  # Photos are scaled to a phone-like long side so every format decodes the same pixels.
  convert "$f" -resize "${SIDE}x${SIDE}" -quality 92 "$W/jpeg/$b.jpg"
  heif-enc -q 80 -o "$W/heic/$b.heic" "$W/jpeg/$b.jpg" >/dev/null 2>&1
  heif-enc -q 80 -t 320 -o "$W/heic_thumb/$b.heic" "$W/jpeg/$b.jpg" >/dev/null 2>&1  # as phones store
  avifenc -s 8 -j 2 "$W/jpeg/$b.jpg" "$W/avif/$b.avif" >/dev/null 2>&1
  cjxl "$W/jpeg/$b.jpg" "$W/jxl_jpeg/$b.jxl" >/dev/null 2>&1
  cjxl "$W/jpeg/$b.jpg" "$W/jxl_pixels/$b.jxl" --lossless_jpeg=0 -d 1 >/dev/null 2>&1
  convert "$W/jpeg/$b.jpg" "$W/ppm/$b.ppm"
  i=$((i + 1))
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg)"
echo "$i photos, long side $SIDE px, --features $FEATURES, --threads $THREADS, best of $REPS"
printf '%-12s %10s %10s %12s\n' format "images/s" "vs jpeg" "MB on disk"
jpeg_rate=""
for fmt in jpeg heic heic_thumb avif jxl_jpeg jxl_pixels ppm; do
  best=""
  for r in $(seq "$REPS"); do
    rm -rf "$W/c.irbis"
    t0=$(date +%s.%N)
    "$IRBIS" index "$W/$fmt" --into "$W/c.irbis" --features "$FEATURES" --threads "$THREADS" --json > "$W/out.json"
    t1=$(date +%s.%N)
    ok=$(/usr/bin/python3 -c "import json; print(json.load(open('$W/out.json'))['ok'])")
    [ "$ok" = "$i" ] || { echo "$fmt: only $ok of $i indexed" >&2; exit 1; }
    rate=$(/usr/bin/python3 -c "print(f'{$i / ($t1 - $t0):.1f}')")
    best=$(/usr/bin/python3 -c "print(max(${best:-0}, $rate))")
  done
  [ -z "$jpeg_rate" ] && jpeg_rate=$best
  mb=$(du -sm "$W/$fmt" | cut -f1)
  printf '%-12s %10s %10s %12s\n' "$fmt" "$best" "$(/usr/bin/python3 -c "print(f'{$best / $jpeg_rate:.2f}x')")" "$mb"
done
