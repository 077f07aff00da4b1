"""RDFC-1.0 canonical N-Quads, computed directly for documents of our known shapes.

pyld takes milliseconds per credential; this takes tens of microseconds. It applies only when a
document is *exactly* one of the shapes below (our health-coverage credential, the issuer's
status list credential, and Data Integrity proof options) with the bundled contexts; for
anything else it returns ``None`` and the caller runs the full algorithm. Blank nodes get
canonical labels from their first-degree hashes (RDFC-1.0 §4.6); if two blank nodes share a
hash, the full algorithm decides instead.

Differential tests (``tests/verifier/test_fastcanon.py``) check byte equality with pyld's
full algorithm on generated documents, including every character N-Quads must escape.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import schemas

from ._contexts import CREDENTIALS_V2_URL

__all__ = ["fast_canonicalize"]

_RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_VC = "https://www.w3.org/2018/credentials#"
_BSL = "https://www.w3.org/ns/credentials/status#"
_SEC = "https://w3id.org/security#"
_NS = schemas.CREDENCIAL_VOCAB
_SCHEMA_ORG = "https://schema.org/"

_CONTEXTS = ([CREDENTIALS_V2_URL, schemas.CREDENCIAL_CONTEXT_URL], [CREDENTIALS_V2_URL])
_CREDENTIAL_TYPES = {
    "VerifiableCredential": f"<{_VC}VerifiableCredential>",
    "HealthCoverageCredential": f"<{_NS}HealthCoverageCredential>",
}
#: An IRI pyld writes unchanged: absolute, no character N-Quads would need escaped.
_SAFE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\\x7f]*")
_NEEDS_ESCAPE = re.compile(r'[\\\t\n\r"]')
_UNSAFE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_PURPOSES = {"assertionMethod": "assertionMethod", "authentication": "authenticationMethod"}


class _NotOurShapeError(Exception):
    """The document is not one of the shapes handled here."""


def _iri(value: Any) -> str:
    if not isinstance(value, str) or _SAFE_IRI.fullmatch(value) is None:
        raise _NotOurShapeError
    return f"<{value}>"


def _literal(value: Any, datatype: str | None = None) -> str:
    if not isinstance(value, str) or _UNSAFE_TEXT.search(value):
        raise _NotOurShapeError
    if _NEEDS_ESCAPE.search(value) is None:  # the usual case: nothing to escape
        return f'"{value}"' if datatype is None else f'"{value}"^^<{datatype}>'
    escaped = (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace('"', '\\"')
    )
    return f'"{escaped}"' if datatype is None else f'"{escaped}"^^<{datatype}>'


def _keys(node: Any, required: frozenset[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(node, Mapping):
        raise _NotOurShapeError
    keys = node.keys()
    if not required <= keys or not keys <= required | optional:
        raise _NotOurShapeError


class _Graph:
    """Triples with provisional blank-node labels, then canonical labelling and serialisation."""

    __slots__ = ("blank_nodes", "triples")

    def __init__(self) -> None:
        self.triples: list[tuple[str, str, str]] = []
        self.blank_nodes: list[str] = []

    def blank(self) -> str:
        label = f"_:b{len(self.blank_nodes)}"
        self.blank_nodes.append(label)
        return label

    def add(self, subject: str, predicate: str, obj: str) -> None:
        self.triples.append((subject, predicate, obj))

    def serialise(self) -> str:
        triples = set(self.triples)  # an RDF graph is a set
        blank_nodes = self.blank_nodes
        if not blank_nodes:
            return "".join(sorted([f"{s} {p} {o} .\n" for s, p, o in triples]))
        if len(blank_nodes) == 1:  # a lone blank node is _:c14n0 whatever its hash
            lone = blank_nodes[0]
            return "".join(
                sorted(
                    [
                        f"{'_:c14n0' if s == lone else s} {p} {'_:c14n0' if o == lone else o} .\n"
                        for s, p, o in triples
                    ]
                )
            )
        # First-degree hashes (RDFC-1.0 §4.6): the node's quads, itself _:a, other blanks _:z.
        # Each triple's tail (" <p> <o> .\n") is formatted once and reused for both passes.
        first_degree: dict[str, list[str]] = {node: [] for node in blank_nodes}
        plain: list[tuple[str, str]] = []  # (subject, tail) of triples whose object is no blank
        linked: list[tuple[str, str, str]] = []  # triples whose object is a blank node
        for s, p, o in triples:
            if o.startswith("_:"):
                linked.append((s, p, o))
                if s.startswith("_:"):
                    first_degree[s].append(f"_:a {p} {'_:a' if o == s else '_:z'} .\n")
                    if o != s:
                        first_degree[o].append(f"_:z {p} _:a .\n")
                else:
                    first_degree[o].append(f"{s} {p} _:a .\n")
            else:
                tail = f" {p} {o} .\n"
                plain.append((s, tail))
                if s.startswith("_:"):
                    first_degree[s].append("_:a" + tail)
        hashes = {
            node: hashlib.sha256("".join(sorted(lines)).encode("utf-8")).digest()
            for node, lines in first_degree.items()
        }
        if len(set(hashes.values())) != len(hashes):
            raise _NotOurShapeError  # shared first-degree hashes: the full algorithm decides
        labels = {
            node: f"_:c14n{position}"
            for position, node in enumerate(sorted(blank_nodes, key=hashes.__getitem__))
        }
        lines = [labels.get(s, s) + tail for s, tail in plain]
        lines += [f"{labels.get(s, s)} {p} {labels[o]} .\n" for s, p, o in linked]
        return "".join(sorted(lines))


def _credential(document: Mapping[str, Any]) -> str:
    _keys(
        document,
        frozenset(
            {"@context", "id", "type", "issuer", "validFrom", "validUntil", "credentialSubject"}
        ),
        frozenset({"credentialStatus", "credentialSchema"}),
    )
    if document["@context"] != _CONTEXTS[0]:
        raise _NotOurShapeError
    types = document["type"]
    if not isinstance(types, list) or sorted(types) != sorted(_CREDENTIAL_TYPES):
        raise _NotOurShapeError
    graph = _Graph()
    credential = _iri(document["id"])
    for name in types:
        graph.add(credential, _RDF_TYPE, _CREDENTIAL_TYPES[name])
    graph.add(credential, f"<{_VC}issuer>", _iri(document["issuer"]))
    for key in ("validFrom", "validUntil"):
        graph.add(credential, f"<{_VC}{key}>", _literal(document[key], _XSD + "dateTime"))

    subject_node = document["credentialSubject"]
    _keys(
        subject_node,
        frozenset({"curp", "givenName", "familyName", "birthDate", "coverage"}),
        frozenset({"id", "secondFamilyName"}),
    )
    subject = _iri(subject_node["id"]) if "id" in subject_node else graph.blank()
    graph.add(credential, f"<{_VC}credentialSubject>", subject)
    graph.add(subject, f"<{_NS}curp>", _literal(subject_node["curp"]))
    graph.add(subject, f"<{_SCHEMA_ORG}givenName>", _literal(subject_node["givenName"]))
    graph.add(subject, f"<{_SCHEMA_ORG}familyName>", _literal(subject_node["familyName"]))
    if "secondFamilyName" in subject_node:
        graph.add(subject, f"<{_NS}secondFamilyName>", _literal(subject_node["secondFamilyName"]))
    graph.add(
        subject, f"<{_SCHEMA_ORG}birthDate>", _literal(subject_node["birthDate"], _XSD + "date")
    )

    coverage_node = subject_node["coverage"]
    _keys(
        coverage_node,
        frozenset(
            {
                "institution",
                "program",
                "affiliationNumber",
                "beneficiaryRelationship",
                "adscriptionUnit",
            }
        ),
        frozenset({"type"}),
    )
    coverage = graph.blank()
    graph.add(subject, f"<{_NS}coverage>", coverage)
    if "type" in coverage_node:
        if coverage_node["type"] != "HealthCoverage":
            raise _NotOurShapeError
        graph.add(coverage, _RDF_TYPE, f"<{_NS}HealthCoverage>")
    for key in (
        "institution",
        "program",
        "affiliationNumber",
        "beneficiaryRelationship",
        "adscriptionUnit",
    ):
        graph.add(coverage, f"<{_NS}{key}>", _literal(coverage_node[key]))

    if "credentialStatus" in document:
        entries = document["credentialStatus"]
        if not isinstance(entries, list):
            raise _NotOurShapeError
        ids = [entry.get("id") for entry in entries if isinstance(entry, Mapping) and "id" in entry]
        if len(set(map(str, ids))) != len(ids):
            raise _NotOurShapeError  # two entries with one id would merge into one node
        for entry in entries:
            _keys(
                entry,
                frozenset({"type", "statusPurpose", "statusListIndex", "statusListCredential"}),
                frozenset({"id"}),
            )
            if entry["type"] != "BitstringStatusListEntry":
                raise _NotOurShapeError
            node = _iri(entry["id"]) if "id" in entry else graph.blank()
            graph.add(credential, f"<{_VC}credentialStatus>", node)
            graph.add(node, _RDF_TYPE, f"<{_BSL}BitstringStatusListEntry>")
            graph.add(node, f"<{_BSL}statusPurpose>", _literal(entry["statusPurpose"]))
            graph.add(node, f"<{_BSL}statusListIndex>", _literal(entry["statusListIndex"]))
            graph.add(node, f"<{_BSL}statusListCredential>", _iri(entry["statusListCredential"]))
    if "credentialSchema" in document:
        schema_node = document["credentialSchema"]
        _keys(schema_node, frozenset({"id", "type"}))
        if schema_node["type"] != "JsonSchema":
            raise _NotOurShapeError
        schema = _iri(schema_node["id"])
        graph.add(credential, f"<{_VC}credentialSchema>", schema)
        graph.add(schema, _RDF_TYPE, f"<{_VC}JsonSchema>")
    return graph.serialise()


_PROOF_OPTION_KEYS = frozenset(
    {"@context", "type", "cryptosuite", "verificationMethod", "proofPurpose", "created"}
    | {"expires", "challenge", "domain", "nonce"}
)
_CREATED = "<http://purl.org/dc/terms/created>"


def _proof_options(document: Mapping[str, Any]) -> str:
    """Proof options: the ``created`` quad, then the others, cached per key and purpose.

    Every quad has the one blank node ``_:c14n0`` as subject, so lines sort by predicate, and
    ``<http://purl.org/dc/terms/created>`` sorts before every other predicate used here.
    """
    _keys(
        document,
        frozenset({"@context", "type", "cryptosuite", "verificationMethod", "proofPurpose"}),
        _PROOF_OPTION_KEYS,
    )
    context = document["@context"]
    others = tuple(
        (key, value) for key, value in document.items() if key not in ("@context", "created")
    )
    if not (
        isinstance(context, list)
        and all(isinstance(url, str) for url in context)
        and all(isinstance(value, str) for _, value in others)
    ):
        raise _NotOurShapeError
    rest = _proof_options_without_created(tuple(context), tuple(sorted(others)))
    if "created" not in document:
        return rest
    return f"_:c14n0 {_CREATED} {_literal(document['created'], _XSD + 'dateTime')} .\n{rest}"


@lru_cache(maxsize=64)
def _proof_options_without_created(
    context: tuple[Any, ...], options: tuple[tuple[str, str], ...]
) -> str:
    document = dict(options)
    if list(context) not in _CONTEXTS or document["type"] != "DataIntegrityProof":
        raise _NotOurShapeError
    purpose = _PURPOSES.get(document["proofPurpose"])
    if purpose is None:
        raise _NotOurShapeError
    graph = _Graph()
    proof = graph.blank()
    graph.add(proof, _RDF_TYPE, f"<{_SEC}DataIntegrityProof>")
    graph.add(
        proof, f"<{_SEC}cryptosuite>", _literal(document["cryptosuite"], _SEC + "cryptosuiteString")
    )
    graph.add(proof, f"<{_SEC}verificationMethod>", _iri(document["verificationMethod"]))
    graph.add(proof, f"<{_SEC}proofPurpose>", f"<{_SEC}{purpose}>")
    if "expires" in document:
        graph.add(proof, f"<{_SEC}expiration>", _literal(document["expires"], _XSD + "dateTime"))
    for key in ("challenge", "domain", "nonce"):
        if key in document:
            graph.add(proof, f"<{_SEC}{key}>", _literal(document[key]))
    return graph.serialise()


_STATUS_LIST_TYPES = {
    "VerifiableCredential": f"<{_VC}VerifiableCredential>",
    "BitstringStatusListCredential": f"<{_BSL}BitstringStatusListCredential>",
}
_MAX_TTL = 2**53  # JSON integers beyond this are not exact in every processor


def _status_list_credential(document: Mapping[str, Any]) -> str:
    """A BitstringStatusListCredential as the issuer writes it (one purpose, single-bit)."""
    _keys(
        document,
        frozenset({"@context", "id", "type", "issuer", "credentialSubject"}),
        frozenset({"validFrom", "validUntil"}),
    )
    types = document["type"]
    if (
        document["@context"] != _CONTEXTS[1]
        or not isinstance(types, list)
        or sorted(types) != sorted(_STATUS_LIST_TYPES)
    ):
        raise _NotOurShapeError
    graph = _Graph()
    credential = _iri(document["id"])
    for name in types:
        graph.add(credential, _RDF_TYPE, _STATUS_LIST_TYPES[name])
    graph.add(credential, f"<{_VC}issuer>", _iri(document["issuer"]))
    for key in ("validFrom", "validUntil"):
        if key in document:
            graph.add(credential, f"<{_VC}{key}>", _literal(document[key], _XSD + "dateTime"))
    subject_node = document["credentialSubject"]
    _keys(
        subject_node,
        frozenset({"id", "type", "statusPurpose", "encodedList"}),
        frozenset({"ttl"}),
    )
    if subject_node["type"] != "BitstringStatusList":
        raise _NotOurShapeError
    subject = _iri(subject_node["id"])
    graph.add(credential, f"<{_VC}credentialSubject>", subject)
    graph.add(subject, _RDF_TYPE, f"<{_BSL}BitstringStatusList>")
    graph.add(subject, f"<{_BSL}statusPurpose>", _literal(subject_node["statusPurpose"]))
    graph.add(
        subject, f"<{_BSL}encodedList>", _literal(subject_node["encodedList"], _SEC + "multibase")
    )
    if "ttl" in subject_node:
        ttl = subject_node["ttl"]
        if type(ttl) is not int or not -_MAX_TTL < ttl < _MAX_TTL:
            raise _NotOurShapeError
        graph.add(subject, f"<{_BSL}ttl>", f'"{ttl}"^^<{_XSD}integer>')
    return graph.serialise()


def fast_canonicalize(document: Mapping[str, Any]) -> str | None:
    """Canonical N-Quads of a document of a known shape, or ``None`` to use the full algorithm."""
    try:
        if "cryptosuite" in document:
            return _proof_options(document)
        if "credentialSubject" in document:
            types = document.get("type")
            if isinstance(types, list) and "BitstringStatusListCredential" in types:
                return _status_list_credential(document)
            return _credential(document)
    except _NotOurShapeError:
        return None
    return None
