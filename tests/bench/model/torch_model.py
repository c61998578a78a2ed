#!/usr/bin/python3
"""The PyTorch side of the ImageReward scoring benchmark: the full-size
ImageReward-v1.0 built from the same reference modules as the test fixtures
(tests/fixtures/make_model_fixtures.py), random weights, eval(), no_grad, the
same batches, and the same line format as aapmt_bench_model.
Run with Debian's python3-torch (/usr/bin/python3)."""

import argparse
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


def make_batch(B):
    pixels = torch.randn(B, 3, 224, 224)
    ids = torch.zeros(B, 35, dtype=torch.long)
    mask = torch.zeros(B, 35, dtype=torch.long)
    V = FULL_CONFIG["text"]["vocab_size"]
    for b in range(B):
        for j in range(20):
            ids[b, j] = 101 if j == 0 else 102 if j == 19 else 1000 + (b * 37 + j * 101) % (V - 1000)
            mask[b, j] = 1
    return pixels, ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--texts", type=int, default=3,
                    help="also time TEXTS prompts against each batch, as ImageReward's score does it: "
                         "a whole forward per prompt (0: off)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"# PyTorch {torch.__version__} ImageReward, {torch.get_num_threads()} threads, "
          f"{args.reps} reps after {args.warmup} warm-up", flush=True)
    t0 = time.perf_counter()
    model = ImageReward(FULL_CONFIG).eval()
    print(f"# random init {time.perf_counter() - t0:.1f} s", flush=True)
    for B in [int(b) for b in args.batches.split(",")]:
        pixels, ids, mask = make_batch(B)
        times = []
        with torch.no_grad():
            for r in range(-args.warmup, args.reps):
                start = time.perf_counter()
                _, _, _, scores = model(pixels, ids, mask)
                ms = (time.perf_counter() - start) * 1e3
                if r == -args.warmup:
                    print(f"# batch {B}: first score {scores[0].item():.9g}", flush=True)
                if r >= 0:
                    times.append(ms)
        times.sort()
        n = len(times)
        median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
        print(f"{'score_b%d' % B:<12} median {median:10.1f} ms  min {times[0]:10.1f} ms  "
              f"{B / (median * 1e-3):8.3f} img/s", flush=True)
        if args.texts > 0:
            times = []
            with torch.no_grad():
                for r in range(-args.warmup, args.reps):
                    start = time.perf_counter()
                    for _ in range(args.texts):
                        model(pixels, ids, mask)
                    if r >= 0:
                        times.append((time.perf_counter() - start) * 1e3)
            times.sort()
            median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
            print(f"{'texts%d_b%d' % (args.texts, B):<12} median {median:10.1f} ms  min {times[0]:10.1f} ms  "
                  f"{args.texts * B / (median * 1e-3):8.3f} img/s", flush=True)
    print(f"peak_rss {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
