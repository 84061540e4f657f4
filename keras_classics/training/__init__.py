"""Training (TensorFlow): tf.distribute strategies, the papers' recipes, the training loop.

One run configuration (`config.RunConfig`, resolved once by `resolved.resolve_config`), one
custom step (`loop.Trainer`: a step under `strategy.run` inside a `tf.function`, serving every
strategy, because Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy`), one epoch
loop (`controller.Controller`) and its reporters. `run.train` is the job `scripts/train.py`
runs. Importing `keras_classics` does not import this package (it imports TensorFlow).
"""
