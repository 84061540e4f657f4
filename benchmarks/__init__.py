"""Benchmarks of keras_classics (not part of the installed package): side by side with a peer,
in one process, interleaved rounds, a median ratio with its spread.

Run them from the repository root as modules:

    python -m benchmarks.models --pair resnet50       # our models vs keras.applications
    python -m benchmarks.data --images 512             # fused vs naive JPEG decoding and crop
    python -m benchmarks.training --config resnet20:32:128 --xla off   # the loop vs model.fit
    python -m benchmarks.export --model resnet50       # an export's bytes signature vs Keras
    python -m benchmarks.decode_memory                 # peak RSS of a 12000^2 JPEG (vs a base)
"""
