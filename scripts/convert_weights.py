"""Convert a torchvision or keras.applications checkpoint into a keras_classics .weights.h5 file.

python scripts/convert_weights.py resnet50-0676ba61.pth resnet50_v1_5.weights.h5 \
    --model resnet50 --model-option stride_in_1x1=False
python scripts/convert_weights.py vgg16_weights_tf_dim_ordering_tf_kernels.h5 vgg16.weights.h5 \
    --model vgg16

The source is inferred from the suffix (.pth/.pt/.safetensors/.npz: a torchvision state dict;
.h5: keras.applications) unless --source names it. Load the result with
`get_model(NAME, weights="out.weights.h5", **options)`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import sys
import time

from keras_classics.cli import ArgumentParser, add_model_arguments, run_script
from keras_classics.registry import get_entry
from keras_classics.weights.convert import CONVERTERS, convert_file, converter_for


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_file", help="the checkpoint: .pth, .pt, .safetensors, .npz, .h5")
    parser.add_argument("output", help="the converted weights, a .weights.h5 file")
    add_model_arguments(parser)
    parser.add_argument("--source", choices=list(CONVERTERS), default=None)
    args = parser.parse_args(argv)
    if not args.output.endswith(".weights.h5"):
        parser.error(f"output {args.output!r} must end with .weights.h5")
    source = converter_for(args.source_file, args.source)

    start = time.perf_counter()
    try:
        model = get_entry(args.model).build(**dict(args.model_option))
        built = time.perf_counter()
        convert_file(args.source_file, model, source)
    except ValueError as error:
        raise ValueError(f"convert_weights.py: {error}") from error
    converted = time.perf_counter()
    model.save_weights(args.output)
    saved = time.perf_counter()
    print(
        f"{args.source_file} ({source}) -> {args.model} {dict(args.model_option)} -> "
        f"{args.output}\n{model.count_params():,} parameters; build {built - start:.2f} s, "
        f"convert {converted - built:.2f} s, save {saved - converted:.2f} s"
    )


if __name__ == "__main__":
    sys.exit(run_script(main))
