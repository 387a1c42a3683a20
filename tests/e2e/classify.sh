# Classify and explain end to end on generated images of two classes that differ only in the
# centre: "checker" has a black/white checkerboard there, "plain" a flat grey of the same mean.
# train (split, CV, confusion table and picture, suspects), predict (files, collection),
# explain (weight on the centre, same seed -> same weights) and bad input.
source "$(dirname "$0")/lib/common.bash"

$PY - "$WORK/pics" <<'PYEOF'
import os, sys
import numpy as np, cv2
root = sys.argv[1]
rng = np.random.default_rng(7)
def image(checker):
    h = w = 160
    yy, xx = np.mgrid[0:h, 0:w]
    c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    t = (xx * rng.uniform(0.3, 1) + yy * rng.uniform(0.3, 1)) / (2 * w)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    img += rng.normal(0, 6, img.shape)
    if checker:
        sq = int(rng.integers(6, 10))
        cb = ((yy // sq + xx // sq) % 2) * 255.0
        img[50:110, 50:110] = cb[50:110, 50:110, None]
    else:
        img[50:110, 50:110] = 128 + rng.normal(0, 3, (60, 60, 3))
    return np.clip(img, 0, 255).astype(np.uint8)
for cls in ("checker", "plain"):
    os.makedirs(f"{root}/{cls}", exist_ok=True)
    for i in range(14):
        cv2.imwrite(f"{root}/{cls}/{i:02d}.png", image(cls == "checker"))
# A mislabelled image: a checkerboard filed under plain.
cv2.imwrite(f"{root}/plain/mislabelled.png", image(True))
os.makedirs(f"{root}/../new", exist_ok=True)
cv2.imwrite(f"{root}/../new/c.png", image(True))
cv2.imwrite(f"{root}/../new/p.png", image(False))
cv2.imwrite(f"{root}/../new/tiny.png", image(True)[:40, :40])
PYEOF
P=$WORK/pics
"$IRBIS" index "$P" --into "$WORK/c.irbis" > /dev/null

# --- train ---
run train "$WORK/c.irbis" --labels folders --out "$WORK/m.clf" --test-fraction 0.3 --seed 1 \
  --plot "$WORK/confusion.png" --suspects "$WORK/suspects.csv" --json
assert_eq "$RC" 0 "train ($ERR)"
assert_eq "$(json 'd["classes"]')" "['checker', 'plain']" "class names"
assert_eq "$(json 'd["test"]["accuracy"] >= 0.85 and d["train"]["accuracy"] >= 0.95')" "True" "accuracy ($OUT)"
assert_eq "$(json 'd["test_images"] + d["train_images"]')" 29 "all labelled images used"
assert_eq "$(json 'len(d["cv_accuracy"]) == 6 and d["l2_chosen_by"]')" "cross-validation" "CV report"
assert_eq "$(json '([c["input"] for c in d["inputs_cv"]], d["input_chosen_by"], d["input"] in ("full", "blocks", "blocks-sqrt"))')" \
  "(['full', 'blocks', 'blocks-sqrt'], 'cross-validation', True)" "CV compares the inputs"
assert_eq "$(json '(d["saved_model"], d["saved_model_images"])')" "('refit', 29)" "refit on every labelled image"
assert_eq "$(json '0 <= d["test"]["ece"] <= 1')" "True" "test ECE"
assert_eq "$(json 'sum(map(sum, d["test"]["confusion"]))')" "$(json 'd["test_images"]')" "confusion sums to the test set"
[ -s "$WORK/confusion.png" ] || fail "no confusion picture"
grep -q "mislabelled.png,plain,checker" "$WORK/suspects.csv" || fail "the mislabelled image is not a suspect: $(cat "$WORK/suspects.csv")"
[ "$(wc -l < "$WORK/suspects.csv")" -le 3 ] || fail "too many suspects: $(cat "$WORK/suspects.csv")"
run train "$WORK/c.irbis" --labels folders --out "$WORK/m2.clf" --seed 1 --plot "$WORK/confusion.svg"
assert_eq "$RC" 0 "train table ($ERR)"
assert_contains "$OUT" "confusion (test" "confusion table"
assert_contains "$(cat "$WORK/confusion.svg")" "<svg" "svg plot"

run train "$WORK/c.irbis" --labels folders --input blocks --out "$WORK/b.clf" --seed 1 --json
assert_eq "$(json '(d["input"], d["l2_chosen_by"], len(d["cv_accuracy"]))')" "('blocks', 'cross-validation', 6)" "train on all pooled blocks"
assert_eq "$(json '(d["input_chosen_by"], "inputs_cv" in d)')" "('user', False)" "--input forces the input"
run train "$WORK/c.irbis" --labels folders --input blocks-sqrt --no-refit --out "$WORK/s.clf" --seed 1 --json
assert_eq "$(json '(d["input"], d["saved_model"], d["saved_model_images"] == d["train_images"])')" \
  "('blocks-sqrt', 'evaluated', True)" "--no-refit keeps the evaluated model"
run predict "$WORK/b.clf" "$WORK/new/c.png" --format csv
assert_eq "$(sed -n 2p <<<"$OUT" | cut -d, -f2)" checker "blocks classifier on a new file"
run predict "$WORK/s.clf" "$WORK/new/c.png" --format csv
assert_eq "$(sed -n 2p <<<"$OUT" | cut -d, -f2)" checker "blocks-sqrt classifier on a new file"
run predict "$WORK/s.clf" --collection "$WORK/c.irbis" --format csv
assert_eq "$RC" 0 "blocks-sqrt classifier on the collection ($ERR)"
# The non-linear input (random Fourier features of blocks-sqrt) only when asked for; its map is in
# the file, so predict (files and collection) and explain read the same features.
run train "$WORK/c.irbis" --labels folders --input blocks-sqrt-rff --out "$WORK/r.clf" --seed 1 --json
assert_eq "$(json '(d["input"], d["random_features"]["dim"], d["random_features"]["sigma"] > 0)')" \
  "('blocks-sqrt-rff', 4096, True)" "train on random features"
run train "$WORK/c.irbis" --labels folders --seed 1 --out "$WORK/auto.clf" --json
assert_eq "$(json '[c["input"] for c in d["inputs_cv"]]')" "['full', 'blocks', 'blocks-sqrt']" "default candidates"
run predict "$WORK/r.clf" "$WORK/new/c.png" --format csv
assert_eq "$(sed -n 2p <<<"$OUT" | cut -d, -f2)" checker "random-feature classifier on a new file"
run predict "$WORK/r.clf" --collection "$WORK/c.irbis" --format json
assert_eq "$RC" 0 "random-feature classifier on the collection ($ERR)"
run explain "$WORK/r.clf" "$WORK/new/c.png" --superpixels 12 --samples 30 --seed 3 --json
assert_eq "$RC" 0 "explain a random-feature classifier ($ERR)"

# --- predict ---
run predict "$WORK/m.clf" "$WORK/new/c.png" "$WORK/new/p.png" --format csv
assert_eq "$RC" 0 "predict files ($ERR)"
assert_eq "$(sed -n 1p <<<"$OUT")" "path,label,probability,p_checker,p_plain" "csv header"
assert_eq "$(sed -n 2p <<<"$OUT" | cut -d, -f2)" checker "label of a checkerboard"
assert_eq "$(sed -n 3p <<<"$OUT" | cut -d, -f2)" plain "label of a plain image"
run predict "$WORK/m.clf" --collection "$WORK/c.irbis" --out "$WORK/scores.csv"
assert_eq "$RC" 0 "predict collection ($ERR)"
assert_eq "$(($(wc -l < "$WORK/scores.csv") - 1))" 29 "a score for every image"
run predict "$WORK/m.clf" "$WORK/new/c.png" --json
assert_eq "$(json 'round(sum(d[0]["probabilities"].values()), 4)')" 1.0 "probabilities sum to 1"
run predict "$WORK/m.clf" "$WORK/new/c.png" "$WORK/nope.png"
assert_eq "$RC" 2 "a missing file is a partial failure"
# Many files are embedded by one network per core: rows keep the order given, a failure in the
# middle stays in its row, and every file's probabilities are the collection's for that image
# (the same embedding, stored at index time).
mapfile -t FILES < <(find "$P" -type f -name '*.png' | sort | head -n 9)
run predict "$WORK/m.clf" "${FILES[@]:0:4}" "$WORK/nope.png" "${FILES[@]:4}" --json
assert_eq "$RC" 2 "many files with one missing"
printf '%s' "$OUT" > "$WORK/files_pred.json"
"$IRBIS" predict "$WORK/m.clf" --collection "$WORK/c.irbis" --json > "$WORK/coll_pred.json"
$PY - "$P" "$WORK/files_pred.json" "$WORK/coll_pred.json" "$WORK/nope.png" "${FILES[@]:0:4}" "$WORK/nope.png" "${FILES[@]:4}" <<'PYEOF'
import json, os, sys
root = os.path.realpath(sys.argv[1])
files = json.load(open(sys.argv[2]))
coll = json.load(open(sys.argv[3]))
missing, given = sys.argv[4], sys.argv[5:]
key = lambda path: os.path.relpath(os.path.realpath(path), root) if os.path.isabs(path) else path
assert [r["path"] for r in files] == given, "rows in the order given"
by_name = {key(r["path"]): r for r in coll}
for r in files:
    if r["path"] == missing:
        assert r.get("error"), r
        continue
    c = by_name[key(r["path"])]
    assert r["label"] == c["label"], (r, c)
    for k, v in r["probabilities"].items():
        assert abs(v - c["probabilities"][k]) < 2e-3, (r["path"], k, v, c["probabilities"][k])
PYEOF

# --- explain ---
# On the model fitted on the training part: the refit one also learns the deliberately mislabelled
# checkerboard (filed under plain), which flattens this toy's probabilities (p(checker) 0.74) and
# spreads the explanation beyond the checkerboard.
"$IRBIS" train "$WORK/c.irbis" --labels folders --no-refit --out "$WORK/m.clf" --seed 1 > /dev/null
run explain "$WORK/m.clf" "$WORK/new/c.png" --superpixels 30 --samples 100 --seed 3 \
  --weights "$WORK/w.json" --out "$WORK/lime.png"
assert_eq "$RC" 0 "explain ($ERR)"
assert_contains "$OUT" "class checker" "explained class"
$PY - "$WORK/w.json" "$WORK/lime.png" "$WORK/new/c.png" <<'PYEOF'
import json, sys
import numpy as np, cv2
d = json.load(open(sys.argv[1]))
sp = d["superpixels"]
assert d["class"] == "checker" and len(sp) >= 10, (d["class"], len(sp))
assert all(k in sp[0] for k in ("id", "weight", "pixels", "bbox"))
assert sum(s["pixels"] for s in sp) == 160 * 160
# The highlighted superpixels (top 10 % of weights) are the pixels left as they were.
out, img = (cv2.imread(f).astype(int) for f in sys.argv[2:4])
kept = np.abs(out - img).sum(2) <= 3
centre = np.zeros(kept.shape, bool); centre[50:110, 50:110] = True
covered = (kept & centre).sum() / centre.sum()
share = (kept & centre).sum() / max(1, kept.sum())
print(f"highlight covers {covered:.2f} of the checkerboard; {share:.2f} of the highlight lies in it (it is 0.14 of the image)")
assert covered >= 0.6 and share >= 0.3, "the explanation must put its weight on the checkerboard"
PYEOF
for i in 1 2; do
  "$IRBIS" explain "$WORK/m.clf" "$WORK/new/c.png" --superpixels 12 --samples 30 --seed 5 --weights "$WORK/w$i.json" > /dev/null
done
$PY -c "
import json; a, b = (json.load(open(f'$WORK/w{i}.json')) for i in (1, 2))
assert [s['weight'] for s in a['superpixels']] == [s['weight'] for s in b['superpixels']], 'same seed, same weights'"
# A progress bar of the scoring on a terminal (explain takes half a minute at its defaults), under
# script(1)'s pseudo-terminal; nothing of it when stderr is not a terminal.
script -qec "$(printf '%q ' "$IRBIS" explain "$WORK/m.clf" "$WORK/new/c.png" --superpixels 12 --samples 40 --batch 8)" \
  /dev/null < /dev/null > "$WORK/tty.out" || fail "explain on a terminal: $(cat "$WORK/tty.out")"
grep -q 'explaining \[.*\] 40/40' "$WORK/tty.out" || fail "no progress bar on a terminal: $(cat "$WORK/tty.out")"
run explain "$WORK/m.clf" "$WORK/new/c.png" --superpixels 12 --samples 40 --batch 8
assert_eq "$RC" 0 "explain piped"
grep -q explaining <<<"$ERR$OUT" && fail "a progress bar when piped: $ERR"
run explain "$WORK/m.clf" "$WORK/new/c.png" --superpixels 12 --samples 30 --class plain --fill blur --json
assert_eq "$(json 'd["class"]')" plain "--class"

# --- bad input ---
run explain "$WORK/m.clf" "$WORK/new/tiny.png" --superpixels 200 --samples 20
assert_eq "$RC" 1 "tiny image exit code"
assert_contains "$ERR" "too small for 200 superpixels" "tiny image message"
run explain "$WORK/m.clf" "$WORK/new/c.png" --class zebra
assert_eq "$RC" 1 "unknown class"
assert_contains "$ERR" "unknown class 'zebra'" "unknown class message"
printf 'path,label\n%s,only\n%s,only\n' "$P/checker/00.png" "$P/plain/00.png" > "$WORK/one.csv"
run train "$WORK/c.irbis" --labels "$WORK/one.csv" --out "$WORK/x.clf"
assert_eq "$RC" 1 "single class"
assert_contains "$ERR" "at least two classes" "single class message"
printf 'path,label\n%s,a\n%s,a\n%s,b\n' "$P/checker/00.png" "$P/checker/01.png" "$P/plain/00.png" > "$WORK/lonely.csv"
run train "$WORK/c.irbis" --labels "$WORK/lonely.csv" --out "$WORK/x.clf"
assert_eq "$RC" 1 "class with one image"
assert_contains "$ERR" "only one image in: b" "one image message"
assert_contains "$ERR" "--min-per-class 2" "the message offers the way forward"
# --min-per-class leaves the small classes out and lists them; the rest trains.
{ echo path,label
  for i in 00 01 02 03 04 05; do echo "$P/checker/$i.png,a"; echo "$P/plain/$i.png,c"; done
  echo "$P/checker/10.png,b"; } > "$WORK/small.csv"
run train "$WORK/c.irbis" --labels "$WORK/small.csv" --out "$WORK/x.clf" --min-per-class 2 --seed 1 --json
assert_eq "$RC" 0 "train with --min-per-class ($ERR)"
assert_contains "$ERR" "left out 1 class with fewer than 2 images: b" "the classes left out are listed"
assert_eq "$(json '(sorted(d["classes"]), d["left_out"])')" "(['a', 'c'], ['b'])" "trained on the other classes"
run train "$WORK/c.irbis" --labels "$WORK/small.csv" --out "$WORK/x.clf" --min-per-class 7
assert_eq "$RC" 1 "every class left out"
assert_contains "$ERR" "at least two classes" "too few classes left ($ERR)"
printf 'path,label\n%s,a\n/no/such/file.png,b\n' "$P/checker/00.png" > "$WORK/missing.csv"
run train "$WORK/c.irbis" --labels "$WORK/missing.csv" --out "$WORK/x.clf"
assert_eq "$RC" 1 "labels for paths not in the collection"
assert_contains "$ERR" "/no/such/file.png" "unknown path named"
head -c 300 "$WORK/m.clf" > "$WORK/cut.clf"
run predict "$WORK/cut.clf" "$WORK/new/c.png"
assert_eq "$RC" 3 "truncated classifier"
assert_contains "$ERR" "corrupted" "truncated message"
echo "not a model" > "$WORK/text.clf"
run predict "$WORK/text.clf" "$WORK/new/c.png"
assert_contains "$ERR" "not an irbis classifier" "foreign file message"
$PY -c "
b = bytearray(open('$WORK/m.clf','rb').read()); b[8] = 7; open('$WORK/v7.clf','wb').write(b)"
run predict "$WORK/v7.clf" "$WORK/new/c.png"
assert_contains "$ERR" "format version 7" "other version message"
"$IRBIS" index "$P" --into "$WORK/h.irbis" --features hashes > /dev/null
run predict "$WORK/m.clf" --collection "$WORK/h.irbis"
assert_eq "$RC" 1 "collection without the model's embeddings"
assert_contains "$ERR" "needs embeddings of model" "other model message"
# A collection whose embeddings were computed by other weights under the same model name.
cp -r "$WORK/c.irbis" "$WORK/other.irbis"
$PY - "$WORK/other.irbis/catalog.sqlite" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE meta SET value = ? WHERE key = 'model.mobilenet_v2_mid.onnx_sha256'", ("ab" * 32,)).rowcount
assert n == 1, "the collection records its model's weights"
db.commit()
PYEOF
run predict "$WORK/m.clf" --collection "$WORK/other.irbis"
assert_eq "$RC" 1 "collection embedded with other weights"
assert_contains "$ERR" "other weights" "weights mismatch message"
assert_contains "$ERR" "abababababab" "the collection's weights are named"
run predict "$WORK/m.clf"
assert_eq "$RC" 1 "nothing to predict"
# --- two embedding models: one head each, their calibrated probabilities averaged ---
cp -r "$WORK/c.irbis" "$WORK/two.irbis"
"$IRBIS" index "$P" --into "$WORK/two.irbis" --model inception_v3 > /dev/null
run train "$WORK/two.irbis" --labels folders --seed 1 --out "$WORK/two.clf" --json
assert_eq "$RC" 0 "train on two models ($ERR)"
assert_eq "$(json '(d["embedding_model"], [h["embedding_model"] for h in d["heads"]], d["test_images"])')" \
  "('mobilenet_v2_mid,inception_v3', ['mobilenet_v2_mid', 'inception_v3'], 9)" "train's default: every model indexed"
run train "$WORK/two.irbis" --labels folders --seed 1 --out "$WORK/two.clf"
assert_contains "$OUT" "2 heads (probabilities averaged)" "the table names the heads"
assert_contains "$OUT" "inception_v3 " "the table shows each head"
# Each head is the classifier that model alone gives (same rows, split and seed).
"$IRBIS" train "$WORK/two.irbis" --labels folders --seed 1 --model mobilenet_v2_mid --out "$WORK/mob.clf" > /dev/null
"$IRBIS" train "$WORK/two.irbis" --labels folders --seed 1 --model inception_v3 --out "$WORK/inc.clf" > /dev/null
run train "$WORK/two.irbis" --labels folders --seed 1 --model mobilenet_v2_mid,mobilenet_v2_mid --out "$WORK/x.clf"
assert_eq "$RC" 1 "a model given twice"
assert_contains "$ERR" "given twice" "repeated model message"
for what in "$WORK/new/c.png $WORK/new/p.png $WORK/nope.png" "--collection $WORK/two.irbis"; do
  # shellcheck disable=SC2086
  for clf in two mob inc; do "$IRBIS" predict "$WORK/$clf.clf" $what --json > "$WORK/pred_$clf.json" 2>/dev/null || true; done
  $PY - "$WORK/pred_two.json" "$WORK/pred_mob.json" "$WORK/pred_inc.json" <<'PYEOF' || fail "two-model predict ($what) is not the mean of its heads"
import json, sys
two, mob, inc = (json.load(open(f)) for f in sys.argv[1:])
assert len(two) == len(mob) == len(inc) > 0
spread = 0
for t, m, i in zip(two, mob, inc):
    assert t["path"] == m["path"] == i["path"]
    if m.get("error"):
        assert t.get("error") == m["error"], (t, m)
        continue
    for k in t["probabilities"]:
        mean = (m["probabilities"][k] + i["probabilities"][k]) / 2
        assert abs(t["probabilities"][k] - mean) < 1e-5, (t["path"], k, t["probabilities"][k], mean)
        spread = max(spread, abs(m["probabilities"][k] - i["probabilities"][k]))
assert spread > 1e-4, "the two heads give the same probabilities: the check would not see a missing head"
PYEOF
done
run explain "$WORK/two.clf" "$WORK/new/c.png" --superpixels 12 --samples 30 --seed 3 --json
assert_eq "$RC" 0 "explain a two-model classifier ($ERR)"
printf '%s' "$OUT" > "$WORK/explain_two.json"
"$IRBIS" predict "$WORK/two.clf" "$WORK/new/c.png" --json > "$WORK/pred_c.json"
$PY - "$WORK/explain_two.json" "$WORK/pred_c.json" <<'PYEOF' || fail "explain's probabilities are not predict's"
import json, sys
e = json.load(open(sys.argv[1]))
p = json.load(open(sys.argv[2]))[0]
assert e["class"] == p["label"] == "checker", (e["class"], p["label"])
for k, v in p["probabilities"].items():
    assert abs(e["probabilities"][k] - v) < 1e-4, (k, e["probabilities"][k], v)
assert len(e["superpixels"]) >= 2 and any(s["weight"] != 0 for s in e["superpixels"])
PYEOF
run predict "$WORK/two.clf" --collection "$WORK/c.irbis"
assert_eq "$RC" 1 "a collection without the second head's model"
assert_contains "$ERR" "--model inception_v3" "names the index command for the missing model"
echo "PASS"
