#!/usr/bin/env python3
"""Views of every image of a labelled set, for multi-crop embedding averaging and crop
augmentation (issue 17): SET/{train,heldout}/<class>/<name> -> OUT/{train,heldout}/<class>/<name>__<view>.png
with the views
  full   the image itself            flip   the image mirrored
  c0-c3  the four corner crops       c4     the centre crop       (each --crop of the side)
so that `irbis index` embeds each view exactly as it embeds a file; evalviews.py groups the rows by
<name> again. usage: make_views.py SET OUT [--crop 0.6]"""
import argparse, glob, os
import cv2

ap = argparse.ArgumentParser()
ap.add_argument("set")
ap.add_argument("out")
ap.add_argument("--crop", type=float, default=0.6)
a = ap.parse_args()
for part in ("train", "heldout"):
    for f in sorted(glob.glob(f"{a.set}/{part}/*/*")):
        img = cv2.imread(f, cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        ch, cw = int(h * a.crop), int(w * a.crop)
        views = {"full": img, "flip": img[:, ::-1],
                 "c0": img[:ch, :cw], "c1": img[:ch, w - cw:], "c2": img[h - ch:, :cw], "c3": img[h - ch:, w - cw:],
                 "c4": img[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]}
        cls = os.path.basename(os.path.dirname(f))
        stem = os.path.splitext(os.path.basename(f))[0]
        d = f"{a.out}/{part}/{cls}"
        os.makedirs(d, exist_ok=True)
        for k, v in views.items():
            cv2.imwrite(f"{d}/{stem}__{k}.png", v)
