"""Default class names of an export: ImageNet's for 1000 classes, indices otherwise."""

from keras_classics.export.labels import default_class_names


def test_default_class_names():
    names = default_class_names(1000)
    assert len(names) == 1000 and names[0] == "tench" and len(set(names)) > 990
    assert default_class_names(3) == ["0", "1", "2"]
