"""Tests for jepa_world_model.ros.common.image_conversion (no ROS graph needed)."""

import array
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from jepa_world_model.ros.common import image_conversion as ic
from jepa_world_model.ros.common.image_conversion import (
    compressed_msg_to_rgb, image_msg_to_rgb, ImageConversionError, resize_for_model,
    rgb_to_compressed_msg, rgb_to_image_msg)


def _rgb(h: int = 5, w: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _smooth_rgb(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1),
                     np.full_like(xx, 128)], axis=-1).astype(np.uint8)


def _msg(encoding: str, h: int, w: int, step: int, data, bigendian: int = 0) -> Image:
    msg = Image()
    msg.encoding, msg.height, msg.width, msg.step = encoding, h, w, step
    msg.is_bigendian = bigendian
    msg.data = data
    return msg


def test_rgb8_known_pixels():
    data = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    out = image_msg_to_rgb(_msg('rgb8', 2, 2, 6, data))
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[[255, 0, 0], [0, 255, 0]],
                                        [[0, 0, 255], [10, 20, 30]]])


def test_bgr8_known_pixels_are_swapped():
    out = image_msg_to_rgb(_msg('bgr8', 1, 2, 6, bytes([1, 2, 3, 4, 5, 6])))
    np.testing.assert_array_equal(out, [[[3, 2, 1], [6, 5, 4]]])


@pytest.mark.parametrize('encoding,expected', [('rgba8', [[[1, 2, 3], [4, 5, 6]]]),
                                               ('bgra8', [[[3, 2, 1], [6, 5, 4]]])])
def test_alpha_encodings_drop_alpha(encoding, expected):
    data = bytes([1, 2, 3, 99, 4, 5, 6, 77])
    np.testing.assert_array_equal(image_msg_to_rgb(_msg(encoding, 1, 2, 8, data)), expected)


def test_mono8_replicated_to_three_channels():
    out = image_msg_to_rgb(_msg('mono8', 2, 2, 2, bytes([0, 50, 200, 255])))
    np.testing.assert_array_equal(out[..., 0], [[0, 50], [200, 255]])
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize('bigendian', [0, 1])
def test_mono16_takes_high_byte_respecting_endianness(bigendian):
    values = np.array([[0x0000, 0x01FF, 0x8000], [0xABCD, 0xFF00, 0xFFFF]], dtype=np.uint16)
    raw = values.astype('>u2' if bigendian else '<u2').tobytes()
    out = image_msg_to_rgb(_msg('mono16', 2, 3, 6, raw, bigendian))
    expected = np.array([[0x00, 0x01, 0x80], [0xAB, 0xFF, 0xFF]], dtype=np.uint8)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], expected)


def test_encoding_is_case_insensitive():
    out = image_msg_to_rgb(_msg('BGR8', 1, 1, 3, bytes([1, 2, 3])))
    np.testing.assert_array_equal(out, [[[3, 2, 1]]])


@pytest.mark.parametrize('encoding,channels,depth', [
    ('rgb8', 3, 1), ('bgr8', 3, 1), ('rgba8', 4, 1), ('bgra8', 4, 1),
    ('mono8', 1, 1), ('mono16', 1, 2)])
def test_step_padding_is_skipped(encoding, channels, depth):
    rgb = _rgb(4, 5)
    packed = rgb_to_image_msg(rgb, encoding)
    row = 5 * channels * depth
    step = row + 7
    rows = np.frombuffer(bytes(packed.data), np.uint8).reshape(4, row)
    padded = np.full((4, step), 0xEE, dtype=np.uint8)
    padded[:, :row] = rows
    msg = _msg(encoding, 4, 5, step, padded.tobytes())
    np.testing.assert_array_equal(image_msg_to_rgb(msg), image_msg_to_rgb(packed))


def test_extra_trailing_data_is_ignored():
    rgb = _rgb(3, 4)
    msg = _msg('rgb8', 3, 4, 12, rgb.tobytes() + b'\x01\x02\x03')
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_color_round_trip_is_exact(encoding):
    rgb = _rgb(6, 9, seed=3)
    msg = rgb_to_image_msg(rgb, encoding)
    assert msg.encoding == encoding and msg.height == 6 and msg.width == 9
    assert msg.step == 9 * (4 if 'a' in encoding[-2:] else 3)
    assert msg.is_bigendian == 0
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize('encoding', ['mono8', 'mono16'])
def test_mono_round_trip_matches_grey_conversion(encoding):
    rgb = _rgb(6, 9, seed=4)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    msg = rgb_to_image_msg(rgb, encoding)
    assert msg.step == 9 * (2 if encoding == 'mono16' else 1)
    out = image_msg_to_rgb(msg)
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=2))


def test_mono16_message_uses_full_16_bit_range():
    msg = rgb_to_image_msg(np.full((1, 1, 3), 255, np.uint8), 'mono16')
    assert np.frombuffer(bytes(msg.data), '<u2')[0] == 0xFFFF


def test_rgb_to_image_msg_header_and_bad_inputs():
    header = Header(frame_id='cam')
    header.stamp.sec = 12
    msg = rgb_to_image_msg(_rgb(), header=header)
    assert msg.header.frame_id == 'cam' and msg.header.stamp.sec == 12
    with pytest.raises(ImageConversionError, match='yuv422'):
        rgb_to_image_msg(_rgb(), 'yuv422')
    with pytest.raises(ImageConversionError, match='shape'):
        rgb_to_image_msg(np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageConversionError, match='float32'):
        rgb_to_image_msg(np.zeros((4, 4, 3), np.float32))


@pytest.mark.parametrize('kind', ['bytes', 'bytearray', 'array', 'list', 'ndarray'])
def test_accepts_various_data_containers(kind):
    rgb = _rgb(3, 4, seed=5)
    raw = rgb.tobytes()
    data = {'bytes': raw, 'bytearray': bytearray(raw), 'array': array.array('B', raw),
            'list': list(raw), 'ndarray': np.frombuffer(raw, np.uint8)}[kind]
    msg = _msg('rgb8', 3, 4, 12, b'')
    object.__setattr__(msg, '_data', data)  # bypass the field setter's conversion
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_output_is_writable_copy():
    raw = _rgb().tobytes()
    msg = _msg('rgb8', 5, 7, 21, raw)
    out = image_msg_to_rgb(msg)
    assert out.flags.writeable and out.flags.c_contiguous
    out[:] = 0
    assert bytes(msg.data) == raw and any(raw)


def test_large_image_is_fast():
    h, w = 1080, 1920
    msg = _msg('bgr8', h, w, w * 3 + 64, bytes(h * (w * 3 + 64)))
    start = time.perf_counter()
    out = image_msg_to_rgb(msg)
    assert out.shape == (h, w, 3)
    assert time.perf_counter() - start < 1.0


def test_unknown_encoding_without_bridge(monkeypatch):
    monkeypatch.setattr(ic, '_CvBridge', None)
    monkeypatch.setattr(ic, '_bridge', None)
    with pytest.raises(ImageConversionError, match="unsupported image encoding 'yuv422'"):
        image_msg_to_rgb(_msg('yuv422', 2, 2, 4, bytes(8)))


def test_unknown_encoding_uses_cv_bridge_when_available(monkeypatch):
    class FakeBridge:
        def imgmsg_to_cv2(self, msg, desired_encoding):
            if msg.encoding == 'weird':
                raise TypeError('boom')
            assert desired_encoding == 'rgb8'
            return np.full((msg.height, msg.width, 3), 42, np.uint8)

    monkeypatch.setattr(ic, '_CvBridge', FakeBridge)
    monkeypatch.setattr(ic, '_bridge', None)
    out = image_msg_to_rgb(_msg('bayer_rggb8', 2, 3, 3, bytes(6)))
    assert out.shape == (2, 3, 3) and (out == 42).all()
    # Supported encodings never go through the bridge.
    np.testing.assert_array_equal(image_msg_to_rgb(_msg('mono8', 1, 1, 1, b'\x07')),
                                  [[[7, 7, 7]]])
    with pytest.raises(ImageConversionError, match='boom'):  # bridge errors are wrapped
        image_msg_to_rgb(_msg('weird', 1, 1, 1, b'\x00'))


@pytest.mark.parametrize('h,w', [(0, 4), (4, 0), (0, 0)])
def test_zero_size_raises(h, w):
    with pytest.raises(ImageConversionError, match=f'width={w}, height={h}'):
        image_msg_to_rgb(_msg('rgb8', h, w, w * 3, b''))


@pytest.mark.parametrize('step,size,match', [
    (15, 59, r'too short: 59 bytes < step 15 x height 4 = 60'),
    (16, 60, r'too short: 60 bytes < step 16 x height 4 = 64'),  # packed rows fit, padded not
])
def test_data_too_short_raises(step, size, match):
    with pytest.raises(ImageConversionError, match=match):
        image_msg_to_rgb(_msg('rgb8', 4, 5, step, bytes(size)))


@pytest.mark.parametrize('encoding,step', [('rgb8', 14), ('rgba8', 19), ('mono16', 9),
                                           ('mono8', 4)])
def test_step_smaller_than_row_raises(encoding, step):
    with pytest.raises(ImageConversionError, match=f'step {step} is smaller'):
        image_msg_to_rgb(_msg(encoding, 2, 5, step, bytes(200)))


def test_bad_list_data_raises():
    msg = _msg('mono8', 1, 2, 2, b'')
    object.__setattr__(msg, '_data', [1, 300])
    with pytest.raises(ImageConversionError, match='not a byte buffer'):
        image_msg_to_rgb(msg)
    assert issubclass(ImageConversionError, ValueError)


def test_png_round_trip_is_exact():
    rgb = _rgb(20, 30, seed=7)
    msg = rgb_to_compressed_msg(rgb, 'png', header=Header(frame_id='wrist'))
    assert msg.format == 'png' and msg.header.frame_id == 'wrist'
    assert bytes(msg.data[:8]) == b'\x89PNG\r\n\x1a\n'
    np.testing.assert_array_equal(compressed_msg_to_rgb(msg), rgb)


@pytest.mark.parametrize('fmt', ['jpeg', 'jpg', 'JPEG'])
def test_jpeg_round_trip_is_close(fmt):
    rgb = _smooth_rgb()
    msg = rgb_to_compressed_msg(rgb, fmt, jpeg_quality=95)
    assert msg.format == 'jpeg'
    assert bytes(msg.data[:2]) == b'\xff\xd8'
    out = compressed_msg_to_rgb(msg)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 3.0


def test_jpeg_keeps_channel_order():
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 250  # pure red
    out = compressed_msg_to_rgb(rgb_to_compressed_msg(rgb, 'jpeg'))
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 40


@pytest.mark.parametrize('fmt', ['rgb8; jpeg compressed bgr8', 'bgr8; png compressed bgr8',
                                 'JPEG', ''])
def test_compressed_format_strings(fmt):
    rgb = _rgb(8, 8, seed=9)
    codec = 'png' if 'png' in fmt else 'jpeg'
    msg = rgb_to_compressed_msg(rgb, codec)
    msg.format = fmt
    out = compressed_msg_to_rgb(msg)
    assert out.shape == (8, 8, 3)
    if codec == 'png':
        np.testing.assert_array_equal(out, rgb)


def test_compressed_grey_png_decodes_to_three_channels():
    ok, enc = cv2.imencode('.png', np.array([[0, 128, 255]], np.uint8))
    assert ok
    out = compressed_msg_to_rgb(CompressedImage(format='png', data=enc.tobytes()))
    np.testing.assert_array_equal(out[0, :, 1], [0, 128, 255])
    assert out.shape == (1, 3, 3)


@pytest.mark.parametrize('data', [b'', b'not an image at all', b'\xff\xd8\xff\xe0garbage'])
def test_corrupt_compressed_data_raises(data):
    with pytest.raises(ImageConversionError, match='jpeg'):
        compressed_msg_to_rgb(CompressedImage(format='jpeg', data=data))


def test_truncated_png_raises():
    msg = rgb_to_compressed_msg(_rgb(20, 20), 'png')
    msg.data = bytes(msg.data[:40])
    with pytest.raises(ImageConversionError, match='could not decode'):
        compressed_msg_to_rgb(msg)


@pytest.mark.parametrize('fmt', ['16UC1; compressedDepth', 'tiff'])
def test_unsupported_compressed_format_raises(fmt):
    msg = rgb_to_compressed_msg(_rgb(), 'png')
    msg.format = fmt
    with pytest.raises(ImageConversionError, match='not supported|unsupported'):
        compressed_msg_to_rgb(msg)


def test_rgb_to_compressed_bad_format_raises():
    with pytest.raises(ImageConversionError, match='bmp'):
        rgb_to_compressed_msg(_rgb(), 'bmp')


@pytest.mark.parametrize('mode', ['center_crop', 'stretch'])
@pytest.mark.parametrize('h,w,size', [(480, 640, 224), (640, 480, 64), (100, 100, 32),
                                      (10, 30, 64), (224, 224, 224)])
def test_resize_shapes(mode, h, w, size):
    out = resize_for_model(_rgb(h, w), size, mode)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous


def _stripes() -> np.ndarray:
    rgb = np.zeros((4, 12, 3), np.uint8)
    rgb[:, :4], rgb[:, 4:8], rgb[:, 8:] = [255, 0, 0], [0, 255, 0], [0, 0, 255]
    return rgb


def test_center_crop_takes_the_middle_square():
    rgb = _stripes()
    out = resize_for_model(rgb, 4, 'center_crop')
    assert (out == [0, 255, 0]).all()
    tall = np.transpose(rgb, (1, 0, 2))
    assert (resize_for_model(tall, 2, 'center_crop') == [0, 255, 0]).all()


def test_stretch_keeps_whole_image():
    out = resize_for_model(_stripes(), 3, 'stretch')
    np.testing.assert_array_equal(out[:, 0], [[255, 0, 0]] * 3)
    np.testing.assert_array_equal(out[:, 1], [[0, 255, 0]] * 3)
    np.testing.assert_array_equal(out[:, 2], [[0, 0, 255]] * 3)


def test_resize_area_averages():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = 200
    rgb[1, 1] = 200
    np.testing.assert_array_equal(resize_for_model(rgb, 1), [[[100, 100, 100]]])


def test_resize_same_size_returns_copy():
    rgb = _rgb(8, 8)
    out = resize_for_model(rgb, 8)
    np.testing.assert_array_equal(out, rgb)
    out[:] = 0
    assert rgb.any()


@pytest.mark.parametrize('kwargs,match', [({'size': 0}, 'size'), ({'size': -3}, 'size'),
                                          ({'size': 8, 'mode': 'pad'}, 'pad')])
def test_resize_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resize_for_model(_rgb(), **kwargs)
    with pytest.raises(ImageConversionError):
        resize_for_model(np.zeros((8, 8, 4), np.uint8), 4)


# -- size limits: the header is read before anything is decoded (issue #11 item 9) ----------

def _png_bomb(side: int = 12000) -> bytes:
    """A valid grey PNG of side x side zero pixels (~630 KB at 12000): every row is a zero
    filter byte and zero pixels, so the zlib stream of zeros is built in 4 MB pieces."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack('>I', len(body)) + kind + body
                + struct.pack('>I', zlib.crc32(kind + body)))
    raw, piece = side * (side + 1), bytes(1 << 22)
    comp = zlib.compressobj(1)
    parts = [comp.compress(piece) for _ in range(raw // len(piece))]
    parts += [comp.compress(bytes(raw % len(piece))), comp.flush()]
    header = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', b''.join(parts))
            + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def png_bomb() -> bytes:
    return _png_bomb()


def _forbid_decoding(monkeypatch):
    def imdecode(*args, **kwargs):
        raise AssertionError('cv2.imdecode was called')
    monkeypatch.setattr(ic.cv2, 'imdecode', imdecode)


def test_png_bomb_is_refused_from_its_header_without_decoding(png_bomb, monkeypatch):
    """A ~0.6 MB PNG declaring 12000 x 12000 pixels (430 MB decoded, seconds of stall) is
    refused by its header before cv2 sees it."""
    assert ic.compressed_image_size(png_bomb) == (12000, 12000)
    _forbid_decoding(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(ic.ImageTooLargeError, match='12000 x 12000'):
        compressed_msg_to_rgb(CompressedImage(format='png', data=png_bomb),
                              max_pixels=4096 * 4096)
    with pytest.raises(ic.ImageTooLargeError):
        ic.check_message_pixels(CompressedImage(format='png', data=png_bomb), True,
                                4096 * 4096)
    assert time.perf_counter() - start < 0.5


def test_a_jpeg_declaring_a_huge_frame_is_refused_without_decoding(monkeypatch):
    """The SOF segment's height and width bytes of a real JPEG say 60000 x 60000."""
    data = bytearray(rgb_to_compressed_msg(_smooth_rgb(), 'jpeg').data)
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 9] = struct.pack('>HH', 60000, 60000)
    _forbid_decoding(monkeypatch)
    with pytest.raises(ic.ImageTooLargeError, match='60000 x 60000'):
        compressed_msg_to_rgb(CompressedImage(format='jpeg', data=bytes(data)),
                              max_pixels=10 ** 6)


@pytest.mark.parametrize('ext, params', [('.png', []), ('.jpg', []),
                                         ('.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])],
                         ids=['png', 'jpeg', 'progressive_jpeg'])
def test_header_size_matches_what_decodes(ext, params):
    ok, enc = cv2.imencode(ext, np.zeros((37, 53, 3), np.uint8), params)
    assert ok and ic.compressed_image_size(enc.tobytes()) == (53, 37)
    msg = CompressedImage(format=ext[1:], data=enc.tobytes())
    assert compressed_msg_to_rgb(msg, max_pixels=53 * 37).shape == (37, 53, 3)
    with pytest.raises(ic.ImageTooLargeError):
        compressed_msg_to_rgb(msg, max_pixels=53 * 37 - 1)


@pytest.mark.parametrize('data', [b'', b'GIF89a....', b'\x89PNG\r\n\x1a\n\x00\x00',
                                  b'\xff\xd8\xff\xe0\x00\x10JFIF', b'\xff\xd8\xff\xda\x00\x02',
                                  b'\xff\xd8\x00\x00\x00\x00'])
def test_unreadable_headers_give_no_size_and_are_not_decoded(data, monkeypatch):
    """Not PNG or JPEG, truncated, a scan before any frame header, garbage after SOI."""
    assert ic.compressed_image_size(data) is None
    if data:
        _forbid_decoding(monkeypatch)
        with pytest.raises(ImageConversionError, match='could not decode'):
            compressed_msg_to_rgb(CompressedImage(format='', data=data))


def test_raw_images_above_the_pixel_limit_are_refused():
    msg = _msg('rgb8', 4, 5, 15, bytes(60))
    ic.check_message_pixels(msg, False, 20)
    with pytest.raises(ic.ImageTooLargeError, match='5 x 4 = 20|more than'):
        ic.check_message_pixels(msg, False, 19)
    ic.check_message_pixels(msg, False, None)
