# `irbis serve`: the JSON API, files by id only (no path can reach a file), upload limits,
# loopback binding and read-only routes (the collection is byte-identical afterwards, but for
# the thumbnail cache).
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" > /dev/null
echo "secret" > "$WORK/secret.txt"
"$IRBIS" unique "$WORK/c.irbis" --top 0 --json > "$WORK/unique.json"
# Every file of the collection but the thumbnail cache, with its checksum.
snapshot() { (cd "$1" && find . -path ./thumbs -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }
snapshot "$WORK/c.irbis" > "$WORK/before.sha"
grep -q ' ./catalog.sqlite$' "$WORK/before.sha" || fail "no catalog.sqlite in the snapshot"
"$IRBIS" serve "$WORK/c.irbis" --port 0 --max-upload-mb 1 --max-upload-pixels 4000000 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
PORT=${URL##*:}
# Bound to loopback only: the listening sockets on PORT, read from /proc/net/tcp{,6} (no optional
# tool needed; local address hex, 0100007F = 127.0.0.1, state 0A = LISTEN).
HEXPORT=$(printf '%04X' "$PORT")
LISTEN=$(awk -v p=":$HEXPORT" '$4 == "0A" && substr($2, length($2) - 4) == p {print $2}' /proc/net/tcp /proc/net/tcp6)
[ -n "$LISTEN" ] || fail "no listening socket on port $PORT in /proc/net/tcp"
[ "$LISTEN" = "0100007F:$HEXPORT" ] || fail "not bound to loopback only: $LISTEN"

$PY - "$URL" "$WORK" <<'PYEOF' || fail "API checks"
import http.client, json, os, sys, struct, zlib, urllib.parse
url, work = sys.argv[1], sys.argv[2]
host, port = urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port

def req(method, path, body=None, headers={}):
    c = http.client.HTTPConnection(host, port, timeout=120)
    c.request(method, path, body=body, headers=headers)  # path sent as is (no normalisation)
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, r.getheader("Content-Type", ""), data

def get_json(path, status=200):
    s, t, d = req("GET", path)
    assert s == status, (path, s, d[:200])
    assert t.startswith("application/json"), (path, t)
    return json.loads(d)

o = get_json("/api/overview")
truth = sum(1 for _ in open(os.path.join(work, "pics", "truth.csv"))) - 1
assert o["images"] == truth, o["images"]
d = get_json("/api/dupes?limit=5")
assert d["total_groups"] >= 10 and len(d["groups"]) == 5 and d["limit"] == 5, d["total_groups"]
d2 = get_json("/api/dupes?offset=5&limit=5")
assert d2["groups"][0]["group"] == 6, "pagination"
keep = d["groups"][0]["keep"]
img = get_json(f"/api/images/{keep['id']}")
assert img["path"] == keep["path"] and img["has_embedding"], img
assert get_json("/api/images?limit=3")["total"] == truth
c = get_json("/api/clusters?limit=10")
assert c["k"] >= 2 and c["total_points"] == truth and len(c["points"]) == 10, c["k"]
s = get_json(f"/api/search?id={keep['id']}&k=10")
assert s["index"] == "exact", s["index"]  # below 10 000 images
ids = [r["id"] for r in s["results"]]
assert len(ids) == 10 and keep["id"] not in ids, ids
assert any(x["id"] in ids for x in d["groups"][0]["duplicates"]), "a duplicate among the neighbours"
assert all(a["similarity"] >= b["similarity"] for a, b in zip(s["results"], s["results"][1:])), "sorted by similarity"

# /api/unique: the ranking of `irbis unique`, paginated; every id and neighbour resolves.
cli = json.load(open(os.path.join(work, "unique.json")))
u = get_json("/api/unique?limit=5")
assert u["total"] == truth == cli["images"] and len(u["items"]) == 5 and u["limit"] == 5, (u["total"], truth)
assert u["index"] == "exact" and u["top_exact"] and u["summary"] == cli["summary"], u["summary"]
assert get_json("/api/unique?offset=5&limit=5")["items"][0]["rank"] == 6, "unique pagination"
allu = get_json("/api/unique?limit=1000")["items"]
assert len(allu) == truth and [x["rank"] for x in allu] == list(range(1, truth + 1))
assert [x["id"] for x in allu] == [r["id"] for r in cli["items"]], "same order as irbis unique"
assert [x["id"] for x in allu[:5]] == [x["id"] for x in u["items"]]
dist = [x["distance"] for x in allu if x["distance"] is not None]
assert len(dist) == cli["summary"]["n"] and dist == sorted(dist, reverse=True), "descending distances"
assert sum(x["outlier"] for x in allu) == cli["summary"]["high_outliers"]
for x, c in zip(allu, cli["items"]):
    assert x["path"] == c["path"] and get_json(f"/api/images/{x['id']}")["path"] == x["path"], x["id"]
    if x["neighbor"] is not None:
        links = ("thumb", "file")  # the API's only additions to the CLI's image objects
        assert {k: v for k, v in x["neighbor"].items() if k not in links} == c["neighbor"] and abs(x["distance"] - c["distance"]) < 1e-9, (x, c)
        nb = get_json(f"/api/images/{x['neighbor']['id']}")
        assert nb["path"] == x["neighbor"]["path"] and nb["status"] == "ok", nb
        assert 0 <= x["distance"] <= x["density"] + 1e-9, x
assert len(get_json("/api/unique?offset=100000")["items"]) == 0
get_json("/api/unique?limit=x", 400)
get_json("/api/search?id=999999", 404)
get_json("/api/search?id=abc", 400)
get_json("/api/images/999999", 404)

# Thumbnails and originals by id.
st, ty, data = req("GET", f"/thumbs/{keep['id']}.jpg")
assert st == 200 and ty == "image/jpeg" and data[:2] == b"\xff\xd8", (st, ty)
st, ty, data = req("GET", f"/images/{keep['id']}")
assert st == 200 and data == open(keep["path"], "rb").read(), st

# No path reaches a file: traversal, encoded traversal, absolute paths.
secret = os.path.join(work, "secret.txt")
for p in ["/thumbs/../catalog.sqlite", "/thumbs/..%2fcatalog.sqlite", "/images/../../etc/passwd",
          "/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/images//etc/passwd", "/images/" + secret,
          "/images/1/../../secret.txt", "/thumbs/1.jpg/../../catalog.sqlite", "/../../../../etc/passwd",
          "/catalog.sqlite", "/thumbs/", "/images/-1", "/images/1%00", "/csv/../catalog.sqlite",
          "/api/images/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/thumbs/%2fetc%2fpasswd"]:
    st, ty, data = req("GET", p)
    assert st in (400, 404), (p, st)
    assert b"root:" not in data and b"secret" not in data and b"SQLite format" not in data, p

# Uploads: a real image, an undecodable one, a pixel bomb, an oversized body.
photo = open(keep["path"], "rb").read()
def upload(data, name="q.jpg"):
    b = "----irbis"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return req("POST", "/api/search?k=5", body, {"Content-Type": f"multipart/form-data; boundary={b}"})
st, _, data = upload(photo)
assert st == 200, (st, data[:200])
r = json.loads(data)
assert r["results"][0]["similarity"] > 0.98, r["results"][0]
st, _, data = upload(b"this is not an image")
assert st == 400 and "unknown" in json.loads(data)["error"], (st, data)
st, _, data = upload(photo[: len(photo) // 3])
assert st == 400, ("truncated", st, data)
def png_header(w, h):
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
st, _, data = upload(png_header(30000, 30000))
assert st == 400 and "limit" in json.loads(data)["error"], (st, data)
st, _, data = upload(b"\xff" * (2 << 20))
assert st == 413, ("too large", st)
st, _, data = req("POST", "/api/search?k=3", photo, {"Content-Type": "image/jpeg"})
assert st == 200, ("raw body upload", st)

# Read-only: nothing else accepts writes.
for m, p in [("POST", "/"), ("PUT", "/api/images/1"), ("DELETE", "/api/images/1"), ("POST", "/api/dupes")]:
    st, _, _ = req(m, p, b"x")
    assert st in (400, 404, 405), (m, p, st)

# Pages render and escape.
for p in ["/", "/dupes", "/dupes?page=1", "/unique", "/unique?page=1", "/clusters", "/search",
          f"/search?id={keep['id']}", "/csv/dupes.csv", "/csv/unique.csv"]:
    st, ty, data = req("GET", p)
    assert st == 200, (p, st)
st, _, data = req("GET", "/unique?page=1")
page = data.decode()
assert page.count('<div class="pair"') == min(50, truth - 50) and 'data-rank="51"' in page, "second page of the unique view"
assert 'class="chart boxplot"' in page and "/search?id=" in page, "boxplot, thumbnails link to more like this"
st, _, data = req("GET", "/search?id=<script>")
assert st == 400 and b"<script>" not in data, st
print("api ok")
PYEOF

# --host is honoured; the default is loopback.
"$IRBIS" serve --help | grep "127.0.0.1" > /dev/null || fail "--help shows the loopback default"
kill $PID; wait $PID 2>/dev/null || true
# Read-only: the catalog (and every other file but thumbnails) is byte-identical.
snapshot "$WORK/c.irbis" > "$WORK/after.sha"
diff "$WORK/before.sha" "$WORK/after.sha" || fail "the server changed the collection"

# --index hnsw: the persisted HNSW index answers /api/search and /api/unique (on this small
# collection it finds what exact search finds).
"$IRBIS" serve "$WORK/c.irbis" --port 0 --index hnsw > "$WORK/serve2.out" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q http "$WORK/serve2.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve2.out") || fail "serve --index hnsw did not start: $(cat "$WORK/serve2.out")"
$PY - "$URL" "$WORK" <<'PYEOF' || fail "hnsw API checks"
import json, os, sys, urllib.request
url, work = sys.argv[1], sys.argv[2]
get = lambda p: json.load(urllib.request.urlopen(url + p, timeout=120))
cli = json.load(open(os.path.join(work, "unique.json")))
q = cli["items"][-1]["id"]
s = get(f"/api/search?id={q}&k=8")
assert s["index"] == "hnsw" and len(s["results"]) == 8 and q not in [r["id"] for r in s["results"]], s
scores = [r["similarity"] for r in s["results"]]
assert scores == sorted(scores, reverse=True), scores
u = get("/api/unique?limit=12")
assert u["index"] == "hnsw" and u["top_exact"], u["index"]
assert [x["id"] for x in u["items"]] == [r["id"] for r in cli["items"][:12]], "hnsw top 12 = exact top 12"
PYEOF
[ -s "$WORK/c.irbis/index/mobilenet_v2_mid.hnsw" ] || fail "the HNSW index is persisted in the collection"
kill $PID; wait $PID 2>/dev/null || true
echo "PASS"
