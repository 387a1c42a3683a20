#!/usr/bin/python3
"""irbis's index-time quality features side by side with the numpy/OpenCV code a cleanvision user
runs, on the same images, in one command (BENCHMARKS.md, "Quality measures"):

1. speed: `quality_bench` (C++, one thread: decode at the CNN's side + quality, sharpness, palette)
   against the same measures in numpy/OpenCV (one thread, full decode as cleanvision does);
2. agreement: irbis's stored rows (features/quality.f, sharpness.f, palette.f of a collection
   indexed here) against the Python values: correlation per measure, and whether the two agree on
   each image's dark / bright / grayscale / blurry flag at the absolute thresholds;
3. index overhead: the quality group's CPU seconds against the CPU seconds of `irbis index`
   (default features: hashes + mobilenet_v2 embeddings) on the same images.

usage: bench/quality_vs_python.py IRBIS QUALITY_BENCH WORKDIR [--images DIR] [--rounds 3]
Without --images the calibration set of bench/issues_calibration.py (Debian photos) is built.
"""
import argparse
import csv
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np

QUALITY_COLS = ["laplacian_var", "edge_ratio", "lum_p01", "lum_p05", "lum_p50", "lum_p95", "lum_p99", "lum_mean",
                "lum_std", "entropy", "unique_colors", "colorfulness", "colored_fraction"]
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def p99_gradient(g):
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    m = cv2.magnitude(gx, gy)[2:-2, 2:-2].ravel()
    k = int(m.size * 0.99)
    return float(np.partition(m, k)[k])


def python_measures(path):
    """What a cleanvision user computes with numpy/OpenCV: full decode, then the same definitions."""
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    r, g, b = [rgb[..., i].astype(np.int32) for i in range(3)]
    lum = (299 * r + 587 * g + 114 * b + 500) // 1000
    hist = np.bincount(lum.ravel(), minlength=256)
    cdf = np.cumsum(hist) / lum.size
    pct = lambda q: float(np.searchsorted(cdf, q) / 255)
    p = hist[hist > 0] / lum.size
    rg, yb = r - g, 0.5 * (r + g) - b
    colours = np.unique(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)).size
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    fine = cv2.resize(grey, (256, 256), interpolation=cv2.INTER_AREA)
    lap = cv2.Laplacian(fine, cv2.CV_32F)
    coarse = cv2.resize(fine, (128, 128), interpolation=cv2.INTER_AREA)
    gf, gc = p99_gradient(fine), p99_gradient(coarse)
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    q = {
        "laplacian_var": float(lap.var()), "edge_ratio": min(2.0, gf / gc) if gc > 0.5 else 0.0,
        "lum_p01": pct(0.01), "lum_p05": pct(0.05), "lum_p50": pct(0.5), "lum_p95": pct(0.95), "lum_p99": pct(0.99),
        "lum_mean": float(lum.mean() / 255), "lum_std": float(lum.std() / 255), "entropy": float(-(p * np.log2(p)).sum()),
        "unique_colors": float(colours),
        "colorfulness": float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())),
        "colored_fraction": float((spread > 16).mean()),
    }
    f32 = fine.astype(np.float32)
    before, after = p99_gradient(f32), p99_gradient(cv2.GaussianBlur(f32, (0, 0), 1.0))
    q["edge_reblur"] = min(1.0, after / before) if before > 0.5 else 1.0
    resp = cv2.filter2D(f32, cv2.CV_32F, IMMERKAER)[1:-1, 1:-1]
    q["fine_noise"] = float(np.sqrt(np.pi / 2) * np.abs(resp).mean() / 6)
    small = cv2.resize(rgb, (min(64, rgb.shape[1]), min(64, rgb.shape[0])), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small.astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    cv2.setRNGSeed(0x1f3a5f)
    _, labels, centers = cv2.kmeans(lab, 5, None, (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.1), 1,
                                    cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=5)
    q["dominant_lab"] = centers[int(counts.argmax())].tolist()
    return q


def cpu_of_children():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def timed(cmd):
    c0, t0 = cpu_of_children(), time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, cpu_of_children() - c0, out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("irbis")
    ap.add_argument("quality_bench")
    ap.add_argument("workdir")
    ap.add_argument("--images")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    imgs = a.images
    if not imgs:
        spec = importlib.util.spec_from_file_location("cal", os.path.join(os.path.dirname(__file__), "issues_calibration.py"))
        cal = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cal)
        imgs = os.path.join(a.workdir, "images")
        cal.make_collection(imgs, np.random.default_rng(18))
    files = sorted(os.path.join(imgs, f) for f in os.listdir(imgs))
    for f in files:
        open(f, "rb").read()  # page cache
    print(f"== {time.strftime('%F %T', time.gmtime())} UTC, {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}")
    print(f"== {len(files)} images in {imgs}")

    # 1. index with everything (the quality group included), rounds; the quality group alone.
    coll = os.path.join(a.workdir, "q.irbis")
    idx_wall, idx_cpu, qb = [], [], []
    for _ in range(a.rounds):
        shutil.rmtree(coll, ignore_errors=True)
        w, c, _ = timed([a.irbis, "index", imgs, "--into", coll])
        idx_wall.append(w)
        idx_cpu.append(c)
        _, _, out = timed([a.quality_bench, imgs])
        qb.append(json.loads(out))
    med = lambda v: float(np.median(v))
    q_cpu = med([j["quality_s"] + j["sharpness_s"] + j["palette_s"] for j in qb])
    dec = med([j["decode_s"] for j in qb])
    n = qb[0]["images"]
    print(f"irbis index (hashes + mobilenet_v2, 2 workers): median {med(idx_wall):.2f} s wall, {med(idx_cpu):.2f} s CPU")
    print(f"quality group (quality + sharpness + palette), 1 thread: {q_cpu:.3f} s CPU "
          f"(quality {med([j['quality_s'] for j in qb]):.3f}, sharpness {med([j['sharpness_s'] for j in qb]):.3f}, "
          f"palette {med([j['palette_s'] for j in qb]):.3f}); shared decode {dec:.3f} s")
    print(f"index overhead of the quality group: {100 * q_cpu / med(idx_cpu):.1f} % of index CPU")

    # 2. the Python equivalent, one thread.
    cv2.setNumThreads(1)
    py = {}
    t_py = []
    for r in range(a.rounds):
        t0 = time.process_time()
        for f in files:
            py[os.path.basename(f)] = python_measures(f)
        t_py.append(time.process_time() - t0)
    cpp = med([j["decode_s"] + j["read_s"] + j["quality_s"] + j["sharpness_s"] + j["palette_s"] for j in qb])
    print(f"numpy/OpenCV (full decode + the same measures), 1 thread: median {med(t_py):.2f} s CPU for {len(files)} images")
    print(f"irbis quality_bench (read + decode at 224 + measures), 1 thread: {cpp:.2f} s -> {med(t_py) / cpp:.1f}x faster")

    # 3. agreement with the stored rows.
    colors_csv = os.path.join(a.workdir, "colors.csv")
    subprocess.run([a.irbis, "export", coll, "--colors", colors_csv], check=True, capture_output=True)
    ids = {os.path.basename(r["path"]): int(r["id"]) for r in csv.DictReader(open(colors_csv))}
    feat = lambda name, dim: np.fromfile(os.path.join(coll, "features", name + ".f"), np.float32).reshape(-1, dim)
    quality, sharp, pal = feat("quality", 13), feat("sharpness", 2), feat("palette", 20)
    names = [n for n in sorted(py) if n in ids]
    print(f"agreement on {len(names)} images (irbis's stored rows vs Python):")
    print(f"{'measure':18s} {'pearson':>8s} {'median |diff|':>14s}")
    cols = [(c, lambda i, k=k: quality[i, k]) for k, c in enumerate(QUALITY_COLS)]
    cols += [("edge_reblur", lambda i: sharp[i, 0]), ("fine_noise", lambda i: sharp[i, 1])]
    for c, get in cols:
        x = np.array([get(ids[n]) for n in names])
        y = np.array([py[n][c] for n in names])
        r = np.corrcoef(x, y)[0, 1] if x.std() > 0 and y.std() > 0 else float("nan")
        print(f"{c:18s} {r:8.3f} {np.median(np.abs(x - y)):14.4g}")
    de = [np.linalg.norm(pal[ids[n], 0:3] - np.array(py[n]["dominant_lab"])) for n in names]
    print(f"dominant colour: median Delta E {np.median(de):.1f}, within 10: {np.mean(np.array(de) < 10):.0%}")
    flags = {
        "dark": lambda v: v["lum_p99"] < 0.30, "bright": lambda v: v["lum_p05"] > 0.78,
        "grayscale": lambda v: v["colorfulness"] <= 1.0,
        "blurry": lambda v: v["edge_reblur"] > 0.82 and v["fine_noise"] < 0.48,
    }
    for flag, rule in flags.items():
        agree = 0
        for n in names:
            i = ids[n]
            stored = dict(zip(QUALITY_COLS, quality[i]))
            stored.update(edge_reblur=sharp[i, 0], fine_noise=sharp[i, 1])
            agree += rule(stored) == rule(py[n])
        print(f"flag {flag:10s} same decision on {agree}/{len(names)} images")
    print(f"== load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
