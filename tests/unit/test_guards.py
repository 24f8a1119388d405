import json

import pytest

from runtree.server.guards import Guards, depth, host_name, parse_json


def test_host_names_without_ports() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("[::1]:80") == "[::1]"
    assert host_name("evil.example") == "evil.example"


def test_parse_json_keeps_what_orjson_cannot_and_refuses_what_no_store_keeps() -> None:
    assert parse_json(b'{"a": NaN, "b": 123456789012345678901234567890}')["b"] == 123456789012345678901234567890
    assert parse_json(b'{"e": "\\ud83d\\ude00"}') == {"e": "\U0001f600"}  # a surrogate pair is one character
    for bad in (b'{"a": "\\ud800"}', b'{"\\udfff": 1, "n": NaN}', b'["\xed\xa0\x80"]', b"[" * 5000 + b"]" * 5000):
        with pytest.raises(json.JSONDecodeError):
            parse_json(bad)


def test_depth_counts_without_recursion() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep, 64) == 65
    assert depth({"a": [1, {"b": 2}]}) == 3


def _scope(method: str, **headers: str) -> dict[str, object]:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": method, "path": "/graphql", "headers": [(b"host", b"127.0.0.1:8765"), *raw]}


def test_the_guards_decisions() -> None:
    open_ui = Guards(None, allowed_hosts={"127.0.0.1", "localhost"}, open_mode=True)  # type: ignore[arg-type]
    keyed = Guards(None, open_mode=False)  # type: ignore[arg-type]
    assert open_ui.refusal(_scope("POST", content_type="application/json")) is None
    assert open_ui.refusal(_scope("POST", content_type="text/plain; charset=utf-8"))[0] == 415  # type: ignore[index]
    assert open_ui.refusal(_scope("POST"))[0] == 415  # type: ignore[index]
    assert open_ui.refusal(_scope("POST", x_runtree_ui="1")) is None
    assert open_ui.refusal(_scope("POST", content_type="application/json", origin="null"))[0] == 403  # type: ignore[index]
    assert open_ui.refusal(_scope("POST", content_type="application/json", origin="http://127.0.0.1:8765")) is None
    assert open_ui.refusal(_scope("GET", origin="http://evil.example")) is None  # a read: the browser keeps the answer from it
    assert keyed.refusal(_scope("POST", content_type="text/plain")) is None  # with keys, a page has no key to send
    assert keyed.refusal(_scope("POST", sec_fetch_site="cross-site"))[0] == 403  # type: ignore[index]
    assert keyed.refusal(_scope("POST", sec_fetch_site="same-origin")) is None
