#!/usr/bin/env python3
"""Copydays-style calibration set for `dupes` from photos shipped in Debian packages
(opencv-doc, python3-skimage). Deterministic.

OUT/orig/      the originals (photos), one family each
OUT/edit/      every original x every edit of EDITS (JPEG q75/50/30/10, resize 50/25 %, centre crops
               keeping 80/70/50/30 % of the area, rotations 2/5/10 degrees, mirror, grayscale,
               brightness +-30 %, a caption banner, a logo overlay, a recompression chain)
OUT/neg/       hard negatives, each its own family: the other view of a stereo pair, later frames
               of a video or an image sequence, another viewpoint of one scene, an object in a
               scene; most are paired with an original above (aloeL/aloeR, left01/right01, ...)
OUT/truth.csv  path,family,edit   (edit = "original", an edit name, or "negative")
usage: make_copydays_set.py OUT
"""
import csv, os, sys
import numpy as np
import cv2

CV = "/usr/share/doc/opencv-doc/examples/data/"
SK = "/usr/lib/python3/dist-packages/skimage/data/"
ORIGINALS = [CV + f for f in [
    "HappyFish.jpg", "apple.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg", "fruits.jpg", "home.jpg",
    "messi5.jpg", "orange.jpg", "pca_test1.jpg", "squirrel_cls.jpg", "starry_night.jpg", "stuff.jpg",
    "licenseplate_motion.jpg", "board.jpg", "smarties.png", "cards.png", "chicky_512.png", "aloeL.jpg",
    "left.jpg", "left01.jpg", "basketball1.png", "rubberwhale1.png", "graf1.png", "box_in_scene.png",
    "Blender_Suzanne1.jpg", "aero1.jpg", "leuvenA.jpg", "sudoku.png"]] + [SK + f for f in [
    "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg", "ihc.png",
    "moon.png", "retina.jpg", "rocket.jpg", "brick.png", "grass.png", "gravel.png", "motorcycle_left.png"]]
# Hard negatives: (file, why). Stereo partners, next frames, other viewpoints, same-class objects.
NEGATIVES = [CV + f for f in [
    "aloeR.jpg", "right.jpg", "right01.jpg", "left02.jpg", "left03.jpg", "right02.jpg", "left12.jpg",
    "basketball2.png", "rubberwhale2.png", "graf3.png", "box.png", "Blender_Suzanne2.jpg", "aero3.jpg",
    "left05.jpg", "right05.jpg"]] + [SK + "motorcycle_right.png"]
VIDEOS = [("vtest.avi", [0, 40, 80, 160]), ("Megamind.avi", [0, 30, 60, 120]), ("tree.avi", [0, 60, 120])]
LOGO = CV + "opencv-logo.png"

rng = np.random.default_rng(14)


def jpeg(img, q):
    ok, b = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(b, cv2.IMREAD_COLOR)


def resize(img, f):
    h, w = img.shape[:2]
    return cv2.resize(img, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)


def crop_area(img, keep):  # keep this fraction of the area, same aspect, random position
    h, w = img.shape[:2]
    s = keep ** 0.5
    ch, cw = round(h * s), round(w * s)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return img[y0:y0 + ch, x0:x0 + cw]


def rotate(img, deg):  # same canvas, black corners (what a rotate tool without crop gives)
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def brightness(img, f):
    return np.clip(img.astype(np.float32) * f, 0, 255).astype(np.uint8)


def gray(img):
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def caption(img):
    m = img.copy()
    h, w = m.shape[:2]
    bh = max(16, h // 8)
    cv2.rectangle(m, (0, h - bh), (w, h), (30, 30, 30), -1)
    cv2.putText(m, "holiday 2026 - do not copy", (8, h - bh // 3), cv2.FONT_HERSHEY_SIMPLEX, bh / 40, (255, 255, 255),
                max(1, bh // 16), cv2.LINE_AA)
    return m


def logo(img):
    m = img.copy()
    h, w = m.shape[:2]
    lg = cv2.imread(LOGO, cv2.IMREAD_UNCHANGED)
    s = (min(h, w) * 0.3) / max(lg.shape[:2])
    lg = cv2.resize(lg, (max(1, round(lg.shape[1] * s)), max(1, round(lg.shape[0] * s))), interpolation=cv2.INTER_AREA)
    lh, lw = lg.shape[:2]
    y0, x0 = h - lh - h // 20, w - lw - w // 20
    a = (lg[:, :, 3:4].astype(np.float32) / 255.0) * 0.8 if lg.shape[2] == 4 else 0.8
    roi = m[y0:y0 + lh, x0:x0 + lw].astype(np.float32)
    m[y0:y0 + lh, x0:x0 + lw] = (roi * (1 - a) + lg[:, :, :3].astype(np.float32) * a).astype(np.uint8)
    return m


def chain(img):  # saved, resized and re-saved three times, as when a photo travels through apps
    return jpeg(resize(jpeg(resize(jpeg(img, 90), 0.8), 70), 0.8), 50)


EDITS = [
    ("jpeg-q75", lambda i: jpeg(i, 75)), ("jpeg-q50", lambda i: jpeg(i, 50)), ("jpeg-q30", lambda i: jpeg(i, 30)),
    ("jpeg-q10", lambda i: jpeg(i, 10)), ("resize-50", lambda i: resize(i, 0.5)), ("resize-25", lambda i: resize(i, 0.25)),
    ("crop-80", lambda i: crop_area(i, 0.8)), ("crop-70", lambda i: crop_area(i, 0.7)),
    ("crop-50", lambda i: crop_area(i, 0.5)), ("crop-30", lambda i: crop_area(i, 0.3)),
    ("rotate-2", lambda i: rotate(i, 2)), ("rotate-5", lambda i: rotate(i, -5)), ("rotate-10", lambda i: rotate(i, 10)),
    ("mirror", lambda i: cv2.flip(i, 1)), ("grayscale", gray), ("bright+30", lambda i: brightness(i, 1.3)),
    ("bright-30", lambda i: brightness(i, 0.7)), ("caption", caption), ("logo", logo), ("recompress-chain", chain),
]


def main():
    out = sys.argv[1]
    for d in ("orig", "edit", "neg"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    rows = []

    def save(rel, img, family, edit, q=92):
        cv2.imwrite(os.path.join(out, rel), img, [cv2.IMWRITE_JPEG_QUALITY, q])
        rows.append((rel, family, edit))

    originals = [(os.path.splitext(os.path.basename(p))[0], cv2.imread(p, cv2.IMREAD_COLOR)) for p in ORIGINALS]
    for name, path, frames in [(v[:-4], CV + v, f) for v, f in VIDEOS]:
        cap = cv2.VideoCapture(path)
        got, k = {}, 0
        while k <= max(frames):
            ok, fr = cap.read()
            if not ok:
                break
            if k in frames:
                got[k] = fr
            k += 1
        originals.append((f"{name}-f{frames[0]}", got[frames[0]]))
        for f in frames[1:]:
            if f in got:
                save(f"neg/{name}-f{f}.jpg", got[f], f"{name}-f{f}", "negative", 95)
    for p in NEGATIVES:
        n = os.path.splitext(os.path.basename(p))[0]
        save(f"neg/{n}.jpg", cv2.imread(p, cv2.IMREAD_COLOR), n, "negative", 95)
    for name, img in originals:
        assert img is not None, name
        save(f"orig/{name}.jpg", img, name, "original", 95)
        for ename, fn in EDITS:
            e = fn(img)
            # JPEG-quality edits are the file itself; everything else is saved at q90.
            q = int(ename[6:]) if ename.startswith("jpeg-q") else 90
            if ename.startswith("jpeg-q") or ename == "recompress-chain":
                ok, b = cv2.imencode(".jpg", img if ename.startswith("jpeg-q") else e, [cv2.IMWRITE_JPEG_QUALITY, q if ename.startswith("jpeg-q") else 50])
                with open(os.path.join(out, f"edit/{name}.{ename}.jpg"), "wb") as fh:
                    fh.write(b.tobytes())
                rows.append((f"edit/{name}.{ename}.jpg", name, ename))
            else:
                save(f"edit/{name}.{ename}.jpg", e, name, ename, q)
    with open(os.path.join(out, "truth.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "family", "edit"])
        w.writerows(rows)
    print(f"{len(originals)} originals, {sum(r[2] not in ('original', 'negative') for r in rows)} edits, "
          f"{sum(r[2] == 'negative' for r in rows)} negatives -> {out}")


if __name__ == "__main__":
    main()
