# Texture-feature candidates (issue 17 prototype): LogisticRegression on blocks-sqrt plus
# features of the spatial maps spatial.py saved; prints CV and held-out accuracy per candidate.
import sys, time, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
# usage: evalfeat.py STEM [candidate...]: STEM.{train,heldout}.npz from spatial.py; the stored
# blocks of the same images (irbis export --view blocks, rows in the same sorted-path order) are read
# from $STORED.{train,heldout}.blocks.npy.
import os
stem = sys.argv[1]; only = sys.argv[2:]
tr = np.load(f"{stem}.train.npz"); te = np.load(f"{stem}.heldout.npz")
ytr, yte = tr["labels"], te["labels"]
stored = os.environ["STORED"]
SB = {"train": np.load(f"{stored}.train.blocks.npy"), "heldout": np.load(f"{stored}.heldout.blocks.npy")}
dims = [32,48,48,88,88,88,136,136,816,224,224,1792]; offs = np.cumsum([0]+dims)
for nm, z in (("train", tr), ("heldout", te)):
    m8 = z["expanded_conv_8_add"].astype(np.float32).reshape(len(z["labels"]), 88, -1).mean(2)
    st = SB[nm][:, offs[4]:offs[5]]
    print(nm, "alignment check (max abs diff of ec8 mean vs stored):", float(np.abs(m8 - st).max()), "scale", float(np.abs(st).max()), flush=True)
def bsqrt(z):
    x = SB["train" if z is tr else "heldout"]; x = np.sign(x) * np.sqrt(np.abs(x))
    return l2n(np.hstack([l2n(x[:, offs[i]:offs[i+1]]) for i in range(12)]))
rng = np.random.default_rng(7)
P = {}
def proj(c, d):
    if (c, d) not in P: P[(c, d)] = rng.standard_normal((c, d)).astype(np.float32) / np.sqrt(d)
    return P[(c, d)]
def l2n(x): return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)
def ssqrt(x): return np.sign(x) * np.sqrt(np.abs(x))
def maps(z, key): return z[key].astype(np.float32).reshape(len(z[key]), z[key].shape[1], -1)  # n,C,HW
def mean(z, k): return l2n(ssqrt(maps(z, k).mean(2)))
def mx(z, k): return l2n(ssqrt(maps(z, k).max(2)))
def gem(z, k, p=3): m = np.maximum(maps(z, k), 0); return l2n((m ** p).mean(2) ** (1 / p))
def gram(z, k, d=None, center=False):
    m = maps(z, k)
    if d: m = np.einsum("ncs,cd->nds", m, proj(m.shape[1], d))
    if center: m = m - m.mean(2, keepdims=True)
    g = np.einsum("ncs,nds->ncd", m, m) / m.shape[2]
    iu = np.triu_indices(g.shape[1])
    return l2n(ssqrt(g[:, iu[0], iu[1]]))
B = ["expanded_conv_5_add", "expanded_conv_8_add", "expanded_conv_12_add", "expanded_conv_13_expand_Relu6"]
def cat(*xs): return l2n(np.hstack([l2n(x) for x in xs]))
def meanall(z): return cat(*[mean(z, k) for k in B])
cands = {
 "blocks-sqrt(stored)": bsqrt,
 "blocks-sqrt+gram8": lambda z: cat(bsqrt(z), gram(z, B[1])),
 "blocks-sqrt+gram8p32": lambda z: cat(bsqrt(z), gram(z, B[1], 32)),
 "blocks-sqrt+gram12p32": lambda z: cat(bsqrt(z), gram(z, B[2], 32)),
 "blocks-sqrt+max4": lambda z: cat(bsqrt(z), *[mx(z, k) for k in B]),
 "blocks-sqrt+gram5": lambda z: cat(bsqrt(z), gram(z, B[0])),
 "blocks-sqrt+gram5+gram8": lambda z: cat(bsqrt(z), gram(z, B[0]), gram(z, B[1])),
 "blocks-sqrt+gem13": lambda z: cat(bsqrt(z), gem(z, B[3])),
 "blocks-sqrt+gram13p64": lambda z: cat(bsqrt(z), gram(z, B[3], 64)),
 "mean4-sqrt": meanall,
 "max4": lambda z: cat(*[mx(z, k) for k in B]),
 "mean4+max4": lambda z: cat(meanall(z), *[mx(z, k) for k in B]),
 "gem13": lambda z: gem(z, B[3]),
 "gram8": lambda z: gram(z, B[1]),
 "gram8c": lambda z: gram(z, B[1], center=True),
 "gram5": lambda z: gram(z, B[0]),
 "gram12p64": lambda z: gram(z, B[2], 64),
 "gram13p64": lambda z: gram(z, B[3], 64),
 "mean4+gram8": lambda z: cat(meanall(z), gram(z, B[1])),
 "gram8p32": lambda z: gram(z, B[1], 32),
 "gram8p48": lambda z: gram(z, B[1], 48),
 "gram12p32": lambda z: gram(z, B[2], 32),
 "mean4+gram8p32": lambda z: cat(meanall(z), gram(z, B[1], 32)),
 "mean4+gram12p32": lambda z: cat(meanall(z), gram(z, B[2], 32)),
 "mean4+max4+gram8p32": lambda z: cat(meanall(z), *[mx(z, k) for k in B], gram(z, B[1], 32)),
 "mean4+gram12p64": lambda z: cat(meanall(z), gram(z, B[2], 64)),
 "mean4+gram5+gram8+gram12p64": lambda z: cat(meanall(z), gram(z, B[0]), gram(z, B[1]), gram(z, B[2], 64)),
}
for name, fn in cands.items():
    if only and name not in only: continue
    t0 = time.perf_counter()
    Xtr, Xte = fn(tr), fn(te)
    cv = StratifiedKFold(3, shuffle=True, random_state=1); sc = []
    grid = [1e-2, 1.0]
    for l2 in grid:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=1/(len(ytr)*2/3*l2), class_weight="balanced", max_iter=200))
        sc.append(cross_val_score(m, Xtr, ytr, cv=cv).mean())
    best = grid[int(np.argmax(sc))]
    m = make_pipeline(StandardScaler(), LogisticRegression(C=1/(len(ytr)*best), class_weight="balanced", max_iter=200)).fit(Xtr, ytr)
    print(f"{stem} {name:28s} {Xtr.shape[1]:6d}-d l2 {best:g} CV {max(sc):.3f} held-out {(m.predict(Xte)==yte).mean():.4f} {time.perf_counter()-t0:.0f}s", flush=True)
