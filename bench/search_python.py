#!/usr/bin/python3
"""Times the indexes written by build/bench/search_bench from Python (python3-hnswlib,
python3-faiss), same queries, one query per call, to compare with the C++ figures.
   /usr/bin/python3 bench/search_python.py /tmp/irbis-search-bench 256 128"""
import sys, time
import numpy as np

out, dim, ef = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = np.load(f"{out}/queries.npy")
truth = [list(map(int, l.split(","))) for l in open(f"{out}/truth.csv")]
k = len(truth[0])

def report(name, fn):
    lat, hit = [], 0
    for i in range(len(q)):
        t = time.perf_counter()
        labels = fn(q[i:i + 1])
        lat.append(time.perf_counter() - t)
        hit += len(set(map(int, labels)) & set(truth[i]))
    lat = np.sort(np.array(lat)) * 1e3
    print(f"{name}: p50 {lat[len(lat)//2]:.3f} ms p99 {lat[int(len(lat)*0.99)]:.3f} ms recall@{k} {hit/(len(q)*k):.4f}")

try:
    import hnswlib
    p = hnswlib.Index(space="ip", dim=dim)
    p.load_index(f"{out}/irbis.hnsw")
    p.set_ef(ef)
    p.set_num_threads(1)
    report("python3-hnswlib, irbis's graph file", lambda x: p.knn_query(x, k=k)[0][0])
except ImportError as e:
    print("python3-hnswlib missing:", e)
try:
    import faiss
    fi = faiss.read_index(f"{out}/faiss.index")
    fi.hnsw.efSearch = ef
    faiss.omp_set_num_threads(1)
    report("python3-faiss, the same IndexHNSWFlat", lambda x: fi.search(x, k)[1][0])
except (ImportError, RuntimeError) as e:
    print("faiss comparison skipped:", e)
