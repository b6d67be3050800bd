"""Image inputs an attacker or a clumsy operator sends: strips, sideways phone photos,
FIFOs and devices as paths. Each is refused (or fixed) with bounded memory and time."""

import io
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from PIL import Image

from shelfsight.indexer.embedders.base import letterbox
from shelfsight.indexer.images import MAX_ASPECT, ImageError, decode_bytes, decode_file


def png(size, colour=(120, 20, 20)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_a_strip_is_refused_from_its_header():
    data = png((60000, 2))
    assert len(data) < 2000  # tiny on the wire, which is the point
    with pytest.raises(ImageError) as e:
        decode_bytes(data)
    assert e.value.reason == "bad aspect ratio" and "60000 x 2 pixels" in e.value.detail


def test_the_widest_allowed_shape_still_decodes():
    w = int(50 * MAX_ASPECT)
    assert decode_bytes(png((w, 50))).image.size == (w, 50)


def test_letterbox_resizes_before_padding():
    out = letterbox(Image.new("RGB", (400, 100), (0, 0, 255)), 224)
    assert out.size == (224, 224)
    # the product fills the middle band, white above and below
    assert out.getpixel((112, 112)) == (0, 0, 255)
    assert out.getpixel((112, 5)) == (255, 255, 255)


def test_letterbox_memory_is_bounded_by_input_and_output():
    """A 20000 x 1000 photo (20:1, allowed) letterboxed to 224: padding first would make a
    20000^2 canvas (1.2 GB); resizing first needs no more than the photo itself."""
    script = textwrap.dedent(
        """
        import resource
        from PIL import Image
        from shelfsight.indexer.embedders.base import letterbox_pixels
        img = Image.new("RGB", (20000, 1000), (10, 200, 10))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        letterbox_pixels(img, 224)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    grew_mb = int(out.stdout.strip())
    assert grew_mb < 150, f"letterbox grew the process by {grew_mb} MB"


def test_exif_orientation_is_applied():
    # Stored 40 wide x 20 high, red on the left; orientation 6 means "rotate 90 clockwise
    # to display": shown 20 wide x 40 high with red on top.
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95, exif=exif)
    d = decode_bytes(buf.getvalue())
    assert d.image.size == (20, 40) and (d.width, d.height) == (20, 40)
    r, _, b = d.image.getpixel((10, 5))
    assert r > 200 and b < 60
    r, _, b = d.image.getpixel((10, 35))
    assert b > 200 and r < 60


def _decode_in_thread(path, seconds=5.0):
    box = {}

    def run():
        try:
            decode_file(path)
        except ImageError as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"decoding {path} hung"
    return box.get("error")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    err = _decode_in_thread(fifo)
    assert err is not None and err.reason == "not a regular file"


def test_dev_zero_is_refused(tmp_path):
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    err = _decode_in_thread(link)
    assert err is not None and err.reason == "not a regular file"


def test_file_size_is_capped(tmp_path, monkeypatch):
    from shelfsight.indexer import images

    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * 2048)
    with pytest.raises(ImageError) as e:
        images.read_image_file(big, max_bytes=1024)
    assert e.value.reason == "image file too large"
