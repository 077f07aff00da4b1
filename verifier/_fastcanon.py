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
#: Either of the two above: one search in the usual case.
_PLAIN_TEXT = re.compile(r'[\\\x00-\x1f"\x7f\ud800-\udfff]')
_PURPOSES = {"assertionMethod": "assertionMethod", "authentication": "authenticationMethod"}


class _NotOurShapeError(Exception):
    """The document is not one of the shapes handled here."""


def _iri(value: Any) -> str:
    if not isinstance(value, str) or _SAFE_IRI.fullmatch(value) is None:
        raise _NotOurShapeError
    return f"<{value}>"


def _literal(value: Any, datatype: str | None = None) -> str:
    if not isinstance(value, str):
        raise _NotOurShapeError
    if _PLAIN_TEXT.search(value) is None:  # the usual case: nothing to escape or refuse
        return f'"{value}"' if datatype is None else f'"{value}"^^<{datatype}>'
    if _UNSAFE_TEXT.search(value):
        raise _NotOurShapeError
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


# Our credential's predicates and fixed tails, formatted once. Within one node every predicate
# is different, so the order in which sorting puts a node's lines is fixed: the tails below are
# listed in that order (`<http://www.w3.org/1999/...#type>` sorts before every `<https://...>`),
# and a line that starts with an IRI ("<") sorts before one that starts with a blank node ("_:").
_P_SUBJECT = f"<{_VC}credentialSubject>"
_P_STATUS = f"<{_VC}credentialStatus>"
_P_SCHEMA = f"<{_VC}credentialSchema>"
_P_COVERAGE = f"<{_NS}coverage>"
_CREDENTIAL_TYPE_TAILS = tuple(f" {_RDF_TYPE} {iri} .\n" for iri in _CREDENTIAL_TYPES.values())
_COVERAGE_TYPE_TAIL = f" {_RDF_TYPE} <{_NS}HealthCoverage> .\n"
_ENTRY_TYPE_TAIL = f" {_RDF_TYPE} <{_BSL}BitstringStatusListEntry> .\n"
_SCHEMA_TYPE_TAIL = f" {_RDF_TYPE} <{_VC}JsonSchema> .\n"
_SUBJECT_KEYS = (  # (key, predicate, datatype) in sorted predicate order, after `coverage`
    ("curp", f"<{_NS}curp>", None),
    ("secondFamilyName", f"<{_NS}secondFamilyName>", None),
    ("birthDate", f"<{_SCHEMA_ORG}birthDate>", _XSD + "date"),
    ("familyName", f"<{_SCHEMA_ORG}familyName>", None),
    ("givenName", f"<{_SCHEMA_ORG}givenName>", None),
)
_COVERAGE_KEYS = tuple(  # in sorted predicate order, after the optional rdf:type
    (key, f"<{_NS}{key}>")
    for key in (
        "adscriptionUnit",
        "affiliationNumber",
        "beneficiaryRelationship",
        "institution",
        "program",
    )
)
_SUBJECT_REQUIRED = frozenset({"curp", "givenName", "familyName", "birthDate", "coverage"})
_SUBJECT_OPTIONAL = frozenset({"id", "secondFamilyName"})
_COVERAGE_REQUIRED = frozenset(key for key, _ in _COVERAGE_KEYS)
_ENTRY_REQUIRED = frozenset({"type", "statusPurpose", "statusListIndex", "statusListCredential"})
_TOP_REQUIRED = frozenset(
    {"@context", "id", "type", "issuer", "validFrom", "validUntil", "credentialSubject"}
)
_TOP_OPTIONAL = frozenset({"credentialStatus", "credentialSchema"})


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _credential(document: Mapping[str, Any]) -> str:
    """Our health-coverage credential; its blank nodes (the coverage, the subject without an
    ``id``, status entries without one) labelled by their first-degree hashes."""
    _keys(document, _TOP_REQUIRED, _TOP_OPTIONAL)
    if document["@context"] != _CONTEXTS[0]:
        raise _NotOurShapeError
    types = document["type"]
    if not isinstance(types, list) or sorted(types) != sorted(_CREDENTIAL_TYPES):
        raise _NotOurShapeError
    cred = _iri(document["id"])
    lines = [cred + tail for tail in _CREDENTIAL_TYPE_TAILS]
    lines.append(f"{cred} <{_VC}issuer> {_iri(document['issuer'])} .\n")
    lines.append(
        f"{cred} <{_VC}validFrom> {_literal(document['validFrom'], _XSD + 'dateTime')} .\n"
    )
    lines.append(
        f"{cred} <{_VC}validUntil> {_literal(document['validUntil'], _XSD + 'dateTime')} .\n"
    )

    subject_node = document["credentialSubject"]
    _keys(subject_node, _SUBJECT_REQUIRED, _SUBJECT_OPTIONAL)
    subject_tails = [
        f" {predicate} {_literal(subject_node[key], datatype)} .\n"
        for key, predicate, datatype in _SUBJECT_KEYS
        if key in subject_node
    ]
    coverage_node = subject_node["coverage"]
    _keys(coverage_node, _COVERAGE_REQUIRED, frozenset({"type"}))
    coverage_tails = []
    if "type" in coverage_node:
        if coverage_node["type"] != "HealthCoverage":
            raise _NotOurShapeError
        coverage_tails.append(_COVERAGE_TYPE_TAIL)
    coverage_tails += [
        f" {predicate} {_literal(coverage_node[key])} .\n" for key, predicate in _COVERAGE_KEYS
    ]
    subject = _iri(subject_node["id"]) if "id" in subject_node else None

    entries: list[tuple[str | None, list[str]]] = []  # (IRI or None for a blank node, tails)
    if "credentialStatus" in document:
        status = document["credentialStatus"]
        if not isinstance(status, list):
            raise _NotOurShapeError
        ids = [entry.get("id") for entry in status if isinstance(entry, Mapping) and "id" in entry]
        if len(set(map(str, ids))) != len(ids):
            raise _NotOurShapeError  # two entries with one id would merge into one node
        for entry in status:
            _keys(entry, _ENTRY_REQUIRED, frozenset({"id"}))
            if entry["type"] != "BitstringStatusListEntry":
                raise _NotOurShapeError
            tails = [
                _ENTRY_TYPE_TAIL,
                f" <{_BSL}statusListCredential> {_iri(entry['statusListCredential'])} .\n",
                f" <{_BSL}statusListIndex> {_literal(entry['statusListIndex'])} .\n",
                f" <{_BSL}statusPurpose> {_literal(entry['statusPurpose'])} .\n",
            ]
            entries.append((_iri(entry["id"]) if "id" in entry else None, tails))
    if "credentialSchema" in document:
        schema_node = document["credentialSchema"]
        _keys(schema_node, frozenset({"id", "type"}))
        if schema_node["type"] != "JsonSchema":
            raise _NotOurShapeError
        schema = _iri(schema_node["id"])
        lines.append(f"{cred} {_P_SCHEMA} {schema} .\n")
        lines.append(schema + _SCHEMA_TYPE_TAIL)

    return _serialise_credential(cred, lines, subject, subject_tails, coverage_tails, entries)


def _serialise_credential(
    cred: str,
    lines: list[str],
    subject: str | None,
    subject_tails: list[str],
    coverage_tails: list[str],
    entries: list[tuple[str | None, list[str]]],
) -> str:
    """Canonical N-Quads of our credential from its parts, already formatted as N-Quads terms.

    ``cred``: the credential's IRI; ``lines``: its own lines other than the subject and status
    links (types, issuer, validity, schema); ``subject``: the subject's IRI or None (a blank
    node); ``*_tails``: each node's `` <predicate> object .\\n`` in sorted order (see the
    constants above); ``entries``: each status entry's IRI (None: a blank node) and tails.
    Raises :class:`_NotOurShapeError` when two blank nodes share a first-degree hash.
    """
    # First-degree quads (RDFC-1.0 §4.6) of each blank node, itself _:a and any other _:z, in
    # sorted order: the coverage, the subject if blank, then each blank status entry.
    coverage_quads = "_:a" + "_:a".join(coverage_tails)
    if subject is None:
        first_degree = [
            f"{coverage_quads}_:z {_P_COVERAGE} _:a .\n",
            f"{cred} {_P_SUBJECT} _:a .\n_:a {_P_COVERAGE} _:z .\n_:a" + "_:a".join(subject_tails),
        ]
    else:
        first_degree = [f"{subject} {_P_COVERAGE} _:a .\n{coverage_quads}"]
    status_link = f"{cred} {_P_STATUS} _:a .\n_:a"
    first_degree += [status_link + "_:a".join(tails) for iri, tails in entries if iri is None]
    hashes = [_sha256(quads) for quads in first_degree]
    if len(set(hashes)) != len(hashes):
        raise _NotOurShapeError  # a shared hash: the full algorithm decides
    labels = [""] * len(hashes)
    for position, index in enumerate(sorted(range(len(hashes)), key=hashes.__getitem__)):
        labels[index] = f"_:c14n{position}"

    coverage = labels[0]
    if subject is None:
        subject = labels[1]
    lines = [*lines, f"{cred} {_P_SUBJECT} {subject} .\n"]
    lines += [subject + tail for tail in subject_tails]
    lines.append(f"{subject} {_P_COVERAGE} {coverage} .\n")
    lines += [coverage + tail for tail in coverage_tails]
    blank_labels = iter(labels[len(labels) - sum(iri is None for iri, _ in entries) :])
    for iri, tails in entries:
        node = iri if iri is not None else next(blank_labels)
        lines.append(f"{cred} {_P_STATUS} {node} .\n")
        lines += [node + tail for tail in tails]
    return "".join(sorted(set(lines)))  # an RDF graph is a set


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
