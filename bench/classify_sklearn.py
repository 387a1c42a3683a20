#!/usr/bin/env python3
"""scikit-learn side of bench/classify_vs_sklearn.sh: LogisticRegression (lbfgs, multinomial,
balanced class weights, standardised features, C = 1 / (n * l2) over irbis's penalty grid chosen by
stratified 3-fold CV) on the features irbis exported, fitted on every training image and scored
on the held-out collection. Inputs as irbis computes them from the stored blocks.
usage: classify_sklearn.py TMP IRBIS   (TMP holds {train,held}.{full,blocks}.npy + .paths.csv)"""
import csv, json, os, subprocess, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

tmp, irbis = sys.argv[1], sys.argv[2]
cards = json.loads(subprocess.run([irbis, "model", "list", "--json"], capture_output=True, text=True, check=True).stdout)
card = next(c for c in cards if c["default"])
dims = [b["dim"] for b in card["blocks"]]


def labels(stem):
    return np.array([os.path.basename(os.path.dirname(r["path"])) for r in csv.DictReader(open(stem + ".paths.csv"))])


def blocks_l2(x, signed_sqrt):
    if signed_sqrt:
        x = np.sign(x) * np.sqrt(np.abs(x))
    out, off = [], 0
    for d in dims:
        b = x[:, off:off + d]
        out.append(b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-30))
        off += d
    x = np.hstack(out)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


data = {}
for part in ("train", "held"):
    full = np.load(f"{tmp}/{part}.full.npy")
    blocks = np.load(f"{tmp}/{part}.blocks.npy")
    y = labels(f"{tmp}/{part}.full")
    data[part] = (y, {"full": full, "blocks": blocks_l2(blocks, False), "blocks-sqrt": blocks_l2(blocks, True)})
ytr, feats_tr = data["train"]
yte, feats_te = data["held"]
grid = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
for name in ("full", "blocks", "blocks-sqrt"):
    Xtr, Xte = feats_tr[name], feats_te[name]
    t0 = time.perf_counter()
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    # irbis minimises mean loss + l2/2 |w|^2; sklearn C * sum loss + 1/2 |w|^2: C = 1 / (n * l2)
    scores = []
    for l2 in grid:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=1 / (len(ytr) * 2 / 3 * l2), class_weight="balanced",
                                                               max_iter=500))
        scores.append(cross_val_score(m, Xtr, ytr, cv=cv).mean())
    best = grid[int(np.argmax(scores))]
    m = make_pipeline(StandardScaler(), LogisticRegression(C=1 / (len(ytr) * best), class_weight="balanced",
                                                           max_iter=500)).fit(Xtr, ytr)
    secs = time.perf_counter() - t0
    acc = (m.predict(Xte) == yte).mean()
    print(f"  {name:12s} {Xtr.shape[1]}-d: l2 {best:g} (CV {max(scores):.3f}), held-out accuracy {acc:.4f}, "
          f"CV + fit {secs:.2f} s")
