"""Peak resident memory of decoding one huge image, each case in a fresh Python process.

python -m benchmarks.decode_memory                      # this checkout
python -m benchmarks.decode_memory --package-root DIR   # another one (e.g. `git archive BASE`)
python -m benchmarks.decode_memory --overhead           # time cost of reading EXIF

Makes a 12000 x 12000 JPEG (about 2 MB) and a `--png-side` square PNG (23000: PIL holds 2 GB
while writing it) once with PIL, exports a tiny model's serving signatures, then runs each case
in a new process with KC_MAX_IMAGE_PIXELS raised above the images: the evaluation preprocessing
(`preprocess_for_eval` at 224), the exported bytes signature with one and with two such JPEGs in
one request, and `from_folder(verify=True)` over the PNG. Each case prints its peak RSS
(`VmHWM`), the RSS after importing TensorFlow and loading its inputs (`before`), and its wall
time. There is no peer library here: the comparison is this checkout against another (the code
before the change).

`--overhead` times, in one process with interleaved rounds, what reading the EXIF orientation
adds to decoding an ImageNet-sized (500 x 375) JPEG without EXIF: `decode_image` against
`tf.io.decode_image`, and the training crop's `decode_jpeg_square` against
`tf.image.decode_and_crop_jpeg`, each over a tf.data map of `--images` copies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
LIMIT = 10**9  # KC_MAX_IMAGE_PIXELS for the cases: above every image here

PRELUDE = """
import json, sys, time
import tensorflow as tf
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) // 1024
"""
CASES = {
    "evaluation, 1 JPEG": """
import inspect
from keras_classics.data.evaluation import decode_image, preprocess_for_eval
data = tf.io.read_file(sys.argv[1])
scaled = "min_side" in inspect.signature(decode_image).parameters
run = lambda: str(preprocess_for_eval(
    decode_image(data, min_side=256) if scaled else decode_image(data), image_size=224).shape)
""",
    "serving bytes, 1 JPEG": """
signature = tf.saved_model.load(sys.argv[2]).signatures["serving_default"]
data = tf.constant([open(sys.argv[1], "rb").read()])
run = lambda: str(signature(image_bytes=data)["logits"].shape)
""",
    "serving bytes, 2 JPEGs in one request": """
signature = tf.saved_model.load(sys.argv[2]).signatures["serving_default"]
data = tf.constant([open(sys.argv[1], "rb").read()] * 2)
run = lambda: str(signature(image_bytes=data)["logits"].shape)
""",
    "from_folder(verify=True), 1 PNG": """
from keras_classics.data.sources import from_folder
run = lambda: str(from_folder(sys.argv[3], verify=True).sizes)
""",
}
MEASURE = """
before = rss("VmRSS")
start = time.perf_counter()
result = run()
print(json.dumps({"before_mb": before, "result": result, "peak_mb": rss("VmHWM"),
                  "seconds": round(time.perf_counter() - start, 1)}))
"""
EXPORT = """
import keras, sys
from keras_classics.export import export_saved_model
model = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.GlobalAveragePooling2D(),
                          keras.layers.Dense(3, activation="softmax", name="predictions")])
print(export_saved_model(model, sys.argv[1], class_names=["a", "b", "c"], warmup=False))
"""


def make_inputs(directory: Path, side: int, png_side: int) -> tuple[Path, Path]:
    """The JPEG, and an image folder holding the PNG and a small image of a second class."""
    jpeg = directory / "huge.jpg"
    Image.new("RGB", (side, side), (90, 120, 30)).save(jpeg, quality=50)
    folder = directory / "folder"
    for name in ("big", "small"):
        (folder / name).mkdir(parents=True)
    Image.new("RGB", (png_side, png_side), (90, 120, 30)).save(folder / "big" / "huge.png")
    Image.new("RGB", (8, 8), (90, 120, 30)).save(folder / "small" / "small.png")
    return jpeg, folder


def run_python(code: str, root: Path, *args: str) -> str:
    """`code` in a fresh interpreter importing keras_classics from `root`; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(root), "KC_MAX_IMAGE_PIXELS": str(LIMIT)}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=root,  # `python -c` puts the working directory first on sys.path
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"error: a case failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def exif_overhead(images: int, rounds: int) -> None:
    """Median time ratios (with their range) of decoding with and without the EXIF read."""
    import io
    import statistics
    import time

    import numpy as np
    import tensorflow as tf

    from keras_classics.data.decode import decode_image, decode_jpeg_square

    pixels = np.random.default_rng(0).integers(0, 256, (375, 500, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    data = tf.constant(buffer.getvalue())
    window = tf.constant([10, 20, 300, 300])
    pairs = {
        "decode_image / tf.io.decode_image": (
            lambda d: decode_image(d, min_side=256),
            lambda d: tf.io.decode_image(d, channels=3, expand_animations=False),
        ),
        "decode_jpeg_square / decode_and_crop_jpeg": (
            lambda d: decode_jpeg_square(d, 10, 20, 300),
            lambda d: tf.image.decode_and_crop_jpeg(d, window, channels=3),
        ),
    }
    for name, functions in pairs.items():
        ratios = []
        for _ in range(rounds + 1):  # the first round warms up: not counted
            seconds = []
            for function in functions:
                dataset = tf.data.Dataset.from_tensors(data).repeat(images + 1).map(function)
                iterator = iter(dataset)
                next(iterator)  # the steady state: the function is instantiated
                start = time.perf_counter()
                for _ in iterator:
                    pass
                seconds.append(time.perf_counter() - start)
            ratios.append(seconds[0] / seconds[1])
        ratios = ratios[1:]
        print(
            f"{name}: {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f}), {images} images x {rounds} rounds; "
            f"last round {1e3 * seconds[0] / images:.2f} vs "
            f"{1e3 * seconds[1] / images:.2f} ms/image"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-root", type=Path, default=REPO)
    parser.add_argument("--side", type=int, default=12000, help="the JPEG's side")
    parser.add_argument("--png-side", type=int, default=23000, help="the PNG's side")
    parser.add_argument("--overhead", action="store_true", help="time the EXIF read instead")
    parser.add_argument("--images", type=int, default=400, help="--overhead: images per round")
    parser.add_argument("--rounds", type=int, default=7, help="--overhead: rounds")
    args = parser.parse_args()
    if args.overhead:
        exif_overhead(args.images, args.rounds)
        return
    with tempfile.TemporaryDirectory() as scratch:
        jpeg, folder = make_inputs(Path(scratch), args.side, args.png_side)
        export = run_python(EXPORT, args.package_root, str(Path(scratch) / "export"))
        print(f"package: {args.package_root}; JPEG {args.side}^2 {jpeg.stat().st_size:,} bytes")
        print("| case | RSS before (MB) | peak RSS (MB) | time (s) | result |")
        print("|---|---|---|---|---|")
        for name, code in CASES.items():
            line = run_python(
                PRELUDE + code + MEASURE, args.package_root, str(jpeg), export, str(folder)
            )
            figures = json.loads(line)
            print(
                f"| {name} | {figures['before_mb']:,} | {figures['peak_mb']:,} | "
                f"{figures['seconds']} | {figures['result']} |"
            )


if __name__ == "__main__":
    main()
