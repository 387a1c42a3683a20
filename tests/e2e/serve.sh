# `irbis serve`: the JSON API, files by id only (no path can reach a file), upload limits,
# loopback binding and read-only routes.
source "$(dirname "$0")/lib/common.bash"

"$IRBIS" sample "$WORK/pics" > /dev/null
"$IRBIS" index "$WORK/pics" --into "$WORK/c.irbis" > /dev/null
echo "secret" > "$WORK/secret.txt"
"$IRBIS" serve "$WORK/c.irbis" --port 0 --max-upload-mb 1 --max-upload-pixels 4000000 > "$WORK/serve.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do grep -q http "$WORK/serve.out" && break; sleep 0.2; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.out") || fail "serve did not start: $(cat "$WORK/serve.out")"
PORT=${URL##*:}
ss -ltn 2>/dev/null | grep -q ":$PORT " && { ss -ltn | grep ":$PORT " | grep -q "127.0.0.1:$PORT" || fail "not bound to loopback"; }

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
ids = [r["id"] for r in s["results"]]
assert len(ids) == 10 and keep["id"] not in ids, ids
assert any(x["id"] in ids for x in d["groups"][0]["duplicates"]), "a duplicate among the neighbours"
assert all(a["score"] >= b["score"] for a, b in zip(s["results"], s["results"][1:])), "sorted by score"
get_json("/api/unique", 404)
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
assert r["results"][0]["score"] > 0.98, r["results"][0]
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
for p in ["/", "/dupes", "/dupes?page=1", "/clusters", "/search", f"/search?id={keep['id']}", "/csv/dupes.csv"]:
    st, ty, data = req("GET", p)
    assert st == 200, (p, st)
st, _, data = req("GET", "/search?id=<script>")
assert st == 400 and b"<script>" not in data, st
print("api ok")
PYEOF

# --host is honoured; the default is loopback.
"$IRBIS" serve --help | grep -q "127.0.0.1" || fail "--help shows the loopback default"
kill $PID; wait $PID 2>/dev/null || true
echo "PASS"
