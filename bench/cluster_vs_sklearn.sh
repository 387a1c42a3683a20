#!/usr/bin/env bash
# irbis vs scikit-learn on the same float32 data (raw little-endian files written once by numpy):
#   1. k-means, 100k x 256, k = 100, equal restarts (n_init) and iterations (max_iter, tol = 0,
#      algorithm="lloyd", k-means++ init on both sides);
#   2. exact silhouette of 29 labellings (k = 2..30) of 5000 x 256 items (irbis: one blocked-BLAS
#      pass for all; sklearn: silhouette_score per labelling), values compared;
#   3. irbis auto-k sweep 2..30 on 10k x 256 (k-means x 29, silhouette on a 5000 sample, null ref).
# Usage: bench/cluster_vs_sklearn.sh [build-dir] [restarts] [iterations]
# Environment: N (default 100000), D (256), K (100).
set -euo pipefail
BUILD=${1:-build}
RESTARTS=${2:-5}
ITERS=${3:-25}
N=${N:-100000}
D=${D:-256}
K=${K:-100}
PY=/usr/bin/python3
# Both sides use libgomp; on a shared machine spinning OpenMP workers steal the cores they wait for,
# so sleep instead of spin (applies to irbis and scikit-learn alike).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
BIN="$BUILD/bench/cluster_bench"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$BIN" ] || { echo "build $BIN first" >&2; exit 1; }

echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores"
echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
echo "data: $N x $D float32 (Gaussian blobs), k = $K, restarts = $RESTARTS, iterations = $ITERS"
"$PY" - "$TMP" "$N" "$D" <<'PYEOF'
import sys, numpy as np
tmp, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
def blobs(n, d, k, std):
    c = rng.uniform(-10, 10, size=(k, d)).astype(np.float32)
    lab = rng.integers(0, k, size=n)
    return (c[lab] + std * rng.standard_normal((n, d), dtype=np.float32)).astype(np.float32)
blobs(n, d, 150, 6.0).tofile(f"{tmp}/big.f32")
small = blobs(10000, d, 12, 6.0)
small.tofile(f"{tmp}/small.f32")
sil = small[:5000]
sil.tofile(f"{tmp}/sil.f32")
# 29 labellings (k = 2..30): nearest of the first k items, a cheap deterministic clustering.
labs = []
for k in range(2, 31):
    c = sil[:k]
    d2 = (sil**2).sum(1)[:, None] - 2 * sil @ c.T + (c**2).sum(1)[None, :]
    labs.append(d2.argmin(1).astype(np.int32))
np.stack(labs).tofile(f"{tmp}/labels.i32")
PYEOF

echo
echo "== 1. k-means =="
# Two runs each (the machine may be shared); the faster one counts.
for rep in 1 2; do "$BIN" --kmeans "$TMP/big.f32" "$N" "$D" "$K" "$RESTARTS" "$ITERS"; done | tee "$TMP/irbis_km_all.txt"
sort -k3 -g "$TMP/irbis_km_all.txt" | head -1 > "$TMP/irbis_km.txt"
"$PY" - "$TMP" "$N" "$D" "$K" "$RESTARTS" "$ITERS" <<'PYEOF' | tee "$TMP/sk_km.txt"
import sys, time, numpy as np
from sklearn.cluster import KMeans
tmp, n, d, k, r, it = sys.argv[1], *map(int, sys.argv[2:])
x = np.fromfile(f"{tmp}/big.f32", dtype=np.float32).reshape(n, d)
best = None
for rep in range(2):
    t = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=r, max_iter=it, tol=0.0, algorithm="lloyd", init="k-means++", random_state=0).fit(x)
    el = time.perf_counter() - t
    print(f"sklearn kmeans: {el:.3f} s  inertia {km.inertia_:.6g}", file=sys.stderr)
    best = el if best is None else min(best, el)
print(f"sklearn kmeans: {best:.3f} s  inertia {km.inertia_:.6g}")
PYEOF
IK=$(awk '{print $3}' "$TMP/irbis_km.txt"); SK=$(awk '{print $3}' "$TMP/sk_km.txt")
echo "best of two: irbis $IK s, sklearn $SK s"
echo "k-means speed-up (sklearn / irbis): $("$PY" -c "print(f'{$SK/$IK:.2f}x')")"

echo
echo "== 2. silhouette of 29 labellings, 5000 x $D, exact =="
"$BIN" --silsweep "$TMP/sil.f32" 5000 "$D" "$TMP/labels.i32" 29 0 | tee "$TMP/irbis_sil.txt"
"$PY" - "$TMP" "$D" <<'PYEOF' | tee "$TMP/sk_sil.txt"
import sys, time, numpy as np
from sklearn.metrics import silhouette_score
tmp, d = sys.argv[1], int(sys.argv[2])
x = np.fromfile(f"{tmp}/sil.f32", dtype=np.float32).reshape(5000, d)
labs = np.fromfile(f"{tmp}/labels.i32", dtype=np.int32).reshape(29, 5000)
t = time.perf_counter()
s = [silhouette_score(x, l) for l in labs]
print(f"sklearn silhouette sweep (29 labellings): {time.perf_counter() - t:.3f} s")
print("scores " + " ".join(f"{v:.6f}" for v in s))
PYEOF
"$PY" - "$TMP" <<'PYEOF'
import sys
tmp = sys.argv[1]
def read(f):
    lines = open(f).read().splitlines()
    return float(lines[0].split(": ")[1].split()[0]), [float(v) for v in lines[1].split()[1:]]
ti, si = read(f"{tmp}/irbis_sil.txt"); ts, ss = read(f"{tmp}/sk_sil.txt")
print(f"silhouette speed-up (sklearn / irbis): {ts/ti:.2f}x, max |difference| of the 29 scores: {max(abs(a-b) for a, b in zip(si, ss)):.2e}")
PYEOF

echo
echo "== 3. irbis auto-k sweep 2..30 on 10000 x $D (target < 30 s) =="
"$BIN" --autok "$TMP/small.f32" 10000 "$D" 2 30
