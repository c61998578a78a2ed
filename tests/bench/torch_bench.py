#!/usr/bin/python3
"""The PyTorch side of the CPU benchmark: the same work as aapmt_bench, under
the same names and in the same line format, so tests/bench/run.sh can put the
two side by side. Run with Debian's python3-torch (/usr/bin/python3)."""

import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH, TOKENS, HEADS, HEAD_DIM, MLP = 1024, 197, 16, 64, 4096
GEMM_SHAPES = [(1024, 1024, 1024), (197, 1024, 3072), (197, 1024, 4096),
               (197, 4096, 1024), (1576, 1024, 4096)]


def report(name, times, gflop=0.0):
    times = sorted(times)
    n = len(times)
    median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    rate = gflop / (median * 1e-3) if gflop > 0 and median > 0 else 0.0
    print(f"{name:<24} median {median:10.3f} ms  min {times[0]:10.3f} ms  {rate:8.1f} GFLOP/s", flush=True)


def now_ms():
    return time.perf_counter() * 1e3


def bench_gemm(args):
    for m, k, n in GEMM_SHAPES:
        a, b = torch.randn(m, k), torch.randn(k, n)
        times = []
        for i in range(-args.warmup, 2 * args.reps):
            t0 = now_ms()
            c = torch.matmul(a, b)
            t1 = now_ms()
            del c
            if i >= 0:
                times.append(t1 - t0)
        report(f"gemm_{m}x{k}x{n}", times, 2.0 * m * k * n * 1e-9)


class Block(nn.Module):
    """Pre-LN ViT block as in BLIP's vision encoder; attention written out
    (torch 1.13 has no F.scaled_dot_product_attention)."""

    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(WIDTH, eps=1e-6)
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
        self.proj = nn.Linear(WIDTH, WIDTH)
        self.norm2 = nn.LayerNorm(WIDTH, eps=1e-6)
        self.fc1 = nn.Linear(WIDTH, MLP)
        self.fc2 = nn.Linear(MLP, WIDTH)

    def attention(self, x):
        b, l, _ = x.shape
        qkv = self.qkv(x).reshape(b, l, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HEAD_DIM))
        a = weights.softmax(dim=-1) @ v
        return self.proj(a.transpose(1, 2).reshape(b, l, WIDTH))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def block_forward_gflop(batch):
    tokens = batch * TOKENS
    linear = 2.0 * tokens * WIDTH * (3 * WIDTH + WIDTH + 2 * MLP)
    attention = 2.0 * 2.0 * batch * HEADS * TOKENS * TOKENS * HEAD_DIM
    return (linear + attention) * 1e-9


def bench_block(args, batch):
    block = Block()
    x = torch.randn(batch, TOKENS, WIDTH, requires_grad=True)
    fwd, bwd, total = [], [], []
    for i in range(-args.warmup, args.reps):
        t0 = now_ms()
        loss = block(x).sum()
        t1 = now_ms()
        loss.backward()
        t2 = now_ms()
        if not math.isfinite(loss.item()):
            raise SystemExit(f"torch_bench: block batch {batch}: loss {loss.item()}")
        x.grad = None
        for p in block.parameters():
            p.grad = None
        if i >= 0:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            total.append(t2 - t0)
    gflop = block_forward_gflop(batch)
    report(f"block_b{batch}_forward", fwd, gflop)
    report(f"block_b{batch}_backward", bwd, 2 * gflop)
    report(f"block_b{batch}_fwd+bwd", total, 3 * gflop)


def attention_from_qkv(qkv):
    q, k, v = qkv.reshape(1, TOKENS, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
    a = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HEAD_DIM))).softmax(dim=-1) @ v
    return a.transpose(1, 2).reshape(1, TOKENS, WIDTH)


OP_CASES = [
    ("layernorm", [(1, TOKENS, WIDTH), (WIDTH,), (WIDTH,)],
     lambda x, w, b: F.layer_norm(x, (WIDTH,), w, b, 1e-6)),
    ("linear_qkv", [(1, TOKENS, WIDTH), (3 * WIDTH, WIDTH), (3 * WIDTH,)], F.linear),
    ("attention", [(1, TOKENS, 3 * WIDTH)], attention_from_qkv),
    ("softmax", [(HEADS, TOKENS, TOKENS)], lambda x: x.softmax(dim=-1)),
    ("linear_proj", [(1, TOKENS, WIDTH), (WIDTH, WIDTH), (WIDTH,)], F.linear),
    ("add", [(1, TOKENS, WIDTH), (1, TOKENS, WIDTH)], torch.add),
    ("linear_fc1", [(1, TOKENS, WIDTH), (MLP, WIDTH), (MLP,)], F.linear),
    ("gelu", [(1, TOKENS, MLP)], F.gelu),
    ("linear_fc2", [(1, TOKENS, MLP), (WIDTH, MLP), (WIDTH,)], F.linear),
]


def bench_ops(args):
    for name, shapes, fn in OP_CASES:
        inputs = [torch.randn(*s, requires_grad=True) for s in shapes]
        fwd, bwd, seed = [], [], None
        for i in range(-args.warmup, 2 * args.reps):
            t0 = now_ms()
            out = fn(*inputs)
            t1 = now_ms()
            if seed is None:
                seed = torch.ones_like(out)
            out.backward(seed)
            t2 = now_ms()
            del out
            for t in inputs:
                t.grad = None
            if i >= 0:
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
        report(f"op_{name}_fwd", fwd)
        report(f"op_{name}_bwd", bwd)


def openblas_core():
    """The kernels of the BLAS that torch uses (Debian's build calls the system
    libblas.so.3, usually OpenBLAS), or '?' when it is not OpenBLAS."""
    try:
        import ctypes
        name = ctypes.CDLL("libblas.so.3").openblas_get_corename
        name.restype = ctypes.c_char_p
        return name().decode()
    except (OSError, AttributeError):
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--only", default="gemm,block,ops")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    sections = args.only.split(",")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {args.reps} reps (median, min), "
          f"OpenBLAS core {openblas_core()}")
    if "gemm" in sections:
        bench_gemm(args)
    if "block" in sections:
        for batch in (int(b) for b in args.batches.split(",")):
            bench_block(args, batch)
    if "ops" in sections:
        bench_ops(args)


if __name__ == "__main__":
    main()
