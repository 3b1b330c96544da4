"""Conversions between ``sensor_msgs`` image messages and numpy RGB arrays.

The default path is a self-contained numpy + OpenCV converter that handles the
encodings a robot camera normally publishes (``rgb8``, ``bgr8``, ``rgba8``,
``bgra8``, ``mono8`` and ``mono16``). If ``cv_bridge`` is importable (it comes
with a system ROS 2 install) it is used only as a fallback for encodings this
module does not know, e.g. Bayer or YUV; it is never required.

All functions return freshly allocated, C-contiguous ``uint8`` arrays in RGB
channel order with shape ``(H, W, 3)``; they never return views into message
buffers. Problems with a message raise :class:`ImageConversionError`, a
:class:`ValueError`, with a message naming the encoding and the sizes involved.

Size limits: a small compressed stream can declare a huge image (a 140 KB PNG of
12000 x 12000 pixels decodes to 430 MB and stalls for seconds), so the size a PNG or JPEG
stream declares is read from its header (:func:`compressed_image_size`) and checked
against ``max_pixels`` before anything is decoded; :func:`check_image_pixels` does the same
for a raw ``Image``'s width x height. Too large raises :class:`ImageTooLargeError`.
"""

from typing import Any, Optional, Tuple

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ...image_decoding import center_square, compressed_to_rgb, RAW_ENCODINGS, raw_to_rgb
from .image_headers import declared_size

try:  # Optional: only present with a system ROS 2 install.
    from cv_bridge import CvBridge as _CvBridge
    from cv_bridge import CvBridgeError as _CvBridgeError
except ImportError:  # pragma: no cover - depends on the environment
    _CvBridge = None
    _CvBridgeError = TypeError

__all__ = ['ImageConversionError', 'ImageTooLargeError', 'SUPPORTED_ENCODINGS',
           'image_msg_to_rgb', 'compressed_msg_to_rgb', 'compressed_image_size',
           'check_image_pixels', 'check_message_pixels', 'rgb_to_image_msg',
           'rgb_to_compressed_msg', 'resize_for_model']


class ImageConversionError(ValueError):
    """Raised when an image message cannot be converted to or from an array."""


class ImageTooLargeError(ImageConversionError):
    """Raised when an image has (or a compressed stream declares) more pixels than allowed."""


SUPPORTED_ENCODINGS = tuple(RAW_ENCODINGS)
# OpenCV conversion from RGB for each encoding other than rgb8.
_FROM_RGB = {'bgr8': cv2.COLOR_RGB2BGR, 'rgba8': cv2.COLOR_RGB2RGBA,
             'bgra8': cv2.COLOR_RGB2BGRA, 'mono8': cv2.COLOR_RGB2GRAY,
             'mono16': cv2.COLOR_RGB2GRAY}

_bridge: Optional[Any] = None  # CvBridge instance, created on first use


def _as_uint8_buffer(data: Any, what: str) -> np.ndarray:
    """View message data (bytes, array.array, list, ndarray) as flat uint8."""
    try:
        if isinstance(data, np.ndarray) and data.dtype == np.uint8:
            return data.reshape(-1)
        if isinstance(data, (list, tuple, np.ndarray)):
            values = np.asarray(data).reshape(-1)
            if values.size and (values.dtype.kind not in 'iub' or values.min() < 0
                                or values.max() > 255):
                raise ValueError('values are not all integers in 0..255')
            return values.astype(np.uint8)
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ImageConversionError(
            f'{what}: data of type {type(data).__name__} is not a byte buffer ({exc})') from exc


def _check_rgb(rgb: Any, func: str) -> np.ndarray:
    """Validate an HxWx3 uint8 RGB array and return it as an ndarray."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageConversionError(f'{func}: expected a non-empty HxWx3 array, got '
                                   f'shape {arr.shape}')
    if arr.dtype != np.uint8:
        raise ImageConversionError(f'{func}: expected dtype uint8, got {arr.dtype}')
    return arr


def _convert_with_bridge(msg: Image, encoding: str) -> np.ndarray:
    """Convert an encoding we do not handle ourselves through cv_bridge, if present."""
    global _bridge
    if _CvBridge is None:
        raise ImageConversionError(
            f"unsupported image encoding '{encoding}' (supported: "
            f"{', '.join(SUPPORTED_ENCODINGS)}; cv_bridge is not installed)")
    if _bridge is None:
        _bridge = _CvBridge()
    try:
        out = _bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8')
    except (_CvBridgeError, cv2.error, TypeError, ValueError) as exc:
        raise ImageConversionError(
            f"cv_bridge could not convert image encoding '{encoding}': {exc}") from exc
    return _check_rgb(np.array(out, dtype=np.uint8, copy=True), 'cv_bridge')


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to an RGB array.

    Row padding (``step`` larger than the packed row size) is skipped. For
    ``mono16`` the byte order follows ``is_bigendian`` and the 16-bit values
    are reduced to 8 bits by keeping the most significant byte (``v >> 8``),
    i.e. a fixed linear scaling of the full 16-bit range, not a per-image
    normalisation, so brightness is stable across frames. Grey images are
    replicated into three equal channels; alpha channels are dropped.

    Args:
        msg: The image message. ``msg.data`` may be ``bytes``, ``bytearray``,
            ``array.array``, a list of ints or a numpy array.

    Returns:
        A new ``(height, width, 3)`` uint8 array in RGB order.

    Raises:
        ImageConversionError: On an unknown encoding, zero width or height,
            ``step`` smaller than a packed row or too little data.
    """
    raw_encoding = str(msg.encoding)
    encoding = raw_encoding.strip().lower()
    if encoding not in RAW_ENCODINGS:
        return _convert_with_bridge(msg, raw_encoding)
    return raw_to_rgb(_as_uint8_buffer(msg.data, 'image_msg_to_rgb'), msg.height, msg.width,
                      msg.step, encoding, msg.is_bigendian, ImageConversionError)


def _check_format(fmt: str) -> None:
    """Reject format strings that name neither JPEG nor PNG (empty is allowed)."""
    low = fmt.lower()
    if 'compresseddepth' in low:
        raise ImageConversionError(f"compressedDepth images are not supported (format '{fmt}')")
    if low.strip() and not any(codec in low for codec in ('png', 'jpeg', 'jpg')):
        raise ImageConversionError(
            f"unsupported compressed image format '{fmt}' (expected jpeg or png)")


def compressed_image_size(data: Any) -> Optional[Tuple[int, int]]:
    """The ``(width, height)`` a PNG or JPEG stream declares, read from its header only
    (:func:`~.image_headers.declared_size`; nothing is decoded).

    Args:
        data: The compressed bytes (anything :func:`compressed_msg_to_rgb` accepts).

    Returns:
        ``(width, height)``, or None if the data is neither a PNG nor a JPEG stream or its
        header is truncated or corrupt.
    """
    return declared_size(memoryview(_as_uint8_buffer(data, 'compressed_image_size')))


def check_image_pixels(width: int, height: int, max_pixels: Optional[int],
                       what: str = 'image') -> None:
    """Refuse ``width x height`` above ``max_pixels`` (None or <= 0: no limit).

    Raises:
        ImageTooLargeError: The image has more than ``max_pixels`` pixels.
    """
    if max_pixels is not None and max_pixels > 0 and int(width) * int(height) > max_pixels:
        raise ImageTooLargeError(
            f'{what} is {int(width)} x {int(height)} = {int(width) * int(height)} pixels, '
            f'more than max_image_pixels {max_pixels}: refused without decoding')


def check_message_pixels(msg: Any, compressed: bool, max_pixels: Optional[int]) -> None:
    """Refuse an ``Image`` (width x height) or a ``CompressedImage`` (the size its header
    declares) above ``max_pixels`` before any conversion. A compressed stream whose header
    cannot be read passes: decoding it then reports why.

    Raises:
        ImageTooLargeError: The image has more than ``max_pixels`` pixels.
    """
    if not compressed:
        check_image_pixels(int(msg.width), int(msg.height), max_pixels,
                           f"image (encoding '{msg.encoding}')")
        return
    try:
        size = compressed_image_size(msg.data)
    except ImageConversionError:
        return
    if size is not None:
        check_image_pixels(*size, max_pixels, f"compressed image (format '{msg.format}')")


def compressed_msg_to_rgb(msg: CompressedImage, max_pixels: Optional[int] = None
                          ) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) to an RGB array.

    ``msg.format`` may be a bare codec (``"jpeg"``, ``"png"``) or the
    image_transport form such as ``"rgb8; jpeg compressed bgr8"``; an empty
    format lets OpenCV detect the codec from the data. Grey or alpha images
    are decoded to three channels; 16-bit PNGs are reduced to 8 bits.

    The declared size is read from the stream's header first
    (:func:`compressed_image_size`): a stream that is not PNG or JPEG, or whose header
    cannot be read, is refused, and so is one declaring more than ``max_pixels`` pixels,
    before any pixel is decoded.

    Args:
        msg: The compressed image message.
        max_pixels: Largest ``width * height`` decoded; None or <= 0: no limit.

    Returns:
        A new ``(height, width, 3)`` uint8 array in RGB order.

    Raises:
        ImageTooLargeError: The stream declares more than ``max_pixels`` pixels.
        ImageConversionError: On an unsupported format, empty or corrupt data.
    """
    fmt = str(msg.format)
    _check_format(fmt)
    buf = _as_uint8_buffer(msg.data, 'compressed_msg_to_rgb')
    what = f"compressed image (format '{fmt}')"
    if buf.size:   # an empty stream has no header: compressed_to_rgb says it has no data
        size = compressed_image_size(buf)
        if size is None or 0 in size:
            raise ImageConversionError(
                f'could not decode {what} ({buf.size} bytes): not a PNG or JPEG stream with '
                'a readable header')
        check_image_pixels(*size, max_pixels, what)
    return compressed_to_rgb(buf, what, ImageConversionError)


def rgb_to_image_msg(rgb: np.ndarray, encoding: str = 'rgb8',
                     header: Optional[Header] = None) -> Image:
    """Build a ``sensor_msgs/Image`` from an RGB array.

    The rows are packed (``step = width * channels * bytes``). Alpha is set
    to 255; mono encodings use OpenCV's RGB->grey weights, and ``mono16`` is
    written little-endian with ``v16 = v8 * 257`` so that
    :func:`image_msg_to_rgb` recovers the 8-bit grey value exactly.

    Args:
        rgb: ``(H, W, 3)`` uint8 array in RGB order.
        encoding: One of :data:`SUPPORTED_ENCODINGS`.
        header: Optional header to copy into the message.

    Returns:
        The image message.

    Raises:
        ImageConversionError: If ``rgb`` is not HxWx3 uint8 or the encoding is
            not supported.
    """
    arr = np.ascontiguousarray(_check_rgb(rgb, 'rgb_to_image_msg'))
    enc = encoding.strip().lower()
    if enc not in RAW_ENCODINGS:
        raise ImageConversionError(
            f"unsupported image encoding '{encoding}' (supported: "
            f"{', '.join(SUPPORTED_ENCODINGS)})")
    out = arr if enc == 'rgb8' else cv2.cvtColor(arr, _FROM_RGB[enc])
    if enc == 'mono16':
        out = (out.astype(np.uint16) * 257).astype('<u2')
    channels, depth, _ = RAW_ENCODINGS[enc]
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = enc
    msg.is_bigendian = 0
    msg.step = msg.width * channels * depth
    msg.data = np.ascontiguousarray(out).tobytes()
    return msg


def rgb_to_compressed_msg(rgb: np.ndarray, fmt: str = 'jpeg',
                          header: Optional[Header] = None,
                          jpeg_quality: int = 90) -> CompressedImage:
    """Encode an RGB array into a ``sensor_msgs/CompressedImage``.

    Args:
        rgb: ``(H, W, 3)`` uint8 array in RGB order.
        fmt: ``"jpeg"`` (alias ``"jpg"``) or ``"png"``.
        header: Optional header to copy into the message.
        jpeg_quality: JPEG quality 0-100 (ignored for PNG).

    Returns:
        The compressed image message; ``format`` is ``"jpeg"`` or ``"png"``.

    Raises:
        ImageConversionError: If ``rgb`` is invalid, the format unsupported or
            encoding fails.
    """
    arr = _check_rgb(rgb, 'rgb_to_compressed_msg')
    codec = {'jpg': 'jpeg'}.get(fmt.strip().lower(), fmt.strip().lower())
    if codec not in ('jpeg', 'png'):
        raise ImageConversionError(
            f"unsupported compressed image format '{fmt}' (expected jpeg or png)")
    bgr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)
    if codec == 'jpeg':
        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
        ok, encoded = cv2.imencode('.jpg', bgr, params)
    else:
        ok, encoded = cv2.imencode('.png', bgr)
    if not ok:
        raise ImageConversionError(f"OpenCV failed to encode a {arr.shape} image as {codec}")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = codec
    msg.data = encoded.tobytes()
    return msg


def resize_for_model(rgb: np.ndarray, size: int, mode: str = 'center_crop') -> np.ndarray:
    """Resize an RGB image to the square model input size.

    Args:
        rgb: ``(H, W, 3)`` uint8 array.
        size: Output side length in pixels (> 0).
        mode: ``"center_crop"`` crops the largest centred square first (keeps
            the aspect ratio); ``"stretch"`` resizes the whole image,
            distorting the aspect ratio.

    Returns:
        A new ``(size, size, 3)`` uint8 array (resampled with INTER_AREA).

    Raises:
        ImageConversionError: On an invalid image.
        ValueError: On a non-positive ``size`` or an unknown ``mode``.
    """
    arr = _check_rgb(rgb, 'resize_for_model')
    size = int(size)
    if size <= 0:
        raise ValueError(f'resize_for_model: size must be positive, got {size}')
    if mode == 'center_crop':
        arr = center_square(arr)
    elif mode != 'stretch':
        raise ValueError(
            f"resize_for_model: mode must be 'center_crop' or 'stretch', got '{mode}'")
    arr = np.ascontiguousarray(arr)
    if arr.shape[0] == size and arr.shape[1] == size:
        return arr.copy()
    return cv2.resize(arr, (size, size), interpolation=cv2.INTER_AREA)
