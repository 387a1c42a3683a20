# Prototype: texture features from spatial maps of mid-level blocks (cv2.dnn on irbis's ONNX).
# usage: spatial.py MODEL.onnx SET_DIR OUT_STEM  (SET_DIR/{train,heldout}/<class>/*, as made by
# scripts/make_texture_set.py / make_object_set.py) -> OUT_STEM.{train,heldout}.npz
import sys, os, glob, numpy as np, cv2
onnx = sys.argv[1]; root = sys.argv[2]; out = sys.argv[3]
net = cv2.dnn.readNetFromONNX(onnx)
names = ["expanded_conv_5/add", "expanded_conv_8/add", "expanded_conv_12/add", "expanded_conv_13/expand/Relu6"]
tensors = {}
import json
card = json.load(open(onnx.replace(".onnx", ".json")))
for b in card["blocks"]:
    if b["name"] in names: tensors[b["name"]] = b["tensor"]
lay = []
for n in names:
    t = tensors[n]
    lay.append(t if net.getLayerId(t) >= 0 else "onnx_node!" + t)
cv2.setNumThreads(1)
for split in ["train", "heldout"]:
    files = sorted(glob.glob(f"{root}/{split}/*/*"))
    feats = {n: [] for n in names}
    for f in files:
        im = cv2.cvtColor(cv2.imread(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        x = cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        blob = x.transpose(2, 0, 1)[None].copy()
        net.setInput(blob, "input")
        outs = net.forward(lay)
        for n, o in zip(names, outs):
            feats[n].append(o[0].astype(np.float16))
    np.savez(f"{out}.{split}.npz", labels=np.array([os.path.basename(os.path.dirname(f)) for f in files]),
             **{n.replace("/", "_"): np.stack(v) for n, v in feats.items()})
    print(split, len(files), {n: np.stack(v).shape for n, v in feats.items()}, flush=True)
