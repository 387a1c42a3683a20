# One serializer per answer (include/irbis/results.h): the CLI's `--format json` and the web
# API's JSON are the same objects for dupes, unique and search on the same collection, field by
# field. The API may only add paging (offset, limit) and links on image objects (thumb, file);
# `collection` is the directory as each was given it.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" > /dev/null
"$IRBIS" dupes "$WORK/c.irbis" --json > "$WORK/dupes.json"
"$IRBIS" unique "$WORK/c.irbis" --top 0 --json > "$WORK/unique.json"
ID=$($PY -c "import json; print(json.load(open('$WORK/dupes.json'))['groups'][0]['keep']['id'])")
"$IRBIS" search "$WORK/c.irbis" --id "$ID" -k 10 --json > "$WORK/search.json"

"$IRBIS" serve "$WORK/c.irbis" --port 0 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"

$PY - "$URL" "$WORK" "$ID" <<'PYEOF' || fail "CLI and API JSON differ"
import json, math, os, sys, urllib.request
url, work, qid = sys.argv[1], sys.argv[2], sys.argv[3]
API_ONLY_TOP = {"offset", "limit", "collection"}
API_ONLY_IMAGE = {"thumb", "file"}
TIMINGS = {"verify_seconds", "check_seconds"}  # how long a run took: a number in both, not the same number

def api(path):
    return json.load(urllib.request.urlopen(url + path, timeout=120))

def cli(name):
    return json.load(open(os.path.join(work, name + ".json")))

def same(c, a, where):
    """Field by field: the same keys, the same values (floats to 1e-6: the server's exact search
    runs single-threaded dot products, the CLI's an OpenBLAS sgemv)."""
    if isinstance(c, dict):
        assert isinstance(a, dict), f"{where}: CLI has an object, API {a!r}"
        keys_a = set(a) - (API_ONLY_IMAGE if "thumb" in a else set())
        assert set(c) == keys_a, f"{where}: fields differ: CLI only {sorted(set(c) - keys_a)}, API only {sorted(keys_a - set(c))}"
        for k in c:
            if k in TIMINGS:
                assert isinstance(c[k], (int, float)) and isinstance(a[k], (int, float)), f"{where}.{k}"
                continue
            same(c[k], a[k], f"{where}.{k}")
    elif isinstance(c, list):
        assert isinstance(a, list) and len(c) == len(a), f"{where}: lists of {len(c)} vs {len(a) if isinstance(a, list) else a!r}"
        for i, (x, y) in enumerate(zip(c, a)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(c, float) or isinstance(a, float):
        assert isinstance(a, (int, float)) and isinstance(c, (int, float)) and not isinstance(a, bool), f"{where}: {c!r} vs {a!r}"
        assert math.isclose(c, a, rel_tol=1e-6, abs_tol=1e-6), f"{where}: {c!r} vs {a!r}"
    else:
        assert c == a and type(c) == type(a), f"{where}: CLI {c!r}, API {a!r}"

def top(d):
    return {k: v for k, v in d.items() if k not in API_ONLY_TOP}

checked = 0
for name, path in (("dupes", "/api/dupes?limit=1000"), ("unique", "/api/unique?limit=1000"),
                   ("search", f"/api/search?id={qid}&k=10")):
    c, a = cli(name), api(path)
    assert "collection" in c, f"{name}: the CLI names the collection"
    same(top(c), top(a), name)
    checked += 1
# Not vacuous: there were groups, ranked images and results to compare.
assert cli("dupes")["variants"] == ["mirror"] and cli("dupes")["pairs_verified"] > 0
assert len(cli("dupes")["groups"]) >= 5 and len(cli("unique")["items"]) >= 20 and len(cli("search")["results"]) == 10
print(f"{checked} answers equal")
PYEOF
