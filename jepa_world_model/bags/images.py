"""Decode image messages read by rosbags into RGB arrays, and resize them for the model.

rosbags deserializes ``sensor_msgs/msg/Image`` and ``CompressedImage`` into plain dataclasses
(``data`` is a numpy uint8 array), so this works without ROS. The decoding itself is
:mod:`jepa_world_model.image_decoding`, which ``jepa_world_model.ros``'s converter (it
imports ``sensor_msgs``, which this package must not) uses too.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..image_decoding import center_square, compressed_to_rgb, RAW_ENCODINGS, raw_to_rgb

__all__ = ['ImageDecodeError', 'IMAGE_TYPES', 'decode_image', 'resize_square']

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


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
    data = np.asarray(msg.data, dtype=np.uint8).reshape(-1)
    if msgtype == 'sensor_msgs/msg/CompressedImage':
        return compressed_to_rgb(data, f'compressed image (format {msg.format!r})',
                                 ImageDecodeError)
    encoding = str(msg.encoding).strip().lower()
    if encoding not in RAW_ENCODINGS:
        raise ImageDecodeError(f'unsupported encoding {msg.encoding!r} '
                               f'(supported: {", ".join(RAW_ENCODINGS)})')
    return raw_to_rgb(data, msg.height, msg.width, msg.step, encoding, msg.is_bigendian,
                      ImageDecodeError)


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
        rgb = np.ascontiguousarray(center_square(rgb))
    # INTER_AREA averages source pixels when shrinking, so small moving parts do not alias.
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
