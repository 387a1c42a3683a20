#!/usr/bin/env bash
# End-to-end benchmark of CNN embeddings: `irbis index` with the default model (mobilenet_v2_mid,
# the default command: hashes + cnn) vs a Python loop doing what a notebook user does with the same
# ONNX file and Debian's python3-opencv (bench/ref_embed.py: cv2.imread, cv2.dnn.blobFromImages,
# net.forward, batch 8, cv2.setNumThreads(2)), plus irbis's inference-only rate on the same
# images (build/bench/embed_infer_bench: Embedder::forward_blocks + descriptor per image on inputs
# preprocessed beforehand), in the pipeline's configuration (one single-threaded network per
# core, "infer") and as one forward pass at a time over OpenCV's pool of all cores ("infer_pool",
# what model_bench measures).
# Images: N distinct JPEGs made by bench/make_bench_images.py from the real photos of
# `irbis sample` (cached in bench/out/): SIZE=1mp -> 1200x900, SIZE=12mp -> 4000x3000.
# Runs alternate irbis / python / inference-only, ROUNDS times; reports medians of images/s (wall
# clock of the whole command, start-up and model loading included) and CPU ms (user+sys) per image.
#   usage: bench/embed_vs_opencv_python.sh [SIZE=1mp] [N=500 for 1mp, 100 for 12mp] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1mp}
source bench/lib/image_size.bash
bench_image_size "$SIZE" "${2:-}" 500 100
ROUNDS=${3:-3}
PY=/usr/bin/python3
IRBIS=build/irbis
BASE=${IRBIS_BASE:-}  # optional second irbis binary (e.g. the previous pipeline), run in each round too
INFER=build/bench/embed_infer_bench
MODEL=mobilenet_v2_mid
ONNX=models/onnx/$MODEL.onnx
CARD=models/onnx/$MODEL.json
OUT=bench/out
IMG=$OUT/img${SIZE}_$N
[[ -x $IRBIS && -x $INFER ]] || { echo "build first: cmake --build build -j2" >&2; exit 1; }
[[ -f $ONNX ]] || { echo "no $ONNX: run scripts/fetch_models.sh and scripts/import_models.sh" >&2; exit 1; }
if [[ ! -f $IMG.done ]]; then
  [[ -f $OUT/sample/truth.csv ]] || $IRBIS sample $OUT/sample >/dev/null
  rm -rf "$IMG"
  $PY bench/make_bench_images.py $OUT/sample "$IMG" "$N" $W $H
  touch "$IMG.done"
fi
# FLOPs per image, counted from the ONNX graph (needs python3-onnx; 2 x conv/gemm MACs).
GFLOP=$($PY bench/onnx_flops.py $ONNX 2>/dev/null | sed -n 's/.*FLOPs (2 x MACs): \([0-9.]*\) GFLOP.*/\1/p' || true)
GFLOP=${GFLOP:-1.161}
LIMIT=${FLOP_LIMIT_GFLOPS:-94}  # measured fp32 limit of the machine (notes/machine-limits.md)
echo "== $(date -u '+%F %T UTC')  $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== images: $N x ${W}x${H} JPEG q90, $(du -sh "$IMG" | cut -f1) in $IMG; model $MODEL, $GFLOP GFLOP/image"
cat "$IMG"/*.jpg > /dev/null  # page cache
RES=$OUT/embed_bench_${SIZE}_results.txt
: > "$RES"
TIMEFORMAT='%R %U %S'
run() {  # name, command...: appends "name real user sys" to $RES
  local name=$1; shift
  local t
  { t=$( { time "$@" > $OUT/embed_bench_${SIZE}_last.log 2>&1; } 2>&1 ); } || { cat $OUT/embed_bench_${SIZE}_last.log >&2; echo "FAILED: $*" >&2; exit 1; }
  echo "$name $t" >> "$RES"
  echo "   $name: $t (real user sys)"
}
for r in $(seq 1 "$ROUNDS"); do
  echo "-- round $r (load $(cut -d' ' -f1 /proc/loadavg))"
  rm -rf $OUT/embed_bench.irbis; run irbis $IRBIS index "$IMG" --into $OUT/embed_bench.irbis
  if [[ -n $BASE ]]; then rm -rf $OUT/embed_bench.irbis; run irbis_base $BASE index "$IMG" --into $OUT/embed_bench.irbis; fi
  run python $PY bench/ref_embed.py "$IMG" $ONNX $CARD 8 2
  for mode in infer infer_pool; do
    if [[ $mode == infer ]]; then args="1 $(nproc)"; else args="$(nproc) 1"; fi  # CV_THREADS STREAMS
    $INFER "$IMG" 1 $args > $OUT/embed_bench_${SIZE}_last.log 2>&1
    sed "s/^/   $mode: /" $OUT/embed_bench_${SIZE}_last.log
    grep '^pass' $OUT/embed_bench_${SIZE}_last.log | awk -v n=$mode '{print n, $0}' >> "$RES"
  done
done
rm -rf $OUT/embed_bench.irbis
$PY - "$RES" "$N" "$GFLOP" "$LIMIT" "$SIZE" <<'PY'
import re, sys, statistics as st
res, n, gflop, limit, size = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rows, infers = {}, {"infer": [], "infer_pool": []}
for line in open(res):
    f = line.split()
    if f[0] in infers:
        m = re.search(r"([\d.]+) images/s\s+([\d.]+) ms CPU/image", line)
        infers[f[0]].append((float(m.group(1)), float(m.group(2))))
        continue
    rows.setdefault(f[0], []).append((float(f[1]), float(f[2]) + float(f[3])))
def med(name):
    r = rows[name]
    return n / st.median(x[0] for x in r), 1000 * st.median(x[1] for x in r) / n
print(f"\n== summary {size} (median of {len(rows['python'])} rounds; wall clock incl. start-up and model load)")
ips = {}
for name, label in [("irbis", "irbis index (hashes + cnn, default)"), ("irbis_base", "irbis index, IRBIS_BASE binary"),
                    ("python", "python cv2.dnn loop (batch 8, 2 thr)")]:
    if name not in rows:
        continue
    v, cpu = med(name)
    ips[name] = v
    print(f"{label:40s} {v:7.1f} images/s  {cpu:7.1f} ms CPU/image   rounds: " +
          " ".join(f"{n / x[0]:.1f}" for x in rows[name]))
for mode, label in [("infer_pool", "inference only, 1 net on OpenCV's pool"), ("infer", "inference only, 1 net per core (pipeline)")]:
    infer = infers[mode]
    if not infer:
        continue
    inf = st.median(x[0] for x in infer)
    inf_cpu = st.median(x[1] for x in infer)
    print(f"{label:40s} {inf:7.1f} images/s  {inf_cpu:7.1f} ms CPU/image   rounds: " +
          " ".join(f"{x[0]:.1f}" for x in infer))
# the pipeline's own inference configuration is the reference below
print(f"ratio irbis / python: {ips['irbis'] / ips['python']:.2f}x wall, {med('python')[1] / med('irbis')[1]:.2f}x less CPU per image")
print(f"irbis end-to-end / inference-only: {ips['irbis'] / inf:.2f} (wall), CPU per image {med('irbis')[1] / inf_cpu:.2f}x inference-only")
print(f"inference-only: {inf * gflop:.1f} GFLOP/s = {100 * inf * gflop / limit:.0f} % of the {limit:.0f} GFLOP/s limit"
      f" ({gflop:.3f} GFLOP/image); CPU-bound projection on 2 idle cores {2000 / inf_cpu:.1f} images/s ="
      f" {100 * 2000 / inf_cpu * gflop / limit:.0f} % of the limit")
print(f"CPU-bound projection on 2 idle cores: irbis {2000 / med('irbis')[1]:.1f} images/s, python {2000 / med('python')[1]:.1f} images/s;"
      f" load now: {open('/proc/loadavg').read().split()[0]}")
tgt = 1.15 if size == "1mp" else 2.0
print(f"target end-to-end within 10 % of inference-only: {'MET' if ips['irbis'] >= 0.9 * inf else 'NOT MET'};"
      f" target >= {tgt}x python: {'MET' if ips['irbis'] >= tgt * ips['python'] else 'NOT MET'}")
PY
