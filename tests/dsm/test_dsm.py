"""The fake Deep Security Manager over real HTTP and HTTPS (urllib + ssl, as a client would)."""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import FIXTURES, KEY, start_dsm

HEADERS = {"api-secret-key": KEY, "api-version": "v1", "Accept": "application/json"}


def call(url, path, method="GET", body=None, headers=None, context=None, raw=None):
    """(status, JSON body) of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = dict(HEADERS if headers is None else headers)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, (json.loads(text) if text else None)


def by_name(url, name, **kw):
    return call(url, "/api/iplists/search", "POST",
                {"searchCriteria": [{"fieldName": "name", "stringTest": "equal", "stringValue": name}]}, **kw)


# ---------------------------------------------------------------- API


def test_list_get_and_fixture_content(dsm):
    status, body = call(dsm.url, "/api/iplists")
    assert status == 200
    assert [(x["ID"], x["name"]) for x in body["ipLists"]] == [
        (34, "GuardDuty Blocklist"), (35, "Office Egress"), (36, "Broad"), (37, "Empty")]
    status, got = call(dsm.url, "/api/iplists/34")
    assert status == 200
    assert set(got) == {"ID", "name", "description", "items"}
    assert got["items"][:3] == ["203.0.113.7", "198.51.100.0/24", "192.0.2.10 - 192.0.2.20 #scanner"]
    assert call(dsm.url, "/api/iplists/37")[1]["items"] == []


def test_fixtures_cover_every_item_format():
    with open(FIXTURES) as f:
        items = [i for x in json.load(f)["ipLists"] for i in x["items"]]
    entries = [i.split("#")[0].strip() for i in items]

    def has(pred):
        return any(pred(e) for e in entries if e)

    def net(e):
        try:
            return ipaddress.ip_network(e, strict=False)
        except ValueError:
            return None

    assert has(lambda e: "/" not in e and "-" not in e and net(e) and net(e).version == 4)  # single IPv4
    assert has(lambda e: e == "203.0.113.7/24")  # CIDR with host bits set
    assert has(lambda e: e == "10.0.0.0/255.255.0.0") and has(lambda e: e == "198.51.100.0/255.255.255.0")
    assert has(lambda e: e == "10.1.0.0/255.0.255.0")  # non-contiguous netmask
    assert "192.0.2.10 - 192.0.2.20 #scanner" in items and has(lambda e: e == "198.51.100.1-198.51.100.9")
    assert has(lambda e: net(e) and net(e).version == 6 and "/" not in e)  # IPv6 address
    assert has(lambda e: net(e) and net(e).version == 6 and "/" in e)  # IPv6 CIDR
    for private in ("10.0.0.0/8", "192.168.0.0/16", "127.0.0.1", "fc00::/7"):
        assert private in entries
    assert "" in items and "   " in items and "not-an-ip" in items
    assert any(i.lstrip().startswith("#") for i in items)  # comment-only item
    assert "0.0.0.0/0" in entries


def test_unknown_and_malformed_ids(dsm):
    assert call(dsm.url, "/api/iplists/99") == (404, {"message": "The IP list with ID 99 does not exist."})
    status, body = call(dsm.url, "/api/iplists/abc")
    assert status == 400 and "integer" in body["message"]
    assert call(dsm.url, "/api/nothing")[0] == 404
    assert call(dsm.url, "/api/iplists/34", method="DELETE")[0] == 405


def test_search(dsm):
    status, body = by_name(dsm.url, "Office Egress")
    assert status == 200 and [x["ID"] for x in body["ipLists"]] == [35]
    assert by_name(dsm.url, "office egress")[1] == {"ipLists": []}  # exact, case-sensitive
    assert by_name(dsm.url, "Nope")[1] == {"ipLists": []}
    # a single criterion object instead of a list is accepted too
    s = call(dsm.url, "/api/iplists/search", "POST",
             {"searchCriteria": {"fieldName": "name", "stringValue": "Broad"}})
    assert [x["ID"] for x in s[1]["ipLists"]] == [36]
    s = call(dsm.url, "/api/iplists/search", "POST", {"searchCriteria": [{"idValue": 35}]})
    assert [x["ID"] for x in s[1]["ipLists"]] == [35]
    s = call(dsm.url, "/api/iplists/search", "POST",
             {"maxItems": 2, "searchCriteria": [{"idTest": "greater-than", "idValue": 34}]})
    assert [x["ID"] for x in s[1]["ipLists"]] == [35, 36]
    s = call(dsm.url, "/api/iplists/search", "POST", {"searchCriteria": [
        {"fieldName": "name", "stringValue": "%s_", "stringWildcards": True}]})
    assert [x["ID"] for x in s[1]["ipLists"]] == [34, 35]
    s = call(dsm.url, "/api/iplists/search", "POST", {"searchCriteria": [
        {"fieldName": "name", "stringValue": "%s_", "stringWildcards": True},
        {"fieldName": "name", "stringTest": "not-equal", "stringValue": "Office Egress"}]})
    assert [x["ID"] for x in s[1]["ipLists"]] == [34]
    # without stringWildcards, % is an ordinary character
    assert by_name(dsm.url, "%")[1] == {"ipLists": []}
    s = call(dsm.url, "/api/iplists/search", "POST", {})
    assert len(s[1]["ipLists"]) == 4
    for bad in ({"searchCriteria": [{"fieldName": "items", "stringValue": "x"}]},
                {"searchCriteria": [{"fieldName": "name", "stringTest": "contains", "stringValue": "x"}]},
                {"searchCriteria": [{"idValue": "34"}]},
                {"maxItems": 5001},
                {"searchCriteria": [{}]}):
        status, body = call(dsm.url, "/api/iplists/search", "POST", bad)
        assert status == 400 and body["message"], bad
    assert call(dsm.url, "/api/iplists/search", "POST", raw=b"{not json")[0] == 400
    assert call(dsm.url, "/api/iplists/search", "GET")[0] == 405


def test_auth_and_header_checks(dsm):
    assert call(dsm.url, "/api/iplists/34", headers={**HEADERS, "api-secret-key": "wrong"}) == (
        401, {"message": "Invalid API key."})
    no_key = {k: v for k, v in HEADERS.items() if k != "api-secret-key"}
    assert call(dsm.url, "/api/iplists/34", headers=no_key)[0] == 401
    status, body = by_name(dsm.url, "Broad", headers=no_key)
    assert status == 401 and "message" in body
    # the ApiKey form is not what this manager was started with
    assert call(dsm.url, "/api/iplists/34", headers={**no_key, "Authorization": f"ApiKey {KEY}"})[0] == 401
    no_version = {k: v for k, v in HEADERS.items() if k != "api-version"}
    assert call(dsm.url, "/api/iplists/34", headers=no_version) == (
        400, {"message": "The api-version header is required."})
    assert call(dsm.url, "/api/iplists/34", headers={**HEADERS, "api-version": "v2"})[0] == 400
    assert call(dsm.url, "/api/iplists/34", headers={**HEADERS, "Accept": "text/html"})[0] == 406
    no_accept = {k: v for k, v in HEADERS.items() if k != "Accept"}
    assert call(dsm.url, "/api/iplists/34", headers=no_accept)[0] == 406
    assert call(dsm.url, "/api/iplists/34", headers={**HEADERS, "Accept": "*/*"})[0] == 200
    assert call(dsm.url, "/api/iplists/search", "POST", raw=b"{}",
                headers={**HEADERS, "Content-Type": "text/plain"})[0] == 415
    # the key never comes back in a response
    for path in ("/api/iplists/34", "/api/iplists/99"):
        for h in (HEADERS, {**HEADERS, "api-secret-key": KEY + "x"}):
            assert KEY not in json.dumps(call(dsm.url, path, headers=h)[1])


def test_apikey_auth_mode():
    d = start_dsm("--auth", "apikey")
    try:
        h = {"Authorization": f"ApiKey {KEY}", "api-version": "v1", "Accept": "application/json"}
        assert call(d.url, "/api/iplists/36", headers=h)[0] == 200
        assert call(d.url, "/api/iplists/36", headers={**h, "Authorization": f"Bearer {KEY}"})[0] == 401
        assert call(d.url, "/api/iplists/36")[0] == 401  # api-secret-key is not this mode
    finally:
        d.stop()


# ---------------------------------------------------------------- control endpoints


def test_control_replace_list_and_record_requests(dsm):
    assert call(dsm.url, "/_test/health", headers={}) == (200, {"status": "ok"})
    new = {"name": "GuardDuty Blocklist", "description": "rotated", "items": ["192.0.2.99", "198.51.100.0/25"]}
    assert call(dsm.url, "/_test/iplists/34", "PUT", new, headers={})[0] == 200
    assert call(dsm.url, "/api/iplists/34")[1] == {"ID": 34, **new}
    assert by_name(dsm.url, "GuardDuty Blocklist")[1]["ipLists"][0]["items"] == new["items"]
    # a new list; renaming onto another list's name is refused
    assert call(dsm.url, "/_test/iplists/40", "PUT", {"name": "Big", "items": ["192.0.2.1"] * 3}, headers={})[0] == 201
    assert call(dsm.url, "/_test/iplists/40", "PUT", {"name": "Broad", "items": []}, headers={})[0] == 400
    assert call(dsm.url, "/_test/iplists/40", "DELETE", headers={})[0] == 204
    assert call(dsm.url, "/api/iplists/40")[0] == 404

    status, body = call(dsm.url, "/_test/requests", headers={})
    reqs = body["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in reqs] == [
        ("GET", "/api/iplists/34", 200), ("POST", "/api/iplists/search", 200), ("GET", "/api/iplists/40", 404)]
    headers = {k.lower(): v for k, v in reqs[0]["headers"]}
    assert headers["api-secret-key"] == KEY  # recorded raw, for tests to check what was sent
    assert headers["api-version"] == "v1" and headers["accept"] == "application/json"
    assert json.loads(reqs[1]["body"])["searchCriteria"][0]["stringValue"] == "GuardDuty Blocklist"
    assert call(dsm.url, "/_test/requests", "DELETE", headers={})[0] == 204
    assert call(dsm.url, "/_test/requests", headers={})[1] == {"requests": []}

    assert call(dsm.url, "/_test/reset", "POST", headers={})[0] == 200
    assert call(dsm.url, "/api/iplists/34")[1]["description"].startswith("Known-bad")


def test_injected_faults(dsm):
    faults = {"faults": [{"path": "/api/iplists/34", "status": 503, "times": 2,
                          "headers": {"Retry-After": "0"}},
                         {"path": "/api/iplists/search", "status": 429, "times": 1}]}
    assert call(dsm.url, "/_test/faults", "PUT", faults, headers={})[0] == 200
    assert call(dsm.url, "/api/iplists/34") == (503, {"message": "Injected fault."})
    assert call(dsm.url, "/api/iplists/34")[0] == 503
    assert call(dsm.url, "/api/iplists/34")[0] == 200
    assert by_name(dsm.url, "Broad")[0] == 429
    assert by_name(dsm.url, "Broad")[0] == 200
    # auth is checked before faults fire
    call(dsm.url, "/_test/faults", "PUT", {"faults": [{"path": "*", "status": 500}]}, headers={})
    assert call(dsm.url, "/api/iplists/35", headers={**HEADERS, "api-secret-key": "x"})[0] == 401
    assert call(dsm.url, "/api/iplists/35")[0] == 500
    # a delay, then a dropped connection
    call(dsm.url, "/_test/faults", "PUT", {"faults": [{"path": "/api/*", "delayMs": 300, "times": 1},
                                                     {"path": "/api/*", "close": True, "times": 1}]}, headers={})
    t = time.monotonic()
    assert call(dsm.url, "/api/iplists/35")[0] == 200
    assert time.monotonic() - t >= 0.3
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        call(dsm.url, "/api/iplists/35")
    assert call(dsm.url, "/_test/faults", "DELETE", headers={})[0] == 204
    assert call(dsm.url, "/api/iplists/35")[0] == 200


# ---------------------------------------------------------------- TLS


def test_tls_with_generated_ca(tmp_path):
    from cryptography import x509

    d = start_dsm(tls_dir=str(tmp_path))
    try:
        assert d.url.startswith("https://127.0.0.1:")
        assert sorted(os.listdir(tmp_path)) == ["ca.pem", "server-key.pem", "server.pem"]
        assert oct(os.stat(tmp_path / "server-key.pem").st_mode & 0o777) == "0o600"
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        assert call(d.url, "/api/iplists/34", context=ctx)[0] == 200
        port = d.url.rsplit(":", 1)[1]
        assert call(f"https://localhost:{port}", "/api/iplists/35", context=ctx)[0] == 200
        # without the CA the certificate is not trusted
        with pytest.raises(urllib.error.URLError) as ei:
            call(d.url, "/api/iplists/34", context=ssl.create_default_context())
        assert isinstance(ei.value.reason, ssl.SSLCertVerificationError)
        # plain HTTP to the TLS port fails and the server keeps serving
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            call(f"http://127.0.0.1:{port}", "/api/iplists/34")
        assert call(d.url, "/_test/health", headers={}, context=ctx)[0] == 200
        leaf = x509.load_pem_x509_certificates((tmp_path / "server.pem").read_bytes())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    finally:
        d.stop()


def test_exit_on_stdin_eof():
    d = start_dsm("--exit-on-stdin-eof")
    d.proc.stdin.close()
    assert d.proc.wait(timeout=5) == 0
    d.stop()


def test_bad_fixtures_exit_nonzero(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ipLists": [{"ID": 1, "name": "a"}, {"ID": 1, "name": "b"}]}))
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "server.py"), "--port", "0",
                        "--api-key", "k", "--fixtures", str(bad)], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and "duplicate ID 1" in p.stderr


def test_free_port_readiness_means_accepting(dsm):
    host, port = dsm.url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=2):
        pass
