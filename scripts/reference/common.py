"""What the reference trainers in other frameworks (torch_train.py, keras_train.py) share: the
stage read from the trainer's own table (`trainer stages --json`), MNIST read from the IDX files,
the conventions the table does not spell out, and the per-epoch report.

The conventions, as the trainer has them (trainer/src/model.rs, train.rs, data.rs): pixels / 256;
Glorot-uniform kernels and zero biases; TF "same" padding (symmetric for every stage's conv);
batch norm with epsilon 1e-3, new-batch weight 0.01 (Keras momentum 0.99) and gamma frozen at 1
(Keras scale=False); Adam with epsilon 1e-7; one learning rate per epoch, initial * decay^epoch.
"""

import argparse
import gzip
import json
import math
import statistics
import struct
import sys
from pathlib import Path

PIXEL_SCALE = 1.0 / 256.0
BATCH_NORM_NEW_BATCH_WEIGHT = 0.01
BATCH_NORM_EPSILON = 1e-3
ADAM_EPSILON = 1e-7


def arguments(description: str, default_device: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--stages-json", type=Path, required=True, help="output of `trainer stages --json`")
    ap.add_argument("--stage", default="cnn-bn")
    ap.add_argument("--data-dir", type=Path, default=Path("data/mnist"))
    ap.add_argument("--epochs", type=int, help="default: the recipe's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=default_device)
    ap.add_argument("--json-out", type=Path, help="write the per-epoch figures here")
    return ap.parse_args()


def start(description: str, default_device: str):
    """The command line, the stage it names (from the trainer's table) and the epochs to run."""
    args = arguments(description, default_device)
    chosen = stage(args.stages_json, args.stage)
    return args, chosen, args.epochs or chosen["recipe"]["epochs"]


def stage(stages_json: Path, name: str) -> dict:
    stages = {s["name"]: s for s in json.loads(stages_json.read_text())}
    if name not in stages:
        sys.exit(f"error: unknown stage {name}; stages are: {', '.join(stages)}")
    if stages[name]["recipe"].get("redrawn"):
        sys.exit(f"error: {name} trains on digits redrawn as finger strokes (redraw/), which the "
                 "reference scripts do not mirror; pick a codelab stage")
    if stages[name]["recipe"].get("augment"):
        # Training it without the distortions would be another recipe under the same name.
        sys.exit(f"error: {name} trains on distorted digits (trainer/src/augment.rs), which the "
                 "reference scripts do not mirror; pick a codelab stage")
    return stages[name]


def learning_rate(recipe: dict, epoch: int) -> float:
    return recipe["schedule"]["initial"] * recipe["schedule"]["decay"] ** epoch


def read_idx(path: Path):
    """The shape and payload of an IDX file (gzip or raw), after checking its magic and size."""
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


def mnist(data_dir: Path, split: str):
    """(images as bytes, [n, 28, 28] shape, labels as bytes) of `train` or `t10k`."""

    def find(stem: str) -> Path:
        for name in (stem + ".gz", stem):
            if (data_dir / name).is_file():
                return data_dir / name
        sys.exit(f"error: {data_dir / stem}(.gz) not found; pass --data-dir with the four MNIST IDX files")

    shape, images = read_idx(find(f"{split}-images-idx3-ubyte"))
    _, labels = read_idx(find(f"{split}-labels-idx1-ubyte"))
    return images, shape, labels


def same_padding(side: int, kernel: int, stride: int) -> int:
    out = -(-side // stride)
    total = max((out - 1) * stride + kernel - side, 0)
    if total % 2:
        sys.exit(f"error: kernel {kernel} stride {stride} on {side} needs asymmetric padding")
    return total // 2


def report(framework: str, name: str, device: str, history: list, json_out) -> None:
    """Writes the JSON figures and prints the last line scripts read:
    `<framework>: <stage> first <s> s, steady <s> s/epoch, test accuracy <acc>, device <name>`."""
    first = history[0]["seconds"]
    steady = statistics.median(h["seconds"] for h in history[1:]) if len(history) > 1 else first
    if json_out:
        json_out.write_text(json.dumps({"framework": framework, "stage": name, "device": device,
                                        "epochs": history, "first_epoch_seconds": first,
                                        "steady_epoch_seconds": steady}, indent=2))
    print(f"{framework}: {name} first {first:.2f} s, steady {steady:.2f} s/epoch, "
          f"test accuracy {history[-1]['test_accuracy']:.4f}, device {device}", flush=True)
