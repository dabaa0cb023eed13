"""Where the data goes (issue 10 item 1): the address of each network sink, how it was resolved
and under which keys the data was put, per dest-* fixture and on real APKs."""

from __future__ import annotations

import pytest
from conftest import fixture_apk, require_real

from apkaudit.model import AppResult, Chain, Destination, Resolution

CONSTANT, BUILT, RESOURCE, UNRESOLVED = (
    Resolution.CONSTANT, Resolution.BUILT, Resolution.RESOURCE, Resolution.UNRESOLVED,
)  # fmt: skip


def _network_chains(app: AppResult) -> list[Chain]:
    assert app.behaviours is not None
    return [c for c in app.behaviours.chains if c.sink == "network"]


def _by_sink(app: AppResult) -> dict[str, Destination]:
    """sink method name -> the destination of the chain ending there."""
    out = {}
    for c in _network_chains(app):
        assert c.destination is not None, c.hops[-1].location.short
        out[c.hops[-1].location.method.split("(")[0]] = c.destination
    return out


def _host(d: Destination) -> tuple:
    return (d.scheme, d.host, d.port, d.path, d.resolution, d.api)


def test_json_post_to_a_constant_url(audit) -> None:
    app = audit(fixture_apk("dest-json-post"))
    [chain] = _network_chains(app)
    assert chain.kind == "contacts_to_network"
    d = chain.destination
    assert d is not None
    assert _host(d) == ("https", "api.pinjamkilat.example", 8443, "/v2/contacts/upload",
                        CONSTANT, "urlconnection")  # fmt: skip
    assert d.url == "https://api.pinjamkilat.example:8443/v2/contacts/upload"
    assert d.payload_keys == ("name", "phone", "contacts")
    assert d.location is not None and d.location.short.endswith("Harvest.uploadContacts@0xec")
    assert [e.short for e in d.evidence] == [
        "com.apkaudit.fixture.destjsonpost.Harvest.uploadContacts@0xa6"
    ]
    [app_dest] = app.behaviours.destinations
    assert (app_dest.host, app_dest.data, app_dest.chains) == (
        "api.pinjamkilat.example",
        ("contacts",),
        (0,),
    )


def test_json_post_neg_lists_the_host_with_no_data(audit) -> None:
    app = audit(fixture_apk("dest-json-post-neg"))
    assert _network_chains(app) == []
    [d] = app.behaviours.destinations
    assert (d.host, d.path, d.resolution, d.data, d.chains) == (
        "api.weathernow.example",
        "/v1/forecast",
        CONSTANT,
        (),
        (),
    )


def test_base_url_field_plus_path(audit) -> None:
    d = _by_sink(audit(fixture_apk("dest-base-url")))["syncAgenda"]
    assert _host(d) == ("https", "prestamo-rapido.example", None, "/api/v1/agenda", BUILT, "okhttp")
    assert d.payload_keys == ("telefono",)
    # the base URL from the static field's writer (<clinit>) and the path constant
    assert [e.short.rsplit(".", 1)[1] for e in d.evidence] == ["<clinit>@0x0", "syncAgenda@0x86"]


def test_base_url_from_preferences_is_unresolved(audit) -> None:
    d = _by_sink(audit(fixture_apk("dest-base-url-neg")))["syncAgenda"]
    assert (d.host, d.resolution, d.api) == ("", UNRESOLVED, "okhttp")
    assert d.url == "…v1/agenda"  # what is known: the path constant after a run-time base


def test_builders(audit) -> None:
    got = {m: _host(d) for m, d in _by_sink(audit(fixture_apk("dest-builders"))).items()}
    assert got == {
        "viaUriBuilder": ("https", "h1.builders.example", None, "/v1/contacts", BUILT,
                          "urlconnection"),
        "viaFormat": ("https", "h2.builders.example", None, "/api/contacts", BUILT, "okhttp"),
        "viaSocketIo": ("http", "10.1.2.3", 3000, "", CONSTANT, "socket.io"),
        "viaSocket": ("tcp", "203.0.113.9", 4444, "", CONSTANT, "tcp"),
        "viaResource": ("https", "h5.builders.example", None, "/r/upload", RESOURCE,
                        "urlconnection"),
    }  # fmt: skip
    urls = {d.url for d in audit(fixture_apk("dest-builders")).behaviours.destinations}
    assert "https://h1.builders.example/v1/contacts?src=builder" in urls
    assert not any("decoy" in u for u in urls)


def test_http_libraries(audit) -> None:
    by = _by_sink(audit(fixture_apk("dest-libs")))
    assert {m: _host(d) for m, d in by.items()} == {
        "viaVolley": ("https", "h6.libs.example", None, "/volley/contacts", CONSTANT, "volley"),
        "viaHttpPost": ("http", "h7.libs.example", None, "/upload.php", CONSTANT, "apache-http"),
        "viaRetrofit": ("https", "h8.libs.example", None, "/v3/contacts", BUILT, "retrofit"),
    }
    assert by["viaVolley"].payload_keys == ("agenda",)
    assert by["viaHttpPost"].payload_keys == ("contacts",)  # the form field's name
    # a Volley request of the app's own subclass: the URL passes through its constructor
    app = audit(fixture_apk("dest-libs"))
    [sub] = [d for d in app.behaviours.destinations if d.host == "h9.libs.example"]
    assert (sub.path, sub.resolution, sub.api) == ("/sub", CONSTANT, "volley")
    # Retrofit: baseUrl + the @POST("v3/contacts") of the interface method
    assert "com.apkaudit.fixture.destlibs.LoanApi.upload@0x0" in [
        e.short for e in by["viaRetrofit"].evidence
    ]


def test_retrofit_url_parameter(audit) -> None:
    """@Url: an absolute URL replaces the base URL, a relative one is joined to it; the names of
    the @Query parameters that carry run-time values are the payload keys ("src" is a constant)."""
    by = _by_sink(audit(fixture_apk("dest-retrofit-url")))
    assert {m: _host(d) for m, d in by.items()} == {
        "viaAbsolute": ("https", "h20.retrofit.example", None, "/v1/collect", CONSTANT, "retrofit"),
        "viaRelative": ("https", "base.retrofit.example", None, "/v2/agenda", BUILT, "retrofit"),
    }
    assert {d.payload_keys for d in by.values()} == {("contacts",)}
    assert [e.short for e in by["viaAbsolute"].evidence] == [
        "com.apkaudit.fixture.destretrofiturl.Up.viaAbsolute@0x8"
    ]


def test_retrofit_url_from_run_time_is_no_base_url(audit) -> None:
    """An @Url known only at run time may be absolute: never the base URL's host."""
    app = audit(fixture_apk("dest-retrofit-url-neg"))
    by = _by_sink(app)
    assert {m: (d.host, d.resolution, d.payload_keys) for m, d in by.items()} == {
        "viaPrefs": ("", UNRESOLVED, ("contacts",)),
    }
    assert "base.retrofit.example" not in {d.host for d in app.behaviours.destinations}


def test_webview_page_loads(audit) -> None:
    """WebView.loadUrl with the data in the query, postUrl with the data as the body."""
    by = _by_sink(audit(fixture_apk("dest-webview")))
    assert {m: _host(d) for m, d in by.items()} == {
        "viaLoadUrl": ("https", "h21.webview.example", None, "/collect", BUILT, "webview"),
        "viaPostUrl": ("https", "h22.webview.example", None, "/post", CONSTANT, "webview"),
    }
    assert by["viaLoadUrl"].payload_keys == ("c",)  # the query parameter holding the numbers
    assert by["viaPostUrl"].payload_keys == ()


def test_webview_page_loads_of_constants_are_no_chain(audit) -> None:
    app = audit(fixture_apk("dest-webview-neg"))
    assert _network_chains(app) == []
    assert [d for d in app.behaviours.destinations if d.data] == []


def test_run_time_addresses_stay_unresolved(audit) -> None:
    by = _by_sink(audit(fixture_apk("dest-builders-neg")))
    assert {m: (d.host, d.resolution) for m, d in by.items()} == {
        "viaExtra": ("", UNRESOLVED),
        "viaPrefs": ("", UNRESOLVED),
        "viaServerReply": ("", UNRESOLVED),
    }
    assert by["viaPrefs"].url == "https://…/api/contacts"
    hosts = {d.host for d in audit(fixture_apk("dest-builders-neg")).behaviours.destinations}
    assert hosts == {""}  # never the decoys, never the config endpoint's host for the socket


def test_endpoint1_names_the_host(audit) -> None:
    """Micro-case 16: a constant URL passed to a post(url, body) helper."""
    d = _by_sink(audit(fixture_apk("dest-endpoint1")))["post"]
    assert _host(d) == ("https", "collect.endpoint1.example", None, "/c", CONSTANT,
                        "urlconnection")  # fmt: skip
    assert [e.short for e in d.evidence] == [
        "com.apkaudit.fixture.destendpoint1.MainActivity.onCreate@0xe"
    ]


def test_endpoint1_neg_follows_the_call_that_carried_the_data(audit) -> None:
    app = audit(fixture_apk("dest-endpoint1-neg"))
    d = _by_sink(app)["post"]
    assert (d.host, d.alternatives) == ("collect.endpoint1.example", ())
    listed = {x.host: x.data for x in app.behaviours.destinations}
    assert listed == {"collect.endpoint1.example": ("contacts",), "ping.endpoint1.example": ()}


@pytest.mark.real
def test_ahmyth_names_its_socket_io_server(audit) -> None:
    app = audit(require_real() / "harvester-ahmyth.apk")
    dests = {c.kind: c.destination for c in _network_chains(app)}
    assert {"contacts_to_network", "sms_to_network", "call_log_to_network"} <= set(dests)
    for d in dests.values():
        assert d is not None
        assert _host(d) == ("http", "0.0.0.0", 42474, "", BUILT, "socket.io")
        assert d.url == "http://0.0.0.0:42474?model=…&manf=…&release=…&id=…"
    assert "contactsList" in dests["contacts_to_network"].payload_keys
    [server] = [d for d in app.behaviours.destinations if d.host == "0.0.0.0"]
    assert {"call_log", "contacts", "sms"} <= set(server.data)


def test_asynctask_params_name_the_host(audit) -> None:
    """new UploadTask().execute(new String[]{url, numbers}): doInBackground's params[0] is the
    URL of the hand-off call (through the bridge doInBackground(Object[]))."""
    by = _network_chains(audit(fixture_apk("dest-asynctask")))
    assert {c.hops[-1].location.short.rsplit(".", 1)[1] for c in by} == {
        "doInBackground@0x24",
        "doInBackground@0x3a",
    }
    for c in by:
        d = c.destination
        assert d is not None
        assert _host(d) == ("https", "h10.async.example", None, "/gate/up.php", CONSTANT,
                            "urlconnection")  # fmt: skip
        assert [e.short for e in d.evidence] == [
            "com.apkaudit.fixture.destasynctask.MainActivity.onCreate@0x16"
        ]


def test_asynctask_url_from_preferences_is_unresolved(audit) -> None:
    app = audit(fixture_apk("dest-asynctask-neg"))
    chains = _network_chains(app)
    assert chains and all(
        c.destination is not None
        and (c.destination.host, c.destination.resolution) == ("", UNRESOLVED)
        for c in chains
    )
    assert {d.host for d in app.behaviours.destinations} == {""}  # never the logged decoy


@pytest.mark.real
def test_anubis_names_its_panel(audit) -> None:
    """Anubis posts through an AsyncTask (AsyncTask.execute on a new task, params[0] the URL):
    the panel address is its constant default, the path the one of the call the data took."""
    app = audit(require_real() / "smsworm-anubis-fakecontact.apk")
    dests = {c.source: c.destination for c in _network_chains(app)}
    for kind in ("contacts", "sms"):
        d = dests[kind]
        assert d is not None
        assert (d.url, d.host, d.resolution) == (
            "http://bestmix.ga/o1o/a15.php",
            "bestmix.ga",
            BUILT,
        )
    [d] = [x for x in app.behaviours.destinations if x.host == "bestmix.ga"]
    assert d.scheme == "http" and {"contacts", "sms"} <= set(d.data)
    # a path whose server is only known at run time is never shown as if it were the address
    # (an address wholly unknown has no url: the Android ID into the injection pages' loadUrl)
    assert all(x.url.startswith(("http://", "…")) for x in app.behaviours.destinations if x.url)
    webview = [x for x in app.behaviours.destinations if x.api == "webview"]
    assert webview and all(x.url == "" and x.data == ("device_id",) for x in webview)
