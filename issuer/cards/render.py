"""The printed card: a CR80 card (85.60 × 53.98 mm) at 300 dpi with the holder's details and a QR.

The QR holds the card text (:func:`verifier.encode_card`, ``SUS1:`` + Base45) in alphanumeric
mode, with its 4-module quiet zone, as large as fits beside the text column at a whole number of
pixels per module (crisp at 300 dpi). The printed text is only a reading aid: name, CURP,
institution, program and validity. No birth date, affiliation number, clinical or biometric data
is printed (the QR carries the signed credential, which is what a verifier trusts).

QR library: segno. Both segno and qrcode keep the text in one alphanumeric segment (qrcode only
when given an explicit ``QRData(..., MODE_ALPHA_NUM)``; segno is told ``mode="alphanumeric"`` and
raises rather than fall back to byte mode), and they pick the same versions; segno builds the
matrix 1.3-1.7 times faster here, has no dependencies and ships type information.

Default error correction: **M** (15 % of codewords recoverable), chosen by measurement
(``python -m bench.card_robustness``; the table is in the README). On a card of fixed size a
higher level needs a larger QR version and so smaller modules: a typical credential (about 260
to 280 characters of card text) is version 8 or 9 at L (10 px modules), 9 or 10 at M (9 px),
11 or 12 at Q (8 px). Rotation and noise do not separate the levels. L reads the blurriest
and lowest-resolution captures, but an opaque stain over 8 % of the symbol defeats it; M
survives 8-12 % stains and reads nearly as blurred and coarse captures as L. Q survives 16 %
stains on a sharp capture, but its smaller modules fail on a poor one (blur 3 px, 75 dpi and
noise together) even when the card is clean, while M still reads that capture with an 8 % stain.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import segno
from PIL import Image, ImageDraw, ImageFont

from verifier import encode_card, parse_datetime, parse_health_coverage_credential

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_SIZE_PX",
    "CARD_TITLE",
    "CARD_WIDTH_MM",
    "DEFAULT_ECC",
    "DPI",
    "ECC_LEVELS",
    "EccLevel",
    "QrPlacement",
    "card_pdf",
    "card_png",
    "ecc_level",
    "qr_image",
    "qr_placement",
    "render_card",
    "render_card_text",
]

EccLevel = Literal["L", "M", "Q", "H"]
ECC_LEVELS: tuple[EccLevel, ...] = ("L", "M", "Q", "H")
#: The error-correction level of printed cards (see the module docstring for the measurement).
DEFAULT_ECC: EccLevel = "M"

#: ISO/IEC 7810 ID-1 (CR80), the size of a bank card.
CARD_WIDTH_MM, CARD_HEIGHT_MM = 85.60, 53.98
DPI = 300
CARD_SIZE_PX = (
    round(CARD_WIDTH_MM / 25.4 * DPI),
    round(CARD_HEIGHT_MM / 25.4 * DPI),
)  # (1011, 638)
CARD_TITLE = "Credencial del Servicio Universal de Salud"
QUIET_ZONE = 4  # modules, as ISO/IEC 18004 requires

_MARGIN = 40  # px (3.4 mm) around the text column
_GUTTER = 6  # px between the text column and the QR's quiet zone
_MIN_TEXT_WIDTH = 380  # px (32 mm): the QR grows until the text column would be narrower
_LARGEST, _SMALLEST = 32, 20  # px sizes of the value font (7.7 pt down to 4.8 pt)
_LABEL_RATIO = 0.66
_LINE_SPACING = 1.18
_INK, _LABEL_INK, _TITLE_INK = (0, 0, 0), (90, 90, 90), (105, 28, 50)  # black, grey, guinda
_ELLIPSIS = "…"
_VALUE_WEIGHT = "bold"
_WHITE = b"\xff"
_MODULE_PIXELS = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # segno: 0 light, 1 dark


_FONT_FILES = {
    "regular": "DejaVuSansCondensed-Latin.ttf",
    "bold": "DejaVuSansCondensed-Bold-Latin.ttf",
}


@lru_cache(maxsize=2)
def _font_bytes(weight: str) -> bytes:
    return resources.files(__package__).joinpath("fonts", _FONT_FILES[weight]).read_bytes()


@lru_cache(maxsize=64)
def _font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans Condensed subset (Pillow's default font has no accented letters)."""
    return ImageFont.truetype(io.BytesIO(_font_bytes(weight)), size)


def ecc_level(value: str | None) -> EccLevel:
    """``value`` as an error-correction level (``None`` gives :data:`DEFAULT_ECC`)."""
    if value is None:
        return DEFAULT_ECC
    for level in ECC_LEVELS:
        if value == level:
            return level
    raise ValueError(f"error-correction level must be one of L, M, Q, H, not {value!r}")


@lru_cache(maxsize=16)
def _qr_pixels(text: str, ecc: EccLevel) -> tuple[int, bytes]:
    """The side (modules, with the quiet zone) and greyscale pixels of the QR, 1 px per module."""
    qr = segno.make_qr(text, error=ecc_level(ecc), mode="alphanumeric", boost_error=False)
    side = len(qr.matrix) + 2 * QUIET_ZONE
    quiet_rows, quiet_edge = _WHITE * side * QUIET_ZONE, _WHITE * QUIET_ZONE
    pixels = b"".join(quiet_edge + row.translate(_MODULE_PIXELS) + quiet_edge for row in qr.matrix)
    return side, quiet_rows + pixels + quiet_rows


def qr_image(text: str, ecc: EccLevel = DEFAULT_ECC, module_px: int = 1) -> Image.Image:
    """The QR of ``text`` in alphanumeric mode with its quiet zone, ``module_px`` px per module.

    The level is exactly ``ecc`` (never raised), so the version is the smallest that holds the
    text at that level. Raises ``ValueError`` for text outside the QR alphanumeric alphabet.
    """
    side, pixels = _qr_pixels(text, ecc)
    image = Image.frombytes("L", (side, side), pixels)
    return image.resize((side * module_px, side * module_px), Image.Resampling.NEAREST)


@dataclass(frozen=True)
class _Field:
    label: str
    value: str
    max_lines: int


@dataclass(frozen=True)
class _Line:
    text: str
    size: int
    fill: tuple[int, int, int]
    gap_before: int = 0
    weight: str = "regular"


def _split_long_word(word: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    pieces, current = [], ""
    for char in word:
        if current and font.getlength(current + char) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to ``width`` px; a word wider than a line is broken between letters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _split_long_word(word, font, width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    return [*lines, current] if current else lines or [""]


def _ellipsize(lines: list[str], font: ImageFont.FreeTypeFont, width: int, keep: int) -> list[str]:
    kept = lines[:keep]
    last = kept[-1]
    while last and font.getlength(last.rstrip() + _ELLIPSIS) > width:
        last = last[:-1]
    return [*kept[:-1], last.rstrip() + _ELLIPSIS]


def _fit(
    text: str, width: int, largest: int, max_lines: int, weight: str = "regular"
) -> tuple[list[str], int]:
    """The lines and font size of ``text`` in at most ``max_lines`` lines of ``width`` px.

    The font shrinks down to the smallest size before the text is cut (with an ellipsis).
    """
    for size in range(largest, _SMALLEST - 1, -1):
        lines = _wrap(text, _font(size, weight), width)
        if len(lines) <= max_lines:
            return lines, size
    return _ellipsize(lines, _font(_SMALLEST, weight), width, max_lines), _SMALLEST


def _date(value: str) -> str:
    moment: datetime = parse_datetime(value)
    return f"{moment:%d/%m/%Y}"


def _fields(credential: Mapping[str, Any]) -> list[_Field]:
    model = parse_health_coverage_credential(credential)
    subject = model.credential_subject
    names = (subject.given_name, subject.family_name, subject.second_family_name)
    validity = f"{_date(model.valid_from)} – {_date(model.valid_until)}"
    return [
        _Field("Nombre", " ".join(n for n in names if n), 4),
        _Field("CURP", subject.curp, 1),
        _Field("Institución", subject.coverage.institution, 1),
        _Field("Programa", subject.coverage.program, 2),
        _Field("Vigencia", validity, 1),
    ]


def _layout(fields: list[_Field], width: int, height: int) -> list[_Line]:
    """Title and fields in ``width`` × ``height`` px, at the largest size where all fit."""
    for largest in range(_LARGEST, _SMALLEST - 1, -1):
        lines: list[_Line] = []
        title, title_size = _fit(CARD_TITLE, width, largest, 2, "bold")
        lines += [_Line(t, title_size, _TITLE_INK, weight="bold") for t in title]
        label_size = max(round(largest * _LABEL_RATIO), 14)
        for field in fields:
            lines.append(_Line(field.label, label_size, _LABEL_INK, round(largest * 0.55)))
            values, size = _fit(field.value, width, largest, field.max_lines, _VALUE_WEIGHT)
            lines += [_Line(v, size, _INK, weight=_VALUE_WEIGHT) for v in values]
        used = sum(round(line.size * _LINE_SPACING) + line.gap_before for line in lines)
        if used <= height:
            break
    return lines


def render_card(credential: Mapping[str, Any], *, ecc: EccLevel = DEFAULT_ECC) -> Image.Image:
    """The card of a signed credential: an RGB image of 1011 × 638 px (CR80 at 300 dpi).

    Raises :class:`verifier.CardEncodingError` if the card form cannot express the credential,
    and ``ValueError`` (pydantic's) if it is not a health-coverage credential.
    """
    return render_card_text(credential, encode_card(credential), ecc=ecc)


@dataclass(frozen=True)
class QrPlacement:
    """Where the QR sits on the card, in card pixels (the symbol, without its quiet zone)."""

    left: int
    top: int
    modules: int
    module_px: int

    @property
    def side(self) -> int:
        """The symbol's side in pixels."""
        return self.modules * self.module_px


def _placement(symbol_modules: int) -> QrPlacement:
    width, height = CARD_SIZE_PX
    modules = symbol_modules + 2 * QUIET_ZONE
    module_px = min(height // modules, (width - _MARGIN - _MIN_TEXT_WIDTH) // modules)
    if module_px < 2:
        raise ValueError(f"a QR of {symbol_modules} modules does not fit on the card")
    side = modules * module_px
    quiet = QUIET_ZONE * module_px
    return QrPlacement(
        width - side + quiet, (height - side) // 2 + quiet, symbol_modules, module_px
    )


def qr_placement(text: str, ecc: EccLevel = DEFAULT_ECC) -> QrPlacement:
    """Where :func:`render_card` puts the QR of card text ``text`` at level ``ecc``."""
    return _placement(qr_image(text, ecc).width - 2 * QUIET_ZONE)


def render_card_text(
    credential: Mapping[str, Any], text: str, *, ecc: EccLevel = DEFAULT_ECC
) -> Image.Image:
    """:func:`render_card` with the card text already encoded (``text`` goes into the QR)."""
    width, height = CARD_SIZE_PX
    place = _placement(qr_image(text, ecc).width - 2 * QUIET_ZONE)
    quiet = QUIET_ZONE * place.module_px
    side = place.side + 2 * quiet
    card = Image.new("RGB", CARD_SIZE_PX, "white")
    card.paste(qr_image(text, ecc, place.module_px), (place.left - quiet, place.top - quiet))

    column = width - side - _MARGIN - _GUTTER  # nothing is drawn in the QR's quiet zone
    lines = _layout(_fields(credential), column, height - 2 * _MARGIN)
    draw = ImageDraw.Draw(card)
    y, previous = _MARGIN, _INK
    for line in lines:
        if previous == _TITLE_INK and line.fill != _TITLE_INK:  # a rule under the title
            rule_y = y + line.gap_before // 2 - 4
            draw.line([(_MARGIN, rule_y), (_MARGIN + column, rule_y)], fill=_TITLE_INK, width=3)
        y += line.gap_before
        draw.text((_MARGIN, y), line.text, font=_font(line.size, line.weight), fill=line.fill)
        y += round(line.size * _LINE_SPACING)
        previous = line.fill
    return card


def card_png(credential: Mapping[str, Any], ecc: EccLevel = DEFAULT_ECC) -> bytes:
    """The card as PNG bytes (300 dpi recorded in the file)."""
    buffer = io.BytesIO()
    render_card(credential, ecc=ecc).save(buffer, format="PNG", dpi=(DPI, DPI), optimize=True)
    return buffer.getvalue()


def card_pdf(credential: Mapping[str, Any], ecc: EccLevel = DEFAULT_ECC) -> bytes:
    """The card as a one-page PDF of exactly 85.60 × 53.98 mm (the 300 dpi raster)."""
    image = render_card(credential, ecc=ecc)
    dpi = (image.width * 25.4 / CARD_WIDTH_MM, image.height * 25.4 / CARD_HEIGHT_MM)
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", dpi=dpi, title=CARD_TITLE)
    return buffer.getvalue()
