"""guardform benchmark (run through scripts/bench, which installs the venv).

Measures, for N accounts x R Regions on the local emulator:
  * apply from nothing: wall time, API calls by operation, peak RSS;
  * a no-op plan: the same, plus read calls per Region per 50 accounts.
Figures and the exact command are written to BENCHMARKS.md (one section per configuration,
replaced when rerun).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
REGIONS = [
    "us-east-1", "eu-west-1", "ap-southeast-2", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "sa-east-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: {url} exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"bench: {url} did not answer within 60 s")


def run_timed(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Runs guardform under /usr/bin/time -v; returns wall seconds, peak RSS MiB, calls."""
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *args], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode not in (0, 2):
        sys.exit(f"bench: {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    calls: dict[str, tuple[int, int, int]] = {}
    in_stats = False
    for line in proc.stderr.splitlines():
        if line.startswith("AWS API calls:"):
            in_stats = True
            continue
        if in_stats:
            m = re.match(r"\s+(\S+)\s+(\d+) calls\s+(\d+) retries\s+(\d+) throttles", line)
            if not m:
                in_stats = False
                continue
            if m.group(1) != "total":
                calls[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    summary = next((l for l in proc.stdout.splitlines() if l.startswith(("Plan:", "Apply complete", "No changes"))), "")
    return {"wall": wall, "rss_mib": rss_kib / 1024, "calls": calls, "summary": summary}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=100, help="member accounts to seed (default 100)")
    p.add_argument("--regions", type=int, default=3, help="Regions to target, 1-17 (default 3)")
    p.add_argument("--latency-ms", type=int, default=0, help="inject this latency per call with microburst")
    p.add_argument("--parallelism", type=int, default=8)
    p.add_argument("--debug", action="store_true", help="benchmark the debug build (default: release)")
    p.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = p.parse_args()
    if not 1 <= args.regions <= len(REGIONS):
        sys.exit(f"bench: --regions must be 1 to {len(REGIONS)}")

    profile = "debug" if args.debug else "release"
    build = ["cargo", "build", "--locked", "--quiet"] + ([] if args.debug else ["--release"])
    print(f"bench: {' '.join(build)}", file=sys.stderr)
    subprocess.run(build, cwd=ROOT, check=True)
    binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / profile / "guardform"

    work = Path(tempfile.mkdtemp(prefix="guardform-bench-"))
    port = free_port()
    emulator_log = work / "emulator.log"
    emulator = subprocess.Popen(
        [str(PY), str(ROOT / "tests/emulator/server.py"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=emulator_log.open("w"), stderr=subprocess.STDOUT,
    )
    processes = [emulator]
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(f"{endpoint}/moto-api/data.json", emulator, emulator_log)
        t0 = time.monotonic()
        subprocess.run([str(PY), str(ROOT / "tests/emulator/seed.py"), "--endpoint", endpoint, "--accounts", str(args.accounts)],
                       check=True, stdout=subprocess.DEVNULL)
        seed_seconds = time.monotonic() - t0
        target = endpoint
        if args.latency_ms:
            proxy_port = free_port()
            config = work / "microburst.yml"
            config.write_text(
                f"upstream: {endpoint}\nhost: 127.0.0.1\nport: {proxy_port}\n"
                f"rules:\n  - service: '*'\n    probability: 1.0\n    latency: {args.latency_ms}\n"
            )
            proxy_log = work / "microburst.log"
            proxy = subprocess.Popen([str(ROOT / ".venv/bin/microburst"), "--config", str(config)],
                                     stdout=proxy_log.open("w"), stderr=subprocess.STDOUT)
            processes.append(proxy)
            target = f"http://127.0.0.1:{proxy_port}"
            wait_ready(f"{target}/_microburst/stats", proxy, proxy_log)

        regions = REGIONS[: args.regions]
        (work / "guardform.yaml").write_text(
            "version: 1\norganization:\n  delegated_admin: \"222222222222\"\n  auto_enable: NEW\n"
            "accounts:\n  include: { all: true }\n"
            f"regions:\n  include: [{', '.join(regions)}]\n"
            "detector:\n  finding_publishing_frequency: FIFTEEN_MINUTES\n  features:\n"
            "    S3_DATA_EVENTS: enabled\n    EKS_AUDIT_LOGS: enabled\n    EBS_MALWARE_PROTECTION: enabled\n"
            "    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }\n"
        )
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=target, NO_COLOR="1")
        env.pop("AWS_PROFILE", None)
        common = ["--stats", "--quiet", "--parallelism", str(args.parallelism)]
        apply = run_timed([str(binary), "apply", "--auto-approve", *common], env, work)
        noop = run_timed([str(binary), "plan", "--detailed-exitcode", *common], env, work)
        if "No changes" not in noop["summary"]:
            sys.exit(f"bench: the plan after apply was not empty: {noop['summary']}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)

    members = args.accounts  # seeded member accounts; the administrator is one of them, the management account joins
    account_regions = (args.accounts + 1) * args.regions
    def total(r):
        return sum(c[0] for c in r["calls"].values())
    per_region_ops = [op for op in noop["calls"] if op.startswith("GuardDuty.")]
    guardduty_reads = sum(noop["calls"][op][0] for op in per_region_ops)
    batches = math.ceil(members / 50)
    fixed_per_region = guardduty_reads / args.regions - 2 * batches

    command = "scripts/bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        f"## {args.accounts} accounts x {args.regions} Regions"
        + (f", {args.latency_ms} ms injected latency" if args.latency_ms else "")
        + f" ({profile} build)",
        "",
        f"Command: `{command.strip()}`  ",
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores; "
        f"emulator: moto 5.2.5 + tests/emulator extension; seeding took {seed_seconds:.1f} s.",
        "",
        "| run | wall time | API calls | calls per account-Region | retries | throttles | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (("apply from nothing", apply), ("no-op plan", noop)):
        retries = sum(c[1] for c in r["calls"].values())
        throttles = sum(c[2] for c in r["calls"].values())
        lines.append(f"| {name} | {r['wall']:.2f} s | {total(r)} | {total(r) / account_regions:.3f} | {retries} | {throttles} | {r['rss_mib']:.1f} MiB |")
    fixed_ops = sorted(op.split(".", 1)[1] for op in per_region_ops if noop["calls"][op][0] == args.regions)
    other = {op: c[0] for op, c in noop["calls"].items() if not op.startswith("GuardDuty.")}
    lines += [
        "",
        f"No-op plan, GuardDuty reads: {guardduty_reads} = {guardduty_reads / args.regions:.1f} per Region "
        f"= 2 per 50 accounts ({batches} batches: ListMembers + GetMemberDetectors) + {fixed_per_region:.0f} fixed "
        f"({', '.join(fixed_ops)}). Other reads: " + ", ".join(f"{op} {n}" for op, n in sorted(other.items())) + ".",
        "",
        "<details><summary>calls by operation</summary>",
        "",
        "| operation | apply | no-op plan |",
        "|---|---|---|",
    ]
    for op in sorted(set(apply["calls"]) | set(noop["calls"])):
        lines.append(f"| {op} | {apply['calls'].get(op, (0,))[0]} | {noop['calls'].get(op, (0,))[0]} |")
    lines += ["", "</details>", ""]
    section = "\n".join(lines)
    print(section)

    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        header = ("# Benchmarks\n\nFigures from `scripts/bench` (see the script's header for options). Each section is "
                  "replaced when its configuration is rerun; rerun any of them with the command shown.\n\n")
        text = path.read_text() if path.exists() else header
        title = lines[0]
        pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
        text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text)
        print(f"bench: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
