#!/usr/bin/env python3
"""Trains one stage of the progression with PyTorch: the side-by-side reference for the trainer's
GPU timings (scripts/gpu-train.sh runs it on the same GPU, in the same run). The stage comes from
the trainer's own table and the conventions from common.py, so the two cannot drift apart.

Like the trainer, the whole training set lives on the device, batches are gathered there and the
running loss and accuracy are read back once per epoch. Prints one line per epoch, then
common.report's line.
"""

import sys
import time

import common


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
        norm = {"eps": common.BATCH_NORM_EPSILON, "momentum": common.BATCH_NORM_NEW_BATCH_WEIGHT}
        channels, side = 1, 28
        for conv in cfg["convs"]:
            pad = common.same_padding(side, conv["kernel"], conv["stride"])
            layers.append(
                nn.Conv2d(channels, conv["filters"], conv["kernel"], conv["stride"], pad, bias=not bn)
            )
            if bn:
                layers.append(nn.BatchNorm2d(conv["filters"], **norm))
            layers.append(nn.ReLU())
            channels, side = conv["filters"], -(-side // conv["stride"])
        layers += [nn.Flatten(), nn.Linear(channels * side * side, cfg["dense"], bias=not bn)]
        if bn:
            layers.append(nn.BatchNorm1d(cfg["dense"], **norm))
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
            m.weight.requires_grad_(False)
    return model


def main() -> None:
    args, stage, epochs = common.start(__doc__.split("\n\n")[0], "cuda")
    recipe = stage["recipe"]
    try:
        import torch
        from torch import nn
    except ImportError:
        sys.exit("error: PyTorch is not installed; `pip install torch` (the GPU machine has it)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: no CUDA device visible to PyTorch; run on the GPU machine or pass --device cpu")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def split(prefix: str):
        images, shape, labels = common.mnist(args.data_dir, prefix)
        x = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(shape[0], 1, 28, 28)
        y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
        return x.to(device).float() * common.PIXEL_SCALE, y.to(device)

    torch.manual_seed(args.seed)
    train_x, train_y = split("train")
    test_x, test_y = split("t10k")
    model = build(nn, stage["net"]).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe["optimizer"] == "adam":
        optim = torch.optim.Adam(params, lr=common.learning_rate(recipe, 0), eps=common.ADAM_EPSILON)
    else:
        optim = torch.optim.SGD(params, lr=common.learning_rate(recipe, 0))
    loss_fn = nn.CrossEntropyLoss()
    batch, n = recipe["batch_size"], train_x.shape[0]

    history = []
    for epoch in range(epochs):
        for group in optim.param_groups:
            group["lr"] = common.learning_rate(recipe, epoch)
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
        history.append({"epoch": epoch + 1, "seconds": seconds, "images_per_second": n / seconds,
                        "train_loss": train_loss, "train_accuracy": train_acc, "test_accuracy": acc})
        print(f"torch {args.stage} epoch {epoch + 1:>2}/{epochs}: loss {train_loss:.4f} acc {train_acc:.4f}"
              f" | test acc {acc:.4f} | {seconds:.2f} s, {n / seconds:.0f} img/s", flush=True)
    common.report("torch", args.stage, name, history, args.json_out)


if __name__ == "__main__":
    main()
