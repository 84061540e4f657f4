"""Training (TensorFlow): tf.distribute strategies, the papers' recipes, the training loop.

One custom loop (`loop.Trainer`: a step under `strategy.run` inside a `tf.function`) serves
every strategy, because Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy`.
`run.train` is the job `scripts/train.py` runs. Importing `keras_classics` does not import
this package (it imports TensorFlow).
"""
