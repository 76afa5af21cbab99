"""Validates exported ONNX files: the full checker, strict shape inference, and the declared
input/output contract. Exits non-zero, naming the file, on the first problem.

Usage: python cross-check/python/check_onnx.py models/*.onnx
"""
import sys

import onnx
from onnx import shape_inference


def check(path: str) -> None:
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = shape_inference.infer_shapes(model, strict_mode=True, check_type=True, data_prop=True)
    if model.ir_version != 8:
        raise ValueError(f"IR version {model.ir_version}, expected 8")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", None) != 17:
        raise ValueError(f"opset {opsets}, expected 17")
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    inputs = {i.name: dims(i) for i in inferred.graph.input}
    outputs = {o.name: dims(o) for o in inferred.graph.output}
    if inputs != {"image": ["N", 1, 28, 28]}:
        raise ValueError(f"inputs {inputs}")
    if outputs.get("probabilities") != ["N", 10] or outputs.get("logits") != ["N", 10]:
        raise ValueError(f"outputs {outputs}")
    ops = {n.op_type for n in model.graph.node}
    if "Dropout" in ops:
        raise ValueError("Dropout in an inference graph")
    meta = {p.key for p in model.metadata_props}
    missing = {"stage", "test_accuracy", "normalisation", "training_command", "project_version"} - meta
    if missing:
        raise ValueError(f"metadata_props lacks {sorted(missing)}")


def main() -> int:
    paths = sys.argv[1:]
    if not paths:
        print("usage: check_onnx.py FILE.onnx...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            check(path)
        except Exception as e:  # report which file failed, then stop
            print(f"{path}: {e}", file=sys.stderr)
            return 1
        print(f"{path}: ok (checker full_check, strict shape inference, contract)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
