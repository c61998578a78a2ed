#!/usr/bin/python3
"""The PyTorch side of the training benchmark: the step bench_train.lua times,
on the ImageReward reference modules of tests/fixtures/make_model_fixtures.py
(random weights), with the same inputs, targets, options and line format.

One step: model.train() forward (dropout and drop-path as configured), loss =
sum of squared errors against fixed targets (AAPMT's loss), backward,
torch.optim.Adam(lr=5e-6) over every parameter, zero_grad(set_to_none=True)
(what aapmt's zero_grad does; PyTorch 2's default).
Run with Debian's python3-torch (/usr/bin/python3)."""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures"))
from make_model_fixtures import FULL_CONFIG, ImageReward  # noqa: E402


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def load_config(path):
    """Our JSON config format, with the defaults aapmt's config reader keeps."""
    if not path:
        return FULL_CONFIG
    with open(path) as f:
        cfg = json.load(f)
    cfg.setdefault("head", {})
    cfg["head"].setdefault("hidden_sizes", FULL_CONFIG["head"]["hidden_sizes"])
    cfg["head"].setdefault("dropouts", FULL_CONFIG["head"]["dropouts"])
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
        cfg["text"].setdefault(key, 0.1)
    if cfg["vision"].get("drop_path_rate", 0.1) != 0.1 or cfg["vision"].get("layer_norm_eps", 1e-6) != 1e-6:
        sys.exit("torch_train.py: the reference ViT has drop_path_rate 0.1 and layer_norm_eps 1e-6 only")
    return cfg


def token_ids(B, V):
    """The ids bench_train.lua uses: [CLS]=101 ... [SEP]=102, then padding."""
    ids = torch.zeros(B, 35, dtype=torch.long)
    mask = torch.zeros(B, 35, dtype=torch.long)
    for b in range(B):
        for j in range(20):
            ids[b, j] = 101 % V if j == 0 else 102 % V if j == 19 else 103 + (b * 37 + j * 101) % (V - 103)
            mask[b, j] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--label", default="full")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B = args.batch

    started = time.perf_counter()
    cfg = load_config(args.config)
    model = ImageReward(cfg).train()
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=5e-6)
    S = cfg["vision"]["image_size"]
    pixels = torch.randn(B, 3, S, S)
    ids, mask = token_ids(B, cfg["text"]["vocab_size"])
    target = torch.tensor([b % 5 + 0.5 for b in range(B)], dtype=torch.float32)
    print(f"# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'unset')}", flush=True)
    print(f"# {len(params)} tensors (vision_proj/text_proj get no gradient: Adam skips them), "
          f"random init {time.perf_counter() - started:.1f} s", flush=True)
    print(f"# {args.label} batch {B}: {args.reps} reps after {args.warmup} warm-up", flush=True)

    total, fwd, bwd, upd = [], [], [], []
    for step in range(-args.warmup, args.reps):
        t0 = time.perf_counter()
        _, _, _, scores = model(pixels, ids, mask)
        loss = ((scores - target) ** 2).sum()
        value = loss.item()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        del scores, loss
        if step == -args.warmup:
            print(f"# first loss {value:.9g}", flush=True)
        if step >= 0:
            total.append((t3 - t0) * 1e3)
            fwd.append((t1 - t0) * 1e3)
            bwd.append((t2 - t1) * 1e3)
            upd.append((t3 - t2) * 1e3)
    ms = median(total)
    name = f"train_{args.label}_b{B}"
    print(f"{name:<16} median {ms:10.1f} ms  min {min(total):10.1f} ms  {B / (ms * 1e-3):8.3f} img/s  "
          f"fwd {median(fwd):.1f} bwd {median(bwd):.1f} opt {median(upd):.1f}", flush=True)
    print(f"peak_rss {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
