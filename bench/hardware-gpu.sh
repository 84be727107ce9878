#!/usr/bin/env bash
# The GPU engine on a hardware GPU: epoch time for LeNet-300-100 and for the ViT, dispatches per
# step and where a step's time goes, natively (Vulkan) and, where a browser can start, in headless
# Chromium on the same GPU. Its output goes into BENCHMARKS.md ("On a hardware GPU"). Never part
# of the test suite: machines without a GPU run the kernels on lavapipe, which says nothing here.
#
#   bash bench/hardware-gpu.sh            # native, then Chromium
#   bash bench/hardware-gpu.sh --native   # native only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --quiet --bin pruneplay
cli=target/release/pruneplay
# One epoch of MNIST's training split.
samples=55000

echo "== native (Vulkan)"
for arch in 784-300-100-10 vit; do
  for batch in 60 128; do
    line=$("$cli" bench --backend gpu --arch "$arch" --batch "$batch" --steps 200 --profile --json | tail -n 1)
    python3 - "$arch" "$batch" "$samples" "$line" <<'PY'
import json, sys
arch, batch, samples, line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
sps = line["train_samples_per_s"]
print(f"{arch} batch {batch} on {line.get('adapter')}: {sps:,.0f} samples/s, "
      f"one epoch {samples / sps:.2f} s, {line['train_gflops']:.1f} GFLOP/s")
p = line.get("profile")
if p:
    print(f"  {p['dispatches_per_step']} dispatches per step, {p['ms_per_step']:.3f} ms per step "
          f"timed whole; kernels timed one at a time:")
    total = sum(k["ms_per_step"] for k in p["kernels"])
    for k in p["kernels"]:
        print(f"    {k['kernel']:<28} x{k['dispatches']:<3} {k['ms_per_step']:8.3f} ms "
              f"{100 * k['ms_per_step'] / total:5.1f}%")
PY
  done
done

[[ "${1:-}" == "--native" ]] && exit 0
echo "== headless Chromium (WebGPU on this GPU)"
if ! line=$(BENCH_GPU=hardware cargo xtask bench --json --rounds 1 | tail -n 1); then
  echo "the browser benchmark could not run here (see above)"
  exit 0
fi
python3 - "$samples" "$line" <<'PY'
import json, sys
samples, s = int(sys.argv[1]), json.loads(sys.argv[2])
print(f"adapter: {s.get('adapter')}")
for key, what in [("pruneplay_webgpu_train_sps", "LeNet-300-100 on WebGPU"),
                  ("pruneplay_webgpu_vit_train_sps", "the ViT on WebGPU"),
                  ("pruneplay_wasm_train_sps", "LeNet-300-100 on CPU-wasm"),
                  ("tfjs_webgpu_train_sps", "TF.js WebGPU (LeNet)")]:
    if key in s:
        print(f"{what}: {s[key]:,.0f} samples/s, one epoch {samples / s[key]:.2f} s")
PY
