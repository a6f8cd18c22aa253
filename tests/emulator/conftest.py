"""Fixtures: one emulator subprocess per test session, reset before every test.

Missing moto/boto3 makes collection fail (ImportError), never a skip.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3  # noqa: F401  (fail loudly if missing)
import moto  # noqa: F401  (fail loudly if missing)
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
MANAGEMENT = "123456789012"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def endpoint():
    port = _free_port()
    env = dict(os.environ)
    env.pop("MOTO_ACCOUNT_ID", None)
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "server.py"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"emulator exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(url + "/moto-api/data.json", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("emulator did not become ready within 30 s")
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def set_enforcement(endpoint: str, initial_no_auth_action_count: str) -> None:
    """moto's switch for IAM enforcement: "0" checks every request from now on, "inf" (the
    launcher's default) none. /moto-api/reset leaves it as it is."""
    req = urllib.request.Request(endpoint + "/moto-api/reset-auth", method="POST",
                                 data=initial_no_auth_action_count.encode(),
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()


def reset(endpoint: str) -> None:
    # Enforcement first: a test that switched it on and failed before switching it off must not
    # leave the next test without credentials.
    set_enforcement(endpoint, "inf")
    req = urllib.request.Request(endpoint + "/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(req).read()


@pytest.fixture(autouse=True)
def _reset(request):
    if "endpoint" in request.fixturenames:
        reset(request.getfixturevalue("endpoint"))
    yield


def _check(shape, value, path: str, problems: list[str]) -> None:
    """Strict check of a JSON response against botocore's output shape: unknown or
    misspelt wire names, missing required members and wrong JSON types (the Rust SDK
    silently defaults what it cannot find, so be exact)."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected object, got {type(value).__name__}")
            return
        by_wire = {}
        for name, member in shape.members.items():
            if member.serialization.get("location") in ("header", "headers", "uri", "querystring",
                                                        "statusCode"):
                continue
            by_wire[member.serialization.get("name", name)] = (name, member)
        for key, v in value.items():
            if key not in by_wire:
                problems.append(f"{path}.{key}: not in the {shape.name} shape")
                continue
            _check(by_wire[key][1], v, f"{path}.{key}", problems)
        for req in shape.required_members:
            m = shape.members[req]
            if m.serialization.get("location"):
                continue
            if m.serialization.get("name", req) not in value:
                problems.append(f"{path}: required {m.serialization.get('name', req)} missing")
    elif t == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected array")
            return
        for i, v in enumerate(value):
            _check(shape.member, v, f"{path}[{i}]", problems)
    elif t == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected map")
            return
        for k, v in value.items():
            _check(shape.value, v, f"{path}[{k}]", problems)
    elif t == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in enum {shape.name}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {value!r}")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected integer, got {value!r}")
    elif t == "timestamp":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected epoch-seconds number, got {value!r}")


WIRE_PROBLEMS: list[str] = []


def _strict_wire_check(operation_model=None, response_dict=None, **_):
    if response_dict is None or operation_model is None:
        return
    status = response_dict.get("status_code", 0)
    body = response_dict.get("body") or b""
    ctype = {k.lower(): v for k, v in (response_dict.get("headers") or {}).items()}.get("content-type", "")
    where = operation_model.name
    if 200 <= status < 300:
        if status != 204 and ctype != "application/json":
            WIRE_PROBLEMS.append(f"{where}: Content-Type {ctype!r}")
        if operation_model.output_shape is None or not body:
            return
        try:
            data = json.loads(body)
        except ValueError:
            WIRE_PROBLEMS.append(f"{where}: body is not JSON: {body[:80]!r}")
            return
        _check(operation_model.output_shape, data, where, WIRE_PROBLEMS)
    elif status >= 400:
        try:
            data = json.loads(body)
        except ValueError:
            WIRE_PROBLEMS.append(f"{where}: error body is not JSON ({status}): {body[:80]!r}")
            return
        if not {"message", "__type"} <= set(data):
            WIRE_PROBLEMS.append(f"{where}: error body {data}")
        if not ctype.startswith("application/json"):
            WIRE_PROBLEMS.append(f"{where}: error Content-Type {ctype!r}")


@pytest.fixture(autouse=True)
def _wire_problems():
    WIRE_PROBLEMS.clear()
    yield
    assert not WIRE_PROBLEMS, "wire-format problems:\n" + "\n".join(WIRE_PROBLEMS)


class Clients:
    """boto3 clients as a given account (via sts:AssumeRole) against the emulator."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._creds: dict[str, dict] = {}

    def creds(self, account: str) -> dict:
        if account == MANAGEMENT:
            return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if account not in self._creds:
            sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                RoleSessionName="pytest")["Credentials"]
            self._creds[account] = {"aws_access_key_id": c["AccessKeyId"],
                                    "aws_secret_access_key": c["SecretAccessKey"],
                                    "aws_session_token": c["SessionToken"]}
        return self._creds[account]

    def __call__(self, service: str, account: str = MANAGEMENT, region: str = "us-east-1",
                 validate: bool = False):
        client = boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                              config=Config(parameter_validation=validate,
                                            retries={"max_attempts": 1}),
                              **self.creds(account))
        if service in ("guardduty", "account"):
            client.meta.events.register("before-parse", _strict_wire_check)
        return client


@pytest.fixture
def clients(endpoint):
    return Clients(endpoint)


@pytest.fixture
def org(clients):
    """An organization with security (222222222222), log-archive (333333333333) and
    four workload accounts 400000000001..4, built through the real API."""
    o = clients("organizations")
    o.create_organization(FeatureSet="ALL")
    ids = {}
    for name, acct in [("security", "222222222222"), ("log-archive", "333333333333"),
                       ("w1", "400000000001"), ("w2", "400000000002"),
                       ("w3", "400000000003"), ("w4", "400000000004")]:
        st = o.create_account(AccountName=name, Email=f"{name}+{acct}@example.com")["CreateAccountStatus"]
        assert st["AccountId"] == acct
        ids[name] = acct
    return ids
