"""The shared image decoding (jepa_world_model/image_decoding.py) as the bag reader uses it:
plain message objects like rosbags', no ROS; errors are the bag reader's own type.

The ROS converter's use of the same functions is tested in test_image_conversion.py.
"""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from jepa_world_model.bags.images import decode_image, ImageDecodeError, resize_square
from jepa_world_model.image_decoding import center_square

RAW = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'


def raw_msg(encoding, height, width, step, data, bigendian=0):
    return SimpleNamespace(encoding=encoding, height=height, width=width, step=step,
                           is_bigendian=bigendian, data=np.frombuffer(bytes(data), np.uint8))


def test_raw_encodings_with_row_padding():
    # One row of two pixels, two bytes of padding after them.
    bgra = raw_msg('BGRA8 ', 1, 2, 10, [3, 2, 1, 255, 30, 20, 10, 255, 99, 99])
    np.testing.assert_array_equal(decode_image(bgra, RAW), [[[1, 2, 3], [10, 20, 30]]])
    mono16 = raw_msg('mono16', 1, 2, 4, [0x12, 0x34, 0xab, 0xcd], bigendian=1)
    np.testing.assert_array_equal(decode_image(mono16, RAW), [[[0x12] * 3, [0xab] * 3]])
    little = raw_msg('mono16', 1, 2, 4, [0x12, 0x34, 0xab, 0xcd], bigendian=0)
    np.testing.assert_array_equal(decode_image(little, RAW), [[[0x34] * 3, [0xcd] * 3]])


@pytest.mark.parametrize('msg,match', [
    (raw_msg('yuv422', 1, 1, 2, [0, 0]), "unsupported encoding 'yuv422'"),
    (raw_msg('rgb8', 0, 2, 6, []), 'width=2, height=0'),
    (raw_msg('rgb8', 2, 2, 5, bytes(12)), 'step 5 is smaller'),
    (raw_msg('rgb8', 2, 2, 6, bytes(11)), 'too short: 11 bytes'),
])
def test_bad_raw_images_raise_the_readers_error(msg, match):
    with pytest.raises(ImageDecodeError, match=match):
        decode_image(msg, RAW)


def test_compressed_images_decode_and_bad_ones_raise():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    ok, png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    msg = SimpleNamespace(format='png', data=png.reshape(-1))
    np.testing.assert_array_equal(decode_image(msg, COMPRESSED), rgb)
    for data, match in ((b'', 'has no data'), (b'not an image', 'could not decode')):
        bad = SimpleNamespace(format='png', data=np.frombuffer(data, np.uint8))
        with pytest.raises(ImageDecodeError, match=match):
            decode_image(bad, COMPRESSED)


def test_center_square_and_resize():
    image = np.arange(4 * 6).reshape(4, 6)
    np.testing.assert_array_equal(center_square(image), image[:, 1:5])
    np.testing.assert_array_equal(center_square(image.T), image.T[1:5, :])
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, 1:5] = 200   # the centred square is uniform, the cropped columns are not
    assert (resize_square(rgb, 2) == 200).all()
    square = rgb[:, :4]
    assert resize_square(square, 4) is square   # already the size: no copy
