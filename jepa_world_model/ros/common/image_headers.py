"""The image size a PNG or JPEG stream declares, read from its header without decoding.

OpenCV cannot read only a header, and decoding first is what a decompression bomb exploits
(a 140 KB PNG declaring 12000 x 12000 pixels decodes to 430 MB). These readers walk the
bytes themselves: PNG's IHDR chunk, which the format requires to come first, and JPEG's
first start-of-frame (SOFn) segment, reached by hopping over the segment lengths.
"""

from typing import Optional, Tuple, Union

__all__ = ['png_size', 'jpeg_size', 'declared_size']

Bytes = Union[bytes, bytearray, memoryview]

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic...):
# every 0xC0..0xCF except DHT (C4), JPG (C8) and DAC (CC), which are not frame headers.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..7 and SOI.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])


def png_size(data: Bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from the IHDR chunk of a PNG stream, or None if it is not one."""
    if bytes(data[:8]) != _PNG_SIGNATURE or len(data) < 24 or bytes(data[12:16]) != b'IHDR':
        return None
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


def jpeg_size(data: Bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from the first start-of-frame segment of a JPEG stream, or None if
    it is not one, or ends, or reaches its scan data, before a frame header."""
    if bytes(data[:2]) != b'\xff\xd8':
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None                       # not at a marker: corrupt stream
        marker = data[pos + 1]
        if marker == 0xFF:                    # fill byte before a marker
            pos += 1
        elif marker in _JPEG_STANDALONE:
            pos += 2
        elif marker in (0xD9, 0xDA):          # end of image, start of scan: no frame header
            return None
        else:
            length = int.from_bytes(data[pos + 2:pos + 4], 'big')
            if marker in _JPEG_SOF:
                # precision (1 byte), then height and width (2 bytes each).
                if length < 7 or pos + 9 > end:
                    return None
                return (int.from_bytes(data[pos + 7:pos + 9], 'big'),
                        int.from_bytes(data[pos + 5:pos + 7], 'big'))
            if length < 2:
                return None
            pos += 2 + length
    return None


def declared_size(data: Bytes) -> Optional[Tuple[int, int]]:
    """(width, height) a PNG or JPEG stream declares, or None (neither, or unreadable).

    A JPEG whose height is only given later, by a DNL segment, reads as height 0.
    """
    return png_size(data) or jpeg_size(data)
