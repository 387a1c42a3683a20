# Similarity search, unique, dupes --cnn and retrieval evaluation end to end on `irbis sample`:
# query by outside file / indexed path / id in every format, the persisted HNSW index staying
# correct when images are removed or its file is damaged, and bad input.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
N=$(($(wc -l < "$WORK/pics/truth.csv") - 1))
run index "$WORK/pics" --into "$WORK/p.irbis" --json
assert_eq "$RC" 0 "index ($ERR)"
PICS=$(realpath "$WORK/pics")
ORIG=$(awk -F, '$4=="original"{print $1; exit}' "$WORK/pics/truth.csv")
FLIP=$(awk -F, '$3=="flip"{print $1 "," $2; exit}' "$WORK/pics/truth.csv")

# A query file outside the collection: a byte copy of an original finds it first, similarity 1.
cp "$WORK/pics/$ORIG" "$WORK/query.${ORIG##*.}"
run search "$WORK/p.irbis" "$WORK/query.${ORIG##*.}" -k 3 --format json
assert_eq "$RC" 0 "search by file ($ERR)"
assert_eq "$(json '"'"$PICS/$ORIG"'" in [x["path"] for x in d["results"][:2]]')" True "a copy finds the original (or its byte copy) first"
assert_eq "$(json 'round(d["results"][0]["similarity"], 3)')" "1.0" "similarity of a copy"
assert_eq "$(json 'len(d["results"])')" 3 "k results"

# By indexed path: the query itself is not a result; ranks 1..k, similarity descending.
run search "$WORK/p.irbis" --path "$PICS/${FLIP%%,*}" -k 5 --json
assert_eq "$RC" 0 "search by path ($ERR)"
$PY -c "
import json,sys; d=json.loads(sys.argv[1]); r=d['results']
assert [x['rank'] for x in r]==[1,2,3,4,5], r
assert all(r[i]['similarity']>=r[i+1]['similarity'] for i in range(4))
assert all(x['path']!=sys.argv[2] for x in r), 'query excluded'
assert sys.argv[3] in [x['path'] for x in r[:3]], ('flip finds its original', r)
" "$OUT" "$PICS/${FLIP%%,*}" "$PICS/${FLIP#*,}"
ID=$(json 'd["results"][0]["id"]')
run search "$WORK/p.irbis" --id "$ID" -k 2 --format csv
assert_eq "$RC" 0 "search by id ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "rank,similarity,path,id" "csv header"
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k 2
assert_contains "$OUT" "similarity" "table header"

# k larger than the collection: a warning and every other image.
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k 100000 --json
assert_eq "$RC" 0 "large k ($ERR)"
assert_contains "$ERR" "more than the" "large k warning"
assert_eq "$(json 'len(d["results"])')" $((N - 1)) "large k returns the rest"

# HNSW forced on a small collection: persisted, same nearest neighbours as exact here.
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k 5 --index hnsw --json
assert_eq "$RC" 0 "hnsw search ($ERR)"
assert_eq "$(json 'd["index"]')" hnsw "index kind"
[ -f "$WORK/p.irbis/index/mobilenet_v2_mid.hnsw" ] || fail "hnsw index file written"
HN=$(json '[x["path"] for x in d["results"]]')
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k 5 --index exact --json
assert_eq "$(json '[x["path"] for x in d["results"]]')" "$HN" "hnsw agrees with exact"

# Removing images: `index` tombstones them (hook), they never come back.
GONE=$(json 'd["results"][0]["path"]')
rm "$GONE"
"$IRBIS" index "$WORK/pics" --into "$WORK/p.irbis" > /dev/null 2>&1 || true
$PY -c "
import json; d=json.load(open('$WORK/p.irbis/index/mobilenet_v2_mid.json')); assert len(d['tombstones'])==1, d['tombstones']"
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k $((N - 2)) --index hnsw --json
assert_eq "$RC" 0 "search after removal ($ERR)"
$PY -c "
import json,sys; d=json.loads(sys.argv[1]); assert all(x['path']!=sys.argv[2] for x in d['results']), 'removed image returned'
assert len(d['results'])==$((N - 2)), len(d['results'])" "$OUT" "$GONE"

# A damaged index file is rebuilt, not trusted.
head -c 1000 "$WORK/p.irbis/index/mobilenet_v2_mid.hnsw" > "$WORK/trunc" && cp "$WORK/trunc" "$WORK/p.irbis/index/mobilenet_v2_mid.hnsw"
run search "$WORK/p.irbis" --path "$PICS/$ORIG" -k 5 --index hnsw --json
assert_eq "$RC" 0 "search with a damaged index ($ERR)"
assert_eq "$(json 'len(d["results"])')" 5 "rebuilt index returns k"
assert_eq "$(json 'd["results"][0]["path"] == "'"$GONE"'"')" False "rebuilt index skips the removed image"

# unique: ranked table + boxplot summary; exact copies are skipped (distance > 0).
run unique "$WORK/p.irbis" --top 5 --json
assert_eq "$RC" 0 "unique ($ERR)"
$PY -c "
import json,sys; d=json.loads(sys.argv[1]); s=d['summary']; r=d['images_ranked']
assert len(r)==5 and s['n']>0
assert s['lower_whisker']<=s['q1']<=s['median']<=s['q3']<=s['upper_whisker']
assert all(r[i]['distance']>=r[i+1]['distance'] for i in range(4))
assert all(x['distance']>0 for x in r) and d['top_exact']
" "$OUT"
run unique "$WORK/p.irbis" --top 3
assert_contains "$OUT" "upper whisker" "unique summary line"
run unique "$WORK/p.irbis" --top 0 --format csv
assert_eq "$(head -1 <<<"$OUT")" "rank,distance,density,path,nearest" "unique csv header"
$PY -c "
import csv,sys,io; rows=list(csv.DictReader(io.StringIO(sys.argv[1])))
assert all(float(r['distance'])>1e-6 for r in rows), 'exact copies skipped'
" "$OUT"

# dupes --cnn: existing columns stay, kind cnn and similarity are added; catches the flip.
run dupes "$WORK/p.irbis" --format csv
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size" "plain dupes columns"
run dupes "$WORK/p.irbis" --cnn --format csv
assert_eq "$RC" 0 "dupes --cnn ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size,similarity" "cnn dupes columns"
assert_contains "$OUT" ",cnn," "cnn kind"
run dupes "$WORK/p.irbis" --cnn --json
assert_eq "$RC" 0 "dupes --cnn json ($ERR)"

# evaluate retrieval with a CSV of families (original photo = class).
$PY - "$WORK/pics" "$PICS" > "$WORK/labels.csv" <<'PYEOF'
import csv, os, sys
print("path,label")
for t in csv.DictReader(open(os.path.join(sys.argv[1], "truth.csv"))):
    p = os.path.join(sys.argv[2], t["path"])
    if os.path.exists(p): print(f"{p},{os.path.basename(t['original'] or t['path']).split('.')[0]}")
PYEOF
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/labels.csv" --queries-per-class 5 --negatives 20 --seed 1 --format json
assert_eq "$RC" 0 "evaluate ($ERR)"
$PY -c "
import json,sys; d=json.loads(sys.argv[1]); t=d['top_k_accuracy']
assert sorted(map(int,t))==[1,2,4,5,8,10,15,20,28,32]
assert t['1']<=t['5']<=t['32'] and d['map']>0.5 and d['knn1_accuracy']>0.5, d
print('retrieval:', json.dumps({k: d[k] for k in ('queries','knn1_accuracy','knn5_accuracy','map')}), 'top1', t['1'])
" "$OUT"
run evaluate retrieval "$WORK/p.irbis" --labels folders
assert_eq "$RC" 0 "evaluate with folders ($ERR)"
assert_contains "$OUT" "mAP" "evaluate table"

# Bad input.
echo "not an image" > "$WORK/bad.jpg"
run search "$WORK/p.irbis" "$WORK/bad.jpg"
[ "$RC" -ne 0 ] || fail "undecodable query must fail"
assert_contains "$ERR" "bad.jpg" "undecodable query names the file"
run search "$WORK/p.irbis" --path "$WORK/nowhere.jpg"
assert_eq "$RC" 1 "unknown path"
assert_contains "$ERR" "not an indexed image" "unknown path message"
run search "$WORK/p.irbis"
assert_eq "$RC" 1 "no query"
"$IRBIS" index "$WORK/pics" --into "$WORK/h.irbis" --features hashes > /dev/null
for cmd in "search $WORK/h.irbis --path $PICS/$ORIG" "unique $WORK/h.irbis" "dupes $WORK/h.irbis --cnn" \
           "evaluate retrieval $WORK/h.irbis --labels folders"; do
  run $cmd
  assert_eq "$RC" 1 "no embeddings: $cmd"
  assert_contains "$ERR" "no embeddings for model" "no embeddings message: $cmd"
done
printf 'path,label\n/no/such.jpg,x\n' > "$WORK/badlabels.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/badlabels.csv"
assert_eq "$RC" 1 "labels naming unknown paths"
{ echo "path,label"; tail -n +2 "$WORK/labels.csv" | head -1 | cut -d, -f1 | sed 's/$/,lonely/'; tail -n +3 "$WORK/labels.csv"; } > "$WORK/lonely.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/lonely.csv" --json
assert_eq "$RC" 0 "single-image class ($ERR)"
assert_contains "$ERR" "single image" "single-image class warning"
echo "PASS"
