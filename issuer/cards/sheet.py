"""A PDF sheet of printed cards: A4 pages of ten cards (2 × 5) at actual size, written as it goes.

Each card is embedded once as a 300 dpi RGB image (Flate, lossless, so the QR stays crisp) and
drawn at exactly 85.60 × 53.98 mm with a thin grey cutting outline. Pages are written as soon as
they fill, so memory does not grow with the number of cards.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

from PIL import Image

from issuer.cards.render import CARD_HEIGHT_MM, CARD_TITLE, CARD_WIDTH_MM

__all__ = ["CARDS_PER_PAGE", "CardSheet"]

_PT_PER_MM = 72 / 25.4
_PAGE_W, _PAGE_H = 210 * _PT_PER_MM, 297 * _PT_PER_MM  # A4 portrait
_CARD_W, _CARD_H = CARD_WIDTH_MM * _PT_PER_MM, CARD_HEIGHT_MM * _PT_PER_MM
_COLUMNS, _ROWS = 2, 5
CARDS_PER_PAGE = _COLUMNS * _ROWS
_LEFT = (_PAGE_W - _COLUMNS * _CARD_W) / 2
_TOP = (_PAGE_H - _ROWS * _CARD_H) / 2
# Object numbers 1 and 2 are the catalog and the page tree (the tree is written last).
_CATALOG, _PAGES = 1, 2


class CardSheet:
    """Write cards to ``handle`` as a PDF; call :meth:`close` to finish the file."""

    def __init__(self, handle: BinaryIO, *, keywords: str = "") -> None:
        if not keywords.isascii() or any(char in keywords for char in "()\\"):
            raise ValueError("keywords must be ASCII without parentheses or backslashes")
        self._keywords = keywords
        self._out = handle
        self._offsets: dict[int, int] = {}
        self._next = _PAGES + 1
        self._page_ids: list[int] = []
        self._images: list[int] = []  # image objects waiting for their page
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(_CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")

    @property
    def cards(self) -> int:
        """How many cards were added."""
        return len(self._page_ids) * CARDS_PER_PAGE + len(self._images)

    def _write(self, data: bytes) -> None:
        self._out.write(data)

    def _tell(self) -> int:
        return self._out.tell()

    def _new_id(self) -> int:
        self._next += 1
        return self._next - 1

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._tell()
        self._write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")

    def add(self, card: Image.Image) -> None:
        """Add one card image (as :func:`issuer.cards.render.render_card` draws it)."""
        rgb = card.convert("RGB")
        data = zlib.compress(rgb.tobytes(), 6)
        number = self._new_id()
        self._object(
            number,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>"
            % (rgb.width, rgb.height, len(data)),
            data,
        )
        self._images.append(number)
        if len(self._images) == CARDS_PER_PAGE:
            self._page()

    def _page(self) -> None:
        drawing: list[bytes] = [b"0.6 G 0.25 w"]
        names: list[bytes] = []
        for position, image in enumerate(self._images):
            row, column = divmod(position, _COLUMNS)
            x = _LEFT + column * _CARD_W
            y = _PAGE_H - _TOP - (row + 1) * _CARD_H
            drawing.append(
                b"q %.3f 0 0 %.3f %.3f %.3f cm /C%d Do Q" % (_CARD_W, _CARD_H, x, y, position)
            )
            drawing.append(b"%.3f %.3f %.3f %.3f re S" % (x, y, _CARD_W, _CARD_H))
            names.append(b"/C%d %d 0 R" % (position, image))
        content = b"\n".join(drawing)
        content_id, page_id = self._new_id(), self._new_id()
        self._object(content_id, b"<< /Length %d >>" % len(content), content)
        self._object(
            page_id,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] "
            b"/Resources << /XObject << %s >> >> /Contents %d 0 R >>"
            % (_PAGE_W, _PAGE_H, b" ".join(names), content_id),
        )
        self._page_ids.append(page_id)
        self._images = []

    def close(self) -> None:
        """Write the last page, the page tree, the cross-reference table and the trailer."""
        if self._images:
            self._page()
        kids = b" ".join(b"%d 0 R" % page for page in self._page_ids)
        self._object(
            _PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self._page_ids))
        )
        info = self._new_id()
        self._object(
            info,
            b"<< /Title (%s) /Producer (credencial) /Keywords (%s) >>"
            % (CARD_TITLE.encode(), self._keywords.encode()),
        )
        xref = self._tell()
        size = self._next
        rows = [b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self._offsets[number] for number in range(1, size)]
        self._write(b"xref\n0 %d\n" % size + b"".join(rows))
        self._write(
            b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, info, xref)
        )
