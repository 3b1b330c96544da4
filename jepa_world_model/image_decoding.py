"""Image bytes to RGB arrays: the decoding the bag reader and the ROS converters share.

numpy and OpenCV only, no message classes: :mod:`jepa_world_model.bags.images` decodes the
plain dataclasses rosbags deserializes, without ROS, and
:mod:`jepa_world_model.ros.common.image_conversion` the ``sensor_msgs`` messages of a live
topic; both pass the fields here. Each names the error type its callers catch (``error``,
a :class:`ValueError` subclass), and every problem raises it with the sizes involved.
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Type

import cv2
import numpy as np

__all__ = ['RAW_ENCODINGS', 'raw_to_rgb', 'compressed_to_rgb', 'center_square']

#: Raw encodings decoded here: encoding -> (channels, bytes per channel, source channel of
#: R, G, B).
RAW_ENCODINGS: Dict[str, Tuple[int, int, List[int]]] = {
    'rgb8': (3, 1, [0, 1, 2]),
    'bgr8': (3, 1, [2, 1, 0]),
    'rgba8': (4, 1, [0, 1, 2]),
    'bgra8': (4, 1, [2, 1, 0]),
    'mono8': (1, 1, [0, 0, 0]),
    'mono16': (1, 2, [0, 0, 0]),
}


def raw_to_rgb(data: np.ndarray, height: int, width: int, step: int, encoding: str,
               bigendian: bool, error: Type[ValueError] = ValueError) -> np.ndarray:
    """RGB uint8 [height, width, 3], a new C-contiguous array, from raw image rows.

    Row padding (``step`` above the packed row size) is skipped. ``mono16`` follows
    ``bigendian`` and keeps the high byte (``v >> 8``): a fixed scaling of the 16-bit range,
    not a per-image normalisation, so brightness does not flicker between frames. Grey is
    replicated into three channels; alpha is dropped.

    Args:
        data: [N] uint8, the message's bytes (at least ``step * height``).
        height, width, step: The message's geometry (``step``: bytes per row).
        encoding: A key of :data:`RAW_ENCODINGS` (lower case).
        bigendian: Byte order of 16-bit encodings.
        error: What to raise.

    Raises:
        error: Zero width or height, ``step`` below a packed row, or too little data.
    """
    channels, depth, order = RAW_ENCODINGS[encoding]
    height, width, step = int(height), int(width), int(step)
    if height <= 0 or width <= 0:
        raise error(f"image has zero size: width={width}, height={height} "
                    f"(encoding '{encoding}')")
    row_bytes = width * channels * depth
    if step < row_bytes:
        raise error(f"step {step} is smaller than one packed row of {row_bytes} bytes "
                    f"(width={width} x {channels} channel(s) x {depth} byte(s), "
                    f"encoding '{encoding}')")
    needed = step * height
    if data.size < needed:
        raise error(f'image data too short: {data.size} bytes < step {step} x height '
                    f"{height} = {needed} (width={width}, encoding '{encoding}')")
    rows = data[:needed].reshape(height, step)[:, :row_bytes]
    if depth == 2:
        wide = np.ascontiguousarray(rows).view('>u2' if bigendian else '<u2')
        pixels = (wide >> 8).astype(np.uint8).reshape(height, width, 1)
    else:
        pixels = rows.reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, order])   # fancy indexing copies


def compressed_to_rgb(data: np.ndarray, what: str,
                      error: Type[ValueError] = ValueError) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a compressed stream OpenCV decodes (JPEG, PNG).

    Grey or alpha images come out with three channels; 16-bit PNGs are reduced to 8 bits.

    Args:
        data: [N] uint8, the compressed bytes.
        what: What the stream is, for error messages (e.g. its format).
        error: What to raise.

    Raises:
        error: No data, or data OpenCV cannot decode.
    """
    if data.size == 0:
        raise error(f'{what} has no data')
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise error(f'could not decode {what} ({data.size} bytes): {exc}') from exc
    if bgr is None or bgr.size == 0:
        raise error(f'could not decode {what} ({data.size} bytes): corrupt or unsupported '
                    'data')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def center_square(image: np.ndarray) -> np.ndarray:
    """The centred [S, S, ...] square of ``image`` [H, W, ...], S = min(H, W) (a view)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]
