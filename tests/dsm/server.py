#!/usr/bin/env python3
"""Fake Trend Micro Deep Security Manager for guardform's tests: the REST API v1 IP lists
(Automation Center "IP Lists" endpoints), plus control endpoints under /_test/.

    .venv/bin/python tests/dsm/server.py --port 0 --api-key KEY --fixtures tests/dsm/fixtures.json \
        [--tls --cert-dir DIR] [--auth api-secret-key|apikey] [--host 127.0.0.1] \
        [--exit-on-stdin-eof] [--verbose]

Ready once it prints ``dsm listening on http://127.0.0.1:PORT`` (``https://`` with --tls) on
stdout; ``--port 0`` picks a free port and the line tells which. ``GET /_test/health`` answers 200.

Deep Security API (every request needs the key, ``api-version: v1`` and an Accept header
that allows application/json):
  GET  /api/iplists             -> {"ipLists": [IpList, ...]} (by ID)
  GET  /api/iplists/{id}        -> IpList, 404 when unknown
  POST /api/iplists/search      SearchFilter -> {"ipLists": [...]}
IpList: {"ID": 34, "name": "...", "description": "...", "items": ["203.0.113.7", ...]}.

Standard library + ``cryptography`` (only for --tls) only. See tests/dsm/README.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import ipaddress
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

API_VERSION = "v1"
MAX_ITEMS = 5000  # Deep Security's default and largest maxItems for searches
ID_TESTS = {
    "equal": lambda a, b: a == b,
    "not-equal": lambda a, b: a != b,
    "less-than": lambda a, b: a < b,
    "less-than-or-equal": lambda a, b: a <= b,
    "greater-than": lambda a, b: a > b,
    "greater-than-or-equal": lambda a, b: a >= b,
}
STRING_FIELDS = ("name", "description")


class DsmError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------


def validate_ip_list(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DsmError(400, f"{where}: an IP list must be a JSON object.")
    out = {k: v for k, v in obj.items() if not k.startswith("_")}
    if not isinstance(out.get("ID"), int) or isinstance(out.get("ID"), bool) or out["ID"] < 1:
        raise DsmError(400, f"{where}: ID must be a positive integer.")
    if not isinstance(out.get("name"), str) or not out["name"]:
        raise DsmError(400, f"{where}: name must be a non-empty string.")
    out.setdefault("description", "")
    if not isinstance(out["description"], str):
        raise DsmError(400, f"{where}: description must be a string.")
    out.setdefault("items", [])
    if not isinstance(out["items"], list) or not all(isinstance(i, str) for i in out["items"]):
        raise DsmError(400, f"{where}: items must be a list of strings.")
    return out


def load_fixtures(path: str | None) -> dict[int, dict[str, Any]]:
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    lists = data.get("ipLists", []) if isinstance(data, dict) else data
    out: dict[int, dict[str, Any]] = {}
    for i, raw in enumerate(lists):
        item = validate_ip_list(raw, f"{path}: ipLists[{i}]")
        if item["ID"] in out:
            raise DsmError(400, f"{path}: duplicate ID {item['ID']}")
        if any(x["name"] == item["name"] for x in out.values()):
            raise DsmError(400, f"{path}: duplicate name {item['name']!r}")
        out[item["ID"]] = item
    return out


class State:
    def __init__(self, api_key: str, auth: str, fixtures: str | None) -> None:
        self.api_key = api_key
        self.auth = auth
        self.fixtures = fixtures
        self.lock = threading.Lock()
        self.lists = load_fixtures(fixtures)
        self.requests: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.seq = 0

    def reset(self) -> None:
        with self.lock:
            self.lists = load_fixtures(self.fixtures)
            self.requests.clear()
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault.get("method") and fault["method"].upper() != method:
                    continue
                want = fault.get("path", "*")
                if want != "*" and not (want == path or (want.endswith("*") and path.startswith(want[:-1]))):
                    continue
                times = fault.get("times")
                if times is not None:
                    if times <= 0:
                        continue
                    fault["times"] = times - 1
                fault["fired"] = fault.get("fired", 0) + 1
                return dict(fault)
        return None


# --------------------------------------------------------------------------------------
# Search (the subset of Deep Security's SearchFilter that IP lists need)
# --------------------------------------------------------------------------------------


def _like(pattern: str, value: str) -> bool:
    """Deep Security wildcards: % any run of characters, _ one character."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, flags=re.DOTALL) is not None


def _criterion(c: Any) -> Any:
    if not isinstance(c, dict):
        raise DsmError(400, "Invalid search criteria: each criterion must be an object.")
    field = c.get("fieldName")
    if "idValue" in c or "idTest" in c:
        if field not in (None, "ID"):
            raise DsmError(400, f"Invalid search criteria: an ID search does not take fieldName {field!r}.")
        test = c.get("idTest", "equal")
        if test not in ID_TESTS:
            raise DsmError(400, f"Invalid search criteria: unsupported idTest {test!r}.")
        value = c.get("idValue")
        if not isinstance(value, int) or isinstance(value, bool):
            raise DsmError(400, "Invalid search criteria: idValue must be an integer.")
        return lambda x: ID_TESTS[test](x["ID"], value)
    if "stringValue" in c or "stringTest" in c or "stringWildcards" in c:
        if field not in STRING_FIELDS:
            raise DsmError(400, f"Invalid search field: {field!r}. String fields of IP lists: {', '.join(STRING_FIELDS)}.")
        test = c.get("stringTest", "equal")
        if test not in ("equal", "not-equal"):
            raise DsmError(400, f"Invalid search criteria: unsupported stringTest {test!r}.")
        value = c.get("stringValue")
        if not isinstance(value, str):
            raise DsmError(400, "Invalid search criteria: stringValue must be a string.")
        wildcards = c.get("stringWildcards", False)
        if not isinstance(wildcards, bool):
            raise DsmError(400, "Invalid search criteria: stringWildcards must be a boolean.")

        def match(x: dict[str, Any]) -> bool:
            hit = _like(value, x[field]) if wildcards else x[field] == value
            return hit if test == "equal" else not hit

        return match
    if "nullTest" in c:
        if field not in STRING_FIELDS:
            raise DsmError(400, f"Invalid search field: {field!r}.")
        want_null = c.get("nullTest", True)
        return lambda x: (not x[field]) == bool(want_null)
    raise DsmError(400, "Invalid search criteria: give idValue, stringValue or nullTest.")


def search(lists: dict[int, dict[str, Any]], body: Any) -> list[dict[str, Any]]:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise DsmError(400, "The search filter must be a JSON object.")
    criteria = body.get("searchCriteria", [])
    if isinstance(criteria, dict):
        criteria = [criteria]
    if not isinstance(criteria, list):
        raise DsmError(400, "Invalid search criteria: searchCriteria must be a list.")
    tests = [_criterion(c) for c in criteria]
    max_items = body.get("maxItems", MAX_ITEMS)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or not 0 <= max_items <= MAX_ITEMS:
        raise DsmError(400, f"Invalid maxItems: must be an integer from 0 to {MAX_ITEMS}.")
    found = [x for x in sorted(lists.values(), key=lambda x: x["ID"]) if all(t(x) for t in tests)]
    if body.get("sortDescending"):
        found.reverse()
    return [copy.deepcopy(x) for x in found[:max_items]]


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

IPLIST_RE = re.compile(r"^/api/iplists/([^/]+)$")
TEST_IPLIST_RE = re.compile(r"^/_test/iplists/([^/]+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeDeepSecurityManager/1.0"
    state: State
    verbose = False

    # -- plumbing ----------------------------------------------------------------------

    def log_message(self, fmt: str, *args: Any) -> None:  # noqa: D401
        if self.verbose:
            sys.stderr.write("dsm: " + (fmt % args) + "\n")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body, indent=None).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def _json(self, raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise DsmError(400, "The request body is not valid JSON.")

    def _handle(self) -> None:
        self._status = 0
        raw = self._read_body()
        path = urlsplit(self.path).path
        record = None
        if not path.startswith("/_test/"):
            with self.state.lock:
                self.state.seq += 1
                record = {
                    "seq": self.state.seq,
                    "time": dt.datetime.now(dt.timezone.utc).isoformat(),
                    "method": self.command,
                    "path": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": raw.decode("utf-8", errors="replace"),
                }
                self.state.requests.append(record)
        try:
            if path.startswith("/_test/"):
                self._control(path, raw)
            else:
                self._api(path, raw)
        except DsmError as e:
            self._send(e.status, {"message": e.message})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # pragma: no cover - a bug in the fake
            self._send(500, {"message": f"Internal error in the fake DSM: {type(e).__name__}: {e}"})
        if record is not None:
            record["status"] = self._status

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle  # noqa: E731

    # -- Deep Security API -------------------------------------------------------------

    def _check_headers(self) -> None:
        s = self.state
        if s.auth == "apikey":
            got = self.headers.get("Authorization")
            ok = got is not None and got.startswith("ApiKey ") and got[len("ApiKey "):] == s.api_key
            present = got is not None
        else:
            got = self.headers.get("api-secret-key")
            ok = got == s.api_key
            present = got is not None
        if not ok:
            raise DsmError(401, "Invalid API key." if present else "Authentication required: no API key supplied.")
        version = self.headers.get("api-version")
        if version is None:
            raise DsmError(400, "The api-version header is required.")
        if version != API_VERSION:
            raise DsmError(400, f"Unsupported api-version {version!r}; this manager supports {API_VERSION}.")
        accept = [a.split(";")[0].strip().lower() for a in self.headers.get("Accept", "").split(",")]
        if not any(a in ("application/json", "application/*", "*/*") for a in accept):
            raise DsmError(406, "Not acceptable: the API answers application/json; send Accept: application/json.")

    def _api(self, path: str, raw: bytes) -> None:
        if not path.startswith("/api/"):
            raise DsmError(404, f"No such resource: {path}")
        self._check_headers()
        fault = self.state.take_fault(self.command, path)
        if fault is not None:
            if fault.get("delayMs"):
                time.sleep(fault["delayMs"] / 1000)
            if fault.get("close"):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.get("status"):
                self._send(int(fault["status"]), fault.get("body", {"message": "Injected fault."}),
                           fault.get("headers"))
                return
        if path == "/api/iplists":
            if self.command != "GET":
                raise DsmError(405, f"Method {self.command} is not allowed on /api/iplists here.")
            with self.state.lock:
                lists = [copy.deepcopy(x) for x in sorted(self.state.lists.values(), key=lambda x: x["ID"])]
            self._send(200, {"ipLists": lists})
            return
        if path == "/api/iplists/search":
            if self.command != "POST":
                raise DsmError(405, f"Method {self.command} is not allowed on /api/iplists/search.")
            ctype = self.headers.get("Content-Type", "")
            if raw and not ctype.lower().startswith("application/json"):
                raise DsmError(415, "Unsupported media type: send Content-Type: application/json.")
            body = self._json(raw)
            with self.state.lock:
                found = search(self.state.lists, body)
            self._send(200, {"ipLists": found})
            return
        m = IPLIST_RE.match(path)
        if m:
            if self.command != "GET":
                raise DsmError(405, f"Method {self.command} is not allowed on {path} here.")
            try:
                list_id = int(m.group(1))
            except ValueError:
                raise DsmError(400, f"Invalid IP list ID: {m.group(1)!r} is not an integer.")
            with self.state.lock:
                item = copy.deepcopy(self.state.lists.get(list_id))
            if item is None:
                raise DsmError(404, f"The IP list with ID {list_id} does not exist.")
            self._send(200, item)
            return
        raise DsmError(404, f"No such resource: {path}")

    # -- control endpoints (not Deep Security) ------------------------------------------

    def _control(self, path: str, raw: bytes) -> None:
        s = self.state
        cmd = self.command
        if path == "/_test/health" and cmd in ("GET", "HEAD"):
            self._send(200, {"status": "ok"})
        elif path == "/_test/iplists" and cmd == "GET":
            with s.lock:
                self._send(200, {"ipLists": [copy.deepcopy(x) for x in sorted(s.lists.values(), key=lambda x: x["ID"])]})
        elif TEST_IPLIST_RE.match(path) and cmd in ("PUT", "DELETE"):
            try:
                list_id = int(TEST_IPLIST_RE.match(path).group(1))  # type: ignore[union-attr]
            except ValueError:
                raise DsmError(400, "The IP list ID must be an integer.")
            with s.lock:
                if cmd == "DELETE":
                    if s.lists.pop(list_id, None) is None:
                        raise DsmError(404, f"The IP list with ID {list_id} does not exist.")
                    self._send(204, None)
                    return
                body = self._json(raw)
                if isinstance(body, dict):
                    body = dict(body)
                    body.setdefault("ID", list_id)
                    if "name" not in body and list_id in s.lists:
                        body["name"] = s.lists[list_id]["name"]
                item = validate_ip_list(body, "PUT /_test/iplists")
                if item["ID"] != list_id:
                    raise DsmError(400, f"The body's ID {item['ID']} does not match the path's {list_id}.")
                if any(x["name"] == item["name"] and x["ID"] != list_id for x in s.lists.values()):
                    raise DsmError(400, f"Another IP list is already named {item['name']!r}.")
                created = list_id not in s.lists
                s.lists[list_id] = item
                self._send(201 if created else 200, copy.deepcopy(item))
        elif path == "/_test/requests" and cmd == "GET":
            with s.lock:
                self._send(200, {"requests": copy.deepcopy(s.requests)})
        elif path == "/_test/requests" and cmd == "DELETE":
            with s.lock:
                s.requests.clear()
            self._send(204, None)
        elif path == "/_test/faults" and cmd == "GET":
            with s.lock:
                self._send(200, {"faults": copy.deepcopy(s.faults)})
        elif path == "/_test/faults" and cmd in ("PUT", "POST"):
            body = self._json(raw)
            faults = body.get("faults") if isinstance(body, dict) else body
            if not isinstance(faults, list) or not all(isinstance(f, dict) for f in faults):
                raise DsmError(400, 'Send {"faults": [{"path": "/api/iplists*", "status": 503, "times": 1}, ...]}.')
            with s.lock:
                if cmd == "PUT":
                    s.faults.clear()
                s.faults.extend(dict(f) for f in faults)
            self._send(200, {"faults": faults})
        elif path == "/_test/faults" and cmd == "DELETE":
            with s.lock:
                s.faults.clear()
            self._send(204, None)
        elif path == "/_test/reset" and cmd == "POST":
            s.reset()
            self._send(200, {"status": "ok"})
        else:
            raise DsmError(404, f"No such control endpoint: {cmd} {path}")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # TLS handshakes refused by clients that do not trust the CA, resets, ...: not our bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            if Handler.verbose:
                sys.stderr.write(f"dsm: connection from {client_address}: {exc}\n")
            return
        super().handle_error(request, client_address)


class IPv6Server(Server):
    address_family = socket.AF_INET6


# --------------------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------------------


def _write(path: str, data: bytes, private: bool = False) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def generate_certificates(cert_dir: str, hosts: list[str]) -> tuple[str, str, str]:
    """A fresh self-signed CA and a server certificate for localhost, 127.0.0.1 and ::1 (plus
    `hosts`). Writes ca.pem, server.pem (leaf then CA) and server-key.pem into cert_dir."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(cert_dir, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "guardform tests"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "guardform fake DSM test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in ["localhost", "127.0.0.1", "::1", *hosts]:
        try:
            gn: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(h))
        except ValueError:
            gn = x509.DNSName(h)
        if gn not in names:
            names.append(gn)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    paths = tuple(os.path.join(cert_dir, n) for n in ("ca.pem", "server.pem", "server-key.pem"))
    _write(paths[0], ca_pem)
    _write(paths[1], cert.public_bytes(pem) + ca_pem)
    _write(paths[2], key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
           private=True)
    return paths  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, required=True, help="port; 0 picks a free one (see the readiness line)")
    p.add_argument("--api-key", required=True, help="the only key the manager accepts")
    p.add_argument("--auth", choices=["api-secret-key", "apikey"], default="api-secret-key",
                   help="api-secret-key: header `api-secret-key: KEY` (Deep Security Manager); "
                        "apikey: header `Authorization: ApiKey KEY` (Cloud One Workload Security)")
    p.add_argument("--fixtures", help="JSON file {\"ipLists\": [IpList, ...]} loaded at start and on /_test/reset")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a freshly generated CA (needs --cert-dir)")
    p.add_argument("--cert-dir", help="where --tls writes ca.pem, server.pem, server-key.pem")
    p.add_argument("--cert-host", action="append", default=[], help="extra DNS name or IP for the certificate")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when stdin reaches EOF (so a crashed test runner cannot leak the server)")
    p.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    args = p.parse_args(argv)
    if args.tls and not args.cert_dir:
        p.error("--tls needs --cert-dir")

    try:
        state = State(args.api_key, args.auth, args.fixtures)
    except (OSError, ValueError, DsmError) as e:
        sys.stderr.write(f"dsm: cannot load fixtures: {e}\n")
        sys.exit(2)
    Handler.state = state
    Handler.verbose = args.verbose

    server_cls = IPv6Server if ":" in args.host else Server
    httpd = server_cls((args.host, args.port), Handler)
    scheme = "http"
    if args.tls:
        _, cert, key = generate_certificates(args.cert_dir, args.cert_host)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        # Handshake lazily, in the request thread, so one stuck client cannot block accept().
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    port = httpd.server_address[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"dsm listening on {scheme}://{shown}:{port}", flush=True)

    if args.exit_on_stdin_eof:
        def watch() -> None:
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
