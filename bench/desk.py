"""``python -m bench.desk``: how long the front-desk page takes from a scan to its verdict.

A synced trust folder is built in a temporary directory, the desk server is started on a free
loopback port, and each figure is a median, also given as a ratio to the same verification done
directly with :meth:`Verifier.check` in the same run (what the HTTP round trip, the JSON for the
page and the day's count add). The browser's own rendering is not included.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._timing import median_seconds
from issuer.cards.render import card_png
from issuer.credentials.signing import (
    new_coverage_credential,
    new_status_list_credential,
    sign_document,
)
from issuer.demo import DEMO_PEOPLE
from issuer.institutions import INSTITUTIONS
from issuer.keys.files import Ed25519KeyPair
from verifier import (
    AnchorSet,
    TrustDir,
    Verdict,
    Verifier,
    bundle_signing_bytes,
    encode_bundle_signature,
    encode_card,
    format_datetime,
)
from verifier._images import decode_qr_image
from verifier._status import status_list_file_bytes
from verifier.desk import DeskConfig, DeskService, make_server
from verifier.sync import sync


def _publish(folder: Path, now: datetime) -> tuple[AnchorSet, Ed25519KeyPair]:
    """A signed trust bundle for IMSS with its two status lists, as ``trust-bundle build``."""
    imss = INSTITUTIONS["IMSS"]
    key, vm = Ed25519KeyPair.generate(), imss.verification_method("key-1")
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2)}
    anchor = {
        "threshold": 2,
        "keys": [
            {"id": i, "publicKeyMultibase": p.public_key_multibase} for i, p in anchors.items()
        ],
    }
    lists = []
    for purpose in ("revocation", "suspension"):
        unsigned = new_status_list_credential(
            imss, imss.status_list_url(purpose, 1), purpose=purpose, valid_from=now
        )
        data = status_list_file_bytes(sign_document(unsigned, key, vm))
        path = f"status/imss-{purpose}-1.json"
        (folder / "status").mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
        lists.append({
            "url": imss.status_list_url(purpose, 1), "purpose": purpose,
            "validFrom": format_datetime(now), "sha256": hashlib.sha256(data).hexdigest(),
            "path": path,
        })  # fmt: skip
    signed = {
        "type": "CredencialTrustBundle", "specVersion": 1, "version": 1,
        "issued": format_datetime(now), "expires": format_datetime(now + timedelta(days=30)),
        "anchor": anchor,
        "institutions": [{
            "code": imss.code, "name": imss.name, "did": imss.did, "statusLists": lists,
            "keys": [{"id": vm, "publicKeyMultibase": key.public_key_multibase,
                      "validFrom": "2025-01-01T00:00:00Z", "state": "active"}],
        }],
    }  # fmt: skip
    message = bundle_signing_bytes(signed)
    bundle = {
        "signed": signed,
        "signatures": [encode_bundle_signature(i, p.sign(message)) for i, p in anchors.items()],
    }
    (folder / "trust-bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    return AnchorSet.from_json(anchor), key


def main() -> None:
    """Print the table."""
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as temp:
        root = Path(temp)
        anchors, key = _publish(root / "published", now)
        sync(str(root / "published"), root / "trust", anchors=anchors, now=now)
        imss = INSTITUTIONS["IMSS"]
        unsigned = new_coverage_credential(
            imss, DEMO_PEOPLE["credential"], status_list=1, status_index=94_567,
            valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1825),
        )  # fmt: skip
        credential = sign_document(unsigned, key, imss.verification_method("key-1"))
        card, png = encode_card(credential), card_png(credential)

        synced = TrustDir.load(root / "trust")
        direct = Verifier(synced.trust, status_lists=synced.status_lists)
        assert direct.check(card).verdict is Verdict.VALID

        config = DeskConfig(root / "trust", counts_file=root / "counts.json")
        server = make_server(DeskService(config), "127.0.0.1", 0, quiet=True)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        headers = {"X-Credencial-Desk": "1"}

        def post(path: str, body: bytes) -> Any:
            connection.request("POST", path, body=body, headers=headers)
            document = json.loads(connection.getresponse().read())
            assert document["verdict"] == "VALID", document
            return document

        try:
            reference = median_seconds(lambda: direct.check(card), 50)
            rows = [
                ("verify card text, directly (reference)", reference),
                ("desk: POST /api/verify (card text)", median_seconds(
                    lambda: post("/api/verify", card.encode()), 50)),
                ("read the card's QR from a 300 dpi PNG, directly", median_seconds(
                    lambda: decode_qr_image(png), 10)),
                ("desk: POST /api/verify-image (300 dpi card PNG)", median_seconds(
                    lambda: post("/api/verify-image", png), 10)),
            ]  # fmt: skip
        finally:
            connection.close()
            server.shutdown()
            server.server_close()
    print(f"\n{'front desk: scan to verdict':<52} {'median':>10} {'× reference':>12}")
    for name, seconds in rows:
        print(f"{name:<52} {seconds * 1e3:>8.2f}ms {seconds / reference:>12.2f}")


if __name__ == "__main__":
    main()
