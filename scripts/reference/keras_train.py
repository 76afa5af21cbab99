#!/usr/bin/env python3
"""Trains one stage of the progression with Keras (tensorflow-cpu) on the CPU: the side-by-side
reference for the trainer's CPU timings (scripts/bench-train.sh runs both on the same machine, in
the same run). The stage comes from the trainer's own table and the conventions from common.py.

Per epoch: the training part's wall seconds, images/s and CPU utilisation (process CPU time /
wall time, so 2.0 is both of two cores busy), then the test accuracy (timed apart). Prints one
line per epoch, then common.report's line.
"""

import os
import sys
import time

import common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build(keras, net: dict):
    """The stage's network from the `net` field of the trainer's table; outputs logits."""
    layers = keras.layers
    model = keras.Sequential([keras.Input((28, 28, 1))])
    if "Dense" in net:
        cfg = net["Dense"]
        model.add(layers.Flatten())
        for hidden in cfg["hidden"]:
            model.add(layers.Dense(hidden, activation=cfg["activation"].lower()))
            if cfg.get("dropout"):
                model.add(layers.Dropout(cfg["dropout"]))
        model.add(layers.Dense(10))
        return model
    cfg = net["Conv"]
    bn = cfg["batch_norm"]

    def norm():
        return layers.BatchNormalization(
            momentum=1.0 - common.BATCH_NORM_NEW_BATCH_WEIGHT, epsilon=common.BATCH_NORM_EPSILON, scale=False
        )

    side = 28
    for conv in cfg["convs"]:
        common.same_padding(side, conv["kernel"], conv["stride"])  # refuses asymmetric padding
        model.add(layers.Conv2D(conv["filters"], conv["kernel"], conv["stride"], padding="same", use_bias=not bn))
        if bn:
            model.add(norm())
        model.add(layers.Activation("relu"))
        side = -(-side // conv["stride"])
    # NHWC here, NCHW in the trainer: the flatten order differs, the function does not.
    model.add(layers.Flatten())
    model.add(layers.Dense(cfg["dense"], use_bias=not bn))
    if bn:
        model.add(norm())
    model.add(layers.Activation("relu"))
    if cfg.get("dropout"):
        model.add(layers.Dropout(cfg["dropout"]))
    model.add(layers.Dense(10))
    return model


def main() -> None:
    args, stage, epochs = common.start(__doc__.split("\n\n")[0], "cpu")
    recipe = stage["recipe"]
    try:
        import numpy as np
        import tensorflow as tf
        from tensorflow import keras
    except ImportError:
        sys.exit("error: tensorflow is not installed; scripts/bench-train.sh makes .venv-keras with it")
    keras.utils.set_random_seed(args.seed)

    def split(prefix: str):
        images, shape, labels = common.mnist(args.data_dir, prefix)
        x = np.frombuffer(images, np.uint8).reshape(shape[0], 28, 28, 1).astype(np.float32) * common.PIXEL_SCALE
        return x, np.frombuffer(labels, np.uint8).astype(np.int64)

    train_x, train_y = split("train")
    test_x, test_y = split("t10k")
    model = build(keras, stage["net"])
    lr = common.learning_rate(recipe, 0)
    optimizer = (keras.optimizers.Adam(lr, epsilon=common.ADAM_EPSILON) if recipe["optimizer"] == "adam"
                 else keras.optimizers.SGD(lr))
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    n = len(train_x)
    history = []
    for epoch in range(epochs):
        optimizer.learning_rate.assign(common.learning_rate(recipe, epoch))
        wall, cpu = time.perf_counter(), time.process_time()
        fit = model.fit(train_x, train_y, batch_size=recipe["batch_size"], epochs=1, shuffle=True, verbose=0)
        seconds, cores = time.perf_counter() - wall, (time.process_time() - cpu) / (time.perf_counter() - wall)
        _, acc = model.evaluate(test_x, test_y, batch_size=1000, verbose=0)
        history.append({"epoch": epoch + 1, "seconds": seconds, "images_per_second": n / seconds,
                        "cpu_utilisation": cores, "train_loss": fit.history["loss"][0],
                        "train_accuracy": fit.history["accuracy"][0], "test_accuracy": acc})
        print(f"keras {args.stage} epoch {epoch + 1:>2}/{epochs}: loss {fit.history['loss'][0]:.4f} acc "
              f"{fit.history['accuracy'][0]:.4f} | test acc {acc:.4f} | {seconds:.1f} s, {n / seconds:.0f} img/s, "
              f"{cores:.2f} cores", flush=True)
    common.report("keras", args.stage, f"{tf.__version__} on {os.cpu_count()} CPUs", history, args.json_out)


if __name__ == "__main__":
    main()
