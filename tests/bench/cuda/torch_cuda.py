#!/usr/bin/python3
"""The PyTorch side of the GPU benchmark (tests/bench/cuda/run.sh): the same
ImageReward-v1.0 architecture as the test fixtures (random weights), the same
batches, scoring at each batch size and one AdamW training step with MSE,
in eager FP32 and in BF16 autocast with scaled_dot_product_attention. Prints
the same line format as aapmt_bench_cuda, each figure tagged with its mode."""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures"))
import make_model_fixtures as ref  # noqa: E402

GFLOP_PER_IMAGE = 138.0


def vit_attention_sdpa(self, x):
    B, N, C = x.shape
    qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
    y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    return self.proj(y.transpose(1, 2).reshape(B, N, C))


def bert_attention_sdpa(self, h, kv, mask):
    q, k, v = self.split(self.query(h)), self.split(self.key(kv)), self.split(self.value(kv))
    p = self.dropout.p if self.training else 0.0
    c = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.dtype), dropout_p=p)
    c = c.permute(0, 2, 1, 3).contiguous()
    return c.view(c.size()[:-2] + (h.shape[-1],))


def make_batch(B):
    V = ref.FULL_CONFIG["text"]["vocab_size"]
    g = torch.Generator().manual_seed(7)
    pixels = torch.randn(B, 3, 224, 224, generator=g)
    ids = torch.zeros(B, 35, dtype=torch.long)
    mask = torch.zeros(B, 35, dtype=torch.long)
    for b in range(B):
        for j in range(20):
            ids[b, j] = 101 if j == 0 else 102 if j == 19 else 1000 + (b * 37 + j * 101) % (V - 1000)
            mask[b, j] = 1
    return pixels.cuda(), ids.cuda(), mask.cuda()


def timed(fn, reps, warmup):
    times = []
    for r in range(-warmup, reps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if r >= 0:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2


def peak_bf16_tflops():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = timed(lambda: a @ a, 10, 2)
    return 2 * 8192 ** 3 / (ms * 1e-3) / 1e12


def report(mode, what, B, ms, gflop, peak):
    ips = B / (ms * 1e-3)
    print(f"{mode}:{what}_b{B}  median {ms:.3f} ms  {ips:.1f} img/s  mfu {100 * ips * gflop / (peak * 1e3):.1f}%",
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    peak = peak_bf16_tflops()
    print(f"# PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)}", flush=True)
    print(f"peak_bf16_tflops {peak:.1f}", flush=True)
    model = ref.ImageReward(ref.FULL_CONFIG).cuda()
    for mode in ("eager_fp32", "bf16_sdpa"):
        sdpa = mode == "bf16_sdpa"
        ref.Attention.forward = vit_attention_sdpa if sdpa else ref_vit_forward
        ref.BertSelfAttention.forward = bert_attention_sdpa if sdpa else ref_bert_forward
        model.eval()
        for B in [int(b) for b in args.batches.split(",")]:
            pixels, ids, mask = make_batch(B)

            def score():
                with torch.no_grad(), (torch.autocast("cuda", dtype=torch.bfloat16) if sdpa else torch.no_grad()):
                    model(pixels, ids, mask)

            report(mode, "score", B, timed(score, args.reps, args.warmup), GFLOP_PER_IMAGE, peak)
        if args.train_batch > 0:
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
            pixels, ids, mask = make_batch(args.train_batch)
            target = torch.full((args.train_batch,), 0.5, device="cuda")

            def step():
                with (torch.autocast("cuda", dtype=torch.bfloat16) if sdpa else torch.enable_grad()):
                    scores = model(pixels, ids, mask)[3]
                    loss = F.mse_loss(scores.float(), target)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            report(mode, "train", args.train_batch, timed(step, args.reps, args.warmup), 3 * GFLOP_PER_IMAGE, peak)


ref_vit_forward = ref.Attention.forward
ref_bert_forward = ref.BertSelfAttention.forward

if __name__ == "__main__":
    main()
