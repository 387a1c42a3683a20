#!/usr/bin/env python3
"""Prototype for issue 14 item 3, step 2: would R-MAC-style region descriptors find crops that the
global descriptor misses? Regions: windows of 6/7, 5/7 and 4/7 of the side of the 7x7 map (2x2,
3x3 and 3x3 positions; 22 windows; the 14x14 maps use the same windows), each pooled like the
descriptor (average, L2 per block, concatenate, L2). Score of a pair = max over the other image's
regions of the cosine with the image's global descriptor, either direction.

usage: region_eval.py MAPS.npz   (from maps.py)
Prints, per crop/rotation/caption class: the global cosine of copy and original, the region score,
how often the region score is higher; the share of copies whose original is within the verified band
(global cosine >= 0.80) and whose original is NOT among the copy's 10 nearest neighbours (what the
k-NN candidate list of `dupes --cnn` loses); and the false candidates region scores would add.
"""
import sys
import numpy as np

d = np.load(sys.argv[1])
fam, edit = d["family"], d["edit"]
conv1, ec13, ec8, fv = d["conv1"], d["ec13"], d["ec8"], d["fv"]


def l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def windows(fracs, n=7):
    w = []
    for f in fracs:
        s = round(n * f)
        cnt = min(3, n - s + 1)
        pos = sorted(set(round(i * (n - s) / max(1, cnt - 1)) for i in range(cnt)))
        w += [(y, x, s) for y in pos for x in pos]
    return w


def pool(m, wins):  # N,C,H,W -> N,R,C (windows on the 7-grid, scaled to H)
    f = m.shape[2] // 7
    return np.stack([m[:, :, y * f:(y + s) * f, x * f:(x + s) * f].mean(axis=(2, 3)) for (y, x, s) in wins], axis=1)


def desc(parts):
    return l2(np.concatenate([l2(p) for p in parts], axis=-1))


W = windows([6 / 7, 5 / 7, 4 / 7])
G = desc([ec8.mean(axis=(2, 3)), ec13.mean(axis=(2, 3)), fv])  # = irbis's stored descriptor
R = desc([pool(ec8, W), pool(ec13, W), pool(conv1, W)])
N = len(fam)
orig = {f: i for i, (f, e) in enumerate(zip(fam, edit)) if e == "original"}
Sg = G @ G.T
np.fill_diagonal(Sg, -1)
order = np.argsort(-Sg, axis=1)
print(f"{len(W)} regions per image; {N} images")
print("| edit | global cos median (min) | region score median (min) | region > global | original in band (>= 0.80) | original not in copy's 10-NN |")
print("|---|---|---|---|---|---|")
for e in ["crop-80", "crop-70", "crop-50", "crop-30", "rotate-10", "caption"]:
    idx = np.where(edit == e)[0]
    g = np.array([Sg[i, orig[fam[i]]] for i in idx])
    r = np.array([max((R[orig[fam[i]]] @ G[i]).max(), (R[i] @ G[orig[fam[i]]]).max()) for i in idx])
    out10 = np.mean([orig[fam[i]] not in order[i, :10] for i in idx])
    print(f"| {e} | {np.median(g):.3f} ({g.min():.3f}) | {np.median(r):.3f} ({r.min():.3f}) | {np.mean(r > g):.2f} | "
          f"{np.mean(g >= 0.80):.2f} | {out10:.2f} |")
Sq = np.einsum("ic,jrc->ijr", G, R).max(axis=2)
S = np.maximum(Sq, Sq.T)
same = fam[:, None] == fam[None, :]
iu = np.triu_indices(N, 1)
for t in [0.80, 0.85, 0.90]:
    new = (S >= t) & ~(Sg >= 0.80)
    print(f"region score >= {t:.2f} but global < 0.80: {int((new & same)[iu].sum())} same-family pairs, "
          f"{int((new & ~same)[iu].sum())} cross-family pairs")
