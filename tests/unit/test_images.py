import io
import struct
import zlib

import pytest
from PIL import Image

from shelfsight.indexer.images import ImageError, decode_bytes, decode_file


def jpeg_bytes(mode="RGB", size=(64, 48), color=(200, 30, 30)):
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_plain_rgb_jpeg_decodes():
    d = decode_bytes(jpeg_bytes())
    assert d.image.mode == "RGB" and d.image.size == (64, 48)
    assert d.original_mode == "RGB" and len(d.sha256) == 64


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageError) as e:
        decode_file(p)
    assert e.value.reason == "empty image file"


def test_missing_file(tmp_path):
    with pytest.raises(ImageError) as e:
        decode_file(tmp_path / "nope.jpg")
    assert e.value.reason == "missing image"


def test_text_file_named_jpg_is_not_an_image(tmp_path):
    p = tmp_path / "fake.jpg"
    p.write_text("id,title\n1,shirt\n")
    with pytest.raises(ImageError) as e:
        decode_file(p)
    assert e.value.reason == "not an image"


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes(size=(256, 256))
    with pytest.raises(ImageError) as e:
        decode_bytes(data[: len(data) // 2])
    assert e.value.reason == "truncated image"


def test_cmyk_jpeg_is_converted():
    d = decode_bytes(jpeg_bytes(mode="CMYK"))
    assert d.original_mode == "CMYK" and d.image.mode == "RGB"


def test_greyscale_is_converted():
    d = decode_bytes(jpeg_bytes(mode="L"))
    assert d.original_mode == "L" and d.image.mode == "RGB"


def test_palette_with_transparency_is_composited_on_white():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.info["transparency"] = 0
    d = decode_bytes(png_bytes(img))
    assert d.original_mode == "P"
    assert d.image.getpixel((0, 0)) == (255, 255, 255)


def test_rgba_alpha_is_composited_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    img.putpixel((1, 1), (10, 20, 30, 255))
    d = decode_bytes(png_bytes(img))
    assert d.image.getpixel((0, 0)) == (255, 255, 255)
    assert d.image.getpixel((1, 1)) == (10, 20, 30)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_is_refused_before_decoding():
    # A real PNG header claiming 50,000 x 50,000 pixels with a tiny body.
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(ImageError) as e:
        decode_bytes(data)
    assert e.value.reason == "image too large"


def test_pixel_cap_is_configurable():
    with pytest.raises(ImageError) as e:
        decode_bytes(jpeg_bytes(size=(100, 100)), max_pixels=5_000)
    assert e.value.reason == "image too large"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_large_photo_is_kept_as_a_bounded_working_copy(fmt):
    # A 40 MP photo held whole is 120 MB; later steps need 1024 px at most (issue 24).
    img = Image.new("RGB", (4000, 3000), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    d = decode_bytes(buf.getvalue())
    assert (d.width, d.height) == (4000, 3000)  # the photo's own size, as ingest records it
    assert d.image.size == (1024, 768) and d.image.mode == "RGB"
    assert d.image.getpixel((500, 400)) == pytest.approx((200, 30, 30), abs=3)


def test_a_large_sideways_phone_photo_comes_upright_and_bounded():
    img = Image.new("RGB", (3000, 2000), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, exif=exif)
    d = decode_bytes(buf.getvalue())
    assert (d.width, d.height) == (2000, 3000)
    assert d.image.size == (683, 1024)


def test_an_in_memory_picture_gets_the_same_working_copy():
    from shelfsight.indexer.images import decode_image

    img = Image.new("RGB", (2048, 1024), (1, 2, 3))
    d = decode_image(img)
    assert d.image.size == (1024, 512) and (d.width, d.height) == (2048, 1024)
    assert img.size == (2048, 1024)  # the caller's picture is left as it was
