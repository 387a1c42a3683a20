#!/usr/bin/env python3
"""Texture-like labelled image set from real photos shipped with Debian packages
(skimage data: brick, grass, gravel; OpenCV samples: starry_night, smarties, baboon, building,
fruits, board, orange). Every crop is converted to grey and tinted with a random colour, so
colour gives no class away; scale, rotation, flips, blur and noise are jittered.

Crops for "train" come from the left 60 % of each source photo, crops for "heldout" from the
right 35 %, so the held-out set shares no pixels with the training set.

--kind fabric instead draws the 11 fashion-texture classes of seed 003 (argyle, checkered, dotted,
floral, herringbone, houndstooth, leopard, paisley, striped, tartan, zebra) procedurally
(fabric_patterns.py): every image is a new random pattern of its class, photographed with folds,
uneven light, blur, noise and low resolution (--difficulty scales these).

usage: make_texture_set.py OUT_DIR [--kind photo|fabric] [--per-class N] [--heldout N] [--size PX]
                           [--seed S] [--difficulty D]
writes OUT_DIR/train/<class>/*.png and OUT_DIR/heldout/<class>/*.png
"""
import argparse, os, sys
import numpy as np, cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SK = "/usr/lib/python3/dist-packages/skimage/data"
CV = "/usr/share/doc/opencv-doc/examples/data"
SOURCES = {
    "brick": f"{SK}/brick.png", "grass": f"{SK}/grass.png", "gravel": f"{SK}/gravel.png",
    "starry_night": f"{CV}/starry_night.jpg", "smarties": f"{CV}/smarties.png",
    "baboon": f"{CV}/baboon.jpg", "building": f"{CV}/building.jpg", "fruits": f"{CV}/fruits.jpg",
    "board": f"{CV}/board.jpg", "orange": f"{CV}/orange.jpg",
}

def crop(img, x_lo, x_hi, size, rng):
    h, w = img.shape
    side = int(rng.uniform(0.18, 0.35) * min(h, w))
    x0 = int(rng.uniform(x_lo * w, max(x_lo * w, x_hi * w - side)))
    y0 = int(rng.uniform(0, h - side))
    c = img[y0:y0 + side, x0:x0 + side]
    c = cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA)
    k = int(rng.integers(0, 4))
    c = np.rot90(c, k)
    if rng.random() < 0.5:
        c = c[:, ::-1]
    if rng.random() < 0.3:
        c = cv2.GaussianBlur(c, (0, 0), rng.uniform(0.5, 1.2))
    c = c.astype(np.float32)
    c = (c - c.mean()) * rng.uniform(0.7, 1.3) + rng.uniform(90, 160)
    c += rng.normal(0, rng.uniform(2, 8), c.shape)
    tint = rng.uniform(0.6, 1.0, 3)
    out = np.clip(c[..., None] * tint[None, None], 0, 255).astype(np.uint8)
    return out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--heldout", type=int, default=20)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kind", choices=["photo", "fabric"], default="photo")
    ap.add_argument("--difficulty", type=float, default=1.0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.kind == "fabric":
        import fabric_patterns
        for cls in fabric_patterns.CLASSES:
            for part, n in (("train", a.per_class), ("heldout", a.heldout)):
                d = os.path.join(a.out, part, cls)
                os.makedirs(d, exist_ok=True)
                for i in range(n):
                    img = fabric_patterns.fabric(cls, rng, a.size, a.difficulty)
                    cv2.imwrite(os.path.join(d, f"{i:03d}.png"), img[..., ::-1])
        return
    for cls, path in SOURCES.items():
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise SystemExit(f"missing {path}")
        for part, n, lo, hi in (("train", a.per_class, 0.0, 0.6), ("heldout", a.heldout, 0.65, 1.0)):
            d = os.path.join(a.out, part, cls)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                cv2.imwrite(os.path.join(d, f"{i:03d}.png"), crop(img, lo, hi, a.size, rng)[..., ::-1])

if __name__ == "__main__":
    main()
