"""The training step of `pruneplay bench`, written with NumPy on an optimised BLAS.

It is the yardstick for the CPU engine: the same LeNet-300-100 forward pass, softmax
cross-entropy, backward pass (no input gradient for the first layer) and Adam update, at the same
batch size, on the same kind of random bytes. Prints one JSON line like `pruneplay bench --json`.
Run by `cargo xtask bench`, which installs NumPy into a virtual environment under target/.
"""

import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    widths = [784, 300, 100, 10]
    n = max(args.batch * 64, 1000)
    pixels = rng.integers(0, 256, size=(n, widths[0]), dtype=np.uint8)
    labels = rng.integers(0, widths[-1], size=n)
    ws = [rng.normal(0, np.sqrt(2 / (i + o)), size=(o, i)).astype(np.float32) for i, o in zip(widths, widths[1:])]
    bs = [np.zeros(o, np.float32) for o in widths[1:]]
    params = ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    lr, b1, b2, eps = 1.2e-3, 0.9, 0.999, 1e-8
    order = rng.permutation(n)
    state = {"t": 0, "cursor": 0}

    def step():
        if state["cursor"] + args.batch > n:
            rng.shuffle(order)
            state["cursor"] = 0
        idx = order[state["cursor"]:state["cursor"] + args.batch]
        state["cursor"] += args.batch
        x = pixels[idx].astype(np.float32) * (1 / 255)
        y = labels[idx]
        acts = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = acts[-1] @ w.T + b
            acts.append(np.maximum(z, 0) if i < len(ws) - 1 else z)
        logits = acts.pop()
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        dz = e / e.sum(axis=1, keepdims=True)
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        gw, gb = [None] * len(ws), [None] * len(ws)
        for i in reversed(range(len(ws))):
            gw[i] = dz.T @ acts[i]
            gb[i] = dz.sum(axis=0)
            if i > 0:
                dz = (dz @ ws[i]) * (acts[i] > 0)
        state["t"] += 1
        t = state["t"]
        for p, g, mi, vi in zip(params, gw + gb, m, v):
            mi *= b1
            mi += (1 - b1) * g
            vi *= b2
            vi += (1 - b2) * g * g
            p -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * mi / (np.sqrt(vi) + eps)

    for _ in range(20):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    secs = time.perf_counter() - start
    print(json.dumps({
        "event": "summary",
        "train_samples_per_s": args.steps * args.batch / secs,
        "ms_per_step": 1e3 * secs / args.steps,
        "batch": args.batch,
        "steps": args.steps,
        "backend": "numpy " + np.__version__,
    }))


if __name__ == "__main__":
    main()
