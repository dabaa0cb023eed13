"""A network response is what the server sent, not the request's data (issue: false flows
through responses on real apps, negative-jamendo's typed search text → URL → response →
``sendBroadcast``).

``flow-response-fresh``: the IMEI goes into a URL requested with Apache HttpClient,
HttpURLConnection and OkHttp; each response (``EntityUtils.toString(execute().getEntity())``,
``getInputStream`` → ``readLine`` → broadcast, ``getResponseMessage``,
``Call.execute().body().string()``) is logged or broadcast, and the IMEI itself is logged once.
``flow-response-fresh-neg`` logs the Apache body where the positive logs the IMEI. Both keep
every request as a device_id → network chain; neither has a chain through a response.
Described in fixtures/README.md ("Data-flow micro-cases").
"""

from __future__ import annotations

import pytest
from conftest import fixture_apk, hop_names, hops, require_real

from apkaudit.behaviour.apis import NETWORK_READS
from apkaudit.model import AppResult, Chain, Level
from apkaudit.report.dataflows import chain_level, data_flows

# One network chain per request: (sink hop, what the sink says).
REQUESTS = [
    ("Probe.run@0x48", "sends over the network (HttpClient.execute)"),
    ("Probe.run@0x80", "opens a connection whose URL carries the data"),  # getInputStream
    ("Probe.run@0xc2", "opens a connection whose URL carries the data"),  # getResponseMessage
    ("Probe.run@0xf8", "sends over the network (OkHttpClient.newCall)"),
]
GET_DEVICE_ID = "Probe.run@0x10"


def _chains(result: AppResult, source: str, sink: str) -> list[Chain]:
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if c.source == source and c.sink == sink]


@pytest.mark.parametrize("name", ["flow-response-fresh", "flow-response-fresh-neg"])
def test_every_request_stays_a_network_chain(audit, name: str) -> None:
    result = audit(fixture_apk(name))
    assert result.status == "ok", result.error
    found = _chains(result, "device_id", "network")
    assert sorted(hop_names(c) for c in found) == [[GET_DEVICE_ID, at] for at, _ in REQUESTS]
    for c, (_at, desc) in zip(
        sorted(found, key=lambda c: c.hops[-1].location.offset), REQUESTS, strict=True
    ):
        assert [role for role, _n, _o in hops(c)] == ["source", "sink"]
        assert c.hops[-1].description == desc
        assert c.reachable is True
        assert chain_level(c) is Level.CONFIRMED


def test_direct_log_of_the_imei_stays(audit) -> None:
    result = audit(fixture_apk("flow-response-fresh"))
    found = _chains(result, "device_id", "log")
    assert [hop_names(c) for c in found] == [[GET_DEVICE_ID, "Probe.run@0x126"]]
    assert [role for role, _n, _o in hops(found[0])] == ["source", "sink"]
    assert chain_level(found[0]) is Level.CONFIRMED
    assert _chains(result, "device_id", "ipc") == []  # the broadcast line is the server's


def test_responses_carry_no_request_data(audit) -> None:
    result = audit(fixture_apk("flow-response-fresh-neg"))
    assert result.status == "ok", result.error
    assert result.behaviours is not None
    chains = result.behaviours.chains
    # No device_id chain ends anywhere but the network: not the three response logs, not the
    # logged body again at 0x126, not the broadcast at 0xbc.
    assert {(c.source, c.sink) for c in chains if c.source == "device_id"} == {
        ("device_id", "network")
    }
    rows = {(f.source, f.sink): f.level for f in data_flows(chains)}
    assert rows == {("device_id", "network"): Level.CONFIRMED}
    v = result.verdicts
    assert (v.contacts_upload, v.sms_send, v.bulk_sms_to_contacts) == (Level.NONE,) * 3


def test_network_reads_are_one_table() -> None:
    """The reads named in the brief are in the table (a frozenset of (class, method))."""
    for key in [
        ("Ljava/net/HttpURLConnection;", "getInputStream"),
        ("Ljava/net/URLConnection;", "getHeaderField"),
        ("Ljava/net/Socket;", "getInputStream"),
        ("Lorg/apache/http/client/HttpClient;", "execute"),
        ("Lorg/apache/http/HttpResponse;", "getEntity"),
        ("Lorg/apache/http/HttpEntity;", "getContent"),
        ("Lorg/apache/http/util/EntityUtils;", "toString"),
        ("Lokhttp3/Call;", "execute"),
        ("Lokhttp3/Response;", "body"),
        ("Lokhttp3/ResponseBody;", "string"),
        ("Lretrofit2/Call;", "execute"),
    ]:
        assert key in NETWORK_READS
    assert isinstance(NETWORK_READS, frozenset)
    # What a response object hands back about the request is not a read.
    assert ("Lokhttp3/Response;", "request") not in NETWORK_READS
    assert ("Ljava/net/URLConnection;", "getURL") not in NETWORK_READS


@pytest.mark.real
def test_jamendo_search_text_does_not_come_back_in_the_response(audit) -> None:
    """negative-jamendo: the typed search text goes into the request URL (user_input →
    network, and the URL is logged: user_input → log), but the track names the server returns
    and the app broadcasts (PlayerService.scrobblerMetaChanged) are not the user's input."""
    result = audit(require_real() / "negative-jamendo.apk")
    assert result.behaviours is not None
    chains = result.behaviours.chains
    rows = {(f.source, f.sink): f.level for f in data_flows(chains)}
    assert ("user_input", "ipc") not in rows
    assert rows[("user_input", "network")] is Level.CONFIRMED
    for c in chains:
        assert not any("Caller.requestCache" in h.description for h in c.hops), hop_names(c)
        assert not any("Track.get" in h.description for h in c.hops), hop_names(c)
