#!/usr/bin/env python3
# usage: irbis dupes COLL [--cnn ...] --format csv | /usr/bin/python3 bench/score_dupes.py SAMPLE_DIR
# Pair-level precision/recall of `irbis dupes --format csv` (stdin) against truth.csv: two images
# are duplicates when they derive from the same source photo (family = original, or self).
import csv, itertools, os, sys
pics = sys.argv[1]
fam = {}
for t in csv.DictReader(open(os.path.join(pics, "truth.csv"))):
    fam[os.path.realpath(os.path.join(pics, t["path"]))] = t["original"] or t["path"]
truth = set()
by = {}
for p, f in fam.items(): by.setdefault(f, []).append(p)
for m in by.values(): truth |= {frozenset(x) for x in itertools.combinations(sorted(m), 2)}
groups = {}
for r in csv.DictReader(sys.stdin): groups.setdefault(r["group"], []).append(os.path.realpath(r["path"]))
pred = set()
for m in groups.values(): pred |= {frozenset(x) for x in itertools.combinations(sorted(m), 2)}
tp = len(pred & truth)
print(f"groups {len(groups)} pairs {len(pred)} true {len(truth)} precision {tp/len(pred) if pred else 0:.3f} recall {tp/len(truth):.3f}")
