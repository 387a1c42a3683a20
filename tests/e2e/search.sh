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
import json,sys; d=json.loads(sys.argv[1]); s=d['summary']; r=d['items']
assert len(r)==5 and s['n']>0
assert s['lower_whisker']<=s['q1']<=s['median']<=s['q3']<=s['upper_whisker']
assert all(r[i]['distance']>=r[i+1]['distance'] for i in range(4))
assert all(x['distance']>0 for x in r) and d['top_exact']
" "$OUT"
run unique "$WORK/p.irbis" --top 3
assert_contains "$OUT" "upper whisker" "unique summary line"
run unique "$WORK/p.irbis" --top 0 --format csv
assert_eq "$(head -1 <<<"$OUT")" "rank,id,path,distance,neighbor_id,neighbor_path,density,outlier,exact" "unique csv header"
$PY -c "
import csv,sys,io; rows=list(csv.DictReader(io.StringIO(sys.argv[1])))
assert all(float(r['distance'])>1e-6 for r in rows), 'exact copies skipped'
" "$OUT"

# dupes --cnn: existing columns stay, kind cnn and similarity are added; catches the flip.
run dupes "$WORK/p.irbis" --format csv
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size,variant_distance,variant,dhash_distance,inliers,id" "plain dupes columns"
run dupes "$WORK/p.irbis" --cnn --format csv
assert_eq "$RC" 0 "dupes --cnn ($ERR)"
assert_eq "$(head -1 <<<"$OUT")" "group,path,role,distance,kind,width,height,size,similarity,variant_distance,variant,dhash_distance,inliers,id" "cnn dupes columns"
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
FIRST=$OUT
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/labels.csv" --queries-per-class 5 --negatives 20 --seed 1 --format json
assert_eq "$OUT" "$FIRST" "same seed, same report"
$PY -c "
import json,sys; d=json.loads(sys.argv[1]); t=d['top_k_accuracy']
assert d['negatives']==20 and d['seed']==1 and d['unknown_paths']==0, d
assert all(t[str(a)]<=t[str(b)] for a,b in zip([1,2,4,5,8,10,15,20,28],[2,4,5,8,10,15,20,28,32])), t
assert t['28']==1.0 and t['32']==1.0, t  # k >= negatives + 1
assert 0<d['knn5_accuracy']<=1 and d['labelled']==$((N - 1)), d
" "$OUT"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/labels.csv" --queries-per-class 5 --negatives 20 --seed 2 --format json
assert_eq "$RC" 0 "evaluate, other seed ($ERR)"
run evaluate retrieval "$WORK/p.irbis" --labels folders
assert_eq "$RC" 0 "evaluate with folders ($ERR)"
assert_contains "$OUT" "mAP" "evaluate table"

# Bad input.
echo "not an image" > "$WORK/bad.jpg"
run search "$WORK/p.irbis" "$WORK/bad.jpg"
[ "$RC" -ne 0 ] || fail "undecodable query must fail"
assert_contains "$ERR" "bad.jpg" "undecodable query names the file"
assert_eq "$(grep -c 'unexpected' <<<"$ERR" || true)" 0 "undecodable query is a typed error ($ERR)"
head -c 300 "$WORK/pics/$ORIG" > "$WORK/cut.${ORIG##*.}"
run search "$WORK/p.irbis" "$WORK/cut.${ORIG##*.}"
[ "$RC" -ne 0 ] || fail "truncated query must fail"
assert_contains "$ERR" "cut.${ORIG##*.}" "truncated query names the file"
run search "$WORK/p.irbis" "$WORK/missing.jpg"
[ "$RC" -ne 0 ] || fail "missing query must fail"
assert_contains "$ERR" "missing.jpg" "missing query names the file"
# k larger than the collection, query by file (nothing excluded): every image, with a note.
run search "$WORK/p.irbis" "$WORK/query.${ORIG##*.}" -k 100000 --json
assert_eq "$RC" 0 "large k by file ($ERR)"
assert_contains "$ERR" "is more than the $((N - 1)) images to search; returning $((N - 1))" "large k note by file"
assert_eq "$(json 'len(d["results"])')" $((N - 1)) "large k by file returns every image"
run unique "$WORK/p.irbis" --top 100000 --format csv
assert_eq "$RC" 0 "unique, top larger than the collection ($ERR)"
assert_contains "$ERR" "listing all $((N - 1))" "unique large top note"
assert_eq "$(($(wc -l <<<"$OUT") - 1))" $((N - 1)) "unique large top lists every image"
# A model the collection has no embeddings of: the message names the index command to run.
for cmd in search unique; do
  extra=""; [ $cmd = search ] && extra="--path $PICS/$ORIG"
  run $cmd "$WORK/p.irbis" $extra --model mobilenet_v2
  assert_eq "$RC" 1 "$cmd --model mobilenet_v2"
  assert_contains "$ERR" "no embeddings for model 'mobilenet_v2'; run \`irbis index FOLDER --into $WORK/p.irbis --model mobilenet_v2\`" "$cmd other model message"
  run $cmd "$WORK/p.irbis" $extra --model nosuch
  [ "$RC" -ne 0 ] || fail "$cmd --model nosuch must fail"
  assert_contains "$ERR" "unknown model 'nosuch'; installed:" "$cmd unknown model message"
done
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
  assert_contains "$ERR" "run \`irbis index FOLDER --into $WORK/h.irbis --model mobilenet_v2_mid\`" "index command named: $cmd"
done
# Labels naming paths that are not in the collection: a warning naming them, the rest evaluated.
{ cat "$WORK/labels.csv"; printf '/no/such.jpg,x\n/no/other.jpg,y\n'; } > "$WORK/somebad.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/somebad.csv" --queries-per-class 5 --negatives 20 --seed 1 --json
assert_eq "$RC" 0 "labels with some unknown paths ($ERR)"
assert_contains "$ERR" "warning: $WORK/somebad.csv: 2 labelled paths are not in the collection: /no/such.jpg /no/other.jpg; evaluating the $((N - 1)) labelled images that are" "unknown paths warning"
assert_eq "$(json 'd["unknown_paths"]')" 2 "unknown paths counted"
assert_eq "$(json 'd["top_k_accuracy"]')" "$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["top_k_accuracy"])' "$FIRST")" "unknown rows change nothing else"
printf 'path,label\n/no/such.jpg,x\n' > "$WORK/badlabels.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/badlabels.csv"
assert_eq "$RC" 1 "labels naming only unknown paths"
assert_contains "$ERR" "1 labelled paths are not in the collection: /no/such.jpg; nothing left to evaluate" "only unknown paths message"
{ echo "path,label"; tail -n +2 "$WORK/labels.csv" | sed -n 1p | cut -d, -f1 | sed 's/$/,lonely/'; tail -n +3 "$WORK/labels.csv"; } > "$WORK/lonely.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/lonely.csv" --json
assert_eq "$RC" 0 "single-image class ($ERR)"
assert_contains "$ERR" "class 'lonely' has a single image: no positive to retrieve, not queried" "single-image class warning"
$PY -c "
import json,sys; d=json.loads(sys.argv[1])
assert d['skipped_classes']==['lonely'] and d['labelled']==$((N - 1)) and d['classes']==json.loads(sys.argv[2])['classes']+1, d
assert all(v is not None for v in d['top_k_accuracy'].values()) and d['map'] is not None, d
" "$OUT" "$FIRST"
# Every class a single image: no query, top-k undefined (null), k-NN still reported.
{ echo "path,label"; tail -n +2 "$WORK/labels.csv" | sed -n 1,3p | awk -F, '{print $1 ",only" NR}'; } > "$WORK/singles.csv"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/singles.csv" --json
assert_eq "$RC" 0 "only single-image classes ($ERR)"
assert_contains "$ERR" "top-k accuracy is undefined" "no queryable class note"
$PY -c "
import json,sys; d=json.loads(sys.argv[1])
assert d['queries']==0 and all(v is None for v in d['top_k_accuracy'].values()) and d['map'] is None, d
assert d['labelled']==3 and 0<=d['knn1_accuracy']<=1, d
" "$OUT"
run evaluate retrieval "$WORK/p.irbis" --labels "$WORK/singles.csv"
assert_contains "$OUT" "n/a" "undefined top-k shown as n/a"
echo "PASS"
