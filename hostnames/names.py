"""Hostname generation: predictable, DNS-safe names of one label under the environment domain.

Pure: no I/O. ``{service}-{handle}-{app}.{domain}`` becomes e.g. ``api-t9yhp25-portal.example.com``.

Why one label: the distribution's wildcard certificate ``*.example.com`` covers exactly one label,
so ``api.t9yhp25.portal.example.com`` would not be served over TLS. The label obeys DNS rules
(at most 63 characters of ``[a-z0-9-]``, no leading or trailing hyphen) and never has ``--`` in
positions 3-4, which IDNA reserves (``xn--`` is punycode); this module goes further and never
emits ``--`` at all, because every part is slugged (slugs have no double hyphens) and template
literals may not contain one.

Too long: the handle is kept whole (it is what makes the name unique and what people read),
the other parts are truncated as evenly as possible, and ``-<8 base32 chars>`` of a blake2b hash
of the full, untruncated label is appended. Two inputs whose full labels differ therefore keep
different names (with 40 bits of hash), and the same inputs always give the same name.
"""

from __future__ import annotations

import base64
import hashlib
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from slugify import slugify

from routing_table.errors import InvalidHostError, InvalidInputError, InvalidTemplateError

DEFAULT_TEMPLATE: Final = "{service}-{handle}-{app}.{domain}"
VARIABLES: Final = frozenset({"service", "handle", "app", "branch"})
MAX_LABEL: Final = 63
MAX_NAME: Final = 253
HASH_CHARS: Final = 8  # 40 bits: base32 of a 5-byte digest, no padding

_LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_LITERAL = re.compile(r"^[a-z0-9-]*$")
_HASH_SUFFIX_LEN = HASH_CHARS + 1  # "-" + hash


@dataclass(frozen=True, slots=True)
class _Field:
    name: str


_Piece = str | _Field


def is_valid_label(label: str) -> bool:
    """An LDH label of 1-63 lowercase characters that does not look like an IDNA one."""
    return bool(_LDH_LABEL.match(label)) and label[2:4] != "--"


def normalize_domain(domain: str) -> str:
    """Lowercase ASCII form of ``domain`` (IDNs become punycode), or ``InvalidHostError``."""
    text = domain.strip().rstrip(".").lower()
    if not text:
        raise InvalidHostError("domain is empty", field="domain", value=domain)
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidHostError(
                f"domain {domain!r} is not a valid internationalised name: {exc}",
                field="domain",
                value=domain,
            ) from exc
    labels = text.split(".")
    for label in labels:
        # Punycode labels ("xn--...") are legitimate in a domain; other "--" in 3-4 are reserved.
        valid = bool(_LDH_LABEL.match(label)) and (label[2:4] != "--" or label.startswith("xn--"))
        if not valid:
            raise InvalidHostError(
                f"domain {domain!r} has an invalid label {label!r} (labels are 1-63 characters "
                "of a-z, 0-9 and '-', not starting or ending with '-')",
                field="domain",
                value=domain,
            )
    if labels[-1].isdigit():
        raise InvalidHostError(
            f"domain {domain!r} ends in a numeric label (an IP address is not a domain)",
            field="domain",
            value=domain,
        )
    if len(text) > MAX_NAME:
        raise InvalidHostError(
            f"domain {domain!r} is longer than {MAX_NAME} characters", field="domain", value=domain
        )
    return text


@dataclass(frozen=True, slots=True)
class HostnameTemplate:
    """A parsed template: literal text and ``{variable}`` fields, one label, then ``.{domain}``."""

    text: str
    pieces: tuple[_Piece, ...]

    @classmethod
    def parse(cls, text: str) -> HostnameTemplate:
        label_text = _label_part(text)
        pieces = tuple(_pieces(text, label_text))
        names = [p.name for p in pieces if isinstance(p, _Field)]
        if "handle" not in names:
            raise InvalidTemplateError(
                f"template {text!r} must use {{handle}}: it is what makes each name unique",
                field="template",
                value=text,
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidTemplateError(
                f"template {text!r} uses {{{duplicates[0]}}} more than once",
                field="template",
                value=text,
            )
        _check_literals(text, pieces)
        return cls(text=text, pieces=pieces)

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(p.name for p in self.pieces if isinstance(p, _Field))

    def render(
        self, *, service: str, handle: str, app: str, domain: str, branch: str | None = None
    ) -> str:
        """The hostname for these inputs: one valid label, a dot, the normalised domain."""
        host_domain = normalize_domain(domain)
        raw = {"service": service, "handle": handle, "app": app, "branch": branch}
        slugs = {name: _slug(name, raw[name]) for name in self.variables}
        budget = min(MAX_LABEL, MAX_NAME - len(host_domain) - 1)
        label = _fit(self, slugs, budget, host_domain)
        return f"{label}.{host_domain}"


@lru_cache(maxsize=64)
def parse_template(text: str) -> HostnameTemplate:
    """Parse (and cache) a template; templates come from configuration, so they repeat."""
    return HostnameTemplate.parse(text)


def generate_hostname(
    *,
    service: str,
    handle: str,
    app: str,
    domain: str,
    branch: str | None = None,
    template: str = DEFAULT_TEMPLATE,
) -> str:
    """``generate_hostname(service="api", handle="t9yhp25", app="portal", domain="example.com")``
    is ``"api-t9yhp25-portal.example.com"``."""
    return parse_template(template).render(
        service=service, handle=handle, app=app, domain=domain, branch=branch
    )


def _label_part(text: str) -> str:
    suffix = ".{domain}"
    if not text.endswith(suffix):
        raise InvalidTemplateError(
            f"template {text!r} must end with '.{{domain}}' (names live under the domain)",
            field="template",
            value=text,
        )
    label = text[: -len(suffix)]
    if "." in label or "{domain}" in label:
        raise InvalidTemplateError(
            f"template {text!r} must be one label before '.{{domain}}': a wildcard certificate "
            "covers exactly one label, so the part before the domain may not contain '.'",
            field="template",
            value=text,
        )
    return label


def _pieces(text: str, label_text: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    try:
        parsed = list(string.Formatter().parse(label_text))
    except ValueError as exc:
        raise InvalidTemplateError(
            f"template {text!r} is malformed: {exc}", field="template", value=text
        ) from exc
    for literal, name, spec, conversion in parsed:
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        if name not in VARIABLES or spec or conversion:
            allowed = ", ".join(f"{{{v}}}" for v in sorted(VARIABLES | {"domain"}))
            raise InvalidTemplateError(
                f"template {text!r} has an unknown field {{{name}}}; allowed: {allowed}",
                field="template",
                value=text,
            )
        pieces.append(_Field(name))
    return pieces


def _check_literals(text: str, pieces: tuple[_Piece, ...]) -> None:
    for index, piece in enumerate(pieces):
        if isinstance(piece, _Field):
            continue
        edge_hyphen = (index == 0 and piece.startswith("-")) or (
            index == len(pieces) - 1 and piece.endswith("-")
        )
        if not _LITERAL.match(piece) or "--" in piece or edge_hyphen:
            raise InvalidTemplateError(
                f"template {text!r} has literal text {piece!r}: literals must be lowercase "
                "a-z, 0-9 and single '-', and the label may not start or end with '-'",
                field="template",
                value=text,
            )


def _slug(name: str, value: str | None) -> str:
    if value is None:
        raise InvalidInputError(
            f"the hostname template uses {{{name}}} but no {name} was given", field=name
        )
    slug: str = slugify(value)
    if not slug:
        raise InvalidInputError(
            f"{name} {value!r} has no letters or digits to put in a hostname",
            field=name,
            value=value,
        )
    return slug


def _join(template: HostnameTemplate, slugs: dict[str, str]) -> str:
    return "".join(p if isinstance(p, str) else slugs[p.name] for p in template.pieces)


def _fit(template: HostnameTemplate, slugs: dict[str, str], budget: int, domain: str) -> str:
    full = _join(template, slugs)
    if len(full) <= budget:
        return full
    shrinkable = [p.name for p in template.pieces if isinstance(p, _Field) and p.name != "handle"]
    fixed = len(full) - sum(len(slugs[n]) for n in shrinkable) + _HASH_SUFFIX_LEN
    room = budget - fixed
    if room < len(shrinkable) or (not shrinkable and room < 0):
        raise InvalidHostError(
            f"no room for a hostname under {domain!r}: the label may have {budget} characters "
            f"but handle {slugs['handle']!r}, the template's literals and a {_HASH_SUFFIX_LEN}-"
            f"character hash need {fixed + len(shrinkable)}",
            field="domain",
            value=domain,
        )
    lengths = _shares([len(slugs[n]) for n in shrinkable], room)
    short = dict(slugs)
    for name, length in zip(shrinkable, lengths, strict=True):
        # A cut can end on a hyphen ("my-service" -> "my-"); strip it so no "--" or trailing "-".
        short[name] = slugs[name][:length].rstrip("-")
    return f"{_join(template, short)}-{_digest(full)}"


def _shares(lengths: list[int], room: int) -> list[int]:
    """Lengths that fill ``room``: long parts shrink first and equally, short ones stay whole,
    and what the even cap leaves over goes to the first parts that were cut."""
    cap = _even_cap(lengths, room)
    shares = [min(n, cap) for n in lengths]
    spare = room - sum(shares)
    for index, n in enumerate(lengths):
        if spare > 0 and n > cap:
            shares[index] += 1
            spare -= 1
    return shares


def _even_cap(lengths: list[int], room: int) -> int:
    """The largest cap c with sum(min(n, c)) <= room: long parts shrink first, short ones stay."""
    low, high = 1, max(lengths, default=1)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(n, mid) for n in lengths) <= room:
            low = mid
        else:
            high = mid - 1
    return low


def _digest(full_label: str) -> str:
    digest = hashlib.blake2b(full_label.encode("utf-8"), digest_size=5).digest()
    return base64.b32encode(digest).decode("ascii").lower()
