"""Fixtures: start the fake Deep Security Manager as a subprocess, as the Rust tests do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
FIXTURES = os.path.join(HERE, "fixtures.json")
KEY = "2A0B5C1D:test-key-that-must-stay-secret"
READY_RE = re.compile(r"^dsm listening on (https?)://127\.0\.0\.1:(\d+)$")


class Dsm:
    def __init__(self, proc: subprocess.Popen, url: str, cert_dir: str | None) -> None:
        self.proc = proc
        self.url = url
        self.cert_dir = cert_dir

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()


def start_dsm(*extra: str, tls_dir: str | None = None, key: str = KEY) -> Dsm:
    cmd = [sys.executable, SERVER, "--port", "0", "--api-key", key, "--fixtures", FIXTURES, *extra]
    if tls_dir:
        cmd += ["--tls", "--cert-dir", tls_dir]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    line = proc.stdout.readline().strip() if proc.stdout else ""
    m = READY_RE.match(line)
    if not m or time.monotonic() > deadline:
        proc.kill()
        pytest.fail(f"fake DSM did not start: {line!r}")
    return Dsm(proc, f"{m.group(1)}://127.0.0.1:{m.group(2)}", tls_dir)


@pytest.fixture
def dsm():
    d = start_dsm()
    yield d
    d.stop()
