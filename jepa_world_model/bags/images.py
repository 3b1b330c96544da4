"""Decode image messages read by rosbags into RGB arrays, and resize them for the model.

rosbags deserializes ``sensor_msgs/msg/Image`` and ``CompressedImage`` into plain dataclasses
(``data`` is a numpy uint8 array), so this works without ROS. ``jepa_world_model.ros`` has a
fuller converter, but it imports ``sensor_msgs`` and this package must run without ROS.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ['ImageDecodeError', 'IMAGE_TYPES', 'decode_image', 'resize_square']

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
# encoding -> (channels, bytes per channel, source channel of R, G, B)
_ENCODINGS = {
    'rgb8': (3, 1, [0, 1, 2]),
    'bgr8': (3, 1, [2, 1, 0]),
    'rgba8': (4, 1, [0, 1, 2]),
    'bgra8': (4, 1, [2, 1, 0]),
    'mono8': (1, 1, [0, 0, 0]),
    'mono16': (1, 2, [0, 0, 0]),
}


class ImageDecodeError(ValueError):
    """One image message cannot be turned into an RGB array (the reader skips and counts it)."""


def decode_image(msg: Any, msgtype: str) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a deserialized Image or CompressedImage message.

    Raw images: rgb8, bgr8, rgba8, bgra8, mono8 and mono16 (16-bit keeps the high byte, a
    fixed scaling so brightness does not flicker between frames); row padding is skipped.
    Compressed images: anything OpenCV decodes (JPEG, PNG).

    Raises:
        ImageDecodeError: Unknown encoding, inconsistent sizes, or undecodable data.
    """
    if msgtype == 'sensor_msgs/msg/CompressedImage':
        return _decode_compressed(msg)
    encoding = str(msg.encoding).strip().lower()
    if encoding not in _ENCODINGS:
        raise ImageDecodeError(f'unsupported encoding {msg.encoding!r} '
                               f'(supported: {", ".join(_ENCODINGS)})')
    channels, depth, order = _ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row = width * channels * depth
    if height <= 0 or width <= 0 or step < row:
        raise ImageDecodeError(f'bad image geometry {width}x{height} step {step} ({encoding})')
    data = np.asarray(msg.data, dtype=np.uint8).reshape(-1)
    if data.size < step * height:
        raise ImageDecodeError(f'image data has {data.size} bytes, {width}x{height} {encoding} '
                               f'with step {step} needs {step * height}')
    rows = data[:step * height].reshape(height, step)[:, :row]
    if depth == 2:
        wide = np.ascontiguousarray(rows).view('>u2' if msg.is_bigendian else '<u2')
        pixels = (wide >> 8).astype(np.uint8).reshape(height, width, 1)
    else:
        pixels = rows.reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, order])


def _decode_compressed(msg: Any) -> np.ndarray:
    data = np.asarray(msg.data, dtype=np.uint8).reshape(-1)
    if data.size == 0:
        raise ImageDecodeError(f'compressed image (format {msg.format!r}) has no data')
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f'cannot decode compressed image ({msg.format!r}): {exc}') from exc
    if bgr is None:
        raise ImageDecodeError(f'cannot decode compressed image ({msg.format!r}, '
                               f'{data.size} bytes)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resize_square(rgb: np.ndarray, size: int, mode: str = 'center_crop') -> np.ndarray:
    """Square ``size`` x ``size`` image: crop the centred square first, or stretch.

    Returns the input unchanged (no copy) when it already has the size, so recorded frames
    at the model's resolution round-trip bit for bit.
    """
    if mode not in ('center_crop', 'stretch'):
        raise ValueError(f"resize mode must be 'center_crop' or 'stretch', got {mode!r}")
    h, w = rgb.shape[:2]
    if (h, w) == (size, size):
        return rgb
    if mode == 'center_crop':
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        rgb = np.ascontiguousarray(rgb[top:top + side, left:left + side])
    # INTER_AREA averages source pixels when shrinking, so small moving parts do not alias.
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
