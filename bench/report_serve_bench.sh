#!/usr/bin/env bash
# Benchmark of `irbis report` and `irbis serve` (BENCHMARKS.md, "Report and web UI"):
#   bench/report_serve_bench.sh COLLECTION [SECONDS=10]
# 1. report generation, cold (no thumbnails cached) and warm; 2. search latency (GET /api/search,
# random query ids, k = 20) under wrk with 1 and 16 connections on loopback, plus the overview and
# a dupes page for comparison. SERVE_ARGS (e.g. "--index hnsw") and REPORT_ARGS pass options. Needs wrk (Debian package, installed by setup.sh).
set -euo pipefail
COLL=${1:?usage: $0 COLLECTION [SECONDS]}
SECS=${2:-10}
IRBIS=${IRBIS:-$(dirname "$0")/../build/irbis}
OUT=$(mktemp -d /tmp/irbis-report-bench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
PID=

N=$("$IRBIS" info "$COLL" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["images"])')
echo "collection: $COLL ($N images), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
rm -rf "$COLL/thumbs"
for run in cold warm; do
  /usr/bin/time -f "report ($run thumbnails): %e s wall, %M KB max RSS" "$IRBIS" report "$COLL" --out "$OUT/report" ${REPORT_ARGS:-} 2>&1 | sed 's/^/  /'
done
echo "  report folder: $(du -sh "$OUT/report" | cut -f1), $(ls "$OUT/report/thumbs" | wc -l) thumbnails"

"$IRBIS" serve "$COLL" --port 0 ${SERVE_ARGS:-} > "$OUT/serve.log" 2>&1 &
PID=$!
for _ in $(seq 600); do grep -q http "$OUT/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$OUT/serve.log")
t0=$(date +%s.%N)
curl -sf "$URL/api/search?id=0&k=20" > /dev/null
echo "  first search (loads the embedding matrix): $(echo "$(date +%s.%N) - $t0" | bc) s"
curl -sf "$URL/api/clusters?limit=1" > /dev/null   # wait for the background analyses
cat > "$OUT/search.lua" <<LUA
math.randomseed(42)
request = function() return wrk.format("GET", "/api/search?k=20&id=" .. math.random(0, $N - 1)) end
LUA
for c in 1 16; do
  t=$(( c < 2 ? 1 : 2 ))
  echo "--- GET /api/search (random id, k=20), $c connection(s)"
  wrk -t$t -c$c -d${SECS}s --latency -s "$OUT/search.lua" "$URL" | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx" | sed 's/^/  /'
done
for p in "/api/overview" "/api/dupes?offset=0&limit=50" "/dupes?page=3"; do
  echo "--- GET $p, 16 connections"
  wrk -t2 -c16 -d${SECS}s --latency "$URL$p" | grep -E "50%|99%|Requests/sec|Non-2xx" | sed 's/^/  /'
done
