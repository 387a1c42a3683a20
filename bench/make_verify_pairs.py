#!/usr/bin/env python3
"""Labelled pairs for bench/verify_pairs_bench from a Copydays-style set (bench/make_copydays_set.py):
every original with each of its edits (label copy:<edit>), and every hard negative against the
original of its scene and that original's edits (label neg:<negative>:<edit>).
usage: make_verify_pairs.py SET > pairs.tsv
"""
import csv, os, sys

# A hard negative's scene: the original it was chosen to be confused with (make_copydays_set.py).
SCENE = {"vtest-f40": "vtest-f0", "vtest-f80": "vtest-f0", "vtest-f160": "vtest-f0",
         "Megamind-f30": "Megamind-f0", "Megamind-f60": "Megamind-f0", "Megamind-f120": "Megamind-f0",
         "tree-f60": "tree-f0", "aloeR": "aloeL", "right": "left", "right01": "left01", "left02": "left01",
         "left03": "left01", "right02": "left01", "left12": "left01", "left05": "left01", "right05": "left01",
         "basketball2": "basketball1", "rubberwhale2": "rubberwhale1", "graf3": "graf1", "box": "box_in_scene",
         "Blender_Suzanne2": "Blender_Suzanne1", "aero3": "aero1", "motorcycle_right": "motorcycle_left"}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = os.path.abspath(sys.argv[1])
    rows = list(csv.DictReader(open(os.path.join(root, "truth.csv"))))
    original = {r["family"]: r["path"] for r in rows if r["edit"] == "original"}
    edits = {}
    for r in rows:
        if r["edit"] not in ("original", "negative"):
            edits.setdefault(r["family"], []).append((r["edit"], r["path"]))
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    for fam in sorted(original):
        for edit, path in sorted(edits.get(fam, [])):
            out.writerow([os.path.join(root, original[fam]), os.path.join(root, path), "copy:" + edit])
    for r in rows:
        if r["edit"] != "negative":
            continue
        scene = SCENE.get(r["family"])
        if scene not in original:
            sys.exit(f"no scene original for negative {r['path']}")
        neg = os.path.join(root, r["path"])
        out.writerow([os.path.join(root, original[scene]), neg, f"neg:{r['family']}:original"])
        for edit, path in sorted(edits.get(scene, [])):
            out.writerow([os.path.join(root, path), neg, f"neg:{r['family']}:{edit}"])


if __name__ == "__main__":
    main()
