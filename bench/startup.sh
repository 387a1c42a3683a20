#!/usr/bin/env bash
# Start-up time of irbis commands (issue 15 target: <= 30 ms): `irbis --version` and `irbis info`
# of a 4-image collection, RUNS times each; prints the median and minimum wall clock, the median
# CPU time, and the libraries the binary loads at start. Compare with a build that links OpenCV's
# codecs (before src/io/opencv_codecs.cpp) by passing its binary: bench/startup.sh [IRBIS] [RUNS=30]
set -euo pipefail
cd "$(dirname "$0")/.."
IRBIS=${1:-build/irbis}
RUNS=${2:-30}
PY=/usr/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/pics"
for f in aloeL baboon fruits building; do cp "/usr/share/doc/opencv-doc/examples/data/$f.jpg" "$WORK/pics/"; done
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" --features hashes > /dev/null 2>&1
echo "== $(date -u '+%F %T UTC') $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); $IRBIS loads $(ldd "$IRBIS" | wc -l) libraries"
$PY - "$IRBIS" "$RUNS" "$WORK/c.irbis" <<'PY'
import os, resource, statistics as st, subprocess, sys, time
irbis, runs, coll = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for name, args in [("--version", [irbis, "--version"]), ("info", [irbis, "info", coll])]:
    wall, cpu = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        wall.append(1000 * (time.perf_counter() - t0))
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(1000 * (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
    print(f"irbis {name}: wall median {st.median(wall):.1f} ms, min {min(wall):.1f} ms; CPU median {st.median(cpu):.1f} ms ({runs} runs)")
PY
