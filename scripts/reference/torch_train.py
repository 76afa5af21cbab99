#!/usr/bin/env python3
"""Trains one stage of the progression with PyTorch: the side-by-side reference for the trainer's
GPU timings (scripts/gpu-train.sh runs it on the same GPU, in the same run).

The stage is not described here: it is read from the trainer's own table
(`trainer stages --json`), so the two cannot drift apart. What is mirrored by hand is burn's
and Keras' conventions that the table does not spell out: Glorot-uniform kernels and zero
biases, TF "same" padding, batch norm with momentum 0.01 (weight of the new batch), epsilon 1e-3
and a frozen gamma, Adam with epsilon 1e-7, pixels / 256, one learning rate per epoch.

Like the trainer, the whole training set lives on the device, batches are gathered there and
the running loss and accuracy are read back once per epoch.

Prints one line per epoch and, last, for scripts:
  torch: <stage> first <s> s, steady <s> s/epoch, test accuracy <acc>, device <name>
"""

import argparse
import gzip
import json
import math
import statistics
import struct
import sys
import time
from pathlib import Path

PIXEL_SCALE = 1.0 / 256.0
BATCH_NORM_MOMENTUM = 0.01
BATCH_NORM_EPSILON = 1e-3
ADAM_EPSILON = 1e-7


def read_idx(path: Path):
    """The payload of an IDX file (gzip or raw), after checking its magic and size."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        sys.exit(f"error: {path} is not an unsigned-byte IDX file")
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    payload = data[4 + 4 * dims :]
    if len(payload) != math.prod(shape):
        sys.exit(f"error: {path} is truncated ({len(payload)} of {math.prod(shape)} bytes)")
    return shape, payload


def find(data_dir: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    sys.exit(f"error: {data_dir / stem}(.gz) not found; pass --data-dir with the four MNIST IDX files")


def load_split(torch, data_dir: Path, prefix: str, device):
    shape, images = read_idx(find(data_dir, f"{prefix}-images-idx3-ubyte"))
    _, labels = read_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte"))
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(shape[0], 1, 28, 28)
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    return x.to(device).float() * PIXEL_SCALE, y.to(device)


def same_padding(side: int, kernel: int, stride: int) -> int:
    out = -(-side // stride)
    total = max((out - 1) * stride + kernel - side, 0)
    if total % 2:
        sys.exit(f"error: kernel {kernel} stride {stride} on {side} needs asymmetric padding")
    return total // 2


def build(nn, net: dict):
    """The stage's network from the `net` field of the trainer's table."""
    layers = []
    if "Dense" in net:
        cfg = net["Dense"]
        act = {"Relu": nn.ReLU, "Sigmoid": nn.Sigmoid}[cfg["activation"]]
        width = 28 * 28
        layers.append(nn.Flatten())
        for hidden in cfg["hidden"]:
            layers += [nn.Linear(width, hidden), act()]
            if cfg.get("dropout"):
                layers.append(nn.Dropout(cfg["dropout"]))
            width = hidden
        layers.append(nn.Linear(width, 10))
    else:
        cfg = net["Conv"]
        bn = cfg["batch_norm"]
        channels, side = 1, 28
        for conv in cfg["convs"]:
            pad = same_padding(side, conv["kernel"], conv["stride"])
            layers.append(
                nn.Conv2d(channels, conv["filters"], conv["kernel"], conv["stride"], pad, bias=not bn)
            )
            if bn:
                layers.append(nn.BatchNorm2d(conv["filters"], BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM))
            layers.append(nn.ReLU())
            channels, side = conv["filters"], -(-side // conv["stride"])
        layers += [nn.Flatten(), nn.Linear(channels * side * side, cfg["dense"], bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm1d(cfg["dense"], BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM))
        layers.append(nn.ReLU())
        if cfg.get("dropout"):
            layers.append(nn.Dropout(cfg["dropout"]))
        layers.append(nn.Linear(cfg["dense"], 10))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.requires_grad_(False)  # Keras' scale=False, as the trainer
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stages-json", type=Path, required=True, help="output of `trainer stages --json`")
    ap.add_argument("--stage", default="cnn-bn")
    ap.add_argument("--data-dir", type=Path, default=Path("data/mnist"))
    ap.add_argument("--epochs", type=int, help="default: the recipe's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json-out", type=Path, help="write the per-epoch figures here")
    args = ap.parse_args()

    try:
        import torch
        from torch import nn
    except ImportError:
        sys.exit("error: PyTorch is not installed; `pip install torch` (the GPU machine has it)")

    stages = {s["name"]: s for s in json.loads(args.stages_json.read_text())}
    if args.stage not in stages:
        sys.exit(f"error: unknown stage {args.stage}; stages are: {', '.join(stages)}")
    stage = stages[args.stage]
    recipe = stage["recipe"]
    epochs = args.epochs or recipe["epochs"]
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: no CUDA device visible to PyTorch; run on the GPU machine or pass --device cpu")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.manual_seed(args.seed)
    train_x, train_y = load_split(torch, args.data_dir, "train", device)
    test_x, test_y = load_split(torch, args.data_dir, "t10k", device)
    model = build(nn, stage["net"]).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    lr0, decay = recipe["schedule"]["initial"], recipe["schedule"]["decay"]
    if recipe["optimizer"] == "adam":
        optim = torch.optim.Adam(params, lr=lr0, eps=ADAM_EPSILON)
    else:
        optim = torch.optim.SGD(params, lr=lr0)
    loss_fn = nn.CrossEntropyLoss()
    batch = recipe["batch_size"]
    n = train_x.shape[0]

    history = []
    for epoch in range(epochs):
        for group in optim.param_groups:
            group["lr"] = lr0 * decay**epoch
        model.train()
        sync()
        start = time.perf_counter()
        order = torch.randperm(n, device=device)
        loss_sum = torch.zeros((), device=device)
        hits = torch.zeros((), device=device, dtype=torch.long)
        for i in range(0, n, batch):
            rows = order[i : i + batch]
            x, y = train_x[rows], train_y[rows]
            logits = model(x)
            loss = loss_fn(logits, y)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            loss_sum += loss.detach() * len(rows)
            hits += (logits.argmax(1) == y).sum()
        train_loss, train_acc = loss_sum.item() / n, hits.item() / n
        sync()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(test_x[i : i + 1000]).argmax(1) == test_y[i : i + 1000]).sum().item()
                for i in range(0, test_x.shape[0], 1000)
            )
        acc = correct / test_x.shape[0]
        history.append({"epoch": epoch + 1, "seconds": seconds, "train_loss": train_loss,
                        "train_accuracy": train_acc, "test_accuracy": acc})
        print(f"torch {args.stage} epoch {epoch + 1:>2}/{epochs}: loss {train_loss:.4f} acc {train_acc:.4f}"
              f" | test acc {acc:.4f} | {seconds:.2f} s, {n / seconds:.0f} img/s", flush=True)

    first = history[0]["seconds"]
    steady = statistics.median(h["seconds"] for h in history[1:]) if len(history) > 1 else first
    if args.json_out:
        args.json_out.write_text(json.dumps({"stage": args.stage, "device": name, "epochs": history,
                                             "first_epoch_seconds": first, "steady_epoch_seconds": steady},
                                            indent=2))
    print(f"torch: {args.stage} first {first:.2f} s, steady {steady:.2f} s/epoch, "
          f"test accuracy {history[-1]['test_accuracy']:.4f}, device {name}")


if __name__ == "__main__":
    main()
