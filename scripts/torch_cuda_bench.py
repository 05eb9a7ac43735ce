#!/usr/bin/env python3
"""Times the peers' PyTorch AlexNet on the GPU, beside alexnetc's cudabench.

Usage: torch_cuda_bench.py [--batch 128] [--repeat 10] [--device cuda]

The model is ../shared/peers/alexnet_torch.py (the paper's two-GPU AlexNet on
one GPU: groups=2 for conv2/4/5, LRN per half), imported from beside this
script (scripts/device-check.sh copies it there) or from ../shared/peers.
It runs with cuDNN (torch.backends.cudnn.benchmark on), float32, and prints
one line per mode and setting:

  strict fp32   TF32 off for both matrix products and cuDNN convolutions,
                the arithmetic alexnetc's kernels do;
  default       PyTorch's defaults (cuDNN convolutions may use TF32).

Times are the median of --repeat runs after warm-up, each ended by
torch.cuda.synchronize().
"""
import argparse
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
for path in (here, os.path.join(here, "..", "..", "shared", "peers")):
    if os.path.exists(os.path.join(path, "alexnet_torch.py")):
        sys.path.insert(0, path)
        break
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from alexnet_torch import AlexNet  # noqa: E402


def timed(fn, repeat, sync):
    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--device", default="cuda", help="cpu only to try the script where there is no GPU")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_cuda_bench: no GPU")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    m = AlexNet().to(dev)
    x = torch.randn(a.batch, 3, 227, 227, device=dev)
    y = torch.randint(0, 1000, (a.batch,), device=dev)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss = nn.CrossEntropyLoss()

    def infer():
        with torch.no_grad():
            m(x)

    def train():
        opt.zero_grad(set_to_none=False)
        loss(m(x), y).backward()
        opt.step()

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    for setting, tf32 in (("strict fp32", False), ("default", None)):
        if tf32 is None:
            torch.backends.cuda.matmul.allow_tf32 = False  # PyTorch's default
            torch.backends.cudnn.allow_tf32 = True  # PyTorch's default
        else:
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
        for mode, fn in (("train", train), ("infer", infer)):
            m.train(mode == "train")
            dt = timed(fn, a.repeat, sync)
            print(f"pytorch {torch.__version__} cudnn {torch.backends.cudnn.version()} {name}, {setting}: "
                  f"{mode} batch={a.batch}: {dt:.4f} s/batch, {a.batch / dt:.1f} img/s", flush=True)


if __name__ == "__main__":
    main()
