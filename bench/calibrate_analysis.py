#!/usr/bin/env python3
"""Analysis for bench/calibrate_hash_threshold.sh.

usage: calibrate_analysis.py SAMPLE_DIR COLLECTION IRBIS [TMAX=20] > report.md
Reads SAMPLE_DIR/truth_calib.csv, the pHash of every file from COLLECTION (catalog.sqlite +
features/hashes.f: 3 little-endian u64 per image id, pHash first), and runs
`IRBIS dupes COLLECTION --format csv --threshold t` for t = 0..TMAX.

Pair classes (unordered pairs of files):
  pos      same family (an original and the files derived from it), neither file a "cnn" edit
  cnn      same family, exactly one of the two is a "cnn" edit (flip, 90-degree rotation, big crop,
           banner): what a perceptual hash is not expected to catch; reported apart
  (ignored) same family, both cnn edits
  neg      different families
"raw" = the pair's pHash distance <= t; "dupes" = both files in one group of `irbis dupes`
(complete-linkage groups, exact-content merges included).
"""
import csv, os, sqlite3, subprocess, sys
import numpy as np
from scipy import stats

sample, coll, irbis = sys.argv[1], sys.argv[2], sys.argv[3]
TMAX = int(sys.argv[4]) if len(sys.argv) > 4 else 20
sample_abs = os.path.realpath(sample)

truth = {r["path"]: r for r in csv.DictReader(open(os.path.join(sample, "truth_calib.csv")))}
db = sqlite3.connect(os.path.join(coll, "catalog.sqlite"))
rows = db.execute("select id, path from images where status = 'ok' order by id").fetchall()
raw = np.fromfile(os.path.join(coll, "features", "hashes.f"), dtype="<u8").reshape(-1, 3)
paths, ph = [], []
for i, p in rows:
    rel = os.path.relpath(os.fsdecode(p), sample_abs)
    if rel in truth:
        paths.append(rel)
        ph.append(raw[i, 0])
ph = np.array(ph, dtype=np.uint64)
n = len(paths)
idx = {p: k for k, p in enumerate(paths)}
assert n == len(truth), f"{n} indexed files vs {len(truth)} in truth"
fam = np.array([hash(truth[p]["original"] or p) for p in paths])
expect = np.array([truth[p]["expect"] for p in paths])
transform = np.array([truth[p]["transform"] for p in paths])
is_cnn = expect == "cnn"
is_orig = expect == "original"

# all-pairs distances, upper triangle
LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
iu, ju = np.triu_indices(n, 1)
d = np.empty(len(iu), dtype=np.uint8)
B = 2_000_000
for s in range(0, len(iu), B):
    x = (ph[iu[s:s + B]] ^ ph[ju[s:s + B]]).view(np.uint8).reshape(-1, 8)
    d[s:s + B] = LUT[x].sum(axis=1)
same = fam[iu] == fam[ju]
cnn_pair = same & (is_cnn[iu] ^ is_cnn[ju])
pos = same & ~is_cnn[iu] & ~is_cnn[ju]
neg = ~same
exact_pair = pos & ((expect[iu] == "exact") | (expect[ju] == "exact"))
oe_pair = pos & (is_orig[iu] ^ is_orig[ju]) & (expect[iu] != "exact") & (expect[ju] != "exact")
hard = np.isin(transform, ["rotate-5", "crop-10"])
hard_pair = hard[iu] | hard[ju]
flat = ph == np.uint64(0x8000000000000000)
flat_pair = flat[iu] | flat[ju]
npos, nneg, ncnn = pos.sum(), neg.sum(), cnn_pair.sum()
pair_code = {}  # (i, j) -> class, for the dupes groups

out = print
out(f"files: {n} ({is_orig.sum()} originals = distinct images, {(~is_orig).sum()} altered copies); "
    f"pairs: {npos} positive, {ncnn} cnn-type, {nneg} negative\n")

# ---- dupes runs
def dupes_pairs(t):
    r = subprocess.run([irbis, "dupes", coll, "--format", "csv", "--threshold", str(t)], capture_output=True,
                       text=True, check=False)
    if r.returncode not in (0, 1):
        sys.exit(r.stderr)
    groups = {}
    for row in csv.DictReader(r.stdout.splitlines()):
        rel = os.path.relpath(row["path"], sample_abs)
        if rel in idx:
            groups.setdefault(row["group"], []).append(idx[rel])
    tp = fp = cn = 0
    for g in groups.values():
        for a in range(len(g)):
            for b in range(a + 1, len(g)):
                i, j = g[a], g[b]
                if fam[i] != fam[j]:
                    fp += 1
                elif not is_cnn[i] and not is_cnn[j]:
                    tp += 1
                elif is_cnn[i] != is_cnn[j]:
                    cn += 1
    return tp, fp, cn

orig_pairs = is_orig[iu] & is_orig[ju]
od = d[orig_pairs].astype(int)
cross_photo = orig_pairs.copy()
out("## Precision / recall by threshold\n")
out("raw = pHash distance <= t over all pairs; dupes = same group in `irbis dupes --threshold t`. "
    "Recall = found / positive pairs (original-edit and edit-edit pairs of one family); "
    "cnn recall = cnn-type pairs caught (not expected). FP/pair = false pairs / negative pairs.\n")
out("orig-edit recall = share of (original, near edit) pairs within t; 'excl. hard' leaves out rotate-5 and "
    "crop-10. FP pairs excl. flat = false pairs where neither hash is the flat-image hash 0x8000000000000000.\n")
out("| t | raw precision | raw recall | orig-edit recall | orig-edit recall excl. hard | raw FP pairs | FP excl. flat "
    "| FP per neg. pair | cnn recall (raw) | dupes precision | dupes recall | dupes FP pairs |")
out("|---|---|---|---|---|---|---|---|---|---|---|---|")
table = []
for t in range(0, TMAX + 1):
    hit = d <= t
    tp = (hit & pos).sum(); fp = (hit & neg).sum(); cn = (hit & cnn_pair).sum()
    oe = (hit & oe_pair).sum() / oe_pair.sum(); oe_easy = (hit & oe_pair & ~hard_pair).sum() / (oe_pair & ~hard_pair).sum()
    fp_nf = (hit & neg & ~flat_pair).sum()
    dtp, dfp, dcn = dupes_pairs(t)
    prec = tp / max(1, tp + fp); rec = tp / npos
    table.append((t, prec, rec, fp))
    out(f"| {t} | {prec:.4f} | {rec:.4f} | {oe:.4f} | {oe_easy:.4f} | {fp} | {fp_nf} | {fp / nneg:.2e} | "
        f"{cn / max(1, ncnn):.3f} | {dtp / max(1, dtp + dfp):.4f} | {dtp / npos:.4f} | {dfp} |")

# ---- per transform: original vs its edit
out("\n## Distance from the original, per transform\n")
orig_of = {p: idx[truth[p]["original"]] for p in paths if truth[p]["original"]}
per = {}
for p, o in orig_of.items():
    k = idx[p]
    dist = bin(int(ph[k]) ^ int(ph[o])).count("1")
    per.setdefault((truth[p]["expect"], truth[p]["transform"]), []).append(dist)
TS = [4, 6, 8, 10, 12, 14]
out("| transform | expect | n | median | p90 | max | " + " | ".join(f"found @{t}" for t in TS) + " |")
out("|---|---|---|---|---|---|" + "---|" * len(TS))
for (e, tr), v in sorted(per.items(), key=lambda kv: (kv[0][0] == "cnn", np.median(kv[1]), kv[0][1])):
    v = np.array(v)
    out(f"| {tr} | {e} | {len(v)} | {np.median(v):.0f} | {np.percentile(v, 90):.0f} | {v.max()} | " +
        " | ".join(f"{(v <= t).mean():.2f}" for t in TS) + " |")

# ---- unrelated originals
def q(a, f):
    return np.quantile(a, f, method="inverted_cdf")
out("\n## pHash distance between unrelated images\n")
ph_name = np.array([os.path.basename(p).split("-tile")[0].split(".")[0] for p in paths])
same_photo = ph_name[iu] == ph_name[ju]
sets = [("distinct originals (photos + tiles), all pairs", orig_pairs),
        ("distinct originals, tiles of the same photo only", orig_pairs & same_photo),
        ("distinct originals, different source photos", orig_pairs & ~same_photo),
        ("all files of different families (edits included)", neg)]
out("| set | pairs | min | 0.1 % | 1 % | 5 % | median | mean | sd |")
out("|---|---|---|---|---|---|---|---|---|")
for name, m in sets:
    a = d[m].astype(int)
    out(f"| {name} | {len(a)} | {a.min()} | {q(a, 0.001)} | {q(a, 0.01)} | {q(a, 0.05)} | {np.median(a):.0f} | "
        f"{a.mean():.1f} | {a.std():.1f} |")

# ---- extrapolation to large collections
# Non-flat hashes have exactly 32 one-bits (median split of 64 values), so d is even, and for
# random weight-32 hashes d/2 is hypergeometric(64, 32, 32). The measured distances have about the
# same spread (sd 4.0 vs 4.03) but a heavier lower tail; the model used below is the random-hash
# rate times the largest empirical/random ratio seen where the sample has >= 10 pairs ("x f"), and
# a pessimistic 10x that for real collections (bursts, similar scenes, low-detail images).
hg = stats.hypergeom(64, 32, 32)
rand = lambda t: hg.cdf(t // 2)
ratios = [((od <= t).mean() / rand(t), t) for t in range(4, TMAX + 1, 2) if (od <= t).sum() >= 10]
f, tf = max(ratios)
out("\n## False matches expected in a large collection\n")
out(f"Per-pair rate P(d <= t) between unrelated distinct images: empirical over the {len(od)} pairs of distinct "
    f"originals; random weight-32 hashes (d/2 hypergeometric(64, 32, 32)); model = random rate x {f:.1f} (the "
    f"largest empirical/random ratio where the sample has >= 10 pairs, at t = {tf}). Expected false pairs = "
    "rate x N(N-1)/2, for the model and for a pessimistic 10x the model. Only even t (odd t = t - 1).\n")
out("| t | empirical rate (pairs) | random-hash rate | model rate | false pairs N=10k | N=50k | N=100k | N=50k pessimistic |")
out("|---|---|---|---|---|---|---|---|")
for t in range(4, TMAX + 1, 2):
    emp = (od <= t).mean()
    m = rand(t) * f
    pairs = lambda N: m * N * (N - 1) / 2
    out(f"| {t} | {emp:.2e} ({(od <= t).sum()}) | {rand(t):.1e} | {m:.1e} | {pairs(1e4):.3g} | {pairs(5e4):.3g} | "
        f"{pairs(1e5):.3g} | {10 * pairs(5e4):.3g} |")
