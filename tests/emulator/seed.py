#!/usr/bin/env python3
"""Seed a sample AWS Organization into a running emulator, through the real APIs.

    .venv/bin/python tests/emulator/seed.py --endpoint http://127.0.0.1:5000 \
        [--accounts 12] [--suspend 0] [--enable-regions af-south-1,me-south-1] [--reset] \
        [--findings 0] [--regions us-east-1,eu-west-1,ap-southeast-2]

Caller: the management account 123456789012 (credentials testing/testing).
Builds: an organization (ALL features); OUs Security, Workloads, Workloads/Prod,
Workloads/Dev; accounts
  security     222222222222  Security        env=security
  log-archive  333333333333  Security        env=log-archive
  workload-NNN 4000000000NN  Workloads/Prod  env=prod  (odd NNN)
                             Workloads/Dev   env=dev   (even NNN)   team=<rotating>
(--accounts counts member accounts, management excluded: N-2 workloads), and in the
first workload account (400000000001, when there is one) an upload bucket,
acme-workload-001-uploads in us-east-1, for the examples' Malware Protection for S3.
--suspend K closes the last K accounts (status SUSPENDED); --enable-regions opts
every member account (and the management account) into the given Regions.
--findings N stores N GuardDuty findings (through the emulator's seeding endpoint
/moto-api/guardform/findings, not an AWS API) spread deterministically over the security
account and the active workload accounts, the --regions, the last 30 days (updatedAt), the
fixture templates and the four severity levels, plus a handful of Runtime Monitoring coverage
resources (EKS/ECS/EC2, some UNHEALTHY) through /moto-api/guardform/coverage. Findings exist
before any detector: GuardDuty membership set up later (e.g. by guardform) makes them visible
to the administrator.

Prints a JSON summary on stdout:
  {"management_account": "123456789012", "root_id": "r-...",
   "ous": {"Security": "ou-...", "Workloads": "ou-...", "Workloads/Prod": ..., "Workloads/Dev": ...},
   "accounts": [{"id", "name", "email", "ou_path", "tags", "status"}, ...],
   "enabled_regions": [...], "buckets": [{"account", "region", "name"}, ...],
   "findings": N, "coverage": K}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

MANAGEMENT_ACCOUNT = "123456789012"
UPLOADS = {"account": "400000000001", "region": "us-east-1", "name": "acme-workload-001-uploads"}
TEAMS = ["payments", "search", "platform", "data", "identity"]
DEFAULT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
# The fixture templates (bundles/tests/fixtures/findings) seeded findings are made from.
FINDING_TEMPLATES = [
    "01_UnauthorizedAccess_EC2_SSHBruteForce.eventbridge.json",
    "02_Recon_EC2_PortProbeUnprotectedPort.eventbridge.json",
    "03_CryptoCurrency_EC2_BitcoinTool.B_DNS.eventbridge.json",
    "04_Impact_S3_MaliciousIPCaller.sample.finding.json",
    "05_UnauthorizedAccess_IAMUser_MaliciousIPCaller.sample.finding.json",
    "06_UnauthorizedAccess_EC2_MaliciousIPCaller.Custom.eventbridge.json",
]
# Severity levels ("Severity levels for GuardDuty findings") and how often each is seeded.
SEVERITY_LEVELS = [("low", 1.0, 3.9, 4), ("medium", 4.0, 6.9, 4), ("high", 7.0, 8.9, 3), ("critical", 9.0, 10.0, 1)]
FINDINGS_SEED = 20240601  # fixed: the same --findings N gives the same findings (relative to now)


def _client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16),
    )


def plan(accounts: int) -> list[dict[str, Any]]:
    """The accounts to create, in order."""
    if accounts < 2:
        raise ValueError("--accounts must be at least 2 (security and log-archive)")
    if accounts - 2 > 99_999_999_999:
        raise ValueError("too many accounts")
    out = [
        {"id": "222222222222", "name": "security", "ou_path": "Security", "tags": {"env": "security"}},
        {"id": "333333333333", "name": "log-archive", "ou_path": "Security", "tags": {"env": "log-archive"}},
    ]
    width = max(3, len(str(accounts - 2)))
    for i in range(1, accounts - 1):
        prod = i % 2 == 1
        out.append({
            "id": f"4{i:011d}",
            "name": f"workload-{i:0{width}d}",
            "ou_path": "Workloads/Prod" if prod else "Workloads/Dev",
            "tags": {"env": "prod" if prod else "dev", "team": TEAMS[(i - 1) // 2 % len(TEAMS)]},
        })
    return out


def _post_json(endpoint: str, path: str, payload: Any) -> Any:
    req = urllib.request.Request(endpoint.rstrip("/") + path, method="POST",
                                 data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def plan_findings(n: int, accounts: list[str], regions: list[str],
                  now: float | None = None) -> list[dict[str, Any]]:
    """N seeding entries for /moto-api/guardform/findings, deterministic for a given N,
    account list and Region list (a fixed-seed generator; times relative to `now`): accounts
    and Regions in turn, templates and severity levels mixed, updatedAt over the last 30 days."""
    if n <= 0:
        return []
    if not accounts or not regions:
        raise ValueError("--findings needs at least one account and one Region")
    rng = random.Random(FINDINGS_SEED)
    now = time.time() if now is None else now
    levels = [lv for lv in SEVERITY_LEVELS for _ in range(lv[3])]
    out = []
    for i in range(n):
        _, lo, hi, _ = levels[rng.randrange(len(levels))]
        updated = now - rng.uniform(0, 30 * 86400)
        created = updated - rng.uniform(0, 3 * 86400)
        out.append({
            "account": accounts[i % len(accounts)],
            "region": regions[(i // len(accounts)) % len(regions)],
            "template": FINDING_TEMPLATES[rng.randrange(len(FINDING_TEMPLATES))],
            "severity": round(rng.uniform(lo, hi), 1),
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + "Z",
            "updatedAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(updated)) + "Z",
            "count": 1 + rng.randrange(12),
        })
    return out


def plan_coverage(accounts: list[str], regions: list[str]) -> list[dict[str, Any]]:
    """A handful of Runtime Monitoring coverage resources in the first workload accounts (the
    security account when there is none): EKS, ECS and EC2, two of them UNHEALTHY."""
    if not accounts or not regions:
        return []
    workloads = [a for a in accounts if a.startswith("4")] or accounts
    a0 = workloads[0]
    a1 = workloads[1 % len(workloads)]
    r0 = regions[0]
    r1 = regions[1 % len(regions)]
    return [
        {"account": a0, "region": r0, "resourceType": "EKS", "resourceId": "payments-prod",
         "clusterName": "payments-prod", "status": "HEALTHY", "addonVersion": "v1.7.1-eksbuild.2",
         "addonStatus": "ACTIVE", "coveredNodes": 6, "compatibleNodes": 6, "managementType": "AUTO_MANAGED"},
        {"account": a0, "region": r0, "resourceType": "EKS", "resourceId": "batch-dev",
         "clusterName": "batch-dev", "status": "UNHEALTHY", "issue": "Addon not installed",
         "coveredNodes": 0, "compatibleNodes": 3, "managementType": "MANUAL"},
        {"account": a0, "region": r0, "resourceType": "ECS", "resourceId": "web-fargate",
         "clusterName": "web-fargate", "status": "HEALTHY", "managementType": "AUTO_MANAGED",
         "coveredContainerInstances": 0, "compatibleContainerInstances": 0},
        {"account": a1, "region": r0, "resourceType": "EC2", "resourceId": "i-0a1b2c3d4e5f60001",
         "instanceId": "i-0a1b2c3d4e5f60001", "instanceType": "m6i.large", "status": "UNHEALTHY",
         "issue": "No Agent Reporting", "agentVersion": "1.5.0", "managementType": "AUTO_MANAGED"},
        {"account": a1, "region": r1, "resourceType": "EC2", "resourceId": "i-0a1b2c3d4e5f60002",
         "instanceId": "i-0a1b2c3d4e5f60002", "instanceType": "t3.medium", "status": "HEALTHY",
         "agentVersion": "1.6.1", "managementType": "AUTO_MANAGED"},
        {"account": a1, "region": r1, "resourceType": "ECS", "resourceId": "orders-ec2",
         "clusterName": "orders-ec2", "status": "UNHEALTHY", "issue": "Container instance agent not reporting",
         "managementType": "AUTO_MANAGED", "coveredContainerInstances": 2, "compatibleContainerInstances": 3},
    ]


def seed(endpoint: str, accounts: int = 12, suspend: int = 0,
         enable_regions: list[str] | None = None, reset: bool = False,
         workers: int = 4, findings: int = 0, regions: list[str] | None = None) -> dict[str, Any]:
    if reset:
        urllib.request.urlopen(urllib.request.Request(endpoint.rstrip("/") + "/moto-api/reset",
                                                      method="POST", data=b"")).read()
    if findings < 0:
        raise ValueError("--findings must be at least 0")
    if suspend < 0 or suspend > accounts:
        raise ValueError("--suspend must be between 0 and --accounts")
    org = _client("organizations", endpoint)
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]

    ous: dict[str, str] = {}
    ous["Security"] = org.create_organizational_unit(ParentId=root_id, Name="Security")[
        "OrganizationalUnit"]["Id"]
    ous["Workloads"] = org.create_organizational_unit(ParentId=root_id, Name="Workloads")[
        "OrganizationalUnit"]["Id"]
    ous["Workloads/Prod"] = org.create_organizational_unit(ParentId=ous["Workloads"], Name="Prod")[
        "OrganizationalUnit"]["Id"]
    ous["Workloads/Dev"] = org.create_organizational_unit(ParentId=ous["Workloads"], Name="Dev")[
        "OrganizationalUnit"]["Id"]

    def create(acct: dict[str, Any]) -> dict[str, Any]:
        email = f"{acct['name']}+{acct['id']}@example.com"
        status = org.create_account(
            AccountName=acct["name"],
            Email=email,
            Tags=[{"Key": k, "Value": v} for k, v in acct["tags"].items()],
        )["CreateAccountStatus"]
        if status.get("State") != "SUCCEEDED" or status.get("AccountId") != acct["id"]:
            raise RuntimeError(f"CreateAccount for {acct['name']} did not give {acct['id']}: {status}")
        org.move_account(AccountId=acct["id"], SourceParentId=root_id,
                         DestinationParentId=ous[acct["ou_path"]])
        return {**acct, "email": email, "status": "ACTIVE"}

    # A few client threads overlap botocore's own per-call work with the server's;
    # the emulator (one Python process) stays the bottleneck.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        created = list(pool.map(create, plan(accounts)))

        if suspend:
            for acct in created[-suspend:]:
                org.close_account(AccountId=acct["id"])
                acct["status"] = "SUSPENDED"

        opt_in = [r for r in (enable_regions or []) if r]
        if opt_in:
            account_api = _client("account", endpoint)
            jobs = [(None, r) for r in opt_in] + [(a["id"], r) for r in opt_in for a in created]

            def enable(job: tuple[str | None, str]) -> None:
                acct_id, region = job
                if acct_id is None:  # the management account itself
                    account_api.enable_region(RegionName=region)
                else:
                    account_api.enable_region(AccountId=acct_id, RegionName=region)

            list(pool.map(enable, jobs))

    buckets = []
    if any(a["id"] == UPLOADS["account"] for a in created):
        role = f"arn:aws:iam::{UPLOADS['account']}:role/OrganizationAccountAccessRole"
        creds = _client("sts", endpoint).assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=UPLOADS["region"],
                          aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
        s3.create_bucket(Bucket=UPLOADS["name"])
        buckets.append(dict(UPLOADS))

    coverage = 0
    if findings:
        finding_regions = [r for r in (regions or DEFAULT_REGIONS) if r]
        targets = [a["id"] for a in created if a["status"] == "ACTIVE" and a["name"] != "log-archive"]
        entries = plan_findings(findings, targets, finding_regions)
        for i in range(0, len(entries), 1000):
            _post_json(endpoint, "/moto-api/guardform/findings", {"findings": entries[i:i + 1000]})
        resources = plan_coverage(targets, finding_regions)
        if resources:
            _post_json(endpoint, "/moto-api/guardform/coverage", {"resources": resources})
        coverage = len(resources)

    return {
        "management_account": MANAGEMENT_ACCOUNT,
        "root_id": root_id,
        "ous": ous,
        "accounts": [
            {k: a[k] for k in ("id", "name", "email", "ou_path", "tags", "status")} for a in created
        ],
        "enabled_regions": opt_in,
        "buckets": buckets,
        "findings": findings,
        "coverage": coverage,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Seed a sample organization into the emulator.")
    p.add_argument("--endpoint", default="http://127.0.0.1:5000")
    p.add_argument("--accounts", type=int, default=12, help="member accounts (management excluded)")
    p.add_argument("--suspend", type=int, default=0, help="close the last K accounts")
    p.add_argument("--enable-regions", default="", help="comma-separated opt-in Regions to enable")
    p.add_argument("--reset", action="store_true", help="POST /moto-api/reset first")
    p.add_argument("--findings", type=int, default=0,
                   help="GuardDuty findings to seed (plus a few coverage resources when > 0)")
    p.add_argument("--regions", default=",".join(DEFAULT_REGIONS),
                   help="comma-separated Regions the findings and coverage are spread over")
    p.add_argument("--indent", type=int, default=None)
    args = p.parse_args(argv)
    t0 = time.monotonic()
    summary = seed(args.endpoint, args.accounts, args.suspend,
                   [r.strip() for r in args.enable_regions.split(",")], args.reset,
                   findings=args.findings, regions=[r.strip() for r in args.regions.split(",") if r.strip()])
    json.dump(summary, sys.stdout, indent=args.indent)
    sys.stdout.write("\n")
    print(f"seeded {len(summary['accounts'])} accounts, {summary['findings']} findings in "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
