"""How well the printed card's QR survives a poor capture, at error-correction levels L, M and Q.

Each trial renders the card (300 dpi), moves it by a random sub-pixel offset (no two captures
sample the print alike), applies one degradation at one strength, and reads the QR back with the
verifier's own reader (zxing-cpp). It counts a success only when the exact card text comes back.
The same degradations are used by ``tests/issuer/test_card_render.py``.

Run with ``python -m bench.card_robustness`` (about 30 s).
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageDraw, ImageFilter, ImageMath

from issuer.cards.render import (
    DPI,
    EccLevel,
    QrPlacement,
    qr_image,
    qr_placement,
    render_card_text,
)
from issuer.credentials.signing import new_coverage_credential, sign_document
from issuer.demo import DEMO_PEOPLE
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from verifier import InputError, encode_card
from verifier._images import decode_qr_pil

__all__ = [
    "KINDS",
    "Degradation",
    "blur",
    "decodes",
    "degrade",
    "low_resolution",
    "main",
    "noise",
    "rotation",
    "stain",
    "stain_and_poor_capture",
]

Degrade = Callable[[Image.Image, float, random.Random, QrPlacement], Image.Image]

_FINDER = 8  # modules of a finder pattern with its separator
_STAIN_INK = 45  # a dark, opaque blot (coffee, ink, dirt)


def _shift(image: Image.Image, rng: random.Random) -> Image.Image:
    """The image moved by a random sub-pixel offset (bilinear resampling, like a camera)."""
    dx, dy = rng.random(), rng.random()
    return image.transform(
        image.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, dy), Image.Resampling.BILINEAR,
        fillcolor=255,
    )  # fmt: skip


def blur(image: Image.Image, radius: float, rng: random.Random, qr: QrPlacement) -> Image.Image:
    """Gaussian blur of ``radius`` px at 300 dpi (out of focus, or a smudged print)."""
    return image.filter(ImageFilter.GaussianBlur(radius))


def noise(image: Image.Image, sigma: float, rng: random.Random, qr: QrPlacement) -> Image.Image:
    """Additive noise of standard deviation ``sigma`` grey levels (sensor noise in poor light).

    The noise is a sum of differences of uniform draws (close to Gaussian as pairs are added).
    """
    pairs = max(1, math.ceil((sigma * math.sqrt(6) / 255) ** 2))
    spread = sigma * math.sqrt(6 / pairs)  # u - v, u and v uniform on [0, spread]: sigma²/pairs
    size, count = image.size, image.width * image.height

    def uniform() -> Image.Image:
        raw = Image.frombytes("L", size, rng.randbytes(count))
        return raw.point(lambda v: round(v * spread / 255))

    mixed = image
    for _ in range(pairs):
        mixed = ImageMath.lambda_eval(lambda e: e["x"] + e["u"] - e["v"], x=mixed, u=uniform(),
                                      v=uniform())  # fmt: skip
    return mixed.convert("L")  # clamps to 0..255


def rotation(
    image: Image.Image, degrees: float, rng: random.Random, qr: QrPlacement
) -> Image.Image:
    """The card turned by ``degrees`` (± 1° of random hand shake), on white."""
    angle = degrees + rng.uniform(-1, 1)
    return image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def stain(image: Image.Image, percent: float, rng: random.Random, qr: QrPlacement) -> Image.Image:
    """An opaque blot covering ``percent`` % of the symbol, at a random place in its data area.

    The blot never touches a finder pattern: with one of the three covered no reader finds the
    symbol at any level, so it would measure luck rather than error correction.
    """
    area = qr.side * qr.side * percent / 100
    aspect = rng.uniform(0.75, 1.33)
    rx, ry = math.sqrt(area / math.pi * aspect), math.sqrt(area / math.pi / aspect)
    finder = _FINDER * qr.module_px
    finders = [
        (qr.left, qr.top),
        (qr.left + qr.side - finder, qr.top),
        (qr.left, qr.top + qr.side - finder),
    ]
    for _ in range(1000):
        cx = rng.uniform(qr.left + rx, qr.left + qr.side - rx)
        cy = rng.uniform(qr.top + ry, qr.top + qr.side - ry)
        box = (cx - rx, cy - ry, cx + rx, cy + ry)
        if not any(
            box[0] < fx + finder and fx < box[2] and box[1] < fy + finder and fy < box[3]
            for fx, fy in finders
        ):
            break
    else:  # pragma: no cover - only for blots too large to place
        raise ValueError(f"a stain of {percent} % does not fit beside the finder patterns")
    stained = image.copy()
    ImageDraw.Draw(stained).ellipse(box, fill=_STAIN_INK)
    return stained


def low_resolution(
    image: Image.Image, dpi: float, rng: random.Random, qr: QrPlacement
) -> Image.Image:
    """Captured at ``dpi`` (area-averaged), then scaled back up to 300 dpi as a viewer would."""
    factor = dpi / DPI
    small = image.resize(
        (round(image.width * factor), round(image.height * factor)), Image.Resampling.BOX
    )
    return small.resize(image.size, Image.Resampling.BILINEAR)


def stain_and_poor_capture(
    image: Image.Image, percent: float, rng: random.Random, qr: QrPlacement
) -> Image.Image:
    """A stain over ``percent`` % of the symbol (none at 0), then a poor photo of the card:
    blur of radius 3 px, 75 dpi and noise of sigma 24, each well inside its own limit."""
    if percent:
        image = stain(image, percent, rng, qr)
    image = blur(image, 3, rng, qr)
    image = low_resolution(image, 75, rng, qr)
    return noise(image, 24, rng, qr)


@dataclass(frozen=True)
class Degradation:
    """One kind of damage, its unit, and the strengths the benchmark tries (mildest first)."""

    name: str
    unit: str
    levels: tuple[float, ...]
    apply: Degrade


KINDS: dict[str, Degradation] = {
    d.name: d
    for d in (
        Degradation("blur", "radius px", (2, 3, 4, 4.5, 5, 6), blur),
        Degradation("noise", "sigma", (32, 64, 96, 128, 160, 192), noise),
        Degradation("rotation", "degrees", (5, 15, 45, 90), rotation),
        Degradation("stain", "% of symbol", (4, 8, 12, 16, 20, 25, 30), stain),
        Degradation("low-res", "dpi", (150, 100, 75, 50, 40, 30), low_resolution),
        Degradation("stain+capture", "% stain", (0, 4, 8, 12, 16), stain_and_poor_capture),
    )
}


def degrade(card: Image.Image, kind: str, level: float, seed: int, qr: QrPlacement) -> Image.Image:
    """The greyscale ``card`` after one trial of ``kind`` at ``level`` (random draws from seed)."""
    rng = random.Random(f"{kind}/{level}/{seed}")
    return KINDS[kind].apply(_shift(card.convert("L"), rng), level, rng, qr)


def decodes(image: Image.Image, text: str) -> bool:
    """Whether the verifier's reader gets exactly ``text`` back from ``image``."""
    try:
        return decode_qr_pil(image) == text
    except InputError:
        return False


def _credential() -> dict[str, object]:
    institution = INSTITUTIONS["IMSS"]
    unsigned = new_coverage_credential(
        institution, DEMO_PEOPLE["credential"], status_list=1, status_index=94_567,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC), valid_until=datetime(2031, 1, 1, tzinfo=UTC),
        credential_id="urn:uuid:3f1c9a52-7d4e-4b8a-9c61-0e2f5a7b8d90",
    )  # fmt: skip
    seed = hashlib.sha256(b"bench/card_robustness").digest()  # the same card text every run
    key = Ed25519KeyPair(Ed25519PrivateKey.from_private_bytes(seed))
    return sign_document(
        unsigned, key, institution.verification_method("key-1"), created="2026-01-01T00:00:00Z"
    )


def main(levels: tuple[EccLevel, ...] = ("L", "M", "Q"), seeds: int = 10) -> None:
    """Print the decode success rate per degradation kind and strength, per ECC level."""
    start = time.perf_counter()
    credential = _credential()
    text = encode_card(credential)
    cards = {ecc: render_card_text(credential, text, ecc=ecc).convert("L") for ecc in levels}
    places = {ecc: qr_placement(text, ecc) for ecc in levels}
    print(f"Card QR robustness: {len(text)} characters of card text, {seeds} seeds per cell")
    for ecc in levels:
        place = places[ecc]
        version = (qr_image(text, ecc).width - 8 - 17) // 4
        print(
            f"  {ecc}: version {version}, {place.modules} modules, {place.module_px} px/module "
            f"({place.module_px * 25.4 / DPI:.2f} mm), symbol {place.side * 25.4 / DPI:.1f} mm"
        )
    print(f"\n{'degradation':<28}" + "".join(f"{ecc:>7}" for ecc in levels))
    for kind in KINDS.values():
        for level in kind.levels:
            cells = []
            for ecc in levels:
                ok = sum(
                    decodes(degrade(cards[ecc], kind.name, level, seed, places[ecc]), text)
                    for seed in range(seeds)
                )
                cells.append(f"{100 * ok // seeds:>6}%")
            print(f"{kind.name} {level:g} {kind.unit}".ljust(28) + "".join(cells))
    print(f"\n({time.perf_counter() - start:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
