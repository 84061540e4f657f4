"""Classify images with an exported model: through TF Serving (REST or gRPC), or locally.

python scripts/predict.py cat.jpg dog.png --model-name resnet50                  # REST, instances
python scripts/predict.py cat.jpg --model-name resnet50 --format inputs          # REST, columnar
python scripts/predict.py cat.jpg --model-name resnet50 --protocol grpc          # gRPC, port 8500
python scripts/predict.py cat.jpg --model-name resnet50 --label stable   # a version label
python scripts/predict.py cat.jpg --saved-model models/resnet50 --version 2   # no server
python scripts/predict.py cat.jpg --keras-model runs/resnet20_digits/model.keras  # Keras, local

With --saved-model, the export's bytes signature runs in this process (tf.saved_model.load: a
SavedModel is a program, load only trusted ones). With --keras-model, the images are
preprocessed as the model's own record says (a preset's weights, a training run's model.keras)
and named with its class names.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines off

import json
import sys
from pathlib import Path

from keras_classics.cli import ArgumentParser, positive_int, run_script
from keras_classics.export import client, client_grpc, client_rest, spec


def predict_with_record(
    path: str, images: list[tuple[str, bytes]], top_k: int | None
) -> list[list[tuple]]:
    """The top-k (index, name, score) of each encoded image (file name, bytes) by the
    `.keras` model at `path`, preprocessed as the exported bytes signature would (its record);
    `top_k` None: 5, or every class when there are fewer."""
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_classics as kc
    from keras_classics.cli import useful_line
    from keras_classics.data.evaluation import preprocess_encoded

    if not (Path(path).is_file() and path.endswith(".keras")):
        raise ValueError(f"--keras-model {path!r} is not a .keras file (as train.py writes)")
    model = keras.saving.load_model(path, safe_mode=True)
    record = kc.model_record(model)
    if record is None:
        raise ValueError(
            f"{path} carries no preprocessing record (a bare builder's model): export it with "
            "explicit flags (scripts/export.py) and use --saved-model"
        )
    views = []
    for name, image in images:
        try:
            views.append(preprocess_encoded(image, record))
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"{name}: {useful_line(error.message)}") from None
    probabilities = model.predict_on_batch(np.stack(views))
    top_k = min(spec.DEFAULT_TOP_K, probabilities.shape[-1]) if top_k is None else top_k
    return kc.decode_predictions(probabilities, top=top_k, preset_or_model=record)


def predict_with_saved_model(
    path: str, version: int | None, signature: str, images: list[bytes]
) -> dict:
    """The outputs of the export's bytes signature `signature` on `images`, as NumPy arrays."""
    import tensorflow as tf

    from keras_classics.export.describe import resolve_saved_model

    directory = resolve_saved_model(path, version)
    signatures = tf.saved_model.load(str(directory)).signatures
    takes_bytes = [
        n for n, f in signatures.items() if spec.INPUT_BYTES in f.structured_input_signature[1]
    ]
    if signature not in takes_bytes:
        raise ValueError(
            f"--signature {signature!r}: {directory} has no such signature taking image bytes; "
            f"choose one of {sorted(takes_bytes)}"
        )
    outputs = signatures[signature](**{spec.INPUT_BYTES: tf.constant(images, tf.string)})
    return {name: value.numpy() for name, value in outputs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="JPEG / PNG / GIF / BMP files")
    parser.add_argument("--model-name", default="model", help="the model's name in TF Serving")
    parser.add_argument("--version", type=int, help="a specific version (default: the newest)")
    parser.add_argument("--label", help="a version label of TF Serving (not with --version)")
    parser.add_argument("--protocol", default="rest", choices=client.PROTOCOLS)
    parser.add_argument("--format", default="instances", choices=client.REST_FORMATS)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int, default=8500)
    parser.add_argument("--signature", default=spec.SIGNATURE_BYTES)
    local = parser.add_mutually_exclusive_group()
    local.add_argument(
        "--saved-model",
        metavar="DIR",
        help="run this export's bytes signature locally, without a server (a version directory, "
        "or a base path: its newest version or --version)",
    )
    parser.add_argument("--show-body", action="store_true", help="print the REST request body")
    local.add_argument(
        "--keras-model",
        metavar="FILE",
        help="classify locally with this .keras file, preprocessed as its record says",
    )
    parser.add_argument(
        "--top-k",
        type=positive_int,
        help=f"with --keras-model (default {spec.DEFAULT_TOP_K}, or every class when fewer)",
    )
    args = parser.parse_args(argv)

    named = [(path, Path(path).read_bytes()) for path in args.images]
    if args.keras_model:
        server_options = {"--version": args.version, "--label": args.label}
        server_options["--protocol grpc"] = args.protocol == "grpc" or None
        given = [option for option, value in server_options.items() if value is not None]
        if given:
            raise ValueError(f"--keras-model classifies locally: drop {', '.join(given)}")
        labels = predict_with_record(args.keras_model, named, args.top_k)
        for path, row in zip(args.images, labels, strict=True):
            print(f"{path}: " + ", ".join(f"{name} ({score:.4f})" for _, name, score in row))
        return
    images = [image for _, image in named]
    if args.saved_model and (args.protocol == "grpc" or args.label is not None):
        raise ValueError(
            "--saved-model runs the export locally: use it with --protocol rest and no --label"
        )
    body = client.rest_body(images, request_format=args.format, signature_name=args.signature)
    if args.show_body and args.protocol == "rest":
        print(json.dumps(body))
    if args.saved_model:
        outputs = predict_with_saved_model(args.saved_model, args.version, args.signature, images)
    elif args.protocol == "grpc":
        request = client.bytes_predict_request(
            images,
            model_name=args.model_name,
            version=args.version,
            label=args.label,
            signature_name=args.signature,
        )
        outputs = client_grpc.predict(f"{args.host}:{args.grpc_port}", request)
    else:
        server = client_rest.RestClient(
            args.host, args.rest_port, args.model_name, args.version, args.label
        )
        outputs = client_rest.rest_outputs(server.predict(body))
    for path, labels in zip(args.images, client.top_k_labels(outputs), strict=True):
        print(f"{path}: " + ", ".join(f"{name} ({score:.4f})" for name, score in labels))


if __name__ == "__main__":
    sys.exit(run_script(main))
