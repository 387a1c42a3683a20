#!/usr/bin/env python3
"""The explain pipeline driven from Python, for a side-by-side timing with `irbis explain`:
SLIC (cv2.ximgproc) -> numpy on/off masks -> perturbed images -> cv2.dnn forward in batches
(same ONNX model, same preprocessing: area resize, card scaling) -> the irbis classifier
(read from its .clf file) -> kernel-weighted ridge. Prints the same time split.

usage: /usr/bin/python3 bench/lime_python.py CLASSIFIER.clf IMAGE [--samples 1000] [--superpixels 50]
         [--batch 8] [--seed 1] [--models models/onnx]
"""
import argparse, json, os, struct, time
import numpy as np, cv2


def load_clf(path):
    b = open(path, "rb").read()
    assert b[:8] == b"IRBISCLF", "not an irbis classifier"
    (jlen,) = struct.unpack_from("<Q", b, 16)
    h = json.loads(b[24:24 + jlen])
    K, D = len(h["classes"]), h["dim"]
    a = np.frombuffer(b, np.float32, count=2 * D + K * D + K, offset=24 + jlen)
    mean, scale, W, bias = a[:D], a[D:2 * D], a[2 * D:2 * D + K * D].reshape(K, D), a[2 * D + K * D:]
    return h, mean, scale, W, bias


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clf"); ap.add_argument("image")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--superpixels", type=int, default=50)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-side", type=int, default=512)
    ap.add_argument("--models", default=os.path.join(os.path.dirname(__file__), "..", "models", "onnx"))
    a = ap.parse_args()
    cv2.setNumThreads(os.cpu_count())
    h, mean, scale, W, bias = load_clf(a.clf)
    card = json.load(open(os.path.join(a.models, h["embedding_model"] + ".json")))
    net = cv2.dnn.readNetFromONNX(os.path.join(a.models, card["onnx"]["file"]))
    blocks = card["blocks"]
    names = [b["tensor"] for b in blocks]
    use = [b["name"] for b in blocks] if h["input"] == "blocks" else card["descriptor"]["blocks"]
    size = card["input"]["size"]

    t_all = time.perf_counter()
    t = time.perf_counter()
    img = cv2.cvtColor(cv2.imread(a.image), cv2.COLOR_BGR2RGB)
    f = a.max_side / max(img.shape[:2])
    if f < 1:
        img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    region = int(round(np.sqrt(img.shape[0] * img.shape[1] / a.superpixels)))
    slic = cv2.ximgproc.createSuperpixelSLIC(cv2.cvtColor(img, cv2.COLOR_RGB2Lab), cv2.ximgproc.SLIC, region, 10.0)
    slic.iterate(10); slic.enforceLabelConnectivity(25)
    _, labels = np.unique(slic.getLabels(), return_inverse=True)
    labels = labels.reshape(img.shape[:2])
    S = labels.max() + 1
    t_seg = time.perf_counter() - t

    t = time.perf_counter()
    counts = np.bincount(labels.ravel(), minlength=S)
    means = np.stack([np.bincount(labels.ravel(), img[..., c].ravel(), S) / counts for c in range(3)], 1)
    fill = means[labels].astype(np.uint8)
    rng = np.random.default_rng(a.seed)
    Z = rng.integers(0, 2, (a.samples, S)).astype(np.float32)
    Z[0] = 1
    t_pert = time.perf_counter() - t
    t_inf = 0.0
    P = []
    for s in range(0, a.samples, a.batch):
        t = time.perf_counter()
        m = Z[s:s + a.batch][:, labels].astype(bool)                 # n x H x W
        batch = np.where(m[..., None], img[None], fill[None])
        ins = [cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA) for x in batch]
        blob = cv2.dnn.blobFromImages(ins, card["input"]["pixel_scale"], swapRB=False)
        t_pert += time.perf_counter() - t
        t = time.perf_counter()
        net.setInput(blob, card["input"]["tensor"])
        outs = net.forward(names)
        pooled = {b["name"]: (o.mean(axis=(2, 3)) if o.ndim == 4 else o) for b, o in zip(blocks, outs)}
        parts = [pooled[n] / np.linalg.norm(pooled[n], axis=1, keepdims=True) for n in use]
        x = np.concatenate(parts, 1)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        z = ((x - mean) * scale) @ W.T + bias
        z = np.exp(z - z.max(1, keepdims=True))
        P.append(z / z.sum(1, keepdims=True))
        t_inf += time.perf_counter() - t
    t = time.perf_counter()
    P = np.concatenate(P)
    target = int(P[0].argmax())
    y = P[:, target]
    d = 1 - Z.sum(1) / (np.sqrt(Z.sum(1)) * np.sqrt(S) + 1e-12)
    w = np.sqrt(np.exp(-d ** 2 / 0.25 ** 2))
    zm = (w[:, None] * Z).sum(0) / w.sum(); ym = (w * y).sum() / w.sum()
    Zc, yc = Z - zm, y - ym
    beta = np.linalg.solve((Zc * w[:, None]).T @ Zc + np.eye(S), (Zc * w[:, None]).T @ yc)
    t_fit = time.perf_counter() - t
    total = time.perf_counter() - t_all
    top = np.argsort(-beta)[:5]
    print(json.dumps({"class": h["classes"][target], "probability": float(P[0, target]), "superpixels": int(S),
                      "samples": a.samples, "top": top.tolist(),
                      "seconds": {"segment": round(t_seg, 3), "perturb": round(t_pert, 3), "infer": round(t_inf, 3),
                                  "fit": round(t_fit, 3), "total": round(total, 3)}}))


if __name__ == "__main__":
    main()
