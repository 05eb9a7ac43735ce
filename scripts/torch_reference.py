#!/usr/bin/env python3
"""Reference data for alexnetc, computed by PyTorch from `alexnetc check --json`.

Usage:
    alexnetc check SPEC --json [--variant NAME] > NET.json
    /usr/bin/python3 scripts/torch_reference.py NET.json OUT.safetensors \\
        [--batch 2] [--seed 1] [--std 0.05] [--threads 0]
    /usr/bin/python3 scripts/torch_reference.py --check-lrn    (self-test, no files)
    /usr/bin/python3 scripts/torch_reference.py --self-test    (LRN, pooling, parts)

NET.json may be `-` for standard input. The network is built generically from
the JSON, layer by layer and part by part, with alexnetc's conventions (see
scripts/README.md). Inputs and weights are drawn as float32 from one
torch.Generator; the forward and backward passes run in float64 on exactly
those float32 values, and every result is rounded to float32 when written.

Runs with Debian's python3-torch (`apt-get install python3-torch`).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPE = torch.float64  # the precision of the reference computation

# ---------------------------------------------------------------------------
# Operators, one part at a time. `x` is the part's input: the concatenation of
# the slices it reads, [N, C_part, H, W], float64.


def activate(y, name):
    if name in (None, "", "none", "linear", "identity"):
        return y
    if name == "relu":
        return torch.relu(y)
    if name == "tanh":
        return torch.tanh(y)
    if name == "sigmoid":
        return torch.sigmoid(y)
    raise ValueError(f"unknown activation {name!r}")


def pad4(x, padding, value=0.0):
    """Pads [N,C,H,W] by padding = [top, left, bottom, right]."""
    top, left, bottom, right = padding
    if top == left == bottom == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), mode="constant", value=value)


def conv_part(x, w, b, padding, stride, groups, activation):
    return activate(F.conv2d(pad4(x, padding), w, b, stride=stride, groups=groups), activation)


def fc_part(x, w, b, activation):
    """Returns [N, U, 1, 1]: fc outputs are NCHW with H = W = 1."""
    y = activate(F.linear(x.flatten(1), w, b), activation)
    return y.view(y.shape[0], y.shape[1], 1, 1)


def lrn_part(a, size, k, alpha, beta, alpha_mode):
    """b_c = a_c / (k + α'·Σ_{j=c−n/2}^{c+n/2} a_j²)^β, j clipped to this slice.

    Zero padding of the slice's channels by n/2 on both sides is the same as
    clipping the sum at the slice's edges, so the slice behaves as a tensor of
    its own (the channels of other parts never enter the sum).
    """
    if size <= 0 or size % 2 == 0:
        raise ValueError(f"LRN size {size} must be positive and odd")
    if alpha_mode == "sum":
        a1 = alpha
    elif alpha_mode == "mean":
        a1 = alpha / size
    else:
        raise ValueError(f"unknown LRN alpha_mode {alpha_mode!r}")
    h = size // 2
    c = a.shape[1]
    sq = F.pad(a * a, (0, 0, 0, 0, h, h))  # pads dim 1 (channels) by h each side
    s = sq[:, 0:c]
    for i in range(1, size):
        s = s + sq[:, i:i + c]
    return a * (k + a1 * s).pow(-beta)


def maxpool_part(x, kernel, stride, padding):
    """Padded positions never win: they hold −inf."""
    y = F.max_pool2d(pad4(x, padding, value=-math.inf), kernel, stride)
    if not torch.isfinite(y).all():
        raise ValueError("max pooling window lies wholly in padding")
    return y


def avgpool_part(x, kernel, stride, padding):
    """Mean over the in-bounds elements of each window (padding not counted)."""
    total = F.avg_pool2d(pad4(x, padding), kernel, stride)
    ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    count = F.avg_pool2d(pad4(ones, padding), kernel, stride)  # fraction in bounds
    if (count <= 0).any():
        raise ValueError("average pooling window lies wholly in padding")
    return total / count


def dropout_part(x, rate):
    """Test mode, the paper's rule: every unit kept, output scaled by 1 − rate."""
    return x * (1.0 - rate)


# ---------------------------------------------------------------------------
# The network.

WEIGHTED = ("conv", "fc")
PER_SLICE = ("lrn", "maxpool", "avgpool", "dropout")


def weight_prefix(layer, part):
    if len(layer["parts"]) == 1:
        return layer["name"]
    return f"{layer['name']}.gpu{part['gpu']}"


def check_parts(layer):
    """Parts must tile [0, C) in channel order, on distinct GPUs."""
    parts = layer["parts"]
    c = layer["output"][0]
    at = 0
    for p in parts:
        c0, c1 = p["channels"]
        if c0 != at or c1 <= c0:
            raise ValueError(f"{layer['name']}: parts do not tile [0,{c}) in order: {p['channels']}")
        at = c1
    if at != c:
        raise ValueError(f"{layer['name']}: parts cover [0,{at}) of {c} channels")
    gpus = [p["gpu"] for p in parts]
    if len(set(gpus)) != len(gpus):
        raise ValueError(f"{layer['name']}: two parts on one GPU: {gpus}")


def read_input(full, part):
    """The part's input: the input layer's full output sliced as `reads` says."""
    xs = [full[:, r["channels"][0]:r["channels"][1]] for r in part["reads"]]
    return xs[0] if len(xs) == 1 else torch.cat(xs, 1)


def init_params(net, gen, std):
    """Weights N(0, std²), biases N(0, 0.1²), float32, in layer and part order
    (weight then bias). Returns {name: tensor} in that order."""
    params = {}
    shapes = {"data": tuple(net["input"])}
    for layer in net["layers"]:
        shapes[layer["name"]] = tuple(layer["output"])
        if layer["op"] not in WEIGHTED:
            continue
        in_c, in_h, in_w = shapes[layer["input"]]
        for part in layer["parts"]:
            f = part["channels"][1] - part["channels"][0]
            cin = sum(r["channels"][1] - r["channels"][0] for r in part["reads"])
            if layer["op"] == "conv":
                g, kk = layer.get("groups", 1), layer["kernel"]
                if cin % g or f % g:
                    raise ValueError(f"{layer['name']}: {cin} inputs or {f} filters not divisible by groups {g}")
                wshape = (f, cin // g, kk, kk)
            else:
                wshape = (f, cin * in_h * in_w)
            pre = weight_prefix(layer, part)
            params[pre + ".weight"] = torch.randn(wshape, generator=gen, dtype=torch.float32) * std
            params[pre + ".bias"] = torch.randn((f,), generator=gen, dtype=torch.float32) * 0.1
            got = params[pre + ".weight"].numel() + f
            if "params" in part and part["params"] != got:
                raise ValueError(f"{pre}: {got} parameters, the JSON says {part['params']}")
    return params


def forward(net, x, labels, p):
    """Runs the network on x (float64); p maps weight names to float64 leaves.
    Returns ({layer: full output}, loss)."""
    outs = {"data": x}
    loss = None
    for layer in net["layers"]:
        name, op = layer["name"], layer["op"]
        full = outs[layer["input"]]
        if op == "softmax":
            logits = full.flatten(1)
            logp = F.log_softmax(logits, dim=1)
            loss = -logp.gather(1, labels.view(-1, 1)).mean()
            outs[name] = logp.exp()
            if list(logits.shape[1:]) != [math.prod(layer["output"])]:
                raise ValueError(f"{name}: {logits.shape[1]} logits, output {layer['output']}")
            continue
        check_parts(layer)
        ys = []
        for part in layer["parts"]:
            xin = read_input(full, part)
            if op == "conv":
                pre = weight_prefix(layer, part)
                y = conv_part(xin, p[pre + ".weight"], p[pre + ".bias"], layer["padding"],
                              layer["stride"], layer.get("groups", 1), layer.get("activation"))
            elif op == "fc":
                pre = weight_prefix(layer, part)
                y = fc_part(xin, p[pre + ".weight"], p[pre + ".bias"], layer.get("activation"))
            elif op in PER_SLICE:
                if [r["channels"] for r in part["reads"]] != [part["channels"]]:
                    raise ValueError(f"{name}: a {op} part must read its own slice, not {part['reads']}")
                if op == "lrn":
                    q = layer["lrn"]
                    y = lrn_part(xin, q["size"], q["k"], q["alpha"], q["beta"], q["alpha_mode"])
                elif op == "maxpool":
                    y = maxpool_part(xin, layer["kernel"], layer["stride"], layer["padding"])
                elif op == "avgpool":
                    y = avgpool_part(xin, layer["kernel"], layer["stride"], layer["padding"])
                else:
                    y = dropout_part(xin, layer["rate"])
            else:
                raise ValueError(f"{name}: unknown op {op!r}")
            ys.append(y)
        out = ys[0] if len(ys) == 1 else torch.cat(ys, 1)
        want = [x.shape[0]] + list(layer["output"])
        if list(out.shape) != want:
            raise ValueError(f"{name}: output {list(out.shape)}, the JSON says {want}")
        outs[name] = out
    if loss is None:
        raise ValueError("the network has no softmax layer")
    return outs, loss


def classes_of(net):
    for layer in net["layers"]:
        if layer["op"] == "softmax":
            return math.prod(layer["output"])
    raise ValueError("the network has no softmax layer")


# ---------------------------------------------------------------------------
# safetensors, written by hand: u64 LE header length, JSON header, raw data.

def write_safetensors(path, tensors, metadata):
    """tensors: {name: float32/int32 CPU tensor}. Names are written sorted."""
    names = sorted(tensors)
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for n in names:
        t = tensors[n].detach().contiguous()
        if t.dtype == torch.float32:
            dt, npdt = "F32", "<f4"
        elif t.dtype == torch.int32:
            dt, npdt = "I32", "<i4"
        else:
            raise TypeError(f"{n}: unsupported dtype {t.dtype}")
        nbytes = t.numel() * 4
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + nbytes]}
        blobs.append((t, npdt, nbytes))
        offset += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t, npdt, nbytes in blobs:
            b = t.numpy().astype(npdt, copy=False).tobytes()
            assert len(b) == nbytes
            f.write(b)
    return 8 + len(h) + offset


def read_safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


# ---------------------------------------------------------------------------
# Self-tests.

def check_lrn(verbose=True):
    """A 1-part LRN in mode "mean" over a whole tensor equals PyTorch's
    nn.LocalResponseNorm (α/n, zero padding); mode "sum" equals it with α·n;
    and a 2-part LRN equals PyTorch's LRN on each half on its own."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn((2, 11, 5, 4), generator=g, dtype=DTYPE) * 3
    worst = 0.0
    for size, k, alpha, beta in [(5, 2.0, 1e-4, 0.75), (5, 2.0, 0.5, 0.75), (3, 1.0, 0.3, 0.5), (7, 1.5, 1.0, 1.0), (1, 1.0, 0.2, 0.75)]:
        ref = torch.nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)
        mine = lrn_part(x, size, k, alpha, beta, "mean")
        d = (mine - ref(x)).abs().max().item()
        worst = max(worst, d)
        assert d < 1e-6, f"LRN mean n={size}: differs from nn.LocalResponseNorm by {d}"
        ref_sum = torch.nn.LocalResponseNorm(size, alpha=alpha * size, beta=beta, k=k)
        d = (lrn_part(x, size, k, alpha, beta, "sum") - ref_sum(x)).abs().max().item()
        worst = max(worst, d)
        assert d < 1e-6, f"LRN sum n={size}: differs from nn.LocalResponseNorm(α·n) by {d}"
        # Two parts [0,5) and [5,11): each clipped to its own slice.
        halves = torch.cat([ref(x[:, :5]), ref(x[:, 5:])], 1)
        two = torch.cat([lrn_part(x[:, :5], size, k, alpha, beta, "mean"),
                         lrn_part(x[:, 5:], size, k, alpha, beta, "mean")], 1)
        d = (two - halves).abs().max().item()
        worst = max(worst, d)
        assert d < 1e-6, f"LRN 2 parts n={size}: differs by {d}"
        if size > 1:
            assert (two - ref(x)).abs().max().item() > 1e-9, "slice clipping made no difference"
    if verbose:
        print(f"check-lrn: ok (max difference from nn.LocalResponseNorm {worst:.2e})")


def self_test():
    check_lrn()
    g = torch.Generator().manual_seed(8)
    x = torch.randn((2, 6, 9, 9), generator=g, dtype=DTYPE)
    # Symmetric padding: PyTorch's own pooling (padding never wins / not counted).
    for k, s, p in [(3, 2, 1), (3, 1, 1), (2, 2, 1), (3, 2, 0)]:
        d = (maxpool_part(x, k, s, [p] * 4) - F.max_pool2d(x, k, s, padding=p)).abs().max().item()
        assert d == 0, f"maxpool k={k} s={s} p={p}: {d}"
        d = (avgpool_part(x, k, s, [p] * 4) -
             F.avg_pool2d(x, k, s, padding=p, count_include_pad=False)).abs().max().item()
        assert d < 1e-12, f"avgpool k={k} s={s} p={p}: {d}"
    # Ceil rounding = extra bottom/right padding: PyTorch's ceil_mode agrees.
    x8 = x[:, :, :8, :8]
    d = (maxpool_part(x8, 3, 2, [0, 0, 1, 1]) - F.max_pool2d(x8, 3, 2, ceil_mode=True)).abs().max().item()
    assert d == 0, f"maxpool ceil: {d}"
    d = (avgpool_part(x8, 3, 2, [0, 0, 1, 1]) -
         F.avg_pool2d(x8, 3, 2, ceil_mode=True, count_include_pad=False)).abs().max().item()
    assert d < 1e-12, f"avgpool ceil: {d}"
    # Two conv parts each reading its own half = one conv with groups=2.
    w = torch.randn((8, 3, 3, 3), generator=g, dtype=DTYPE)
    b = torch.randn((8,), generator=g, dtype=DTYPE)
    two = torch.cat([conv_part(x[:, :3], w[:4], b[:4], [1] * 4, 1, 1, "relu"),
                     conv_part(x[:, 3:], w[4:], b[4:], [1] * 4, 1, 1, "relu")], 1)
    d = (two - torch.relu(F.conv2d(x, w, b, padding=1, groups=2))).abs().max().item()
    assert d < 1e-12, f"conv parts vs groups=2: {d}"
    print("self-test: ok (pooling with padding and ceil, conv parts vs grouped conv)")


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("net", nargs="?", help="`alexnetc check --json` output, or - for stdin")
    ap.add_argument("out", nargs="?", help="the safetensors file to write")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--std", type=float, default=0.05, help="weights' standard deviation")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    ap.add_argument("--check-lrn", action="store_true", help="self-test LRN against nn.LocalResponseNorm")
    ap.add_argument("--self-test", action="store_true", help="--check-lrn plus pooling and conv-part tests")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.self_test:
        self_test()
    elif a.check_lrn:
        check_lrn()
    if a.net is None and (a.check_lrn or a.self_test):
        return
    if a.net is None or a.out is None:
        ap.error("NET.json and OUT.safetensors are required")
    if a.batch < 1:
        ap.error("--batch must be at least 1")

    t0 = time.perf_counter()
    net = json.load(sys.stdin if a.net == "-" else open(a.net))
    gen = torch.Generator().manual_seed(a.seed)
    x = torch.randn([a.batch] + list(net["input"]), generator=gen, dtype=torch.float32)
    classes = classes_of(net)
    labels = torch.randint(0, classes, (a.batch,), generator=gen)
    params = init_params(net, gen, a.std)

    count = sum(t.numel() for t in params.values())
    if count != net["params"]:
        raise SystemExit(f"parameter count {count} differs from the JSON's {net['params']}")

    # Float64 leaves holding exactly the float32 values that are written.
    x64 = x.to(DTYPE).requires_grad_()
    p64 = {n: t.to(DTYPE).requires_grad_() for n, t in params.items()}
    t1 = time.perf_counter()
    outs, loss = forward(net, x64, labels, p64)
    loss.backward()
    t2 = time.perf_counter()

    tensors = {"x": x, "labels": labels.to(torch.int32), "loss": loss.detach().float()}
    tensors.update(params)
    for layer in net["layers"]:
        tensors["out." + layer["name"]] = outs[layer["name"]].detach().float()
    for n, t in p64.items():
        tensors["grad." + n] = t.grad.float()
    tensors["grad.x"] = x64.grad.float()
    meta = {"spec": net.get("name", ""), "variant": net.get("variant", ""), "batch": a.batch,
            "seed": a.seed, "std": a.std, "torch": torch.__version__, "compute": "float64"}
    size = write_safetensors(a.out, tensors, meta)
    hdr, _ = read_safetensors_header(a.out)
    assert size == os.path.getsize(a.out) and len(hdr) == len(tensors) + 1
    t3 = time.perf_counter()

    label = net.get("name", "?") + (f"/{net['variant']}" if net.get("variant") else "")
    print(f"{label}: params {count} (= JSON), batch {a.batch}, loss {loss.item():.6f}, "
          f"{len(tensors)} tensors, {size} bytes ({size / 2**20:.1f} MiB), "
          f"{t3 - t0:.2f} s (forward+backward {t2 - t1:.2f} s, float64, "
          f"{torch.get_num_threads()} threads) -> {a.out}")


if __name__ == "__main__":
    main()
