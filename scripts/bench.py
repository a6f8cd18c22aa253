"""guardform benchmark (run through scripts/bench, which installs the venv).

Measures, for N accounts x R Regions on the local emulator (optionally behind microburst with
injected latency):
  * apply from nothing: wall time, API calls by operation, retries, throttles, peak RSS;
  * a no-op plan: the same, plus read calls per Region per 50 accounts.
Before anything is timed, one real signed request per AWS service guardform calls goes through
the endpoint guardform uses (a fresh microburst takes ~4 s to answer its first request, and moto
builds each service's app on first use), so no timed run pays for start-up.

  --tag-selectors  select accounts with `include: { tags: { env: prod } }` (seed.py tags odd
                   workloads env=prod, even ones env=dev) instead of `include: { all: true }`:
                   guardform then reads the tags of every active account from Organizations.
  --plan-only      do not time the apply: the organization is converged by one untimed apply
                   sent straight to the emulator (no injected latency), then only the no-op plan
                   is timed (for 10,000 accounts).
  --report         also time `guardform report` after the no-op plan (the plan's reads, the OU
                   tree, finding statistics and runtime coverage per Region), with --findings
                   findings (default 2,000) seeded over the accounts and Regions first.
  --init           also time `guardform init` after the no-op plan (looks for the administrator
                   in every enabled Region, reads the organization, writes the manifest, then
                   plans it: two full reads).

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
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
REGIONS = [
    "us-east-1", "eu-west-1", "ap-southeast-2", "us-east-2", "us-west-1", "us-west-2",
    "ca-central-1", "sa-east-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
]
ADMIN = "222222222222"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
# One harmless read per AWS service guardform calls (the services in its --stats output; S3 for
# IP lists, not called by the bench's manifest today). The bench warns when a run calls another.
WARM_UP = [
    ("STS", "sts", "get_caller_identity"),
    ("Organizations", "organizations", "describe_organization"),
    ("Account", "account", "list_regions"),
    ("GuardDuty", "guardduty", "list_detectors"),
    ("EventBridge", "events", "list_rules"),
    ("IAM", "iam", "list_roles"),
    ("Lambda", "lambda", "list_functions"),
    ("SQS", "sqs", "list_queues"),
    ("S3", "s3", "list_buckets"),
]
TAG_SELECTOR = "{ tags: { env: prod } }"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, log_file: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: {url} exited early:\n{log_file.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"bench: {url} did not answer within 60 s")


def build(release: bool) -> Path:
    """Builds guardform; returns the executable cargo reports (honours CARGO_TARGET_DIR and any
    cargo config)."""
    command = ["cargo", "build", "--locked", "--quiet", "--message-format=json-render-diagnostics"]
    command += ["--release"] if release else []
    log(" ".join(command) + (f"  (CARGO_TARGET_DIR={os.environ['CARGO_TARGET_DIR']})" if "CARGO_TARGET_DIR" in os.environ else ""))
    proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: cargo build failed ({proc.returncode})")
    executables = []
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("target", {}).get("name") == "guardform" \
                and message.get("executable"):
            executables.append(Path(message["executable"]))
    if len(executables) != 1:
        sys.exit(f"bench: cargo reported {len(executables)} guardform executables: {executables}")
    return executables[0]


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "build.rs")
    return head + ("+uncommitted changes" if dirty else "")


def warm_up(target: str) -> tuple[float, float]:
    """One signed request per service through `target`; returns (first request s, all s)."""
    config = Config(retries={"max_attempts": 1}, read_timeout=120)
    start = time.monotonic()
    first = 0.0
    for i, (_, service, operation) in enumerate(WARM_UP):
        client = boto3.client(service, endpoint_url=target, region_name="us-east-1", config=config, **CREDENTIALS)
        t0 = time.monotonic()
        getattr(client, operation)()
        if i == 0:
            first = time.monotonic() - t0
    return first, time.monotonic() - start


def guardduty_members(endpoint: str, region: str) -> int:
    """The administrator's associated GuardDuty members in `region`, read from the emulator."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ADMIN}:role/bench", RoleSessionName="bench")["Credentials"]
    guardduty = boto3.client("guardduty", endpoint_url=endpoint, region_name=region,
                             aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"])
    detector = guardduty.list_detectors()["DetectorIds"][0]
    pages = guardduty.get_paginator("list_members").paginate(DetectorId=detector, OnlyAssociated="true")
    return sum(len(page["Members"]) for page in pages)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_timed(args: list[str], env: dict[str, str], cwd: Path, servers: dict[str, int]) -> dict:
    """Runs guardform under /usr/bin/time -v; returns wall seconds, peak RSS MiB, calls, and the CPU
    seconds guardform and each server process (emulator, proxy) used meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in servers.items()}
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *args], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - start
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in servers.items()}
    if proc.returncode not in (0, 2):
        sys.exit(f"bench: {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    cpu = {"guardform": sum(float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", proc.stderr).group(1))
                            for kind in ("User", "System")), **cpu}
    calls: dict[str, tuple[int, int, int]] = {}
    reported_total = None
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
            counts = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            if m.group(1) == "total":
                reported_total = counts
            else:
                calls[m.group(1)] = counts
    summed = tuple(sum(c[i] for c in calls.values()) for i in range(3))
    if reported_total != summed:
        sys.exit(f"bench: guardform's --stats total {reported_total} is not the sum of its operations {summed}")
    summary = next((l for l in proc.stdout.splitlines() if l.startswith(("Plan:", "Apply complete", "No changes"))), "")
    return {"wall": wall, "rss_mib": rss_kib / 1024, "calls": calls, "summary": summary,
            "total": summed[0], "retries": summed[1], "throttles": summed[2], "cpu": cpu}


def manifest(regions: list[str], tag_selectors: bool) -> str:
    accounts = f"accounts:\n  include: {TAG_SELECTOR if tag_selectors else '{ all: true }'}\n"
    return (
        f"version: 1\norganization:\n  delegated_admin: \"{ADMIN}\"\n  auto_enable: NEW\n"
        + accounts
        + f"regions:\n  include: [{', '.join(regions)}]\n"
        "detector:\n  finding_publishing_frequency: FIFTEEN_MINUTES\n  features:\n"
        "    S3_DATA_EVENTS: enabled\n    EKS_AUDIT_LOGS: enabled\n    EBS_MALWARE_PROTECTION: enabled\n"
        "    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }\n"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=100, help="member accounts to seed, at least 2 (default 100)")
    p.add_argument("--regions", type=int, default=3, help="Regions to target, 1-17 (default 3)")
    p.add_argument("--latency-ms", type=int, default=0, help="inject this latency per call with microburst")
    p.add_argument("--parallelism", type=int, default=32, help="guardform --parallelism (default 32, as guardform's own)")
    p.add_argument("--tag-selectors", action="store_true",
                   help=f"select accounts with `include: {TAG_SELECTOR}` (guardform reads every account's tags)")
    p.add_argument("--plan-only", action="store_true",
                   help="time only the no-op plan; converge first with one untimed apply straight to the emulator")
    p.add_argument("--report", action="store_true", help="also time `guardform report` after the no-op plan")
    p.add_argument("--init", action="store_true", help="also time `guardform init` after the no-op plan")
    p.add_argument("--findings", type=int, default=2000, help="findings seeded for --report (default 2000)")
    p.add_argument("--debug", action="store_true", help="benchmark the debug build (default: release)")
    p.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = p.parse_args()
    if not 1 <= args.regions <= len(REGIONS):
        sys.exit(f"bench: --regions must be 1 to {len(REGIONS)}")
    if args.accounts < 2:
        sys.exit("bench: --accounts must be at least 2 (seed.py's security and log-archive accounts)")

    profile = "debug" if args.debug else "release"
    binary = build(release=not args.debug)
    log(f"binary {binary}")

    work = Path(tempfile.mkdtemp(prefix="guardform-bench-"))
    port = free_port()
    emulator_log = work / "emulator.log"
    emulator = subprocess.Popen(
        [str(PY), str(ROOT / "tests/emulator/server.py"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=emulator_log.open("w"), stderr=subprocess.STDOUT,
    )
    processes = [emulator]
    regions = REGIONS[: args.regions]
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_ready(f"{endpoint}/moto-api/data.json", emulator, emulator_log)
        t0 = time.monotonic()
        findings = ["--findings", str(args.findings), "--regions", ",".join(REGIONS[: args.regions])] if args.report else []
        seeded = subprocess.run([str(PY), str(ROOT / "tests/emulator/seed.py"), "--endpoint", endpoint,
                                 "--accounts", str(args.accounts), *findings], check=True, stdout=subprocess.PIPE, text=True)
        seed_seconds = time.monotonic() - t0
        organization = json.loads(seeded.stdout)
        log(f"seeded {len(organization['accounts'])} accounts in {seed_seconds:.1f} s")

        (work / "guardform.yaml").write_text(manifest(regions, args.tag_selectors))
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=endpoint, NO_COLOR="1")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
            env.pop(name, None)
        common = ["--quiet", "--parallelism", str(args.parallelism)]

        converge_seconds = None
        if args.plan_only:
            t0 = time.monotonic()
            proc = subprocess.run([str(binary), "apply", "--auto-approve", *common], env=env, cwd=work,
                                  capture_output=True, text=True)
            converge_seconds = time.monotonic() - t0
            if proc.returncode != 0:
                sys.exit(f"bench: the converging apply failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            log(f"converging apply (untimed, straight to the emulator) took {converge_seconds:.1f} s")

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
        env["AWS_ENDPOINT_URL"] = target

        first_request, warm_seconds = warm_up(target)
        log(f"warm-up through {'microburst' if args.latency_ms else 'the emulator'}: first request "
            f"{first_request:.2f} s, {len(WARM_UP)} requests {warm_seconds:.2f} s")
        load = os.getloadavg()[0]

        servers = {"emulator": emulator.pid, **({"proxy": processes[1].pid} if args.latency_ms else {})}
        timed = ["--stats", *common]
        apply = None
        if not args.plan_only:
            apply = run_timed([str(binary), "apply", "--auto-approve", *timed], env, work, servers)
            log(f"apply from nothing: {apply['wall']:.2f} s, {apply['total']} calls")
        noop = run_timed([str(binary), "plan", "--detailed-exitcode", *timed], env, work, servers)
        log(f"no-op plan: {noop['wall']:.2f} s, {noop['total']} calls")
        if "No changes" not in noop["summary"]:
            sys.exit(f"bench: the plan after apply was not empty: {noop['summary']}")
        report = None
        if args.report:
            report = run_timed([str(binary), "report", "--out", str(work / "report.html"), *timed], env, work, servers)
            log(f"report: {report['wall']:.2f} s, {report['total']} calls")
        initialised = None
        if args.init:
            initialised = run_timed([str(binary), "init", "--out", str(work / "init.yaml"), "--force", *timed],
                                    env, work, servers)
            log(f"init: {initialised['wall']:.2f} s, {initialised['total']} calls")
        members = guardduty_members(endpoint, regions[0])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    runs = (([("apply from nothing", apply)] if apply else []) + [("no-op plan", noop)]
            + ([("report", report)] if report else []) + ([("init", initialised)] if initialised else []))
    active = 1 + sum(1 for a in organization["accounts"] if a["status"] == "ACTIVE")  # + the management account
    account_regions = (members + 1) * args.regions  # the members and the administrator
    called = {op.split(".", 1)[0] for _, r in runs for op in r["calls"]}
    unwarmed = called - {service for service, _, _ in WARM_UP}
    if unwarmed:
        log(f"warning: guardform called services the warm-up did not: {', '.join(sorted(unwarmed))}")

    gd = {op.split(".", 1)[1]: c[0] for op, c in noop["calls"].items() if op.startswith("GuardDuty.")}
    guardduty_reads = sum(gd.values())
    batches = math.ceil(members / 50)
    batched = {op: gd.pop(op, 0) for op in ("ListMembers", "GetMemberDetectors")}
    if all(n == batches * args.regions for n in batched.values()):
        batched_text = f"2 per 50 accounts ({batches} batch{'es' if batches != 1 else ''}: ListMembers + GetMemberDetectors)"
    else:
        batched_text = " + ".join(f"{n / args.regions:g} {op}" for op, n in batched.items()) + f" ({batches} batches of 50)"
    fixed_text = ", ".join(op if n == args.regions else f"{op} x{n / args.regions:g}" for op, n in sorted(gd.items()))
    other = {op: c[0] for op, c in noop["calls"].items() if not op.startswith("GuardDuty.")}
    selector = TAG_SELECTOR if args.tag_selectors else "{ all: true }"

    command = "scripts/bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        f"## {args.accounts} accounts x {args.regions} Regions"
        + (", tag selectors" if args.tag_selectors else "")
        + (f", {args.latency_ms} ms injected latency" if args.latency_ms else "")
        + (", no-op plan only" if args.plan_only else "")
        + (f", report over {args.findings} findings" if args.report else "")
        + (", init" if args.init else "")
        + (f", parallelism {args.parallelism}" if args.parallelism != 32 else "")
        + f" ({profile} build)",
        "",
        f"Command: `{command.strip()}`  ",
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores "
        f"(1-minute load average {load:.1f} before the timed runs), guardform {commit()}; "
        f"emulator: moto {metadata.version('moto')} + tests/emulator extension"
        + (f", behind microburst {metadata.version('microburst')}" if args.latency_ms else "")
        + f"; seeding took {seed_seconds:.1f} s. "
        f"Warm-up before timing: {len(WARM_UP)} signed requests, one per service "
        f"({', '.join(name for name, _, _ in WARM_UP)}), through "
        + ("microburst" if args.latency_ms else "the emulator")
        + f": {warm_seconds:.2f} s (first request {first_request:.2f} s).  ",
        f"Targets: `accounts: {{ include: {selector} }}` selects {members} member accounts "
        f"(counted in the emulator afterwards) of the {active} active accounts, plus the administrator; "
        f"{members + 1} accounts x {args.regions} Regions = {account_regions} account-Regions.",
    ]
    if args.plan_only:
        lines[-1] += "  "
        lines.append("No-op plan only: the organization was converged first by one apply sent straight to the "
                     "emulator (no injected latency, not a benchmark figure); only the plan that follows is timed.")
    lines += [
        "",
        "| run | wall time | API calls | calls per account-Region | retries | throttles | peak RSS | CPU seconds: "
        + " / ".join(noop["cpu"]) + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs:
        lines.append(f"| {name} | {r['wall']:.2f} s | {r['total']} | {r['total'] / account_regions:.3f} | "
                     f"{r['retries']} | {r['throttles']} | {r['rss_mib']:.1f} MiB | "
                     + " / ".join(f"{seconds:.2f}" for seconds in r["cpu"].values()) + " |")
    lines += [
        "",
        f"No-op plan, GuardDuty reads: {guardduty_reads} = {guardduty_reads / args.regions:.1f} per Region "
        f"= {batched_text} + {sum(gd.values()) / args.regions:g} fixed ({fixed_text}). "
        "Other reads: " + ", ".join(f"{op} {n}" for op, n in sorted(other.items())) + ".",
    ]
    tag_reads = other.get("Organizations.ListTagsForResource", 0)
    if args.tag_selectors:
        lines[-1] += (f" Tag reads: Organizations.ListTagsForResource {tag_reads}"
                      + (f", one per active account ({active})." if tag_reads == active else f" for {active} active accounts."))
    lines += [
        "",
        "<details><summary>calls by operation</summary>",
        "",
        "| operation | " + " | ".join(name for name, _ in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for op in sorted(set().union(*(r["calls"] for _, r in runs))):
        lines.append(f"| {op} | " + " | ".join(str(r["calls"].get(op, (0,))[0]) for _, r in runs) + " |")
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
        log(f"wrote {path}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
