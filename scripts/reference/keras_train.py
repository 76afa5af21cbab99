#!/usr/bin/env python3
"""Trains one stage of the progression with Keras (tensorflow-cpu) on the CPU: the side-by-side
reference for the trainer's CPU timings (scripts/bench-train.sh runs both on the same machine, in
the same run). The stage comes from the trainer's own table and the conventions from common.py.

Per epoch: the training part's wall seconds, images/s and CPU utilisation (process CPU time /
wall time, so 2.0 is both of two cores busy), then the test accuracy (timed apart). Prints one
line per epoch, then common.report's line.

Timed as the trainer times itself: one `model.fit` over all epochs (the data adapter is built
once, as the trainer uploads its data once before its epochs), each epoch from its first batch's
start to its last batch's end; the learning rate set per epoch by a callback, the test accuracy
from fit's validation pass after the timed part. TensorFlow's intra- and inter-op thread pools
are set to `--threads` (default: every core), as bench-train.sh sets the trainer's.
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
    threads = int(os.environ.get("BENCH_THREADS", os.cpu_count()))
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)

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

    class EpochTimer(keras.callbacks.Callback):
        """Wall and CPU time from an epoch's first batch to its last; the line after validation."""

        def on_epoch_begin(self, epoch, logs=None):
            optimizer.learning_rate.assign(common.learning_rate(recipe, epoch))
            self.start = (time.perf_counter(), time.process_time())

        def on_train_batch_end(self, batch, logs=None):
            self.end = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            seconds = self.end[0] - self.start[0]
            cores = (self.end[1] - self.start[1]) / seconds
            loss, acc, test_acc = logs["loss"], logs["accuracy"], logs["val_accuracy"]
            history.append({"epoch": epoch + 1, "seconds": seconds, "images_per_second": n / seconds,
                            "cpu_utilisation": cores, "train_loss": loss, "train_accuracy": acc,
                            "test_accuracy": test_acc})
            print(f"keras {args.stage} epoch {epoch + 1:>2}/{epochs}: loss {loss:.4f} acc {acc:.4f} | "
                  f"test acc {test_acc:.4f} | {seconds:.1f} s, {n / seconds:.0f} img/s, {cores:.2f} cores",
                  flush=True)

    model.fit(train_x, train_y, batch_size=recipe["batch_size"], epochs=epochs, shuffle=True, verbose=0,
              validation_data=(test_x, test_y), validation_batch_size=1000, callbacks=[EpochTimer()])
    print(f"keras threads: {threads} intra-op, {threads} inter-op", flush=True)
    common.report("keras", args.stage, f"{tf.__version__} on {os.cpu_count()} CPUs", history, args.json_out)


if __name__ == "__main__":
    main()
