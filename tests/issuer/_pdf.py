"""Reading the PDF sheets the issuer writes, through their cross-reference table."""

from __future__ import annotations

import zlib

from PIL import Image


def pdf_objects(data: bytes) -> dict[int, bytes]:
    """The objects of a PDF, found through its cross-reference table (which must be right:
    every entry in use points at its object; free entries are skipped)."""
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    xref = int(data[data.rindex(b"startxref") :].split()[1])
    header, *entries = data[xref:].split(b"trailer")[0].strip().split(b"\n")[1:]
    first, count = map(int, header.split())
    assert (first, count) == (0, len(entries))
    assert data[data.rindex(b"trailer") :].split(b"/Size ", 1)[1].startswith(b"%d " % count)
    objects = {}
    for number, entry in enumerate(entries[1:], start=1):
        if entry.split()[2] == b"f":
            continue
        offset = int(entry.split()[0])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
        objects[number] = data[offset : data.index(b"\nendobj\n", offset)]
    return objects


def page_images(objects: dict[int, bytes]) -> list[list[Image.Image]]:
    """The card images of every page, in page order (the page tree's) and drawing order."""
    tree = next(body for body in objects.values() if b"/Type /Pages " in body)
    kids = [int(ref) for ref in tree.split(b"/Kids [", 1)[1].split(b"]", 1)[0].split(b" 0 R")[:-1]]
    pages = []
    for kid in kids:
        page = objects[kid]
        resources = page.split(b"/XObject << ", 1)[1].split(b" >>", 1)[0].split()
        names = {resources[i]: int(resources[i + 1]) for i in range(0, len(resources), 4)}
        content = objects[int(page.split(b"/Contents ", 1)[1].split()[0])]
        drawn = [word for word in content.split() if word.startswith(b"/C")]
        pages.append([_image(objects[names[name]]) for name in drawn])
    return pages


def _image(body: bytes) -> Image.Image:
    head, stream = body.split(b"stream\n", 1)
    data = zlib.decompress(stream.rsplit(b"\nendstream", 1)[0])
    width = int(head.split(b"/Width ", 1)[1].split()[0])
    height = int(head.split(b"/Height ", 1)[1].split()[0])
    if b"/Indexed" in head:
        hex_palette = head.split(b"/DeviceRGB ", 1)[1].split(b"<", 1)[1].split(b">", 1)[0]
        palette = bytes.fromhex(hex_palette.decode())
        image = Image.frombytes("P", (width, height), data)
        image.putpalette(palette)
        return image
    return Image.frombytes("RGB", (width, height), data)
