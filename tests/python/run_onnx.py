"""Runs an exported ONNX model in a Python consumer and writes its probabilities, for the Rust
cross-checks to compare with the trainer (tests/src/lib.rs, `python_probabilities`).

Consumers:
  reference  onnx.reference.ReferenceEvaluator: the ONNX standard's own reference implementation
  opencv     OpenCV's DNN module (cv2.dnn.readNetFromONNX), from opencv-python-headless

Usage: python tests/python/run_onnx.py RUNTIME MODEL.onnx PIXELS.f32 PROBABILITIES.f32
PIXELS.f32 holds the model inputs, `[n, 1, 28, 28]` little-endian f32 (already scaled, written by
the Rust side so that the scaling is defined once); the output is `[n, 10]` little-endian f32.
"""
import sys

import numpy as np

BATCH = 1000


def reference(path: str, images: np.ndarray) -> np.ndarray:
    import onnx
    from onnx.reference import ReferenceEvaluator

    session = ReferenceEvaluator(onnx.load(path))
    return np.concatenate(
        [session.run(["probabilities"], {"image": images[i : i + BATCH]})[0] for i in range(0, len(images), BATCH)]
    )


def opencv(path: str, images: np.ndarray) -> np.ndarray:
    import cv2

    net = cv2.dnn.readNetFromONNX(path)
    # OpenCV computes every graph output at once and refuses a request for fewer.
    names = list(net.getUnconnectedOutLayersNames())
    if "probabilities" not in names:
        raise ValueError(f"OpenCV sees outputs {names}, not 'probabilities'")
    out = []
    for i in range(0, len(images), BATCH):
        net.setInput(images[i : i + BATCH], "image")
        out.append(net.forward(names)[names.index("probabilities")])
    return np.concatenate(out)


RUNTIMES = {"reference": reference, "opencv": opencv}


def main() -> int:
    if len(sys.argv) != 5 or sys.argv[1] not in RUNTIMES:
        print(f"usage: run_onnx.py {{{','.join(RUNTIMES)}}} MODEL.onnx PIXELS.f32 OUT.f32", file=sys.stderr)
        return 2
    runtime, model, pixels, out = sys.argv[1:]
    images = np.fromfile(pixels, dtype="<f4")
    if images.size == 0 or images.size % (28 * 28):
        print(f"{pixels}: {images.size} values, not a whole number of 28x28 images", file=sys.stderr)
        return 1
    try:
        probabilities = RUNTIMES[runtime](model, images.reshape(-1, 1, 28, 28))
    except ImportError as e:
        print(f"{runtime}: {e}; run scripts/python-env.sh", file=sys.stderr)
        return 1
    except Exception as e:  # name the file and the consumer, then fail
        print(f"{runtime} on {model}: {e}", file=sys.stderr)
        return 1
    probabilities.astype("<f4").tofile(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
