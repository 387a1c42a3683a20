# usage: mirror.py MODEL.onnx SET_DIR OUT.npz
# Mirror augmentation prototype: all 12 pooled blocks (cv2.dnn, irbis's preprocessing) of the
# training images and of their mirror images, and of the held-out images.
import sys, glob, os, json, numpy as np, cv2
onnx, root, out = sys.argv[1:4]
net = cv2.dnn.readNetFromONNX(onnx)
card = json.load(open(onnx.replace(".onnx", ".json")))
lay = [b["tensor"] if net.getLayerId(b["tensor"]) >= 0 else "onnx_node!" + b["tensor"] for b in card["blocks"]]
cv2.setNumThreads(1)
def blocks(im):
    x = cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    net.setInput(x.transpose(2, 0, 1)[None].copy(), "input")
    return np.concatenate([o.reshape(o.shape[0], o.shape[1], -1).mean(2)[0] for o in net.forward(lay)])
res = {}
for split in ["train", "heldout"]:
    files = sorted(glob.glob(f"{root}/{split}/*/*"))
    res[f"{split}_labels"] = np.array([os.path.basename(os.path.dirname(f)) for f in files])
    rows, mir = [], []
    for f in files:
        im = cv2.cvtColor(cv2.imread(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        rows.append(blocks(im))
        if split == "train": mir.append(blocks(cv2.flip(im, 1)))
    res[split] = np.stack(rows)
    if mir: res["train_mirror"] = np.stack(mir)
    print(split, len(files), flush=True)
np.savez(out, **res)
