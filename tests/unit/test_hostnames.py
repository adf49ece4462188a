"""Hostname generation: examples, errors and hypothesis properties of the pure generator."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from slugify import slugify

from hostnames.names import (
    DEFAULT_TEMPLATE,
    MAX_LABEL,
    MAX_NAME,
    generate_hostname,
    is_valid_label,
    normalize_domain,
    parse_template,
)
from routing_table.errors import InvalidHostError, InvalidInputError, InvalidTemplateError

LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Slugs are what the generator works on; drawing them directly lets properties talk about
# "distinct inputs" without slugify folding two texts into one.
slugs = st.from_regex(r"[a-z0-9]{1,12}(-[a-z0-9]{1,12}){0,5}", fullmatch=True)
handles = st.from_regex(r"[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,1}", fullmatch=True)
domain_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
domains = (
    st.lists(domain_labels, min_size=1, max_size=6)
    .map(".".join)
    .filter(lambda d: not d.rsplit(".", 1)[-1].isdigit())
)
any_text = st.text(min_size=1, max_size=90)


def _check_name(name: str, domain: str) -> str:
    label, _, rest = name.partition(".")
    assert rest == normalize_domain(domain)
    assert len(label) <= MAX_LABEL
    assert len(name) <= MAX_NAME
    assert LABEL_RE.match(label), label
    assert label[2:4] != "--"
    assert "--" not in label
    return label


def test_default_template_example() -> None:
    name = generate_hostname(service="api", handle="t9yhp25", app="portal", domain="example.com")
    assert name == "api-t9yhp25-portal.example.com"


def test_inputs_are_slugged_and_transliterated() -> None:
    name = generate_hostname(
        service="API Server", handle="Team1", app="Bücher_Shop", domain="Example.COM."
    )
    assert name == "api-server-team1-bucher-shop.example.com"


def test_custom_template_with_branch_and_idn_domain() -> None:
    name = generate_hostname(
        service="web",
        handle="abc1234",
        app="portal",
        branch="feature/Login--Fix",
        domain="bücher.de",
        template="{branch}-{handle}.{domain}",
    )
    assert name == "feature-login-fix-abc1234.xn--bcher-kva.de"


def test_long_parts_are_truncated_with_a_hash_and_keep_the_handle() -> None:
    name = generate_hostname(
        service="a-very-long-service-name-that-goes-on-and-on",
        handle="t9yhp25",
        app="an-equally-long-application-name-for-the-portal",
        domain="example.com",
    )
    label = _check_name(name, "example.com")
    assert "-t9yhp25-" in label
    assert len(label) == MAX_LABEL
    assert re.search(r"-[a-z2-7]{8}$", label)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{service}-{app}.{domain}", "must use {handle}"),
        ("{service}.{handle}.{domain}", "one label"),
        ("{handle}-{app}", r"must end with '\.\{domain\}'"),
        ("{handle}-{nope}.{domain}", "unknown field {nope}"),
        ("{handle}-{handle}.{domain}", "more than once"),
        ("{handle}--{app}.{domain}", "literal text"),
        ("-{handle}.{domain}", "literal text"),
        ("{handle}_{app}.{domain}", "literal text"),
        ("{handle!r}.{domain}", "unknown field"),
        ("{handle.{domain}", "malformed"),
    ],
)
def test_bad_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(InvalidTemplateError, match=message):
        parse_template(template)


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("", "empty"),
        ("exa mple.com", "invalid label"),
        ("-example.com", "invalid label"),
        ("ab--cd.com", "invalid label"),
        ("example..com", "invalid label"),
        ("10.0.0.1", "numeric label"),
        ("a" * 64 + ".com", "invalid label"),
    ],
)
def test_bad_domains_are_refused(domain: str, message: str) -> None:
    with pytest.raises(InvalidHostError, match=message):
        generate_hostname(service="api", handle="h", app="x", domain=domain)


def test_punycode_domain_labels_are_allowed() -> None:
    assert normalize_domain("XN--BCHER-KVA.de") == "xn--bcher-kva.de"


def test_domain_leaving_no_room_is_a_clear_error() -> None:
    domain = ".".join(["d" * 61] * 4)  # 247 characters: 5 left for the label
    with pytest.raises(InvalidHostError, match="no room for a hostname"):
        generate_hostname(service="api", handle="t9yhp25", app="portal", domain=domain)


def test_missing_branch_and_empty_slug_are_errors() -> None:
    with pytest.raises(InvalidInputError, match="no branch was given"):
        generate_hostname(
            service="a", handle="h", app="b", domain="x.io", template="{branch}-{handle}.{domain}"
        )
    with pytest.raises(InvalidInputError, match="no letters or digits"):
        generate_hostname(service="!!!", handle="h", app="b", domain="x.io")


@given(service=any_text, handle=any_text, app=any_text, domain=domains)
def test_any_input_gives_one_valid_label(service: str, handle: str, app: str, domain: str) -> None:
    assume(all(slugify(v) for v in (service, handle, app)))
    try:
        name = generate_hostname(service=service, handle=handle, app=app, domain=domain)
    except InvalidHostError as exc:
        # A long domain and a long handle may be refused, but never turned into a bad name.
        message = str(exc)
    else:
        message = ""
        _check_name(name, domain)
    assert not message or "no room" in message


@given(service=slugs, handle=handles, app=slugs, domain=domains)
def test_generation_is_deterministic(service: str, handle: str, app: str, domain: str) -> None:
    first = generate_hostname(service=service, handle=handle, app=app, domain=domain)
    parse_template.cache_clear()
    assert generate_hostname(service=service, handle=handle, app=app, domain=domain) == first


@given(
    service=slugs,
    app=slugs,
    handle_a=handles,
    handle_b=handles,
    domain=domains.filter(lambda d: len(d) <= 120),
)
def test_distinct_handles_give_distinct_names(
    service: str, app: str, handle_a: str, handle_b: str, domain: str
) -> None:
    assume(handle_a != handle_b)
    a = generate_hostname(service=service, handle=handle_a, app=app, domain=domain)
    b = generate_hostname(service=service, handle=handle_b, app=app, domain=domain)
    assert a != b


@given(
    service_a=slugs,
    service_b=slugs,
    app=slugs,
    handle=handles,
    domain=domains.filter(lambda d: len(d) <= 120),
)
def test_distinct_services_give_distinct_names(
    service_a: str, service_b: str, app: str, handle: str, domain: str
) -> None:
    assume(service_a != service_b)
    a = generate_hostname(service=service_a, handle=handle, app=app, domain=domain)
    b = generate_hostname(service=service_b, handle=handle, app=app, domain=domain)
    assert a != b


@given(st.text(max_size=80))
def test_generated_labels_never_look_like_idna(text: str) -> None:
    slug = slugify(text)
    assume(slug)
    for template in (DEFAULT_TEMPLATE, "{handle}{service}.{domain}", "x{service}{handle}.{domain}"):
        name = generate_hostname(
            service=slug, handle="xn", app=slug, domain="example.com", template=template
        )
        label = name.split(".", 1)[0]
        assert is_valid_label(label)
        assert label[2:4] != "--"
