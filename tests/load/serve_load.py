#!/usr/bin/python3
"""Load test of `irbis serve` (issue 16, docs/reliability.md "Load test"), loopback only, bounded in time.

At once, for --seconds:
  * wrk, 64 connections (keep-alive), each request a random GET /api/search?id=R&k=20 or
    GET /thumbs/R.jpg: the "normal" requests, whose latency percentiles are the result;
  * 64 slowloris clients from another loopback address (127.0.0.2): each opens a connection, sends a
    request line and then one header line a second, never finishing; when the server cuts it (the
    header deadline) it reconnects at once;
  * 8 upload clients, each POSTing a 40-megapixel image to /api/search in a loop (4 JPEG photos,
    4 16-bit RGBA PNGs: the format with the largest decoded size per pixel among common uploads).
Before the run every thumbnail is requested once (steady state; --cold-thumbs leaves them to be
made during the run). The server's resident memory is sampled every 50 ms (and its VmHWM read at
the end).

Targets (exit 1 when one is missed): normal requests' p99 < --p99-ms (100), server peak RSS <
--max-rss-mb (1000), no normal request or upload refused or failed (every answer 200, no socket
error or timeout), the server still answering afterwards.

  tests/load/serve_load.py --irbis build/irbis [--collection C] [--seconds 30] [--json out.json]
Without --collection it writes `irbis sample` into a scratch folder and indexes it (CNN embeddings).
Needs wrk (Debian package), numpy and OpenCV for Python (python3-numpy, python3-opencv).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import cv2
import numpy as np

UPLOAD_W, UPLOAD_H = 8000, 5000  # 40 MP, under serve's default --max-upload-pixels (40 Mi)


def log(*a):
    print(*a, flush=True)


def make_uploads(folder, photo):
    """A 40 MP JPEG (a sample photo upscaled, with noise so it is not trivially compressible) and a
    40 MP 16-bit RGBA PNG (smooth ramps: a small file that decodes to 320 MB)."""
    jpg, png = os.path.join(folder, "up40.jpg"), os.path.join(folder, "up40.png")
    if not os.path.exists(jpg):
        im = cv2.resize(cv2.imread(photo), (UPLOAD_W, UPLOAD_H), interpolation=cv2.INTER_LINEAR)
        noise = np.random.default_rng(1).integers(0, 12, im.shape, dtype=np.uint8)
        ok, buf = cv2.imencode(".jpg", cv2.add(im, noise), [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        open(jpg, "wb").write(buf.tobytes())
    if not os.path.exists(png):
        y, x = np.mgrid[0:UPLOAD_H, 0:UPLOAD_W].astype(np.uint32)
        p = np.empty((UPLOAD_H, UPLOAD_W, 4), np.uint16)
        p[..., 0], p[..., 1], p[..., 2], p[..., 3] = x * 8, y * 13, (x + y) * 5, 65535
        ok, buf = cv2.imencode(".png", p, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        assert ok
        open(png, "wb").write(buf.tobytes())
    return jpg, png


class Rss:
    """Samples the server's VmRSS every 50 ms; peak() also reads VmHWM (the kernel's own peak)."""

    def __init__(self, pid):
        self.pid, self.max_kb, self.stop = pid, 0, threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def field(self, name):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(name + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        while not self.stop.is_set():
            self.max_kb = max(self.max_kb, self.field("VmRSS"))
            time.sleep(0.05)

    def peak(self):
        self.stop.set()
        self.t.join()
        return max(self.max_kb, self.field("VmHWM"))


def slowloris(port, n, stop, stats):
    """n connections from 127.0.0.2 trickling header lines; a cut connection is reopened at once."""
    def connect():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET /api/overview HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        s.setblocking(False)
        stats["opened"] += 1
        return s

    socks = []
    while len(socks) < n and not stop.is_set():
        try:
            socks.append(connect())
        except OSError:
            stats["connect_errors"] += 1
            time.sleep(0.05)
    while not stop.is_set():
        for i, s in enumerate(socks):
            cut = False
            try:
                if s.recv(4096, socket.MSG_DONTWAIT) == b"":
                    cut = True  # the server closed it (after its 408/deadline)
                else:
                    cut = True  # any answer ends the trickle too
            except BlockingIOError:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    cut = True
            except OSError:
                cut = True
            if cut:
                stats["cut"] += 1
                s.close()
                try:
                    socks[i] = connect()
                except OSError:
                    stats["connect_errors"] += 1
        stop.wait(1.0)
    for s in socks:
        s.close()


def uploader(port, body, ctype, stop, stats, lock):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("POST", "/api/search?k=20", body=body,
                      headers={"Content-Type": ctype, "Host": f"127.0.0.1:{port}"})
            r = c.getresponse()
            payload = r.read()
            c.close()
            ok = r.status == 200 and json.loads(payload).get("results") is not None
            with lock:
                stats["latencies"].append(time.monotonic() - t0)
                if ok:
                    stats["ok"] += 1
                else:
                    stats["failed"] += 1
                    stats.setdefault("errors", []).append(f"{r.status} {payload[:200]!r}")
        except (OSError, http.client.HTTPException, ValueError) as e:
            with lock:
                stats["failed"] += 1
                stats.setdefault("errors", []).append(repr(e))


WRK_LUA = r"""
math.randomseed(7)
local n = tonumber(os.getenv("IRBIS_LOAD_IMAGES"))
request = function()
  local id = math.random(0, n - 1)
  if math.random() < 0.5 then return wrk.format("GET", "/api/search?k=20&id=" .. id) end
  return wrk.format("GET", "/thumbs/" .. id .. ".jpg")
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {\"requests\": %d, \"duration_us\": %d, \"connect\": %d, \"read\": %d, " ..
    "\"write\": %d, \"status\": %d, \"timeout\": %d, \"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, " ..
    "\"p999_us\": %d, \"max_us\": %d}\n", summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--irbis", required=True)
    ap.add_argument("--collection", help="an indexed collection with CNN embeddings (default: the sample, indexed here)")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--slow-clients", type=int, default=64)
    ap.add_argument("--uploaders", type=int, default=8)
    ap.add_argument("--p99-ms", type=float, default=100.0)
    ap.add_argument("--max-rss-mb", type=float, default=1000.0)
    ap.add_argument("--cold-thumbs", action="store_true", help="do not request every thumbnail once before the run")
    ap.add_argument("--work", help="scratch folder kept between runs (upload images are cached there)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("serve_load: wrk not found (apt-get install wrk)")

    work = a.work or tempfile.mkdtemp(prefix="irbis-load-")
    os.makedirs(work, exist_ok=True)
    coll = a.collection
    if not coll:
        coll = os.path.join(work, "c.irbis")
        if not os.path.exists(coll):
            subprocess.run([a.irbis, "sample", os.path.join(work, "pics")], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([a.irbis, "index", os.path.join(work, "pics"), "--into", coll], check=True,
                           stdout=subprocess.DEVNULL)
    info = json.loads(subprocess.run([a.irbis, "info", coll, "--json"], check=True, capture_output=True).stdout)
    n_images = info["images"]
    photos = os.path.join(work, "pics", "photos")
    photo = next((os.path.join(photos, f) for f in sorted(os.listdir(photos)) if f.endswith(".jpg")), None) \
        if os.path.isdir(photos) else None
    if photo is None:  # a given collection: upscale any JPEG of it
        subprocess.run([a.irbis, "sample", os.path.join(work, "pics")], check=True, stdout=subprocess.DEVNULL)
        photo = os.path.join(photos, sorted(f for f in os.listdir(photos) if f.endswith(".jpg"))[0])
    jpg, png = make_uploads(work, photo)
    bodies = [(open(jpg, "rb").read(), "image/jpeg"), (open(png, "rb").read(), "image/png")]

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    log(f"serve_load: {n_images} images, {os.cpu_count()} cores ({cpu}), load average {os.getloadavg()[0]:.2f}")
    log(f"  uploads: {os.path.getsize(jpg) / 1e6:.1f} MB JPEG and {os.path.getsize(png) / 1e6:.1f} MB 16-bit RGBA PNG, "
        f"{UPLOAD_W}x{UPLOAD_H}")

    serve_log = open(os.path.join(work, "serve.log"), "w+")
    srv = subprocess.Popen([a.irbis, "serve", coll, "--port", "0"], stdout=serve_log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(600):
            serve_log.seek(0)
            m = re.search(r"http://127\.0\.0\.1:(\d+)", serve_log.read())
            if m:
                port = int(m.group(1))
                break
            if srv.poll() is not None:
                break
            time.sleep(0.1)
        if port is None:
            serve_log.seek(0)
            sys.exit("serve_load: serve did not start: " + serve_log.read())
        # Wait for the background analyses, so the run measures serving and not warm-up.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for path in ("/api/search?id=0&k=20", "/api/clusters?limit=1"):
            c.request("GET", path)
            c.getresponse().read()
        c.close()
        if not a.cold_thumbs:  # steady state: every thumbnail made once (a cold one costs a decode)
            def warm(ids):
                w = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                for i in ids:
                    w.request("GET", f"/thumbs/{i}.jpg")
                    w.getresponse().read()
                w.close()
            ws = [threading.Thread(target=warm, args=(range(k, n_images, 4),)) for k in range(4)]
            t0 = time.monotonic()
            for t in ws:
                t.start()
            for t in ws:
                t.join()
            log(f"  thumbnails warmed in {time.monotonic() - t0:.1f} s")
        rss = Rss(srv.pid)
        base_kb = rss.field("VmRSS")

        stop = threading.Event()
        slow = {"opened": 0, "cut": 0, "connect_errors": 0}
        up = {"ok": 0, "failed": 0, "latencies": []}
        lock = threading.Lock()
        threads = [threading.Thread(target=slowloris, args=(port, a.slow_clients, stop, slow), daemon=True)]
        threads[0].start()
        time.sleep(1)  # the slow clients hold their connections before the normal load starts
        for i in range(a.uploaders):
            body, ctype = bodies[i % 2]
            threads.append(threading.Thread(target=uploader, args=(port, body, ctype, stop, up, lock), daemon=True))
            threads[-1].start()
        lua = os.path.join(work, "load.lua")
        open(lua, "w").write(WRK_LUA)
        wrk = subprocess.run(["wrk", "-t2", f"-c{a.connections}", f"-d{a.seconds}s", "--timeout", "10s", "-s", lua,
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             env=dict(os.environ, IRBIS_LOAD_IMAGES=str(n_images)))
        stop.set()
        for t in threads:
            t.join(timeout=150)
        peak_kb = rss.peak()
        alive = srv.poll() is None
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/api/overview")
            alive = alive and c.getresponse().status == 200
        except OSError:
            alive = False
    finally:
        srv.terminate()
        srv.wait(timeout=30)

    m = re.search(r"WRKJSON (\{.*\})", wrk.stdout)
    if not m:
        sys.exit("serve_load: wrk failed: " + wrk.stdout + wrk.stderr)
    w = json.loads(m.group(1))
    w_errors = w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"]
    lat = sorted(up["latencies"])
    res = {
        "images": n_images, "cold_thumbs": a.cold_thumbs, "cpu": cpu, "cores": os.cpu_count(), "seconds": a.seconds,
        "load_average_after": round(os.getloadavg()[0], 2),
        "normal": {"connections": a.connections, "requests": w["requests"],
                   "requests_per_s": round(w["requests"] / (w["duration_us"] / 1e6), 1),
                   "p50_ms": w["p50_us"] / 1e3, "p90_ms": w["p90_us"] / 1e3, "p99_ms": w["p99_us"] / 1e3,
                   "p999_ms": w["p999_us"] / 1e3, "max_ms": w["max_us"] / 1e3,
                   "errors": {k: w[k] for k in ("connect", "read", "write", "status", "timeout")}},
        "slowloris": {"clients": a.slow_clients, **slow},
        "uploads": {"clients": a.uploaders, "ok": up["ok"], "failed": up["failed"],
                    "p50_s": round(lat[len(lat) // 2], 2) if lat else None,
                    "max_s": round(lat[-1], 2) if lat else None, "errors": up.get("errors", [])[:5]},
        "server_rss_mb": {"before": round(base_kb / 1024, 1), "peak": round(peak_kb / 1024, 1)},
        "server_alive": alive,
    }
    failures = []
    if res["normal"]["p99_ms"] >= a.p99_ms:
        failures.append(f"normal p99 {res['normal']['p99_ms']} ms >= {a.p99_ms}")
    if w_errors:
        failures.append(f"normal requests failed or refused: {res['normal']['errors']}")
    if up["failed"] or (a.uploaders and not up["ok"]):  # --uploaders 0: wrk alone, no uploads expected
        failures.append(f"uploads: {up['ok']} ok, {up['failed']} failed {res['uploads']['errors']}")
    if peak_kb / 1024 >= a.max_rss_mb:
        failures.append(f"server peak RSS {peak_kb / 1024:.0f} MB >= {a.max_rss_mb}")
    if slow["connect_errors"]:
        failures.append(f"{slow['connect_errors']} slowloris connections refused (the server should accept and time them out)")
    if not alive:
        failures.append("server not answering after the run")
    res["failures"] = failures
    n = res["normal"]
    log(f"  normal ({a.connections} connections, /api/search + /thumbs): {n['requests']} requests, "
        f"{n['requests_per_s']}/s, p50 {n['p50_ms']} ms, p90 {n['p90_ms']} ms, p99 {n['p99_ms']} ms, "
        f"p99.9 {n['p999_ms']} ms, max {n['max_ms']} ms, errors {n['errors']}")
    log(f"  slowloris ({a.slow_clients} clients): {slow['opened']} connections opened, {slow['cut']} cut by the server")
    log(f"  uploads ({a.uploaders} clients, 40 MP): {up['ok']} answered 200, {up['failed']} failed, "
        f"latency p50 {res['uploads']['p50_s']} s, max {res['uploads']['max_s']} s")
    log(f"  server RSS: {res['server_rss_mb']['before']} MB before, peak {res['server_rss_mb']['peak']} MB; "
        f"load average after {res['load_average_after']}")
    if a.json:
        json.dump(res, open(a.json, "w"), indent=2)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        log("serve_load: FAILED: " + "; ".join(failures))
        return 1
    log("serve_load: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
