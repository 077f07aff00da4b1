"""Reading the card's QR from a photo or scan (PNG or JPEG), offline, with zxing-cpp and Pillow.

Both libraries come with the ``images`` extra (``pip install 'credencial[images]'``) and are
imported only when an image is read, so the verifier core works without them. Images are checked
before they are decoded: at most :data:`MAX_IMAGE_BYTES` of file and :data:`MAX_IMAGE_PIXELS`
pixels (a decompression bomb is refused from its header, before any pixel is unpacked).
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from ._card import is_card_text
from ._errors import InputError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "IMAGE_FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "decode_qr_image",
    "decode_qr_pil",
    "image_format",
]

#: Largest image file accepted (a 48-megapixel phone photo is well under it).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: Largest image accepted, in pixels (below Pillow's own decompression-bomb threshold).
MAX_IMAGE_PIXELS = 64_000_000
#: The image formats read, by their magic bytes.
IMAGE_FORMATS = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
_EXTRA_HINT = "install the images extra: pip install 'credencial[images]'"


def image_format(data: bytes) -> str | None:
    """``"PNG"`` or ``"JPEG"`` if ``data`` starts with that format's magic bytes, else ``None``."""
    for magic, name in IMAGE_FORMATS.items():
        if data.startswith(magic):
            return name
    return None


def decode_qr_pil(image: Image.Image) -> str:
    """The card text in the QR code of a Pillow image; raises :class:`InputError`."""
    try:
        import zxingcpp
    except ImportError:
        raise InputError(f"reading QR codes needs zxing-cpp: {_EXTRA_HINT}") from None
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"image of {image.width} × {image.height} pixels is larger than the "
            f"{MAX_IMAGE_PIXELS:,} pixel limit"
        )
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        from PIL import Image as PILImage  # transparent pixels are read as white paper

        rgba = image.convert("RGBA")
        image = PILImage.alpha_composite(PILImage.new("RGBA", rgba.size, "white"), rgba)
    gray = image if image.mode == "L" else image.convert("L")
    found = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        text_mode=zxingcpp.TextMode.Plain,
    )
    texts = [barcode.text for barcode in found if barcode.valid]
    if not texts:
        raise InputError("no QR code could be read in the image")
    for text in texts:
        if is_card_text(text):
            return text
    raise InputError(
        f"the QR code in the image is not a credencial card (it does not start with SUS1:): "
        f"{texts[0][:40]!r}"
    )


def decode_qr_image(data: bytes) -> str:
    """The card text in the QR code of a PNG or JPEG image; raises :class:`InputError`.

    Raised when the data is too large or not a PNG/JPEG image, when no QR code (or no card's
    QR code) is found, or when Pillow or zxing-cpp is not installed.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"image of {len(data)} bytes exceeds the {MAX_IMAGE_BYTES} byte limit")
    kind = image_format(data)
    if kind is None:
        raise InputError("not a PNG or JPEG image")
    try:
        from PIL import Image
    except ImportError:
        raise InputError(f"reading card images needs Pillow: {_EXTRA_HINT}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[kind])
            if opened.width * opened.height > MAX_IMAGE_PIXELS:  # from the header, nothing decoded
                raise InputError(
                    f"image of {opened.width} × {opened.height} pixels is larger than the "
                    f"{MAX_IMAGE_PIXELS:,} pixel limit"
                )
            opened.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(
            f"image is larger than the {MAX_IMAGE_PIXELS:,} pixel limit: {exc}"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"cannot read the {kind} image: {exc}") from None
    return decode_qr_pil(opened)
