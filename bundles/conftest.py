"""Test support for every bundle: the real GuardDuty fixtures, loading a bundle's handler the way
Lambda does (its `src/` and `_common/` at the import root), moto for AWS, a throwaway CA for
HTTPS, and local HTTPS servers standing in for Deep Security and Slack that record and check
every request.

Nothing here is packaged: a bundle's zip holds only its `src/` and `_common/`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import json
import os
import re
import ssl
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest

BUNDLES = Path(__file__).resolve().parent
REPO_ROOT = BUNDLES.parent
COMMON = BUNDLES / "_common"
# Real GuardDuty findings, kept in the repository (provenance in SOURCES.md beside them).
FINDINGS_DIR = BUNDLES / "tests" / "fixtures" / "findings"

if not FINDINGS_DIR.is_dir() or not list(FINDINGS_DIR.glob("*.json")):
    # Fail the whole run loudly rather than skipping: every bundle's tests need these.
    raise RuntimeError(
        f"GuardDuty fixture findings not found in {FINDINGS_DIR}: they are part of the "
        f"repository (bundles/tests/fixtures/findings/*.json); restore them from version control"
    )

# As in the Lambda zip, the shared modules are importable by their plain names.
if str(COMMON) not in sys.path:
    sys.path.insert(0, str(COMMON))

FIXTURE_FILES = sorted(p.name for p in FINDINGS_DIR.glob("*.json"))
SSH_BRUTE_FORCE = "01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json"
PORT_PROBE = "02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json"
BITCOIN_DNS = "03_CryptoCurrency_EC2_BitcoinTool.B_DNS.eventbridge.json"
S3_MALICIOUS_IP = "04_Impact_S3_MaliciousIPCaller.sample.finding.json"
IAM_MALICIOUS_IP = "05_UnauthorizedAccess_IAMUser_MaliciousIPCaller.sample.finding.json"
EC2_MALICIOUS_IP_CUSTOM = "06_UnauthorizedAccess_EC2_MaliciousIPCaller.Custom.eventbridge.json"

_MISSING = [
    name
    for name in ("SOURCES.md", SSH_BRUTE_FORCE, PORT_PROBE, BITCOIN_DNS, S3_MALICIOUS_IP, IAM_MALICIOUS_IP, EC2_MALICIOUS_IP_CUSTOM)
    if not (FINDINGS_DIR / name).is_file()
]
if _MISSING:
    raise RuntimeError(f"GuardDuty fixture files missing from {FINDINGS_DIR}: {', '.join(_MISSING)}")

SENTINEL_KEY = "2:SENTINEL-api-key-0f9e8d7c6b5a"
SLACK_PATH = "/services/T0000SENT/B0000SENT/sentinelWebhookToken42"


def load_finding(name: str) -> dict:
    """A fixture as stored (envelope or bare finding), as a fresh dict."""
    return json.loads((FINDINGS_DIR / name).read_text())


def bare(event: dict) -> dict:
    """The finding itself, whichever form the fixture has."""
    return event["detail"] if "detail" in event else event


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """No real AWS credentials or settings leak in, no proxy is used for the local servers,
    and each test starts with empty secret caches."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "DS_", "SLACK_")) or name in {
            "ENABLE_IPS", "ACTION_MAP", "MIN_SEVERITY", "DRY_RUN", "EXCEPTION_TAG", "BUCKET", "PREFIX",
            "CROSS_ACCOUNT_ROLE_NAME", "QUARANTINE_GROUP_NAME", "SNAPSHOT_VOLUMES", "MOTO_ACCOUNT_ID",
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    import guardform_common
    import guardform_http

    guardform_common.clear_caches()
    monkeypatch.setattr(guardform_http, "RETRY_BASE_SECONDS", 0.01)
    yield
    guardform_common.clear_caches()


def load_handler(bundle: str):
    """The bundle's `src/handler.py` as a module of its own, with `src/` and `_common/` on the
    import path as in the Lambda zip."""
    src = BUNDLES / bundle / "src"
    for path in (str(COMMON), str(src)):
        if path not in sys.path:
            sys.path.insert(0, path)
    name = "handler_" + bundle.replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, src / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """What the responders read from Lambda's context object."""

    account: str = "123456789012"
    remaining_ms: int = 60_000
    aws_request_id: str = "11111111-2222-3333-4444-555555555555"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{self.account}:function:guardform-test"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws():
    """moto, in process, for every AWS call of the test."""
    from moto import mock_aws

    with mock_aws():
        yield


def put_secret(name: str, value: str, region: str = "us-east-1") -> str:
    """Stores `value` in (moto's) Secrets Manager and returns its ARN."""
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    return client.create_secret(Name=f"guardform/{name.lower()}", SecretString=value)["ARN"]


# ---------------------------------------------------------------------------------------------
# TLS: a throwaway CA and a certificate for 127.0.0.1 / localhost


@dataclass(frozen=True)
class TestCertificates:
    ca_file: Path
    ca_pem: str
    cert_file: Path
    key_file: Path
    other_ca_file: Path


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> TestCertificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.timezone.utc)

    def make_ca(name: str):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = make_ca("guardform test CA")
    _, other_cert = make_ca("some other CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem).decode()
    (folder / "ca.pem").write_text(ca_pem)
    (folder / "other-ca.pem").write_bytes(other_cert.public_bytes(pem))
    (folder / "server.pem").write_bytes(server_cert.public_bytes(pem))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return TestCertificates(folder / "ca.pem", ca_pem, folder / "server.pem", folder / "server.key", folder / "other-ca.pem")


# ---------------------------------------------------------------------------------------------
# Local HTTPS servers that record what they receive


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode()) if self.body else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class RecordingServer:
    """An HTTPS server on 127.0.0.1 (random port, one thread per request) that records every
    request and answers with `route(request) -> Reply`. `queued` replies are used first."""

    def __init__(self, certificates: TestCertificates, route: Callable[[Recorded], Reply]) -> None:
        self.requests: list[Recorded] = []
        self.queued: list[Reply] = []
        self.route = route
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                outer.requests.append(recorded)
                reply = outer.queued.pop(0) if outer.queued else outer.route(recorded)
                payload = reply.body
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    content_type = "application/json"
                else:
                    data = (payload or "").encode() if isinstance(payload, str) else (payload or b"")
                    content_type = "text/plain"
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certificates.cert_file, certificates.key_file)
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSlack(RecordingServer):
    """A Slack incoming webhook at SLACK_PATH that checks the payload is JSON."""

    def __init__(self, certificates: TestCertificates) -> None:
        super().__init__(certificates, self._route)

    def _route(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != SLACK_PATH:
            return Reply(404, "no_service")
        if (request.header("Content-Type") or "").split(";")[0] != "application/json":
            return Reply(400, "invalid_payload")
        try:
            payload = request.json()
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
            return Reply(400, "no_text")
        return Reply(200, "ok")

    @property
    def webhook_url(self) -> str:
        return self.url + SLACK_PATH

    def messages(self) -> list[dict]:
        return [r.json() for r in self.requests if r.path == SLACK_PATH]


class FakeDeepSecurity(RecordingServer):
    """The parts of the Deep Security REST API v1 the responder uses, strict about the request
    shapes documented for computers search, scheduled tasks and computer modification."""

    TASK_PARAMETERS = {
        "scan-for-recommendations": "scanForRecommendationsTaskParameters",
        "scan-for-integrity-changes": "scanForIntegrityChangesTaskParameters",
        "scan-for-malware": "scanForMalwareTaskParameters",
    }

    def __init__(self, certificates: TestCertificates, api_key: str = SENTINEL_KEY, auth_style: str = "api-secret-key") -> None:
        self.api_key = api_key
        self.auth_style = auth_style
        self.computers: dict[int, dict] = {}
        self.tasks: list[dict] = []
        self.problems: list[str] = []
        super().__init__(certificates, self._route)

    def add_computer(self, computer_id: int, instance_id: str, host_name: str, ips_state: str = "detect", agent_status: str = "active") -> None:
        self.computers[computer_id] = {
            "ID": computer_id,
            "hostName": host_name,
            "displayName": "",
            "policyID": 1,
            "ec2VirtualMachineSummary": {"instanceID": instance_id, "accountID": "123456789012"},
            "computerStatus": {"agentStatus": agent_status},
            "intrusionPrevention": {"state": ips_state, "moduleStatus": {"agentStatus": agent_status}},
        }

    def _problem(self, text: str, status: int = 400) -> Reply:
        self.problems.append(text)
        return Reply(status, {"message": text})

    def _authorized(self, request: Recorded) -> bool:
        if self.auth_style == "apikey":
            return request.header("Authorization") == f"ApiKey {self.api_key}" and request.header("api-secret-key") is None
        return request.header("api-secret-key") == self.api_key and request.header("Authorization") is None

    def _route(self, request: Recorded) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"message": "Authentication failed."})
        if request.header("api-version") != "v1":
            return self._problem("missing or wrong api-version header")
        if request.method != "POST":
            return self._problem(f"unexpected method {request.method}", 405)
        if (request.header("Content-Type") or "").split(";")[0] != "application/json":
            return self._problem("Content-Type must be application/json", 415)
        body = request.json()
        path, _, query = request.path.partition("?")
        if path == "/api/computers/search":
            return self._search(body, query)
        if path == "/api/scheduledtasks":
            return self._create_task(body)
        match = re.fullmatch(r"/api/computers/(\d+)", path)
        if match:
            return self._modify_computer(int(match.group(1)), body)
        return self._problem(f"no route {request.path}", 404)

    def _search(self, body: dict, query: str) -> Reply:
        criteria = body.get("searchCriteria")
        if not isinstance(criteria, list) or len(criteria) != 1:
            return self._problem("searchCriteria must be a list with one criterion")
        criterion = criteria[0]
        if criterion.get("fieldName") != "ec2VirtualMachineSummary/instanceID" or criterion.get("stringTest") != "equal":
            return self._problem(f"unexpected criterion {criterion}")
        if "ec2VirtualMachineSummary" not in query:
            return self._problem("expand=ec2VirtualMachineSummary missing")
        found = [c for c in self.computers.values() if c["ec2VirtualMachineSummary"]["instanceID"] == criterion.get("stringValue")]
        return Reply(200, {"computers": found})

    def _create_task(self, body: dict) -> Reply:
        task_type = body.get("type")
        key = self.TASK_PARAMETERS.get(task_type)
        if key is None:
            return self._problem(f"unknown task type {task_type}")
        if body.get("runNow") is not True:
            return self._problem("runNow must be true")
        if not body.get("name"):
            return self._problem("a scheduled task needs a name")
        schedule = body.get("scheduleDetails") or {}
        if schedule.get("recurrenceType") != "none" or "onceOnlyScheduleParameters" not in schedule:
            return self._problem(f"expected a once-only schedule, got {schedule}")
        parameters = body.get(key)
        if not isinstance(parameters, dict):
            return self._problem(f"{task_type} needs {key}")
        other = [k for k in body if k.endswith("TaskParameters") and k != key]
        if other:
            return self._problem(f"unexpected {other}")
        computer_filter = parameters.get("computerFilter") or {}
        if computer_filter.get("type") != "computer" or not isinstance(computer_filter.get("computerID"), int):
            return self._problem(f"expected a single-computer filter, got {computer_filter}")
        if computer_filter["computerID"] not in self.computers:
            return self._problem(f"no computer {computer_filter['computerID']}", 404)
        task = dict(body, ID=100 + len(self.tasks))
        self.tasks.append(task)
        return Reply(200, task)

    def _modify_computer(self, computer_id: int, body: dict) -> Reply:
        if computer_id not in self.computers:
            return self._problem(f"no computer {computer_id}", 404)
        if set(body) != {"intrusionPrevention"} or set(body["intrusionPrevention"]) != {"state"}:
            return self._problem(f"expected only intrusionPrevention.state, got {body}")
        state = body["intrusionPrevention"]["state"]
        if state not in ("off", "prevent", "detect"):
            return self._problem(f"bad state {state}")
        self.computers[computer_id]["intrusionPrevention"]["state"] = state
        return Reply(200, self.computers[computer_id])


@pytest.fixture
def slack_server(certificates, monkeypatch):
    """A fake Slack webhook; the default trust store is pointed at the test CA so the
    responders' ordinary TLS verification accepts it (as it accepts hooks.slack.com)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server = FakeSlack(certificates)
    yield server
    server.close()


@pytest.fixture
def deep_security(certificates):
    server = FakeDeepSecurity(certificates)
    yield server
    server.close()
