"""PyTorch's side of the loader benchmark: a DataLoader with worker
processes running ImageReward's transform (Pillow decode, bicubic resize to
224, center crop, ToTensor, Normalize), one epoch, images/s and CPU use
(CPU time of this process and its workers / wall time).
  python3 torch_loader.py IMAGE_DIR WORKERS BATCH REPS [LIMIT]"""
import os
import resource
import sys
import time

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

directory, workers, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
limit = int(sys.argv[5]) if len(sys.argv) > 5 else 0
paths = sorted(os.path.join(directory, n) for n in os.listdir(directory)
               if n.lower().endswith((".jpg", ".jpeg", ".png")))
if limit > 0:
    paths = paths[:limit]
transform = transforms.Compose([
    transforms.Resize(224, interpolation=InterpolationMode.BICUBIC),
    transforms.CenterCrop(224),
    lambda im: im.convert("RGB"),
    transforms.ToTensor(),
    transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
])


class Images(torch.utils.data.Dataset):
    def __len__(self):
        return len(paths)

    def __getitem__(self, i):
        return transform(Image.open(paths[i]))


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


torch.set_num_threads(1)
results = []
for rep in range(reps):
    g = torch.Generator()
    g.manual_seed(rep)
    loader = torch.utils.data.DataLoader(Images(), batch_size=batch, shuffle=True, generator=g,
                                         num_workers=workers, prefetch_factor=4 if workers else 2)
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    n = sum(len(x) for x in loader)
    del loader   # workers exit and are reaped, so their CPU time is counted
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    assert n == len(paths)
    results.append((wall, cpu))
results.sort()
wall, cpu = results[(reps - 1) // 2]
print("torch %d %.2f %.2f" % (len(paths), len(paths) / wall, cpu / wall))
