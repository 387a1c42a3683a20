#!/usr/bin/env bash
# Two networks, one decision: a `blocks-sqrt` classifier on mobilenet_v2_mid and one on
# inception_v3 (each `irbis train --input blocks-sqrt --model M`, refit), their class probabilities
# on the unseen images (`irbis predict --collection`) averaged. Prints the accuracy of each and of
# the average, with the binomial standard error (docs/classify.md, "A second network"); then the
# product: plain `irbis train` on the collection (one head per indexed model, each head's input
# chosen by CV, probabilities averaged inside the classifier) and `irbis predict --collection`.
# Usage: bench/classify_two_models.sh PREFIX [build-dir]
#   PREFIX.train.irbis / PREFIX.heldout.irbis: collections of DIR/train/<class>/* and
#   DIR/heldout/<class>/* indexed with both models (`irbis index DIR/train --into PREFIX.train.irbis`
#   and again with `--model inception_v3`).
set -euo pipefail
PREFIX=$1
BUILD=${2:-build}
IRBIS="$BUILD/irbis"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for m in mobilenet_v2_mid inception_v3; do
  "$IRBIS" train "$PREFIX.train.irbis" --labels folders --model "$m" --input blocks-sqrt --seed 1 \
    --out "$TMP/$m.clf" --json >/dev/null
  "$IRBIS" predict "$TMP/$m.clf" --collection "$PREFIX.heldout.irbis" --out "$TMP/$m.csv" >/dev/null 2>&1
done
"$IRBIS" train "$PREFIX.train.irbis" --labels folders --seed 1 --out "$TMP/heads.clf" --json >"$TMP/heads.json"
"$IRBIS" predict "$TMP/heads.clf" --collection "$PREFIX.heldout.irbis" --out "$TMP/heads.csv" >/dev/null 2>&1
/usr/bin/python3 - "$TMP" "$PREFIX" <<'PY'
import csv, math, os, sys
tmp, prefix = sys.argv[1], sys.argv[2]
def load(m):
    return {r["path"]: r for r in csv.DictReader(open(f"{tmp}/{m}.csv"))}
a, b = load("mobilenet_v2_mid"), load("inception_v3")
classes = [k[2:] for k in next(iter(a.values())) if k.startswith("p_")]
n = ok_a = ok_b = ok_f = 0
for path in a:
    truth = os.path.basename(os.path.dirname(path))
    n += 1
    pa = [float(a[path]["p_" + c]) for c in classes]
    pb = [float(b[path]["p_" + c]) for c in classes]
    pf = [(x + y) / 2 for x, y in zip(pa, pb)]
    ok_a += classes[pa.index(max(pa))] == truth
    ok_b += classes[pb.index(max(pb))] == truth
    ok_f += classes[pf.index(max(pf))] == truth
se = lambda k: math.sqrt(k / n * (1 - k / n) / n)
print(f"{os.path.basename(prefix)}: {n} unseen images; mobilenet_v2_mid {ok_a / n:.4f}, inception_v3 {ok_b / n:.4f}, "
      f"mean probability {ok_f / n:.4f} (standard error {se(ok_f):.3f})")
import json
h = load("heads")
ok_h = sum(max(classes, key=lambda c: float(h[p]["p_" + c])) == os.path.basename(os.path.dirname(p)) for p in h)
rep = json.load(open(f"{tmp}/heads.json"))
print(f"  irbis train default: heads {rep['embedding_model']} inputs {rep['input']}, {len(h)} unseen images, "
      f"accuracy {ok_h / len(h):.4f} (standard error {se(ok_h):.3f})")
PY
