"""RDFC-1.0 canonicalization with pyld, refusing input that JSON-LD would silently alter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._contexts import ContextLoader
from ._datamodel import is_url
from ._errors import ContextError, DataLossError, InputError
from ._fastcanon import fast_canonicalize

__all__ = ["canonicalize", "canonicalize_full", "expand"]

_KEYWORDS_WITH_IRI = ("@id", "@type")


def _dropped(expanded_property: str | None) -> None:
    raise DataLossError(
        f"JSON-LD processing would drop the property {expanded_property or '(undefined term)'}: "
        "every property must be defined by a bundled context"
    )


def _refused_context(exc: BaseException) -> str | None:
    """The URL pyld was refused by our loader, if that is what this error chain is about."""
    from pyld.jsonld import JsonLdError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, JsonLdError) and isinstance(seen.details, dict):
            url = seen.details.get("url")
            if isinstance(url, str):
                return url
        seen = seen.__cause__ or seen.__context__
    return None


def _check_iris(node: Any) -> None:
    """Every @id and @type left after expansion must be an absolute IRI or a blank node."""
    for key, value in _iri_values(node):
        if not (value.startswith("_:") or is_url(value)):
            raise DataLossError(
                f"{key} value {value!r} is not an absolute IRI and would be dropped"
            )


def _iri_values(node: Any) -> Iterator[tuple[str, str]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            is_value_object = "@value" in item
            for key, value in item.items():
                if key in _KEYWORDS_WITH_IRI and not (is_value_object and key == "@type"):
                    for iri in value if isinstance(value, list) else [value]:
                        if isinstance(iri, str):
                            yield key, iri
                elif key == "@type" and isinstance(value, str) and value != "@json":
                    yield key, value
                elif isinstance(value, (list, dict)):
                    stack.append(value)


def expand(document: Mapping[str, Any], loader: ContextLoader) -> list[Any]:
    """Expand ``document`` with only ``loader``'s contexts, raising on any data loss."""
    from pyld.jsonld import JsonLdError, JsonLdProcessor  # imported when the full path runs

    options = loader.pyld_options()
    try:
        expanded: list[Any] = JsonLdProcessor(on_property_dropped=_dropped).expand(
            dict(document), options
        )
    except JsonLdError as exc:
        url = _refused_context(exc)
        if url is not None:
            raise ContextError(f"unknown JSON-LD context {url!r}: never fetched") from exc
        raise DataLossError(f"JSON-LD expansion failed: {exc}") from exc
    except ValueError as exc:  # pyld's IRI resolver, e.g. a nested "@context": "" (a bad base)
        raise DataLossError(f"JSON-LD expansion failed: {exc}") from exc
    except RecursionError as exc:
        raise InputError("document nested too deeply") from exc
    _check_iris(expanded)
    return expanded


def canonicalize(document: Mapping[str, Any], loader: ContextLoader) -> str:
    """RDFC-1.0 canonical N-Quads of ``document``.

    Documents of our known shapes take the direct path (:mod:`verifier._fastcanon`); everything
    else runs the full algorithm (pyld ``URDNA2015``, which is RDFC-1.0) with data-loss checks.
    """
    fast = fast_canonicalize(document)
    if fast is not None:
        return fast
    return canonicalize_full(document, loader)


def canonicalize_full(document: Mapping[str, Any], loader: ContextLoader) -> str:
    """RDFC-1.0 canonical N-Quads by the full algorithm (pyld), refusing any data loss."""
    from pyld.jsonld import JsonLdError, JsonLdProcessor

    expanded = expand(document, loader)
    options = loader.pyld_options()
    options.update(algorithm="URDNA2015", format="application/n-quads")
    try:
        nquads: str = JsonLdProcessor().normalize(expanded, options)
    except JsonLdError as exc:
        raise DataLossError(f"RDF canonicalization failed: {exc}") from exc
    return nquads
