#!/usr/bin/env bash
# Where the CPU of `irbis index` (hashes + the default CNN, the default command) goes, per image,
# and what end-to-end / slower of (decode-only, inference-only) can reach on this machine (issue 15):
#   - build/bench/index_stages_bench on the images, one thread: read, xxh3, each decode, each
#     producer, the CNN's preprocess and inference, the whole worker side, the catalog write;
#   - `irbis index FOLDER --into C` end to end (wall, user, sys CPU), ROUNDS times, alternating
#     with OTHER_IRBIS when given (a before/after in one run, e.g. main's build/irbis); the stages
#     of OTHER_IRBIS's build too when its bench/index_stages_bench is beside it, both twice,
#     alternating (the figure kept per stage is the lower of the two);
#   - the quality group's share of `index` per binary: its stage CPU over the end-to-end CPU per image;
#   - the arithmetic: decode and inference are CPU work on the same cores, so the end-to-end rate
#     is at most cores / (decode + inference + everything else per image), and its ratio to the
#     slower side at most max(D, I) / (D + I + rest).
# Decode-only D is embed_engines.sh's: the CNN's decode + preprocess; inference-only I: one forward pass.
#   usage: bench/index_stages.sh [SIZE=1mp] [N=300 for 1mp, 60 for 12mp] [ROUNDS=3] [OTHER_IRBIS]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1mp}
source bench/lib/image_size.bash
bench_image_size "$SIZE" "${2:-}" 300 60
ROUNDS=${3:-3}
OTHER=${4:-}
PY=/usr/bin/python3
IRBIS=build/irbis
BENCH=build/bench/index_stages_bench
OUT=bench/out
IMG=$OUT/img${SIZE}_$N
[[ -x $IRBIS && -x $BENCH ]] || { echo "build first: cmake --build build -j2 --target irbis index_stages_bench" >&2; exit 1; }
if [[ ! -f $IMG.done ]]; then
  [[ -f $OUT/sample/truth.csv ]] || $IRBIS sample $OUT/sample >/dev/null
  rm -rf "$IMG"
  $PY bench/make_bench_images.py $OUT/sample "$IMG" "$N" $W $H
  touch "$IMG.done"
fi
cat "$IMG"/*.jpg > /dev/null  # page cache
RES=$OUT/index_stages_${SIZE}.txt
{
  echo "== $(date -u '+%F %T UTC')  $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "== images: $N x ${W}x${H} JPEG in $IMG"
  OTHER_BENCH=""
  [[ -n $OTHER && -x $(dirname "$OTHER")/bench/index_stages_bench ]] && OTHER_BENCH=$(dirname "$OTHER")/bench/index_stages_bench
  for r in 1 2; do
    echo "stages $IRBIS $($BENCH "$IMG" | tr -d '\n')"
    [[ -z $OTHER_BENCH ]] || echo "stages $OTHER $($OTHER_BENCH "$IMG" | tr -d '\n')"
  done
  for r in $(seq 1 "$ROUNDS"); do
    for bin in $IRBIS $OTHER; do
      rm -rf $OUT/index_stages.irbis
      /usr/bin/time -f "%e %U %S" -o $OUT/index_stages_time.txt $bin index "$IMG" --into $OUT/index_stages.irbis > /dev/null 2>&1
      echo "e2e $bin $(cat $OUT/index_stages_time.txt) load $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
} | tee "$RES"
rm -rf $OUT/index_stages.irbis $OUT/index_stages_time.txt
$PY - "$RES" "$N" "$(nproc)" <<'PY'
import json, sys, statistics as st
res, n, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stages, e2e, by_bin = {}, {}, {}
for line in open(res):
    if line.startswith("stages "):
        _, b, js = line.split(" ", 2)
        got = json.loads(js)
        if b in by_bin:  # the lower of the runs per stage
            for k, v in got["ms_cpu_per_image"].items():
                by_bin[b]["ms_cpu_per_image"][k] = min(v, by_bin[b]["ms_cpu_per_image"][k])
        else:
            by_bin[b] = got
        stages = by_bin[next(iter(by_bin))]
    elif line.startswith("e2e "):
        f = line.split()
        e2e.setdefault(f[1], []).append((float(f[2]), float(f[3]) + float(f[4]), float(f[6])))
ms = stages["ms_cpu_per_image"]
print(f"\n== per image, ms CPU, one thread ({stages['images']} images, {stages['inference']})")
for k in sorted(ms, key=lambda k: -ms[k]):
    print(f"  {ms[k]:8.2f}  {k}")
D = ms["decode alone, min side 224"] + ms["cnn preprocess"]
I = ms["cnn inference"]
whole = ms["produce_image (whole worker side)"] + ms["catalog write"]
rest = whole - D - I
slower = cores * 1000 / max(D, I)
print(f"\ndecode-only D = {D:.2f} ms ({cores * 1000 / D:.0f} images/s on {cores} cores), "
      f"inference-only I = {I:.2f} ms ({cores * 1000 / I:.0f} images/s); slower side {slower:.0f} images/s")
print(f"everything else the index does per image: {rest:.2f} ms (the hashes' own decode when its scale differs, the features, read, write)")
print(f"bound, decode + inference only: rate <= {cores * 1000 / (D + I):.0f} images/s, ratio <= max(D, I) / (D + I) = {max(D, I) / (D + I):.2f}")
print(f"bound, the index as it is:      rate <= {cores * 1000 / whole:.0f} images/s, ratio <= {max(D, I) / whole:.2f}")
for b, st_b in by_bin.items():
    q = st_b["ms_cpu_per_image"]["compute quality"]
    if b in e2e:
        cpu_img = 1000 * st.median(x[1] for x in e2e[b]) / n
        print(f"quality group {b}: {q:.3f} ms CPU per image = {100 * q / cpu_img:.1f} % of index's {cpu_img:.2f} ms "
              f"(adds {100 * q / (cpu_img - q):.1f} % to an index without it)")
for b, v in e2e.items():
    wall = st.median(x[0] for x in v)
    cpu = st.median(x[1] for x in v)
    print(f"end to end {b}: {n / wall:.0f} images/s (median wall {wall:.2f} s, {', '.join(f'{x[0]:.2f}' for x in v)}), "
          f"{1000 * cpu / n:.2f} ms CPU/image (user+sys {', '.join(f'{x[1]:.2f}' for x in v)} s), "
          f"ratio to the slower side {n / wall / slower:.2f} (wall) / {cores * n / cpu / slower:.2f} (CPU: cores / CPU per image, "
          f"what {cores} free cores would give); load {', '.join(f'{x[2]:.1f}' for x in v)}")
PY
