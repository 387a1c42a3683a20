#!/usr/bin/env python3
"""Reference for bench/embed_vs_opencv_python.sh: what a notebook user does with irbis's ONNX file
and Debian's python3-opencv (4.6): cv2.imread every file, cv2.dnn.blobFromImages (224 px,
scalefactor 1/255, swapRB=True, crop=False -> bilinear squash), net.forward on the three tensors
the default descriptor uses, in batches of BATCH, cv2.setNumThreads(THREADS); then the same
descriptor as irbis (global average pool, L2 each, concatenate, L2).
usage: ref_embed.py FOLDER ONNX CARD_JSON [BATCH=8] [THREADS=2] [OUT.npy]
Prints images, seconds and images/s of the loop (model loading excluded) on stderr.
"""
import glob, json, os, sys, time
import numpy as np
import cv2

folder, onnx_path, card_path = sys.argv[1:4]
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 8
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
out_npy = sys.argv[6] if len(sys.argv) > 6 else None

cv2.setNumThreads(threads)
card = json.load(open(card_path))
tensor = {b["name"]: b["tensor"] for b in card["blocks"]}
names = [tensor[b] for b in card["descriptor"]["blocks"]]
net = cv2.dnn.readNetFromONNX(onnx_path)
size = card["input"]["size"]

files = sorted(glob.glob(os.path.join(folder, "*.jpg")))
descs = []
t0 = time.perf_counter()


def run(imgs):
    blob = cv2.dnn.blobFromImages(imgs, 1.0 / 255, (size, size), swapRB=True, crop=False)
    net.setInput(blob, card["input"]["tensor"])
    outs = net.forward(names)
    parts = []
    for o in outs:
        v = o.reshape(o.shape[0], o.shape[1], -1).mean(axis=2)
        parts.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    d = np.concatenate(parts, axis=1)
    descs.append(d / np.linalg.norm(d, axis=1, keepdims=True))


imgs = []
for f in files:
    img = cv2.imread(f)
    if img is None:
        continue
    imgs.append(img)
    if len(imgs) == batch:
        run(imgs)
        imgs = []
if imgs:
    run(imgs)
dt = time.perf_counter() - t0
d = np.concatenate(descs)
print(f"ref_embed: {d.shape[0]} images, dim {d.shape[1]}, {dt:.2f} s, {d.shape[0] / dt:.1f} images/s"
      f" (batch {batch}, {threads} threads)", file=sys.stderr)
if out_npy:
    np.save(out_npy, d.astype(np.float32))
