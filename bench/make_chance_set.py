#!/usr/bin/env python3
"""Unrelated photos for the chance-pair rate of the hash path (`irbis dupes` without --cnn).

usage: make_chance_set.py OUT
Every photo Debian ships in opencv-doc, python3-skimage and python3-sklearn (>= 20 kB, both sides
>= 256 px) is written whole and as non-overlapping tiles (2x2 and 3x3 grids), each tile a photo of
its own. OUT/sources.csv names each file's source photo and its scene: pairs of files from one source overlap
(a tile lies inside the whole image) and are never chance pairs. Some sources show one scene
(consecutive frames, stereo partners, the calibration board: the file name without its frame
number, L/R or left/right): pairs from different scenes are the chance pairs of unrelated photos;
pairs of one scene from different sources are the hard negatives (bursts, static cameras).
"""
import csv, os, re, sys
from PIL import Image

DIRS = ["/usr/share/doc/opencv-doc/examples/data", "/usr/lib/python3/dist-packages/skimage/data",
        "/usr/lib/python3/dist-packages/sklearn/datasets/images"]


def photos():
    for d in DIRS:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                p = os.path.join(root, f)
                if f.lower().endswith((".jpg", ".jpeg", ".png")) and os.path.getsize(p) >= 20000:
                    yield p


def scene(photo):
    name = os.path.splitext(os.path.basename(photo))[0].lower()
    name = re.sub(r"^(left|right)", "board", name)
    return re.sub(r"([lr]|[-_]?\d+)$", "", name) or name


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rows = []
    for k, p in enumerate(sorted(set(photos()))):
        try:
            img = Image.open(p).convert("RGB")
        except Exception:
            continue
        w, h = img.size
        if min(w, h) < 256:
            continue
        src = f"s{k:03d}"
        parts = [("full", img)]
        for g in (2, 3):
            for y in range(g):
                for x in range(g):
                    parts.append((f"g{g}-{y}{x}", img.crop((x * w // g, y * h // g, (x + 1) * w // g, (y + 1) * h // g))))
        for name, im in parts:
            f = f"{src}-{name}.jpg"
            im.save(os.path.join(out, f), quality=90)
            rows.append((f, src, scene(p), p))
    with open(os.path.join(out, "sources.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "source", "scene", "photo"])
        w.writerows(rows)
    print(f"{len(rows)} files from {len(set(r[1] for r in rows))} photos ({len(set(r[2] for r in rows))} scenes) in {out}")


if __name__ == "__main__":
    main()
