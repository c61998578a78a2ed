#!/usr/bin/python3
"""The torch side of the checkpoint benchmark.

    make_and_time_torch.py make PATH   writes a full-size ImageReward-v1.0 state dict
                                       (625 keys, docs/imagereward.md Appendix A shapes, random fp32
                                       weights, ~1.79 GB) with torch.save
    make_and_time_torch.py time PATH [RUNS]
                                       median seconds of torch.load(PATH) plus reading
                                       every key's first element, printed as "torch <s>"
"""
import statistics
import sys
import time
from collections import OrderedDict

import torch

V = dict(width=1024, depth=24, mlp=4096, patch=16, tokens=197, proj=256)
T = dict(width=768, layers=12, ffn=3072, vocab=30524, positions=512)
HEAD = [1024, 128, 64, 16, 1]


def shapes():
    w, d = V["width"], T["width"]
    s = [("blip.visual_encoder.cls_token", [1, 1, w]), ("blip.visual_encoder.pos_embed", [1, V["tokens"], w]),
         ("blip.visual_encoder.patch_embed.proj.weight", [w, 3, V["patch"], V["patch"]]),
         ("blip.visual_encoder.patch_embed.proj.bias", [w])]
    for i in range(V["depth"]):
        b = f"blip.visual_encoder.blocks.{i}."
        s += [(b + "norm1.weight", [w]), (b + "norm1.bias", [w]), (b + "attn.qkv.weight", [3 * w, w]),
              (b + "attn.qkv.bias", [3 * w]), (b + "attn.proj.weight", [w, w]), (b + "attn.proj.bias", [w]),
              (b + "norm2.weight", [w]), (b + "norm2.bias", [w]), (b + "mlp.fc1.weight", [V["mlp"], w]),
              (b + "mlp.fc1.bias", [V["mlp"]]), (b + "mlp.fc2.weight", [w, V["mlp"]]), (b + "mlp.fc2.bias", [w])]
    s += [("blip.visual_encoder.norm.weight", [w]), ("blip.visual_encoder.norm.bias", [w])]
    e = "blip.text_encoder.embeddings."
    s += [(e + "position_ids", None), (e + "word_embeddings.weight", [T["vocab"], d]),
          (e + "position_embeddings.weight", [T["positions"], d]), (e + "LayerNorm.weight", [d]),
          (e + "LayerNorm.bias", [d])]
    for l in range(T["layers"]):
        b = f"blip.text_encoder.encoder.layer.{l}."
        for part, kv in (("attention", d), ("crossattention", w)):
            s += [(b + part + ".self.query.weight", [d, d]), (b + part + ".self.query.bias", [d]),
                  (b + part + ".self.key.weight", [d, kv]), (b + part + ".self.key.bias", [d]),
                  (b + part + ".self.value.weight", [d, kv]), (b + part + ".self.value.bias", [d]),
                  (b + part + ".output.dense.weight", [d, d]), (b + part + ".output.dense.bias", [d]),
                  (b + part + ".output.LayerNorm.weight", [d]), (b + part + ".output.LayerNorm.bias", [d])]
        s += [(b + "intermediate.dense.weight", [T["ffn"], d]), (b + "intermediate.dense.bias", [T["ffn"]]),
              (b + "output.dense.weight", [d, T["ffn"]]), (b + "output.dense.bias", [d]),
              (b + "output.LayerNorm.weight", [d]), (b + "output.LayerNorm.bias", [d])]
    s += [("blip.vision_proj.weight", [V["proj"], w]), ("blip.vision_proj.bias", [V["proj"]]),
          ("blip.text_proj.weight", [V["proj"], d]), ("blip.text_proj.bias", [V["proj"]])]
    prev = d
    for idx, n in zip((0, 2, 4, 6, 7), HEAD):
        s += [(f"mlp.layers.{idx}.weight", [n, prev]), (f"mlp.layers.{idx}.bias", [n])]
        prev = n
    return s


def make(path):
    gen = torch.Generator().manual_seed(0)
    sd, floats = OrderedDict(), 0
    for name, shape in shapes():
        if shape is None:
            sd[name] = torch.arange(T["positions"]).expand((1, -1))
        else:
            sd[name] = torch.empty(shape).uniform_(-0.05, 0.05, generator=gen)
            floats += sd[name].numel()
    assert len(sd) == 625 and floats == 446665953, (len(sd), floats)   # docs/imagereward.md §2
    torch.save(sd, path)


def time_load(path, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sd = torch.load(path)
        acc = 0.0
        for k in sd:
            t = sd[k]
            if t.numel():
                acc += float(t.reshape(-1)[0])
        del sd
        times.append(time.perf_counter() - t0)
    print("torch %.6f" % statistics.median(times))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        time_load(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5)
