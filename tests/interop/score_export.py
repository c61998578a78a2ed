#!/usr/bin/python3
"""Scores images with a model file `aapmt export` wrote, in PyTorch.

Loads FILE with torch.load(weights_only=True) into the reference ImageReward
of tests/fixtures/make_model_fixtures.py (the same module names as the
Python package, so the same keys), with strict=True: every key and shape
must be ImageReward's, beside heads under the prefixes aapmt documents,
which are left out first. Then scores each image against the prompt as
ImageReward.score does (the reference transform and tokenizer of the
fixtures). Prints one line per image: the score (repr of the float), after
a line "keys N" with the number of backbone keys loaded.

usage: score_export.py FILE CONFIG.json VOCAB PROMPT IMAGE...
Exits 77 when torch (Debian's python3-torch) cannot be imported.
"""
import json
import os
import sys

try:
    import torch
    from PIL import Image
    import torchvision  # noqa: F401  (the reference transform needs it)
except ImportError as e:
    print("skipped: %s (install python3-torch, python3-torchvision, python3-pil)" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import make_image_fixtures as imgref  # noqa: E402
import make_model_fixtures as modelref  # noqa: E402
import make_tokenizer_fixtures as tokref  # noqa: E402

HEAD_PREFIXES = ("ImageAssessmentModel.", "metric_attention.", "lua_head.")


def main():
    path, config_path, vocab, prompt, images = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    torch.set_num_threads(1)
    with open(config_path) as f:
        cfg = json.load(f)
    state = torch.load(path, weights_only=True)
    backbone = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    embed_dim = backbone["blip.vision_proj.weight"].shape[0]
    model = modelref.ImageReward(cfg, embed_dim=embed_dim)
    model.load_state_dict(backbone, strict=True)
    model.eval()
    tokenizer = tokref.RefBertTokenizer(vocab)
    _, _, ids, mask = tokenizer(prompt, 35)
    ids, mask = torch.tensor([ids]), torch.tensor([mask])
    transform = imgref.transform(cfg["vision"]["image_size"])
    print("keys", len(backbone))
    with torch.no_grad():
        for image in images:
            pixels = transform(Image.open(image)).unsqueeze(0)
            _, _, _, scores = model(pixels, ids, mask)
            print(repr(scores.item()))


if __name__ == "__main__":
    main()
