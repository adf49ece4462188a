"""Coverage-guided fuzzing of the edge handler with atheris (libFuzzer for Python).

Run it directly for as long as you like; crashes are written as ``crash-<sha1>`` files in the
working folder and can be replayed by passing the file as an argument::

    cd tests && ../.venv/bin/python -m fuzz.atheris_edge -max_total_time=300 -max_len=9000
    cd tests && ../.venv/bin/python -m fuzz.atheris_edge crash-<sha1>

``test_atheris.py`` runs a short session in CI. Minimized failures go to ``regressions/`` as
JSON (see ``test_regressions.py``), like those found by Hypothesis.

Each input is split by libFuzzer's data provider into: which Host header(s), a URI (often under a
routed prefix, up to 8,192 characters), a few headers, a method and a query string. The handler
then has to answer something CloudFront accepts (``support.cloudfront_problems`` and ``decide``);
anything else raises, which atheris reports as a crash.
"""

from __future__ import annotations

import copy
import sys

import atheris

with atheris.instrument_imports(include=["edge_router", "routing_table", "fuzz"]):
    from edge_router.local.events import decide

    from .support import HOSTS, MAX_URL, cloudfront_problems, make_event, make_router

ROUTER, TABLE, CLOCK = make_router()
PREFIXES = ["/api/", "/files/", "/docs/", "/", ""]
HEADER_NAMES = ["user-agent", "x-forwarded-host", "via", "accept-encoding", "cookie", "x-a"]
METHODS = ["GET", "HEAD", "POST", "OPTIONS", "DELETE"]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        hosts: list[str] | None = [fdp.PickValueInList(HOSTS)]
    elif fdp.ConsumeBool():
        hosts = None
    else:
        hosts = [fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))]
    headers = {
        fdp.PickValueInList(HEADER_NAMES): [fdp.ConsumeUnicodeNoSurrogates(40)]
        for _ in range(fdp.ConsumeIntInRange(0, 3))
    }
    method = fdp.PickValueInList(METHODS)
    query = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 64))
    query = "".join(c for c in query if 0x21 <= ord(c) <= 0x7E)  # as CloudFront passes it
    uri = fdp.PickValueInList(PREFIXES) + fdp.ConsumeUnicode(fdp.remaining_bytes())
    uri = uri[: MAX_URL - 1 - len(query)] or "/"
    event = make_event(hosts, uri, headers, method, query)
    sent = copy.deepcopy(event)
    result = ROUTER.handle(event)
    problems = cloudfront_problems(sent, result)
    if problems:
        raise AssertionError(f"{problems}: host={hosts!r} uri={uri[:200]!r}")
    decide(sent, result)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
