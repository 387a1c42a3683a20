#!/usr/bin/env python3
"""Scores ways to use a frozen network with a linear classifier on a labelled set (issue 17):
scikit-learn LogisticRegression (lbfgs, standardised, balanced, l2 chosen by stratified 3-fold CV
on the training images, fitted on all of them) on features irbis exported, accuracy on the
held-out images with its binomial standard error. Candidates:
  full              the stored 2696-d descriptor (the baseline)
  blocks-sqrt       every pooled block, signed square root, each block L2-normalised (irbis's input)
  blocks-sqrt+pcaw  the same, PCA-whitened (components fitted on the training rows), L2-normalised
  multicrop         blocks-sqrt of the mean of the raw pooled blocks of 7 views (image, mirror,
                    4 corner crops, centre crop) at training and test time
  multicrop-aug     every view of a training image is a training row; a test image's class
                    probabilities are the mean over its views
  multicrop-aug-full  the same rows; the test image alone (no test-time views)
usage (from the worktree, build/irbis built):
  evalviews.py PLAIN_STEM [VIEWS_STEM] [--pcaw-only]
  PLAIN_STEM.{train,heldout}.{full,blocks}.npy (+ .paths.csv): `irbis export` of the set's collections
  VIEWS_STEM.{train,heldout}.blocks.npy (+ .paths.csv): of the collections of make_views.py's output"""
import csv, json, os, subprocess, sys, time
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

args = [a for a in sys.argv[1:] if a != "--pcaw-only"]
pcaw_only = "--pcaw-only" in sys.argv  # skip the two 3720-d / 2696-d fits (minutes each under load)
plain, views = args[0], (args[1] if len(args) > 1 else "")
card = next(c for c in json.loads(subprocess.run(["build/irbis", "model", "list", "--json"], capture_output=True,
                                                  text=True, check=True).stdout) if c["default"])
dims = [b["dim"] for b in card["blocks"]]
GRID = [1e-3, 1e-2, 1e-1, 1.0]  # irbis also tries 1e-4 and 10; left out here for time (1e-4 needs most of the iterations)


def paths(stem):
    return [r["path"] for r in csv.DictReader(open(stem + ".paths.csv"))]


def label(p):
    return os.path.basename(os.path.dirname(p))


def blocks_sqrt(x):
    x = np.sign(x) * np.sqrt(np.abs(x))
    out, off = [], 0
    for d in dims:
        b = x[:, off:off + d]
        out.append(b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-30))
        off += d
    x = np.hstack(out)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fit(Xtr, ytr, groups=None):
    """l2 by 3-fold CV (folds by source image when rows are views of one image), then a fit on every row."""
    sc = StandardScaler().fit(Xtr)
    Z = sc.transform(Xtr)
    if groups is None:
        groups = np.arange(len(ytr))
    ug, first = np.unique(groups, return_index=True)
    folds = np.zeros(len(ug), int)
    for k, (_, te) in enumerate(StratifiedKFold(3, shuffle=True, random_state=1).split(ug, ytr[first])):
        folds[te] = k
    rowfold = folds[np.searchsorted(ug, groups)]
    best, bacc = None, -1
    for l2 in GRID:
        ok = 0
        for k in range(3):
            m = LogisticRegression(C=1 / (len(ytr) * 2 / 3 * l2), class_weight="balanced", max_iter=200, tol=1e-3)
            m.fit(Z[rowfold != k], ytr[rowfold != k])
            ok += (m.predict(Z[rowfold == k]) == ytr[rowfold == k]).sum()
        if ok > bacc + 1e-9:
            best, bacc = l2, ok
    m = LogisticRegression(C=1 / (len(ytr) * best), class_weight="balanced", max_iter=300, tol=1e-3).fit(Z, ytr)
    return sc, m, best, bacc / len(ytr)


def report(name, dim, l2, cv, pred, yte, secs):
    acc = (pred == yte).mean()
    se = np.sqrt(acc * (1 - acc) / len(yte))
    print(f"  {name:20s} {dim:5d}-d  l2 {l2:g} (CV {cv:.3f})  held-out {acc:.4f} +- {se:.4f} "
          f"({(pred == yte).sum()}/{len(yte)})  {secs:.1f} s", flush=True)


P = {}
for part in ("train", "heldout"):
    p = paths(f"{plain}.{part}.full")
    assert p == paths(f"{plain}.{part}.blocks")
    P[part] = (np.array([label(q) for q in p]), np.load(f"{plain}.{part}.full.npy"), np.load(f"{plain}.{part}.blocks.npy"))
ytr, Ftr, Btr = P["train"]
yte, Fte, Bte = P["heldout"]
print(f"{plain}: {len(ytr)} training, {len(yte)} held-out images, {len(set(ytr))} classes")
for name, Xtr, Xte in () if pcaw_only else (("full", Ftr, Fte), ("blocks-sqrt", blocks_sqrt(Btr), blocks_sqrt(Bte))):
    t0 = time.perf_counter()
    sc, m, l2, cv = fit(Xtr, ytr)
    report(name, Xtr.shape[1], l2, cv, m.predict(sc.transform(Xte)), yte, time.perf_counter() - t0)
t0 = time.perf_counter()
Str, Ste = blocks_sqrt(Btr), blocks_sqrt(Bte)
pca = PCA(n_components=min(256, len(ytr) - 1), whiten=True, random_state=1).fit(Str)


def norm(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


Wtr, Wte = norm(pca.transform(Str)), norm(pca.transform(Ste))
sc, m, l2, cv = fit(Wtr, ytr)
report("blocks-sqrt+pcaw", Wtr.shape[1], l2, cv, m.predict(sc.transform(Wte)), yte, time.perf_counter() - t0)
if not views:
    sys.exit()

V = {}
for part in ("train", "heldout"):
    p = paths(f"{views}.{part}.blocks")
    X = np.load(f"{views}.{part}.blocks.npy")
    key = np.array([f"{label(q)}/{os.path.basename(q).split('__')[0]}" for q in p])
    view = np.array([os.path.splitext(os.path.basename(q))[0].split("__")[1] for q in p])
    V[part] = (key, view, X)


def grouped(part):
    key, view, X = V[part]
    uk, inv = np.unique(key, return_inverse=True)
    mean = np.zeros((len(uk), X.shape[1]))
    np.add.at(mean, inv, X)
    mean /= np.bincount(inv)[:, None]
    return uk, inv, mean


ktr, itr, Mtr = grouped("train")
kte, ite, Mte = grouped("heldout")
yk_tr = np.array([k.split("/")[0] for k in ktr])
yk_te = np.array([k.split("/")[0] for k in kte])
t0 = time.perf_counter()
sc, m, l2, cv = fit(blocks_sqrt(Mtr), yk_tr)
report("multicrop", Mtr.shape[1], l2, cv, m.predict(sc.transform(blocks_sqrt(Mte))), yk_te, time.perf_counter() - t0)
t0 = time.perf_counter()
key, view, X = V["train"]
yrows = np.array([k.split("/")[0] for k in key])
sc, m, l2, cv = fit(blocks_sqrt(X), yrows, groups=itr)
keyh, viewh, Xh = V["heldout"]
proba = m.predict_proba(sc.transform(blocks_sqrt(Xh)))
mp = np.zeros((len(kte), proba.shape[1]))
np.add.at(mp, ite, proba)
report("multicrop-aug", X.shape[1], l2, cv, m.classes_[mp.argmax(1)], yk_te, time.perf_counter() - t0)
full = viewh == "full"
pf = m.predict(sc.transform(blocks_sqrt(Xh[full])))
yf = np.array([k.split("/")[0] for k in keyh[full]])
report("multicrop-aug-full", X.shape[1], l2, cv, pf, yf, 0)
