# Multi-scale prototype: blocks-sqrt at 224 px plus mid-level blocks of the image at 448 px (four
# 224-px tiles, pooled over all tiles' positions): mean (signed sqrt) and second-order (gram of ec8).
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
dims = [32,48,48,88,88,88,136,136,816,224,224,1792]; offs = np.cumsum([0]+dims)
def l2n(x): return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
def ss(x): return np.sign(x) * np.sqrt(np.abs(x))
def bsqrt(x):
    x = ss(x); return l2n(np.hstack([l2n(x[:, offs[i]:offs[i+1]]) for i in range(12)]))
# usage: STORED=prefix evalms.py (reads fab448.{train,heldout}.npz from ms.py and $STORED.{train,heldout}.blocks.npy)
import os
stored = {s: np.load(f"{os.environ['STORED']}.{s}.blocks.npy") for s in ("train", "heldout")}
ms = {s: np.load(f"fab448.{s}.npz") for s in ("train", "heldout")}
ytr, yte = ms["train"]["labels"], ms["heldout"]["labels"]
C = {"expanded_conv_5_add": 48, "expanded_conv_8_add": 88, "expanded_conv_12_add": 136}
def part(z, k, what):
    c = C[k]; v = z[k]
    return {"mean": v[:, :c], "max": v[:, c:2 * c], "gram": v[:, 2 * c:]}[what]
def feats(s, name):
    z = ms[s]; b = bsqrt(stored[s])
    if name == "blocks-sqrt": return b
    if name == "+448 means": ex = [l2n(ss(part(z, k, "mean"))) for k in C]
    if name == "+448 gram8": ex = [l2n(ss(part(z, "expanded_conv_8_add", "gram")))]
    if name == "+448 means+gram8": ex = [l2n(ss(part(z, k, "mean"))) for k in C] + [l2n(ss(part(z, "expanded_conv_8_add", "gram")))]
    return l2n(np.hstack([b] + ex))
for name in ["+448 means", "+448 gram8", "+448 means+gram8"]:
    Xtr, Xte = feats("train", name), feats("heldout", name)
    cv = StratifiedKFold(3, shuffle=True, random_state=1); sc = []
    grid = [1e-2, 1.0]
    for l2 in grid:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=1/(len(ytr)*2/3*l2), class_weight="balanced", max_iter=200))
        sc.append(cross_val_score(m, Xtr, ytr, cv=cv).mean())
    best = grid[int(np.argmax(sc))]
    m = make_pipeline(StandardScaler(), LogisticRegression(C=1/(len(ytr)*best), class_weight="balanced", max_iter=200)).fit(Xtr, ytr)
    print(f"fab blocks-sqrt {name:20s} {Xtr.shape[1]}-d l2 {best:g} CV {max(sc):.3f} held-out {(m.predict(Xte)==yte).mean():.4f}", flush=True)
