# Mirror augmentation prototype: blocks-sqrt with and without the mirrored training images'
# blocks (mirror.py's npz). usage: evalmirror.py FILE.npz
import sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
z = np.load(sys.argv[1])
dims = [32,48,48,88,88,88,136,136,816,224,224,1792]; offs = np.cumsum([0]+dims)
def bs(x):
    x = np.sign(x) * np.sqrt(np.abs(x))
    x = np.hstack([x[:, offs[i]:offs[i+1]] / np.maximum(np.linalg.norm(x[:, offs[i]:offs[i+1]], axis=1, keepdims=True), 1e-30) for i in range(12)])
    return x / np.linalg.norm(x, axis=1, keepdims=True)
ytr, yte = z["train_labels"], z["heldout_labels"]
Xtr, Xm, Xte = bs(z["train"]), bs(z["train_mirror"]), bs(z["heldout"])
for name, (X, y) in {"blocks-sqrt": (Xtr, ytr), "blocks-sqrt + mirrored training images": (np.vstack([Xtr, Xm]), np.concatenate([ytr, ytr]))}.items():
    for l2 in [1e-2, 1.0]:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=1/(len(y)*l2), class_weight="balanced", max_iter=300)).fit(X, y)
        p = m.predict(Xte); pm = m.predict_proba(Xte)
        print(f"{sys.argv[1]} {name:40s} l2 {l2:g} held-out {(p == yte).mean():.4f}", flush=True)
