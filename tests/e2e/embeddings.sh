# CNN embeddings end to end: index the sample with the default model, export to .npy, check that
# heavy edits hashes miss (flip, rotation, crop, banner) find their original as nearest neighbour,
# that adding the model to a hashes-only collection back-fills the same vectors, and bad input.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))

run index "$WORK/pics" --into "$WORK/a.irbis" --json
assert_eq "$RC" 0 "index with the default model ($ERR)"
assert_eq "$(json 'd["ok"]')" "$N" "images embedded"
run export "$WORK/a.irbis" --embeddings "$WORK/a.npy"
assert_eq "$RC" 0 "export ($ERR)"

$PY - "$WORK/pics" "$WORK/a.npy" <<'PYEOF'
import csv, os, sys
import numpy as np
root, npy = sys.argv[1], sys.argv[2]
emb = np.load(npy)
paths = [os.path.relpath(r["path"], os.path.realpath(root)) for r in csv.DictReader(open(npy[:-4] + ".paths.csv"))]
assert emb.dtype == np.float32 and emb.shape[0] == len(paths), emb.shape
assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4), "rows are L2-normalised"
truth = {t["path"]: t for t in csv.DictReader(open(os.path.join(root, "truth.csv")))}
family = {p: (truth[p]["original"] or p) for p in paths}
sim = emb @ emb.T
np.fill_diagonal(sim, -2)
cnn = [i for i, p in enumerate(paths) if truth[p]["expect"] == "cnn"]
hits = sum(family[paths[int(np.argmax(sim[i]))]] == family[paths[i]] for i in cnn)
print(f"cnn edits whose nearest neighbour is from their own photo: {hits}/{len(cnn)}")
assert hits >= 0.9 * len(cnn), "embeddings should catch the edits hashes miss"
PYEOF

# Hashes first, the model later: the back-fill gives the same vectors as indexing with it at once.
"$IRBIS" index "$WORK/pics" --into "$WORK/b.irbis" --features hashes > /dev/null
run index "$WORK/pics" --into "$WORK/b.irbis" --json
assert_eq "$(json '(d["backfilled"], d["unchanged"])')" "($N, $N)" "back-fill of existing images"
"$IRBIS" export "$WORK/b.irbis" --embeddings "$WORK/b.npy" 2> /dev/null
$PY -c "
import numpy as np; a=np.load('$WORK/a.npy'); b=np.load('$WORK/b.npy')
assert a.shape == b.shape and np.abs(a-b).max() < 1e-5, np.abs(a-b).max()"

# The hashes do not depend on whether the CNN ran in the same pass (each has its own decode).
assert_eq "$("$IRBIS" export "$WORK/a.irbis" --hashes /dev/stdout)" "$("$IRBIS" export "$WORK/b.irbis" --hashes /dev/stdout)" \
  "hashes with and without the CNN"

# Broken files among good ones: the run completes (exit 2), each failure is recorded with its
# reason, and the good images around them get the same unit-length embeddings as before.
mkdir -p "$WORK/mixed"
$PY - "$WORK/pics" "$WORK/mixed" <<'PYEOF'
import os, shutil, sys
import numpy as np
src, dst = sys.argv[1:3]
jpgs = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".jpg"))[:4]
for i, f in enumerate(jpgs):
    shutil.copy(f, f"{dst}/{2 * i}-good.jpg")
    open(f"{dst}/{2 * i}-good.src", "w").write(os.path.relpath(f, src))
data = open(jpgs[0], "rb").read()
open(f"{dst}/1-truncated.jpg", "wb").write(data[: len(data) // 3])
open(f"{dst}/3-random.jpg", "wb").write(np.random.default_rng(3).bytes(4000))
open(f"{dst}/5-empty.png", "wb").close()
PYEOF
run index "$WORK/mixed" --into "$WORK/m.irbis" --threads 2 --json
assert_eq "$RC" 2 "broken files make a partial run ($ERR)"
assert_eq "$(json '(d["ok"], d["failed"])')" "(4, 3)" "good and failed counts"
run info "$WORK/m.irbis" --failures --json
assert_eq "$(json 'sorted((f["path"].rsplit("/", 1)[1], bool(f["reason"])) for f in d["failures"])')" \
  "[('1-truncated.jpg', True), ('3-random.jpg', True), ('5-empty.png', True)]" "failures with reasons"
"$IRBIS" export "$WORK/m.irbis" --embeddings "$WORK/m.npy" 2> /dev/null
$PY - "$WORK/pics" "$WORK/mixed" "$WORK/m.npy" "$WORK/a.npy" <<'PYEOF'
import csv, os, sys
import numpy as np
root, mixed, mnpy, anpy = sys.argv[1:5]
def rows(npy):
    return {os.path.basename(r["path"]) if npy == mnpy else os.path.relpath(r["path"], os.path.realpath(root)):
            int(r["row"]) for r in csv.DictReader(open(npy[:-4] + ".paths.csv"))}
m, a = np.load(mnpy), np.load(anpy)
mr, ar = rows(mnpy), rows(anpy)
assert sorted(mr) == ["0-good.jpg", "2-good.jpg", "4-good.jpg", "6-good.jpg"], sorted(mr)
assert np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-4), np.linalg.norm(m, axis=1)
for name, row in mr.items():
    orig = open(os.path.join(mixed, name[:-4] + ".src")).read()
    d = np.abs(m[row] - a[ar[orig]]).max()
    assert d < 1e-5, f"{name}: embedding differs from its original's by {d}"
PYEOF

# Semantic view: the last block alone, normalised.
"$IRBIS" export "$WORK/a.irbis" --embeddings "$WORK/s.npy" --view semantic 2> /dev/null
assert_eq "$($PY -c "import numpy as np; print(np.load('$WORK/s.npy').shape[1])")" 1792 "semantic block width"

# Bad input: unknown model, export without embeddings.
run index "$WORK/pics" --into "$WORK/c.irbis" --model no-such-model
assert_eq "$RC" 3 "unknown model exit code"
assert_contains "$ERR" "unknown model 'no-such-model'" "unknown model message"
"$IRBIS" index "$WORK/pics" --into "$WORK/d.irbis" --features hashes > /dev/null
run export "$WORK/d.irbis" --embeddings "$WORK/d.npy"
assert_eq "$RC" 1 "export without embeddings"
assert_contains "$ERR" "no embeddings for model" "export message"
echo "PASS"
