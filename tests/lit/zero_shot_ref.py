"""Zero-shot attribute accuracy of a CLIP tower on the synthetic set, independently of ratlip's tower:
the reference VisionTower (tests/reference/ratlip.py) encodes the test images, `ratlip text-embed`
embeds the plain captions (io/synth.h synth_caption_of: "a small red circle on a blue background") with
one attribute set to each value, and an attribute is seen when the image's own value's caption is the
most similar (cosine; the first of equals; shape and background colours never equal).
usage: zero_shot_ref.py RATLIP CLIP.h5 DATA_DIR CONFIG|- [section.key=value ...]   (-: the built-in tiny config)
       [--compare METRICS.h5 --tol N]   N: images allowed to differ per attribute (near-ties)
Prints one line per attribute; with --compare, checks the last /eval row's zs_* figures."""
import os, subprocess, sys
import h5py, numpy as np, torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import ratlip as R

SHAPES = ["circle", "square", "triangle"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SIZES = ["small", "large"]
NAMES = ["shape", "colour", "background", "size"]


def main():
    args = sys.argv[1:]
    compare, tol = None, 0
    if "--compare" in args:
        i = args.index("--compare"); compare = args[i + 1]; del args[i:i + 2]
    if "--tol" in args:
        i = args.index("--tol"); tol = int(args[i + 1]); del args[i:i + 2]
    ratlip, clip, data, config, sets = args[0], args[1], args[2], args[3], args[4:]
    cfg = R.load_config(None if config == "-" else config, sets)
    tower = R.VisionTower(cfg["model"]); tower.load_file(clip); tower.eval()
    shards = sorted(f for f in os.listdir(data) if f.startswith("test-") and f.endswith(".h5"))
    imgs, labs, enc = [], [], None
    for s in shards:
        with h5py.File(os.path.join(data, s), "r") as f:
            imgs.append(np.asarray(f["images"])); labs.append(np.asarray(f["labels"]))
            enc = f.attrs["text_encoder"]; enc = enc.decode() if isinstance(enc, bytes) else str(enc)
    img = torch.from_numpy(np.concatenate(imgs).astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
    lab = np.concatenate(labs)
    n = len(lab)
    if compare:
        with h5py.File(compare, "r") as m:
            k = len(m["eval/step"]) - 1
            n_eval = int(m["eval/n_eval"][k])
            got = [float(m["eval/zs_" + a][k]) for a in NAMES]
        img, lab, n = img[:n_eval], lab[:n_eval], n_eval
    keys = [(s, c, b, z) for s in range(3) for c in range(8) for b in range(8) for z in range(2) if c != b]
    caps = ["a %s %s %s on a %s background" % (SIZES[z], COLOURS[c], SHAPES[s], COLOURS[b]) for s, c, b, z in keys]
    out = subprocess.run([ratlip, "text-embed", "--text-encoder", enc] + caps, capture_output=True, text=True,
                         check=True).stdout
    E = np.array([[float(x) for x in l.split()] for l in out.strip().split("\n")], dtype=np.float64)
    emb = {k: E[i] / np.linalg.norm(E[i]) for i, k in enumerate(keys)}
    with torch.no_grad():
        ie = tower.encode(img)[1].double().numpy()
    ie /= np.linalg.norm(ie, axis=1, keepdims=True)
    values = [3, 8, 8, 2]
    hits = [0] * 4
    for i in range(n):
        for a in range(4):
            best, best_sim = -1, -np.inf
            for v in range(values[a]):
                L = list(lab[i]); L[a] = v
                if L[1] == L[2]:
                    continue
                sim = float(ie[i] @ emb[tuple(L)])
                if sim > best_sim:
                    best, best_sim = v, sim
            hits[a] += best == lab[i][a]
    acc = [h / n for h in hits]
    for a in range(4):
        line = "zero-shot %-10s %.3f (%d of %d)" % (NAMES[a], acc[a], hits[a], n)
        if compare:
            line += " | ratlip %.3f (%d)" % (got[a], round(got[a] * n))
        print(line)
    if compare:
        bad = [NAMES[a] for a in range(4) if abs(round(got[a] * n) - hits[a]) > tol]
        if bad:
            raise SystemExit("zero_shot_ref.py: ratlip's zero-shot %s differ from the reference by more than %d "
                             "image(s)" % (", ".join(bad), tol))
    return acc


if __name__ == "__main__":
    main()
