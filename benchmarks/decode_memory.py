"""Peak resident memory of decoding one huge image, each case in a fresh Python process.

python -m benchmarks.decode_memory                      # this checkout
python -m benchmarks.decode_memory --package-root DIR   # another one (e.g. `git archive BASE`)

Makes a 12000 x 12000 JPEG (about 2 MB) and a `--png-side` square PNG once with PIL, exports a
tiny model's serving signatures, then runs each case in a new process with KC_MAX_IMAGE_PIXELS
raised above the images: the evaluation preprocessing (`preprocess_for_eval` at 224), the
exported bytes signature with one and with two such JPEGs in one request, and
`from_folder(verify=True)` over the PNG. Each case prints its peak RSS (`VmHWM`), the RSS after
importing TensorFlow and loading its inputs (`before`), and its wall time. There is no peer
library here: the comparison is this checkout against another (the code before the change).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-root", type=Path, default=REPO)
    parser.add_argument("--side", type=int, default=12000, help="the JPEG's side")
    parser.add_argument("--png-side", type=int, default=12000, help="the PNG's side")
    args = parser.parse_args()
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
