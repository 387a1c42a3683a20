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
