#!/usr/bin/env python3
"""Labelled object image set from real photos shipped with Debian packages: one class per object
photo (skimage data: chelsea the cat, coffee, rocket, astronaut, camera; OpenCV samples: butterfly,
apple, HappyFish, squirrel, Blender Suzanne, messi5, motorcycle). Every image is a crop of the
object photo (50-100 % of its shorter side, random position), rotated (+-25 deg), maybe mirrored,
colour-jittered (hue, saturation, brightness), shrunk to 40-90 % of the canvas and pasted at a
random place on a crop of a background photo (grass, gravel, brick, fruits, building, board,
starry_night, baboon, smarties), then blurred and noised.

Backgrounds of "train" come from the left half of the background photos, those of "heldout" from
the right half; the object crops are new random draws.

usage: make_object_set.py OUT_DIR [--per-class N] [--heldout N] [--size PX] [--seed S]
writes OUT_DIR/train/<class>/*.png and OUT_DIR/heldout/<class>/*.png
"""
import argparse, os
import numpy as np, cv2

SK = "/usr/lib/python3/dist-packages/skimage/data"
CV = "/usr/share/doc/opencv-doc/examples/data"
OBJECTS = {
    "cat": f"{SK}/chelsea.png", "coffee": f"{SK}/coffee.png", "rocket": f"{SK}/rocket.jpg",
    "astronaut": f"{SK}/astronaut.png", "camera": f"{SK}/camera.png", "butterfly": f"{CV}/butterfly.jpg",
    "apple": f"{CV}/apple.jpg", "fish": f"{CV}/HappyFish.jpg", "squirrel": f"{CV}/squirrel_cls.jpg",
    "suzanne": f"{CV}/Blender_Suzanne1.jpg", "footballer": f"{CV}/messi5.jpg", "motorcycle": f"{SK}/motorcycle_left.png",
}
BACKGROUNDS = [f"{SK}/grass.png", f"{SK}/gravel.png", f"{SK}/brick.png", f"{CV}/fruits.jpg", f"{CV}/building.jpg",
               f"{CV}/board.jpg", f"{CV}/starry_night.jpg", f"{CV}/baboon.jpg", f"{CV}/smarties.png"]


def load(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"missing {path}")
    return img


def background(bgs, half, size, rng):
    img = bgs[int(rng.integers(0, len(bgs)))]
    h, w = img.shape[:2]
    x_lo, x_hi = (0, w // 2) if half == 0 else (w // 2, w)
    side = int(min(h, x_hi - x_lo) * rng.uniform(0.5, 1.0))
    x0 = int(rng.integers(x_lo, x_hi - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    return cv2.resize(img[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)


def sample(obj, bgs, half, size, rng):
    h, w = obj.shape[:2]
    side = int(min(h, w) * rng.uniform(0.5, 1.0))
    x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    c = obj[y0:y0 + side, x0:x0 + side]
    m = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-25, 25), 1.0)
    c = cv2.warpAffine(c, m, (side, side), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        c = c[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(c), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-12, 12)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.3)
    hsv[..., 2] *= rng.uniform(0.7, 1.2)
    c = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    s = int(size * rng.uniform(0.4, 0.9))
    c = cv2.resize(c, (s, s), interpolation=cv2.INTER_AREA)
    out = background(bgs, half, size, rng)
    px, py = int(rng.integers(0, size - s + 1)), int(rng.integers(0, size - s + 1))
    out[py:py + s, px:px + s] = c
    out = out.astype(np.float32)
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    out += rng.normal(0, rng.uniform(2, 8), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--heldout", type=int, default=20)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    bgs = [load(p) for p in BACKGROUNDS]
    for cls, path in OBJECTS.items():
        obj = load(path)
        for half, (part, n) in enumerate((("train", a.per_class), ("heldout", a.heldout))):
            d = os.path.join(a.out, part, cls)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                cv2.imwrite(os.path.join(d, f"{i:03d}.png"), sample(obj, bgs, half, a.size, rng))


if __name__ == "__main__":
    main()
