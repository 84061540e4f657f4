"""The `data_format` argument of the custom layers, checked in one place."""

from __future__ import annotations

import keras

DATA_FORMATS = ("channels_last", "channels_first")


def resolve_data_format(data_format: str | None) -> tuple[str, int]:
    """(data format, channel axis); None means `keras.config.image_data_format()`."""
    data_format = data_format or keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"data_format={data_format!r} is not valid; choose one of {list(DATA_FORMATS)}"
        )
    return data_format, (-1 if data_format == "channels_last" else 1)
