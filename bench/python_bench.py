#!/usr/bin/env python3
"""Python-driven index vs the CLI on the same files, and Dask LocalCluster 2 workers vs 1.

usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py [N=500] [ROUNDS=3] [N_CNN=100] [DASK=1]

Images: bench/out/img1mp_N (N distinct 1200x900 JPEGs, bench/make_bench_images.py, shared with
bench/index_vs_imagededup.sh). Every index run starts from an empty collection and is timed as a
whole process (start-up, import and library loading included) with the page cache warm; CLI and
Python runs alternate so that the machine's load hits both alike. Dask: index_distributed wall
time (cluster start-up excluded), hashes only, 2 worker processes x 1 thread vs 1 x 2 threads.
"""
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
CLI = os.path.join(ROOT, "build", "irbis")
PY = "/usr/bin/python3"
N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
N_CNN = int(sys.argv[3]) if len(sys.argv) > 3 else 100
DASK = (sys.argv[4] if len(sys.argv) > 4 else "1") != "0"
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"))


def images(n, subset_of=None):
    d = os.path.join(OUT, f"img1mp_{n}")
    if subset_of and not os.path.exists(d + ".done"):  # the first n files of a larger set, hard-linked
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for f in sorted(os.listdir(subset_of))[:n]:
            os.link(os.path.join(subset_of, f), os.path.join(d, f))
        open(d + ".done", "w").close()
    if not os.path.exists(d + ".done"):
        sample = os.path.join(OUT, "sample")
        if not os.path.exists(os.path.join(sample, "truth.csv")):
            subprocess.run([CLI, "sample", sample], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([PY, os.path.join(ROOT, "bench", "make_bench_images.py"), sample, d, str(n)], check=True)
        open(d + ".done", "w").close()
    for f in os.listdir(d):  # warm the page cache
        with open(os.path.join(d, f), "rb") as fh:
            fh.read()
    return d


def timed(cmd, env=None):
    """(wall s, CPU s, seconds the index itself took as reported by irbis::IndexReport)."""
    t0 = time.monotonic()
    r0 = os.times()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True).stdout
    r1 = os.times()
    inner = float(json.loads(out)["seconds"]) if out.strip() else float("nan")
    return (time.monotonic() - t0, (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system),
            inner)


def compare(img, n, features, label):
    col = os.path.join(OUT, "pybench.irbis")
    py_code = (f"import irbis; c = irbis.Collection.create({col!r}, model={'None' if features == 'hashes' else 'irbis.DEFAULT_MODEL'}); "
               f"r = c.index([{img!r}]); assert r.ok == {n}, r; import json; print(json.dumps(r.as_dict()))")
    res = {"cli": [], "python": []}
    for r in range(ROUNDS):
        for who in (("cli", "python") if r % 2 == 0 else ("python", "cli")):  # alternate who goes first
            shutil.rmtree(col, ignore_errors=True)
            if who == "cli":
                t = timed([CLI, "index", img, "--into", col, "--features", features, "--json"])
            else:
                t = timed([PY, "-c", py_code], env=ENV)
            res[who].append(t)
            print(f"   {label} round {r + 1} {who}: {t[0]:.2f} s wall, {t[1]:.2f} s CPU, index {t[2]:.2f} s", flush=True)
    shutil.rmtree(col, ignore_errors=True)
    w = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    c = {k: statistics.median(x[1] for x in v) for k, v in res.items()}
    i = {k: statistics.median(x[2] for x in v) for k, v in res.items()}
    print(f"== {label}, {n} images, median of {ROUNDS}: CLI {w['cli']:.2f} s ({n / w['cli']:.0f} img/s, "
          f"{c['cli']:.2f} s CPU), Python {w['python']:.2f} s ({n / w['python']:.0f} img/s, {c['python']:.2f} s CPU); "
          f"Python overhead {100 * (w['python'] / w['cli'] - 1):+.1f} % wall, {100 * (c['python'] / c['cli'] - 1):+.1f} % CPU; "
          f"index call alone: CLI {i['cli']:.2f} s, Python {i['python']:.2f} s ({100 * (i['python'] / i['cli'] - 1):+.1f} %)",
          flush=True)


def dask_bench(img, n):
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    import distributed
    from irbis.dask import index_distributed

    for workers, threads in ((1, 2), (2, 1), (1, 2), (2, 1)):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None, silence_logs=logging.CRITICAL) as lc, \
                distributed.Client(lc) as client:
            client.run(lambda: __import__("irbis"))  # warm the workers' imports
            dest = os.path.join(OUT, "daskbench.irbis")
            shutil.rmtree(dest, ignore_errors=True)
            t0 = time.monotonic()
            rep = index_distributed(client, [img], dest, partitions=8, features=["hashes"], threads=threads)
            t = time.monotonic() - t0
            assert rep.ok == n, rep
            print(f"== dask LocalCluster {workers} worker(s) x {threads} index thread(s), {n} images, 8 partitions: "
                  f"{t:.2f} s wall ({n / t:.0f} img/s), merge {rep.merge.records} rows", flush=True)
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    print(f"== {time.strftime('%F %T UTC', time.gmtime())}  {os.cpu_count()} cores, load "
          f"{open('/proc/loadavg').read().split()[:3]}", flush=True)
    for name, cmd, env in (("CLI start-up (irbis --version)", [CLI, "--version"], None),
                           ("Python start-up (import irbis)", [PY, "-c", "import irbis"], ENV)):
        ts = []
        for _ in range(5):
            t0 = time.monotonic()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
            ts.append(time.monotonic() - t0)
        print(f"== {name}: median {statistics.median(ts):.3f} s wall of 5", flush=True)
    img = images(N)
    compare(img, N, "hashes", "hashes")
    if N_CNN:
        compare(images(N_CNN, subset_of=img), N_CNN, "hashes,cnn", "hashes+cnn")
    if DASK:
        dask_bench(img, N)
