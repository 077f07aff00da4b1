"""PDF sheets of printed cards for print shops: A4 pages of ten cards (2 × 5) at actual size.

A sheet is written in **segments** of whole pages that can be made apart (one per worker) and
joined at the end: every object has its final number from the start (page ``p`` owns the numbers
``4 + 12p`` to ``15 + 12p``: ten images, the content, the page), so a segment is the bytes of its
objects plus an index of their offsets, and :func:`join_segments` only copies the segments and
writes the page tree and the cross-reference table, streaming. Memory never holds more than one
page of images, whatever the number of cards.

Each card is one image at 300 dpi, drawn at exactly 85.60 × 53.98 mm: the palette of the
renderer (``/Indexed``, 8 bits per pixel, Flate: lossless, so the QR stays crisp, and a third of
the bytes of RGB). The cards touch, so one cut along each line of the grid separates them; cut
marks outside the grid show where those lines are.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from issuer.cards.render import CARD_HEIGHT_MM, CARD_TITLE, CARD_WIDTH_MM

__all__ = ["CARDS_PER_PAGE", "SegmentIndex", "SheetSegment", "join_segments"]

_PT_PER_MM = 72 / 25.4
_PAGE_W, _PAGE_H = 210 * _PT_PER_MM, 297 * _PT_PER_MM  # A4 portrait
_CARD_W, _CARD_H = CARD_WIDTH_MM * _PT_PER_MM, CARD_HEIGHT_MM * _PT_PER_MM
_COLUMNS, _ROWS = 2, 5
CARDS_PER_PAGE = _COLUMNS * _ROWS
_LEFT = (_PAGE_W - _COLUMNS * _CARD_W) / 2
_BOTTOM = (_PAGE_H - _ROWS * _CARD_H) / 2
_MARK_GAP, _MARK_LENGTH = 3 * _PT_PER_MM, 6 * _PT_PER_MM  # cut marks start 3 mm off the grid
# Objects 1, 2 and 3 are the catalog, the page tree and the document information.
_CATALOG, _PAGES, _INFO = 1, 2, 3
_FIRST = 4
_PER_PAGE = CARDS_PER_PAGE + 2  # images, content, page
_COMPRESSION = 1  # zlib level: a card is mostly white; level 6 is 4× slower for 20 % fewer bytes


def _page_id(page: int) -> int:
    return _FIRST + page * _PER_PAGE + CARDS_PER_PAGE + 1


def _cut_marks() -> bytes:
    """Short lines outside the grid, on the prolongation of every line to cut along."""
    top, right = _BOTTOM + _ROWS * _CARD_H, _LEFT + _COLUMNS * _CARD_W
    lines: list[tuple[float, float, float, float]] = []
    for column in range(_COLUMNS + 1):
        x = _LEFT + column * _CARD_W
        lines.append((x, top + _MARK_GAP, x, top + _MARK_GAP + _MARK_LENGTH))
        lines.append((x, _BOTTOM - _MARK_GAP, x, _BOTTOM - _MARK_GAP - _MARK_LENGTH))
    for row in range(_ROWS + 1):
        y = _BOTTOM + row * _CARD_H
        lines.append((_LEFT - _MARK_GAP, y, _LEFT - _MARK_GAP - _MARK_LENGTH, y))
        lines.append((right + _MARK_GAP, y, right + _MARK_GAP + _MARK_LENGTH, y))
    strokes = b" ".join(b"%.3f %.3f m %.3f %.3f l" % line for line in lines)
    return b"0 G 0.5 w " + strokes + b" S"


_CUT_MARKS = _cut_marks()


def _image_object(card: Image.Image) -> bytes:
    """A card as an image XObject: its palette if it has one, else RGB."""
    if card.mode == "P":
        palette = card.getpalette() or []
        colours = len(palette) // 3
        space = b"[/Indexed /DeviceRGB %d <%s>]" % (colours - 1, bytes(palette).hex().encode())
        data = zlib.compress(card.tobytes(), _COMPRESSION)
    else:
        card = card.convert("RGB")
        space = b"/DeviceRGB"
        data = zlib.compress(card.tobytes(), _COMPRESSION)
    return (
        (
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
            % (card.width, card.height, space, len(data))
        )
        + data
        + b"\nendstream"
    )


@dataclass
class SegmentIndex:
    """What a segment holds: its pages (first and count), cards, and object offsets in it."""

    first_page: int
    pages: int = 0
    cards: int = 0
    offsets: list[tuple[int, int]] = field(default_factory=list)  # (object number, offset)

    def to_json(self) -> dict[str, object]:
        """The index as JSON (kept beside the segment)."""
        return {
            "first_page": self.first_page,
            "pages": self.pages,
            "cards": self.cards,
            "offsets": self.offsets,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SegmentIndex:
        """The index :meth:`to_json` wrote."""
        offsets = data["offsets"]
        assert isinstance(offsets, list)
        return cls(
            int(str(data["first_page"])),
            int(str(data["pages"])),
            int(str(data["cards"])),
            [(int(number), int(offset)) for number, offset in offsets],
        )


class SheetSegment:
    """Pages ``first_page`` on of a sheet, written to ``handle`` as numbered PDF objects.

    Add cards with :meth:`add`; :meth:`close` writes the last page and returns the index.
    """

    def __init__(self, handle: BinaryIO, first_page: int) -> None:
        self._out = handle
        self._start = handle.tell()
        self.index = SegmentIndex(first_page)
        self._slots: list[int] = []  # image objects of the page being filled

    def _object(self, number: int, body: bytes) -> None:
        self.index.offsets.append((number, self._out.tell() - self._start))
        self._out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    def add(self, card: Image.Image) -> None:
        """Add one card image (as :func:`issuer.cards.render.render_card` draws it)."""
        page = self.index.first_page + self.index.pages
        number = _FIRST + page * _PER_PAGE + len(self._slots)
        self._object(number, _image_object(card))
        self._slots.append(number)
        self.index.cards += 1
        if len(self._slots) == CARDS_PER_PAGE:
            self._page()

    def _page(self) -> None:
        page = self.index.first_page + self.index.pages
        drawing: list[bytes] = []
        names: list[bytes] = []
        for position, image in enumerate(self._slots):
            row, column = divmod(position, _COLUMNS)
            x = _LEFT + column * _CARD_W
            y = _PAGE_H - _BOTTOM - (row + 1) * _CARD_H
            drawing.append(
                b"q %.3f 0 0 %.3f %.3f %.3f cm /C%d Do Q" % (_CARD_W, _CARD_H, x, y, position)
            )
            names.append(b"/C%d %d 0 R" % (position, image))
        drawing.append(_CUT_MARKS)
        content = b"\n".join(drawing)
        content_id = _page_id(page) - 1
        self._object(
            content_id, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
        )
        self._object(
            _page_id(page),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] "
            b"/Resources << /XObject << %s >> >> /Contents %d 0 R >>"
            % (_PAGE_W, _PAGE_H, b" ".join(names), content_id),
        )
        self.index.pages += 1
        self._slots = []

    def close(self) -> SegmentIndex:
        """Write the last (partly filled) page; the segment's index."""
        if self._slots:
            self._page()
        return self.index


def join_segments(
    handle: BinaryIO,
    segments: Sequence[Path],
    index_of: Callable[[Path], SegmentIndex],
    *,
    keywords: str = "",
) -> int:
    """Write the whole PDF to ``handle``: the segment files (in page order) copied in, then the
    page tree, the document information, the cross-reference table and the trailer.

    ``index_of`` gives a segment's index (read when needed, so memory holds one at a time);
    ``keywords`` (ASCII, no parentheses or backslashes) go into the document information.
    Returns the number of pages.
    """
    if not keywords.isascii() or any(char in keywords for char in "()\\"):
        raise ValueError("keywords must be ASCII without parentheses or backslashes")
    own: dict[int, int] = {}

    def write_object(number: int, body: bytes) -> None:
        own[number] = handle.tell()
        handle.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    handle.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    write_object(_CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")
    starts: list[int] = []
    pages, size = 0, _FIRST
    for path in segments:
        starts.append(handle.tell())
        with path.open("rb") as segment:
            shutil.copyfileobj(segment, handle, 1 << 20)
        index = index_of(path)
        pages += index.pages
        if index.offsets:
            size = max(size, index.offsets[-1][0] + 1)
    own[_PAGES] = handle.tell()
    handle.write(b"%d 0 obj\n<< /Type /Pages /Kids [" % _PAGES)
    for path in segments:
        index = index_of(path)
        handle.write(
            b" ".join(b"%d 0 R" % _page_id(index.first_page + n) for n in range(index.pages)) + b" "
        )
    handle.write(b"] /Count %d >>\nendobj\n" % pages)
    write_object(
        _INFO,
        b"<< /Title (%s) /Producer (credencial) /Keywords (%s) >>"
        % (CARD_TITLE.encode(), keywords.encode()),
    )
    xref = handle.tell()
    handle.write(b"xref\n0 %d\n" % size)
    free = b"0000000000 65535 f \n"
    handle.write(free)
    handle.write(b"".join(b"%010d 00000 n \n" % own[number] for number in range(1, _FIRST)))
    expected = _FIRST
    for path, start in zip(segments, starts, strict=True):
        rows: list[bytes] = []
        for number, offset in index_of(path).offsets:
            rows += [free] * (number - expected)  # numbers of empty card slots
            rows.append(b"%010d 00000 n \n" % (start + offset))
            expected = number + 1
        handle.write(b"".join(rows))
    handle.write(free * (size - expected))
    handle.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    )
    return pages
