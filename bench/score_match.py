#!/usr/bin/env python3
"""Scores `irbis match --json` on a Copydays-style set (bench/make_copydays_set.py).

usage: score_match.py SET MATCH_JSON [--negatives]
  default: the queries are SET/edit/*, the collection holds SET/orig (+ anything else). A query is
  found when its own original is among its matches; a reported pair is correct when the matched
  image is of the query's family. Prints recall per edit, overall recall and pair precision.
  --negatives: the queries are images that have no copy in the collection (SET/neg against a
  collection of SET/orig): every reported pair is a false match; prints how many.
"""
import csv, json, os, sys
from collections import defaultdict

root, result = sys.argv[1], sys.argv[2]
family = {}
edit = {}
for r in csv.DictReader(open(os.path.join(root, "truth.csv"))):
    p = os.path.realpath(os.path.join(root, r["path"]))
    family[p], edit[p] = r["family"], r["edit"]
d = json.load(open(result))
fam = lambda p: family.get(os.path.realpath(p), "?" + p)
if "--negatives" in sys.argv:
    false = [(r["query"]["path"], m["path"], m["kind"]) for r in d["results"] for m in r["matches"]]
    print(f"negative queries {d['queries']}, failed {d['failed']}, queries with a (false) match "
          f"{sum(1 for r in d['results'] if r['matches'])}, false pairs {len(false)}")
    for f in false:
        print("  false:", *f)
    sys.exit(0)
per = defaultdict(lambda: [0, 0])
pairs = correct = 0
kinds = defaultdict(int)
for r in d["results"]:
    q = r["query"]["path"]
    e = edit.get(os.path.realpath(q), "?")
    found = any(fam(m["path"]) == fam(q) and edit.get(os.path.realpath(m["path"])) == "original" for m in r["matches"])
    per[e][0] += found
    per[e][1] += 1
    for m in r["matches"]:
        pairs += 1
        ok = fam(m["path"]) == fam(q)
        correct += ok
        kinds[m["kind"]] += 1
        if not ok:
            print("  false pair:", q, "->", m["path"], m["kind"], m.get("distance"), m.get("similarity"), m.get("inliers"))
n = sum(v[1] for v in per.values())
hit = sum(v[0] for v in per.values())
print("edit                recall")
for e in sorted(per):
    print(f"{e:18s}  {per[e][0] / per[e][1]:.3f}  ({per[e][0]}/{per[e][1]})")
print(f"queries {n} (failed {d['failed']}), recall {hit / max(1, n):.4f}, pairs {pairs}, "
      f"pair precision {correct / max(1, pairs):.4f}, verified pairs {d['verified_pairs']}, by kind {dict(kinds)}")
