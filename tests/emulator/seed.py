#!/usr/bin/env python3
"""Seed a sample AWS Organization into a running emulator, through the real APIs.

    .venv/bin/python tests/emulator/seed.py --endpoint http://127.0.0.1:5000 \
        [--accounts 12] [--suspend 0] [--enable-regions af-south-1,me-south-1] [--reset]

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

Prints a JSON summary on stdout:
  {"management_account": "123456789012", "root_id": "r-...",
   "ous": {"Security": "ou-...", "Workloads": "ou-...", "Workloads/Prod": ..., "Workloads/Dev": ...},
   "accounts": [{"id", "name", "email", "ou_path", "tags", "status"}, ...],
   "enabled_regions": [...], "buckets": [{"account", "region", "name"}, ...]}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

MANAGEMENT_ACCOUNT = "123456789012"
UPLOADS = {"account": "400000000001", "region": "us-east-1", "name": "acme-workload-001-uploads"}
TEAMS = ["payments", "search", "platform", "data", "identity"]


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


def seed(endpoint: str, accounts: int = 12, suspend: int = 0,
         enable_regions: list[str] | None = None, reset: bool = False,
         workers: int = 4) -> dict[str, Any]:
    if reset:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(endpoint.rstrip("/") + "/moto-api/reset",
                                                      method="POST", data=b"")).read()
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

        regions = [r for r in (enable_regions or []) if r]
        if regions:
            account_api = _client("account", endpoint)
            jobs = [(None, r) for r in regions] + [(a["id"], r) for r in regions for a in created]

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

    return {
        "management_account": MANAGEMENT_ACCOUNT,
        "root_id": root_id,
        "ous": ous,
        "accounts": [
            {k: a[k] for k in ("id", "name", "email", "ou_path", "tags", "status")} for a in created
        ],
        "enabled_regions": regions,
        "buckets": buckets,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Seed a sample organization into the emulator.")
    p.add_argument("--endpoint", default="http://127.0.0.1:5000")
    p.add_argument("--accounts", type=int, default=12, help="member accounts (management excluded)")
    p.add_argument("--suspend", type=int, default=0, help="close the last K accounts")
    p.add_argument("--enable-regions", default="", help="comma-separated opt-in Regions to enable")
    p.add_argument("--reset", action="store_true", help="POST /moto-api/reset first")
    p.add_argument("--indent", type=int, default=None)
    args = p.parse_args(argv)
    t0 = time.monotonic()
    summary = seed(args.endpoint, args.accounts, args.suspend,
                   [r.strip() for r in args.enable_regions.split(",")], args.reset)
    json.dump(summary, sys.stdout, indent=args.indent)
    sys.stdout.write("\n")
    print(f"seeded {len(summary['accounts'])} accounts in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
