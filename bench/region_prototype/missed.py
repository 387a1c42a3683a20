#!/usr/bin/env python3
"""Why an edited copy is not grouped with its original: for each copy of the given edit classes
that `irbis dupes` did not put with its original, its cosine to the original (the stored
descriptor's recipe, from maps.py's maps), the original's rank among the copy's nearest neighbours
and the copy's among the original's, and where each of them ended up.

usage: missed.py MAPS.npz SET GROUPS.csv EDIT...   (GROUPS.csv: `irbis dupes --format csv`)
"""
import csv, os, sys
import numpy as np

maps, root, groups_csv, edits = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
d = np.load(maps)
fam, edit, paths = d["family"], d["edit"], d["paths"]


def l2(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


G = l2(np.concatenate([l2(d["ec8"].mean(axis=(2, 3))), l2(d["ec13"].mean(axis=(2, 3))), l2(d["fv"])], axis=1))
S = G @ G.T
np.fill_diagonal(S, -1)
order = np.argsort(-S, axis=1)
orig = {f: i for i, (f, e) in enumerate(zip(fam, edit)) if e == "original"}
index = {os.path.realpath(os.path.join(root, p)): i for i, p in enumerate(paths)}
group, role, evidence = {}, {}, {}
for r in csv.DictReader(open(groups_csv)):
    i = index[os.path.realpath(r["path"])]
    group[i], role[i], evidence[i] = r["group"], r["role"], (r["kind"], r["similarity"], r["inliers"])
kept = {g: paths[i] for i, g in group.items() if role[i] == "keep"}
for e in edits:
    print("==", e)
    for i in np.where(edit == e)[0]:
        o = orig[fam[i]]
        if i in group and o in group and group[i] == group[o]:
            continue
        print(f"  {paths[i]}: cos {S[i, o]:.3f}, original's rank in its neighbours {int(np.where(order[i] == o)[0][0]) + 1}, "
              f"its rank in the original's {int(np.where(order[o] == i)[0][0]) + 1}; copy kept by "
              f"{kept.get(group.get(i), '-')} {evidence.get(i, '')}; original {role.get(o, 'ungrouped')} of {kept.get(group.get(o), '-')}")
