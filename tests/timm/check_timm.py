"""Checks that pruneplay's ViT files load into timm as the README shows, and compute there what
they compute in pruneplay.

For each pruning below, `pruneplay prune` writes the pruned model twice, timm-shaped and
compacted (`--compact`). Each file is loaded by running the README's own Python (its two timm
code blocks, taken from README.md as they are), and evaluated on the 10,000 MNIST test images.
Each file's timm accuracy must equal the CLI's `test_acc_pruned`, within a couple of images, and
the compacted file's logits must equal the timm-shaped file's.

Not part of `cargo xtask test`: it needs PyTorch and timm (a few GB), which CI does not install.
Run it with torch, torchvision, timm and safetensors installed:

    python tests/timm/check_timm.py --cli target/release/pruneplay \
        --model dist/model/vit-mnist.safetensors --data data/mnist
"""

import argparse
import gzip
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

PRUNINGS = [
    ("heads-taylor 25%, global", ["--method", "heads-taylor", "--sparsity", "0.25"]),
    ("heads-taylor 50%, per block", ["--method", "heads-taylor", "--sparsity", "0.5", "--scope", "per-block"]),
    ("heads-magnitude 75%, global", ["--method", "heads-magnitude", "--sparsity", "0.75"]),
    ("layers-bi, 1 block", ["--method", "layers-bi", "--remove", "1"]),
    ("layers-last, 2 blocks", ["--method", "layers-last", "--remove", "2"]),
    ("structured-l1 50% of MLP units", ["--method", "structured-l1", "--sparsity", "0.5"]),
]
# Accuracies may differ by a few images where two logits are within float rounding.
MAX_IMAGES_APART = 2


def readme_blocks(readme):
    """The README's Python blocks that build a timm model from a file: the plain one, then the
    compacted one."""
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)
    timm_blocks = [b for b in blocks if "vision_transformer" in b and "load_state_dict" in b]
    if len(timm_blocks) != 2:
        sys.exit(f"expected 2 timm blocks in {readme}, found {len(timm_blocks)}")
    return timm_blocks


def load_with(block, path):
    """Runs a README block with its file name replaced by `path`; returns the model it builds."""
    code = block.replace('"vit.safetensors"', repr(str(path))).replace('"p.safetensors"', repr(str(path)))
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope["model"].eval()


def mnist_test(data):
    with gzip.open(data / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(data / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    # pruneplay feeds pixels / 255, nothing more.
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def logits_of(model, x):
    return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])


def prune(cli, model, data, args, out):
    result = subprocess.run(
        [cli, "prune", "--model", model, "--data", data, *args, "--out", out, "--json"],
        check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, type=pathlib.Path)
    parser.add_argument("--readme", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parents[2] / "README.md")
    a = parser.parse_args()
    torch.set_num_threads(2)
    plain, compacted = readme_blocks(a.readme)
    x, y = mnist_test(a.data)
    failures = 0

    dense = logits_of(load_with(plain, a.model), x)
    print(f"{'shipped ViT, dense':34} timm {100 * (dense.argmax(1) == y).float().mean():.2f}%")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in PRUNINGS:
            masked_path, compact_path = pathlib.Path(tmp, "m.safetensors"), pathlib.Path(tmp, "c.safetensors")
            summary = prune(a.cli, a.model, str(a.data), args, str(masked_path))
            prune(a.cli, a.model, str(a.data), [*args, "--compact"], str(compact_path))
            masked = logits_of(load_with(plain, masked_path), x)
            small = logits_of(load_with(compacted, compact_path), x)
            acc_masked = (masked.argmax(1) == y).float().mean().item()
            acc_small = (small.argmax(1) == y).float().mean().item()
            diff = (masked - small).abs().max().item()
            expected = summary["test_acc_pruned"]
            ok = (abs(acc_masked - expected) * len(y) <= MAX_IMAGES_APART
                  and abs(acc_small - expected) * len(y) <= MAX_IMAGES_APART and diff < 1e-3)
            failures += not ok
            print(f"{name:34} pruneplay {100 * expected:.2f}%  timm {100 * acc_masked:.2f}% "
                  f"(timm-shaped), {100 * acc_small:.2f}% (compacted, heads {summary['heads_per_block']}, "
                  f"{summary['blocks_remaining']} blocks)  max |Δlogit| {diff:.1e}  {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
