"""``Ed25519KeyPair.sign`` (libsodium) gives the RFC 8032 signature, byte for byte OpenSSL's."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.keys.files import Ed25519KeyPair
from verifier._ed25519 import ed25519_verify

# RFC 8032 §7.1, TEST 1 (the empty message).
_RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
_RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
_RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_the_rfc_8032_vector() -> None:
    pair = Ed25519KeyPair(Ed25519PrivateKey.from_private_bytes(_RFC8032_SECRET))
    assert pair.public_key == _RFC8032_PUBLIC
    assert pair.sign(b"") == _RFC8032_SIGNATURE


@settings(max_examples=200, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=200))
def test_signatures_are_openssls_and_verify(seed: bytes, message: bytes) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    pair = Ed25519KeyPair(private)
    signature = pair.sign(message)
    assert signature == private.sign(message)
    assert ed25519_verify(pair.public_key, signature, message)
    assert not ed25519_verify(pair.public_key, signature, message + b"\0")
