"""Runs an exported ONNX model in a Python consumer and writes its probabilities, for the Rust
cross-checks to compare with the trainer (cross-check/src/lib.rs, `python_probabilities`).

Consumers:
  reference  onnx.reference.ReferenceEvaluator: the ONNX standard's own reference implementation
  opencv     OpenCV's DNN module (cv2.dnn.readNetFromONNX), from opencv-python-headless
  onnxruntime  ONNX Runtime's Python wheel, default session options (every graph optimisation,
             so the fused int8 kernels): the Rust side runs it under QEMU's x86-64 user-mode
             emulator to check the kernels a CPU without AVX-512 gets (cross-check/src/lib.rs)

The first line printed names the x86 instruction-set extensions that the CPU it runs on reports
(numpy's own CPUID probe, the kind ONNX Runtime makes to pick its kernels), e.g.
`cpu features: AVX AVX2 FMA3`, so that the caller can tell which CPU the consumer saw.

Usage: python cross-check/python/run_onnx.py RUNTIME MODEL.onnx PIXELS.f32 PROBABILITIES.f32
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


def onnxruntime(path: str, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.concatenate(
        [session.run(["probabilities"], {"image": images[i : i + BATCH]})[0] for i in range(0, len(images), BATCH)]
    )


RUNTIMES = {"reference": reference, "opencv": opencv, "onnxruntime": onnxruntime}

# The extensions that decide which int8 and float kernels an x86 runtime picks.
X86_FEATURES = ["AVX", "AVX2", "FMA3", "AVX512F", "AVX512BW", "AVX512VNNI"]


def cpu_features() -> str:
    detected = np._core._multiarray_umath.__cpu_features__
    return " ".join(name for name in X86_FEATURES if detected.get(name, False))


def main() -> int:
    if len(sys.argv) != 5 or sys.argv[1] not in RUNTIMES:
        print(f"usage: run_onnx.py {{{','.join(RUNTIMES)}}} MODEL.onnx PIXELS.f32 OUT.f32", file=sys.stderr)
        return 2
    runtime, model, pixels, out = sys.argv[1:]
    print(f"cpu features: {cpu_features()}", flush=True)
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
