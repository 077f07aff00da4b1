"""Sync over https (issue 20): a local TLS server with a test CA, gzip on the wire, a download
that breaks off installs nothing, and the next sync resumes from what was already checked."""

from __future__ import annotations

import gzip
import ipaddress
import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from issuer.keys.files import Ed25519KeyPair
from tests.conftest import NOW, Issuers
from tests.verifier._bundles import anchor_json
from tests.verifier.test_bundle_delta import CHANGES, BundlePublisher
from verifier import AnchorSet, format_datetime
from verifier.cli import run
from verifier.sync import DOWNLOADS, SyncInterruptedError, current_dir, sync


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


_CA_KEY_USAGE = dict.fromkeys(
    (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "encipher_only", "decipher_only",
    ),
    False,
) | {"key_cert_sign": True, "crl_sign": True}  # fmt: skip


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 / localhost it signed: (ca.pem, cert, key)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    end = start + timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("credencial test CA"))
        .issuer_name(_name("credencial test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    folder: Path
    break_once: set[str]
    requests: list[str]
    gzip_sent: bool


class _Handler(BaseHTTPRequestHandler):
    """Serves the folder; gzip when asked; breaks off the paths in ``break_once`` half-way."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        self.server.requests.append(path)
        try:
            body = (self.server.folder / path).read_bytes()
        except OSError:
            self.send_error(404)
            return
        encoding = None
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            body, encoding = gzip.compress(body), "gzip"
            self.server.gzip_sent = True
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        if path in self.server.break_once:
            self.server.break_once.discard(path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    """An https server on 127.0.0.1 whose certificate the test CA signed; the CA is the one
    the sync trusts (``SSL_CERT_FILE``), as a deployment with its own CA would set it."""
    ca, cert, key = make_test_ca(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    server = _Server(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.folder, server.break_once, server.requests = tmp_path / "www", set(), []
    server.gzip_sent = False
    server.folder.mkdir()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def publisher(tmp_path: Path, issuers: Issuers) -> BundlePublisher:
    anchors = {f"anchor-{n}": Ed25519KeyPair.generate() for n in (1, 2, 3)}
    return BundlePublisher(tmp_path / "pub", anchors, issuers.keys["IMSS"])


def _serve(server: _Server, folder: Path) -> str:
    shutil.rmtree(server.folder)
    shutil.copytree(folder, server.folder)
    return f"https://127.0.0.1:{server.server_address[1]}/"


def _anchors(publisher: BundlePublisher) -> AnchorSet:
    return AnchorSet.from_json(anchor_json(publisher.anchors, 2))


def test_sync_over_https_with_gzip_then_by_delta(
    tls_server: _Server, publisher: BundlePublisher, tmp_path: Path
) -> None:
    state = tmp_path / "trust"
    v1 = publisher.publish(1, {})
    url = _serve(tls_server, v1)
    first = sync(url, state, anchors=_anchors(publisher), now=NOW)
    assert (first.by_full, first.missing) == (4, ())
    assert tls_server.gzip_sent
    raw = sum(p.stat().st_size for p in v1.rglob("*.json"))
    assert first.transferred < raw / 2  # gzip on the wire: mostly-empty lists compress well
    v2 = publisher.publish(2, CHANGES, previous=v1)
    tls_server.requests.clear()
    second = sync(_serve(tls_server, v2), state, now=NOW)
    assert (second.by_delta, second.unchanged, second.by_full) == (2, 2, 0)
    assert tls_server.requests == ["trust-bundle.json", "status/delta.json"]
    installed = current_dir(state) / "status" / "imss-revocation-1.json"
    assert installed.read_bytes() == (v2 / "status" / "imss-revocation-1.json").read_bytes()


def test_an_interrupted_sync_installs_nothing_and_the_next_one_resumes(
    tls_server: _Server, publisher: BundlePublisher, tmp_path: Path
) -> None:
    state = tmp_path / "trust"
    url = _serve(tls_server, publisher.publish(1, {}))
    tls_server.break_once.add("status/imss-revocation-2.json")
    with pytest.raises(SyncInterruptedError, match="broke off"):
        sync(url, state, anchors=_anchors(publisher), now=NOW)
    assert not (state / "current").exists()  # nothing installed
    assert len(list((state / DOWNLOADS).iterdir())) == 1  # list 1, checked, kept to resume
    tls_server.requests.clear()
    result = sync(url, state, anchors=_anchors(publisher), now=NOW)
    assert (result.by_full, result.resumed, result.missing) == (4, 1, ())
    assert "status/imss-revocation-1.json" not in tls_server.requests  # not downloaded again
    assert not (state / DOWNLOADS).exists()  # installed: the kept downloads are dropped


def test_an_interrupted_update_keeps_the_installed_bundle(
    tls_server: _Server,
    publisher: BundlePublisher,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The desk keeps judging with what it had; the command says to run it again."""
    state = tmp_path / "trust"
    v1 = publisher.publish(1, {})
    sync(_serve(tls_server, v1), state, anchors=_anchors(publisher), now=NOW)
    before = current_dir(state)
    v2 = publisher.publish(2, CHANGES, previous=v1)
    url = _serve(tls_server, v2)
    tls_server.break_once.add("status/delta.json")
    argv = ["sync", url, "--state", str(state), "--now", format_datetime(NOW)]
    assert run(argv) == 64
    assert "nothing was installed: run the same command again" in capsys.readouterr().err
    assert current_dir(state) == before
    state_file = json.loads((before / "state.json").read_text())
    assert state_file["highestVersion"] == 1
    assert run(argv) == 0
    assert "2 by delta, 0 full, 2 unchanged" in capsys.readouterr().err


def test_a_server_the_ca_did_not_certify_is_refused(
    tls_server: _Server, publisher: BundlePublisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _serve(tls_server, publisher.publish(1, {}))
    (tmp_path / "other").mkdir()
    other_ca, _, _ = make_test_ca(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with pytest.raises(OSError, match="certificate is not trusted") as caught:
        sync(url, tmp_path / "trust", anchors=_anchors(publisher), now=NOW)
    assert not isinstance(caught.value, SyncInterruptedError)
    assert not (tmp_path / "trust" / "current").exists()
