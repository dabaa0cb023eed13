"""The symbolic string values behind destinations: joining, alternatives, widening, format,
and how an address is parsed and graded."""

from __future__ import annotations

from apkaudit.behaviour.destinations import Address, destination_of
from apkaudit.behaviour.symbolic import MAX_ALTS, MAX_TEXT, UNKNOWN, Alt, Obj, Text, alt, concat
from apkaudit.behaviour.symbolic_models import _format
from apkaudit.model import CodeLocation, Resolution

A = CodeLocation("classes.dex", "LA;", "m()V", 0)
B = CodeLocation("classes.dex", "LA;", "m()V", 4)


def t(*parts, origins=()) -> Text:
    return Text(tuple(parts), frozenset(origins))


def test_concat_merges_literals_and_holes_and_keeps_origins() -> None:
    out = concat(t("https://", origins=[A]), t(None), t(None), "/x", t("?a=", origins=[B]))
    assert out == Text(
        (
            "https://",
            None,
            "/x?a=",
        ),
        frozenset({A, B}),
        built=True,
    )


def test_alternatives_distribute_and_widen_to_the_common_prefix() -> None:
    two = alt([t("https://a.example/"), t("https://b.example/")])
    assert isinstance(two, Alt) and len(two.options) == 2
    both = concat(two, "v1")
    assert {o.literal for o in both.options} == {"https://a.example/v1", "https://b.example/v1"}
    many = alt(t(f"https://api.example/page{i}") for i in range(MAX_ALTS + 3))
    assert isinstance(many, Text) and many.parts == ("https://api.example/page", None)
    assert alt([UNKNOWN]) is UNKNOWN


def test_text_is_bounded() -> None:
    big = concat(*(t("x" * 100) for _ in range(3 * MAX_TEXT // 100)))
    assert isinstance(big, Text)
    assert len(big.literal or big.render("")) <= MAX_TEXT


def test_string_format() -> None:
    arr = Obj("array", ("s", 1)).with_attrs(e0=t("h.example"), e1=t("contacts"))
    out = _format(t("https://%s/api/%s?%%", origins=[A]), arr)
    assert isinstance(out, Text) and out.literal == "https://h.example/api/contacts?%"
    positional = _format(t("%2$s/%1$s"), arr)
    assert positional.literal == "contacts/h.example"
    assert _format(t(None), arr) == Text((None,), built=True)


def _dest(text: Text):
    return destination_of(Address(text, "urlconnection"), None, "app")


def test_addresses_are_parsed_and_graded() -> None:
    d = _dest(t("https://user@API.Example:8443/v1/x?k=v", origins=[A]))
    assert (d.scheme, d.host, d.port, d.path, d.resolution) == (
        "https",
        "api.example",
        8443,
        "/v1/x",
        Resolution.CONSTANT,
    )
    assert _dest(t("http://[2001:db8::1]:80/p", origins=[A])).host == "[2001:db8::1]"
    built = _dest(t("https://h.example/", "v1", origins=[A, B]))
    assert built.resolution is Resolution.BUILT
    hole = _dest(t("https://", None, "/api", origins=[A]))
    assert (hole.host, hole.resolution, hole.url, hole.path) == (
        "",
        Resolution.UNRESOLVED,
        "https://…/api",
        "/api",
    )
    assert _dest(t("http://h.example:99999/")).port is None  # not a port
    assert _dest(t("tcp://10.0.0.1:4444")).api == "tcp"
    assert _dest(t(None)).url == ""
    res = _dest(Text(("https://r.example/u",), frozenset({A}), resource="0x7f020000"))
    assert res.resolution is Resolution.RESOURCE
