# Multi-scale prototype: the image at SIZE px cut into 224-px tiles, mean/max/Gram of three mid-level
# blocks pooled over every tile's positions. usage: ms.py MODEL.onnx SET_DIR OUT_STEM SIZE
import sys, glob, os, numpy as np, cv2, json
onnx = sys.argv[1]; root = sys.argv[2]; out = sys.argv[3]; size = int(sys.argv[4])
net = cv2.dnn.readNetFromONNX(onnx)
card = json.load(open(onnx.replace(".onnx", ".json")))
names = ["expanded_conv_5/add", "expanded_conv_8/add", "expanded_conv_12/add"]
t = {b["name"]: b["tensor"] for b in card["blocks"]}
lay = [t[n] if net.getLayerId(t[n]) >= 0 else "onnx_node!" + t[n] for n in names]
cv2.setNumThreads(1)
for split in ["train", "heldout"]:
    files = sorted(glob.glob(f"{root}/{split}/*/*"))
    feats = {n: [] for n in names}
    for f in files:
        im = cv2.cvtColor(cv2.imread(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        x = cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA if size <= min(im.shape[:2]) else cv2.INTER_LINEAR).astype(np.float32) / 255.0
        crops = [x[i:i + 224, j:j + 224] for i in range(0, size, 224) for j in range(0, size, 224)]
        net.setInput(np.stack([c.transpose(2, 0, 1) for c in crops]).copy(), "input")
        outs = net.forward(lay)
        for n, o in zip(names, outs):
            c = o.shape[1]
            m = o.transpose(1, 0, 2, 3).reshape(c, -1)
            # store mean and gram (upper) directly: maps too big
            g = m @ m.T / m.shape[1]
            iu = np.triu_indices(c)
            feats[n].append(np.concatenate([m.mean(1), m.max(1), g[iu]]).astype(np.float32))
    np.savez(f"{out}.{split}.npz", labels=np.array([os.path.basename(os.path.dirname(f)) for f in files]),
             **{n.replace("/", "_"): np.stack(v) for n, v in feats.items()})
    print(split, len(files), outs[1].shape, flush=True)
