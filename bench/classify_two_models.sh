#!/usr/bin/env bash
# Two networks, one decision: a `blocks-sqrt` classifier on mobilenet_v2_mid and one on
# inception_v3 (each `irbis train --input blocks-sqrt --model M`, refit), their class probabilities
# on the unseen images (`irbis predict --collection`) averaged. Prints the accuracy of each and of
# the average, with the binomial standard error (docs/classify.md, "A second network"); then the
# product: plain `irbis train` on the collection (one head per indexed model, each head's input
# chosen by CV, probabilities averaged inside the classifier) and `irbis predict --collection`,
# beside the one-network default (`irbis train --model mobilenet_v2_mid`, input chosen by CV), with
# each train's wall and CPU seconds. PAIR=0 skips the hand-averaged pair (defaults only).
# Usage: [PAIR=0] bench/classify_two_models.sh PREFIX [build-dir]
#   PREFIX.train.irbis / PREFIX.heldout.irbis: collections of DIR/train/<class>/* and
#   DIR/heldout/<class>/* indexed with both models (`irbis index DIR/train --into PREFIX.train.irbis`
#   and again with `--model inception_v3`).
set -euo pipefail
PREFIX=$1
BUILD=${2:-build}
IRBIS="$BUILD/irbis"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PAIR=${PAIR:-1}
if [ "$PAIR" = 1 ]; then
  for m in mobilenet_v2_mid inception_v3; do
    "$IRBIS" train "$PREFIX.train.irbis" --labels folders --model "$m" --input blocks-sqrt --seed 1 \
      --out "$TMP/$m.clf" --json >/dev/null
    "$IRBIS" predict "$TMP/$m.clf" --collection "$PREFIX.heldout.irbis" --out "$TMP/$m.csv" >/dev/null 2>&1
  done
fi
# name, then train's arguments: wall and CPU seconds of the train go to $TMP/name.time.
train_default() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$TMP/$name.time" \
    "$IRBIS" train "$PREFIX.train.irbis" --labels folders --seed 1 "$@" --out "$TMP/$name.clf" --json >"$TMP/$name.json"
  "$IRBIS" predict "$TMP/$name.clf" --collection "$PREFIX.heldout.irbis" --out "$TMP/$name.csv" >/dev/null 2>&1
}
train_default heads
train_default one --model mobilenet_v2_mid
/usr/bin/python3 - "$TMP" "$PREFIX" "$PAIR" <<'PY'
import csv, json, math, os, sys
tmp, prefix, pair = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def load(m):
    return {r["path"]: r for r in csv.DictReader(open(f"{tmp}/{m}.csv"))}
def accuracy(m):
    rows = load(m)
    classes = [k[2:] for k in next(iter(rows.values())) if k.startswith("p_")]
    ok = sum(max(classes, key=lambda c: float(r["p_" + c])) == os.path.basename(os.path.dirname(p))
             for p, r in rows.items())
    return ok, len(rows)
se = lambda k, n: math.sqrt(k / n * (1 - k / n) / n)
for name, what in (("heads", "irbis train default (one head per indexed model)"),
                   ("one", "irbis train --model mobilenet_v2_mid (one-network default)")):
    ok, n = accuracy(name)
    rep = json.load(open(f"{tmp}/{name}.json"))
    wall, user, system = (float(x) for x in open(f"{tmp}/{name}.time").read().split()[-3:])
    print(f"{os.path.basename(prefix)}: {what}: models {rep['embedding_model']} inputs {rep['input']}, "
          f"{n} unseen images, accuracy {ok / n:.4f} (standard error {se(ok, n):.3f}); "
          f"train {wall:.1f} s wall, {user + system:.1f} s CPU, load {os.getloadavg()[0]:.1f}")
if not pair:
    sys.exit(0)
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
print(f"{os.path.basename(prefix)}: {n} unseen images; mobilenet_v2_mid {ok_a / n:.4f}, inception_v3 {ok_b / n:.4f}, "
      f"mean probability of the two blocks-sqrt classifiers {ok_f / n:.4f} (standard error {se(ok_f, n):.3f})")
PY
