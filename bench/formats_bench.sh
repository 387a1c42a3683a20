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
# BENCH_DIR keeps the encoded files for another run (the encoders take minutes); default: a temp dir.
if [ -n "${BENCH_DIR:-}" ]; then W=$BENCH_DIR; mkdir -p "$W"; else
  W=$(mktemp -d "${TMPDIR:-/tmp}/irbis-formats-bench-XXXXXX"); trap 'rm -rf "$W"' EXIT; fi

mkdir -p "$W"/{jpeg,heic,heic_thumb,avif,jxl_jpeg,jxl_pixels,ppm}
i=0
for f in /usr/share/doc/opencv-doc/examples/data/*.jpg; do
  [ $i -ge "$N" ] && break
  b=$(basename "$f" .jpg)
  if [ -f "$W/ppm/$b.ppm" ]; then i=$((i + 1)); continue; fi
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
# Wall-clock images/s on a shared machine is a lower bound; CPU ms per image (user + sys of the
# index process) does not depend on the contention. Best of REPS for both.
/usr/bin/python3 - "$IRBIS" "$W" "$i" "$FEATURES" "$THREADS" "$REPS" <<'PYEOF'
import json, os, resource, shutil, subprocess, sys, time
irbis, w, n, features, threads, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
print(f"{'format':<12} {'images/s':>9} {'CPU ms/img':>11} {'CPU vs jpeg':>12} {'MB on disk':>11}")
base = None
for fmt in ["jpeg", "heic", "heic_thumb", "avif", "jxl_jpeg", "jxl_pixels", "ppm"]:
    best_rate, best_cpu = 0.0, float("inf")
    for _ in range(reps):
        shutil.rmtree(f"{w}/c.irbis", ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        out = subprocess.run([irbis, "index", f"{w}/{fmt}", "--into", f"{w}/c.irbis", "--features", features,
                              "--threads", threads, "--json"], check=True, capture_output=True, text=True).stdout
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ok = json.loads(out)["ok"]
        if ok != n:
            sys.exit(f"{fmt}: only {ok} of {n} indexed")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_rate, best_cpu = max(best_rate, n / wall), min(best_cpu, cpu * 1000 / n)
    base = base or best_cpu
    mb = sum(os.path.getsize(os.path.join(f"{w}/{fmt}", f)) for f in os.listdir(f"{w}/{fmt}")) / 1e6
    print(f"{fmt:<12} {best_rate:>9.1f} {best_cpu:>11.1f} {base / best_cpu:>11.2f}x {mb:>11.1f}")
PYEOF
