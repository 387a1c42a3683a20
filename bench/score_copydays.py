#!/usr/bin/env python3
"""Scores duplicate groups on a set made by bench/make_copydays_set.py.

usage: score_copydays.py SET GROUPS.csv [--name NAME] [--json] [--false N]
       score_copydays.py SET --ref-phash [--threshold 10]   (imagededup-style PHash, connected components)
GROUPS.csv: `irbis dupes --format csv` (columns group,path,...; extra columns are ignored).
Prints recall per edit class (share of edited copies in the same group as their original), overall
recall, pair precision (pairs of one group that come from one family / all such pairs) and the
false pairs. --ref-phash hashes every file with bench/ref_phash.py's phash (PIL + scipy DCT, median
of the 63 AC values, the way imagededup does it) and groups by connected components of the pairs
within --threshold (imagededup's find_duplicates(max_distance_threshold=10) then a union).
"""
import csv, itertools, json, os, sys, time
from collections import defaultdict

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


def load_truth(root):
    truth = {}
    for r in csv.DictReader(open(os.path.join(root, "truth.csv"))):
        truth[os.path.realpath(os.path.join(root, r["path"]))] = (r["family"], r["edit"])
    return truth


def groups_from_csv(path):
    g = defaultdict(list)
    for r in csv.DictReader(open(path)):
        g[r["group"]].append(os.path.realpath(r["path"]))
    return list(g.values())


def groups_ref_phash(root, truth, threshold):
    from ref_phash import phash
    files = sorted(truth)
    t0 = time.perf_counter()
    hashes = [phash(f) for f in files]
    parent = list(range(len(files)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for i, j in itertools.combinations(range(len(files)), 2):  # what imagededup does: all pairs
        if bin(hashes[i] ^ hashes[j]).count("1") <= threshold:
            parent[find(i)] = find(j)
    secs = time.perf_counter() - t0
    comp = defaultdict(list)
    for i, f in enumerate(files):
        comp[find(i)].append(f)
    return [m for m in comp.values() if len(m) > 1], secs


# The edit mix of issue 14's first measurement (caption and logo are one edit there, two here).
ISSUE_MIX = {"jpeg-q75", "jpeg-q50", "jpeg-q30", "jpeg-q10", "resize-50", "resize-25", "crop-80", "crop-50", "rotate-5",
             "mirror", "grayscale", "bright+30", "bright-30", "caption", "logo"}


def score(truth, groups):
    group_of = {}
    for k, m in enumerate(groups):
        for p in m:
            group_of[p] = k
    orig = {fam: p for p, (fam, e) in truth.items() if e == "original"}
    per = defaultdict(lambda: [0, 0])
    for p, (fam, e) in truth.items():
        if e in ("original", "negative"):
            continue
        o = orig[fam]
        per[e][1] += 1
        per[e][0] += int(p in group_of and group_of.get(o) == group_of[p])
    pairs = tp = 0
    false = []
    for m in groups:
        for a, b in itertools.combinations(sorted(m), 2):
            if a not in truth or b not in truth:
                continue
            pairs += 1
            if truth[a][0] == truth[b][0]:
                tp += 1
            else:
                false.append((os.path.relpath(a, os.path.dirname(os.path.dirname(a))), os.path.relpath(b, os.path.dirname(os.path.dirname(b)))))
    found = sum(v[0] for v in per.values())
    total = sum(v[1] for v in per.values())
    mix = [v for e, v in per.items() if e in ISSUE_MIX]
    return {"recall": found / total, "recall_issue_mix": sum(v[0] for v in mix) / max(1, sum(v[1] for v in mix)), "precision": tp / pairs if pairs else 1.0, "pairs": pairs, "false_pairs": false,
            "per_edit": {e: v[0] / v[1] for e, v in sorted(per.items())}, "copies": total, "groups": len(groups)}


def main():
    a = sys.argv[1:]
    root = a[0]
    truth = load_truth(root)
    name = a[a.index("--name") + 1] if "--name" in a else None
    if "--ref-phash" in a:
        t = int(a[a.index("--threshold") + 1]) if "--threshold" in a else 10
        groups, secs = groups_ref_phash(root, truth, t)
        name = name or f"imagededup-style PHash t={t}"
    else:
        groups, secs = groups_from_csv(a[1]), None
        name = name or os.path.basename(a[1])
    s = score(truth, groups)
    s["name"], s["seconds"] = name, secs
    if "--json" in a:
        print(json.dumps(s))
        return
    print(f"{name}: recall {s['recall']:.3f} of {s['copies']} copies (issue-14 edit mix {s['recall_issue_mix']:.3f}), pair precision {s['precision']:.4f} "
          f"({s['pairs']} pairs, {len(s['false_pairs'])} false), {s['groups']} groups" +
          (f", {secs:.1f} s" if secs else ""))
    print("  " + "  ".join(f"{e} {r:.2f}" for e, r in s["per_edit"].items()))
    for f in s["false_pairs"][:int(a[a.index("--false") + 1]) if "--false" in a else 0]:
        print("  false:", *f)


if __name__ == "__main__":
    main()
