"""Export a model for TF Serving: a versioned SavedModel with tensor, image-bytes and classify
signatures and warm-up requests (docs/serving.md).

python scripts/export.py --model resnet50 --weights r50.weights.h5 --export-base models/r50
python scripts/export.py --keras-model trained.keras --export-base models/mine --version 3
python scripts/export.py --model resnet20 --normalization cifar10 --resize-size 32 \
    --export-base models/resnet20
"""

from __future__ import annotations

import argparse

import keras

import keras_classics  # noqa: F401 (registers the custom layers for .keras files)
from keras_classics.cli import add_model_arguments
from keras_classics.export import export_saved_model, read_class_names, spec
from keras_classics.export.describe import describe_signatures
from keras_classics.models.common import load_weights
from keras_classics.normalization import NORMALIZATIONS
from keras_classics.registry import get_entry


def build_model(args: argparse.Namespace) -> keras.Model:
    """The registry model (with its options and weights) or the `.keras` file."""
    if args.keras_model is None:
        return get_entry(args.model).build(**dict(args.model_option), weights=args.weights)
    if args.model_option:
        raise SystemExit("--model-option applies to --model, not to --keras-model")
    model = keras.saving.load_model(args.keras_model)
    return load_weights(model, args.weights)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument("--keras-model", help="a saved .keras model instead of --model")
    parser.add_argument("--weights", help="a .weights.h5 / .keras file to load into the model")
    parser.add_argument("--export-base", required=True, help="TF Serving's model base path")
    parser.add_argument("--version", type=int, help="integer version (default: the next one)")
    parser.add_argument("--top-k", type=int, default=spec.DEFAULT_TOP_K)
    parser.add_argument("--image-size", type=int, help="served crop (default: model input)")
    parser.add_argument("--resize-size", type=int, help="shorter side before the centre crop")
    parser.add_argument("--normalization", default="mean", choices=list(NORMALIZATIONS))
    parser.add_argument("--class-names", help="a text file with one class name per line")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up requests")
    args = parser.parse_args(argv)

    model = build_model(args)
    version_dir = export_saved_model(
        model,
        args.export_base,
        class_names=read_class_names(args.class_names) if args.class_names else None,
        normalization=args.normalization,
        image_size=args.image_size,
        resize_size=args.resize_size,
        version=args.version,
        top_k=args.top_k,
        warmup=not args.no_warmup,
    )
    print(f"exported {model.name} to {version_dir}")
    print(describe_signatures(version_dir))


if __name__ == "__main__":
    main()
