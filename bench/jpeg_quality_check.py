#!/usr/bin/python3
"""How close `index`'s jpeg_quality estimate is to the quality JPEGs were saved at.

Re-encodes three colour photos of opencv-doc and one grey one at q = 10, 15, ..., 95 with PIL
(libjpeg's jpeg_set_quality, 4:2:0) and OpenCV (the same scaling through its own libjpeg), plus a
PNG copy, indexes the folder with `--features hashes` and reads the `jpeg_quality` feature rows
back (features/jpeg_quality.f, row = catalog id). Prints the error per encoder; exits 1 if any
estimate is more than 2 away or a PNG has a value.

usage: bench/jpeg_quality_check.py IRBIS_BINARY WORKDIR
"""
import os
import shutil
import sqlite3
import subprocess
import sys

import cv2
import numpy as np
from PIL import Image

DATA = "/usr/share/doc/opencv-doc/examples/data"
PHOTOS = ["baboon.jpg", "fruits.jpg", "building.jpg", "messi5.jpg"]


def main():
    irbis, work = sys.argv[1], sys.argv[2]
    imgs, coll = os.path.realpath(os.path.join(work, "images")), os.path.join(work, "jq.irbis")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(imgs)
    truth = {}
    for k, name in enumerate(PHOTOS):
        bgr = cv2.imread(os.path.join(DATA, name), cv2.IMREAD_COLOR)
        if k == len(PHOTOS) - 1:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        pil = Image.fromarray(bgr if bgr.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        for q in range(10, 100, 5):
            p = f"{imgs}/pil_{k}_q{q}.jpg"
            pil.save(p, quality=q)
            truth[p] = ("PIL", q)
            p = f"{imgs}/opencv_{k}_q{q}.jpg"
            cv2.imwrite(p, bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
            truth[p] = ("OpenCV", q)
        p = f"{imgs}/png_{k}.png"
        cv2.imwrite(p, bgr)
        truth[p] = ("PNG", None)
    subprocess.run([irbis, "index", imgs, "--into", coll, "--features", "hashes"], check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(coll, "catalog.sqlite"))
    rows = np.fromfile(os.path.join(coll, "features", "jpeg_quality.f"), dtype=np.float32)
    errors, ok = {}, True
    for id_, path in db.execute("SELECT id, CAST(path AS TEXT) FROM images WHERE status = 'ok'"):
        enc, q = truth[path]
        est = float(rows[id_])
        if q is None:
            ok &= bool(np.isnan(est))
            errors.setdefault(enc, []).append(0 if np.isnan(est) else 999)
        else:
            errors.setdefault(enc, []).append(abs(est - q))
    print(f"{'encoder':8s} {'files':>5s} {'exact':>5s} {'max |error|':>11s}")
    for enc, e in errors.items():
        e = np.array(e)
        print(f"{enc:8s} {len(e):5d} {int((e == 0).sum()):5d} {e.max():11.0f}")
        ok &= bool(e.max() <= 2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
