"""Every bundle.yaml against the contract with guardform's Rust side and against the code it
describes: the settings and secrets the code reads are the ones declared (with the same
defaults), the AWS actions the code calls are the permissions it asks for, and the Lambda code
imports only the standard library, boto3 and the shared modules."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml  # test-only: PyYAML comes with moto in the test venv
from conftest import BUNDLES, COMMON

BUNDLE_NAMES = sorted(p.parent.name for p in BUNDLES.glob("*/bundle.yaml"))
TOP_KEYS = {"name", "description", "runtime", "handler", "timeout", "memory", "permissions", "env", "secrets"}
SHARED_MODULES = {p.stem for p in COMMON.glob("*.py")}
# Calls that need no IAM permission.
FREE_ACTIONS = {"sts:GetCallerIdentity"}


def manifest(name: str) -> dict:
    return yaml.safe_load((BUNDLES / name / "bundle.yaml").read_text())


def sources(name: str) -> dict[str, str]:
    """The Lambda zip's Python files: the bundle's src/ and the shared modules."""
    files = {p.name: p.read_text() for p in (BUNDLES / name / "src").glob("*.py")}
    return files


def test_the_expected_bundles_exist():
    assert BUNDLE_NAMES == ["archive-findings", "deep-security-responder", "disable-access-key", "isolate-instance", "slack-notify"]


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_manifest_shape(name):
    data = manifest(name)
    assert set(data) == TOP_KEYS
    assert data["name"] == name
    assert isinstance(data["description"], str) and "\n" not in data["description"].strip()
    assert data["runtime"] == "python3.12"
    assert data["handler"] == "handler.lambda_handler"
    assert "def lambda_handler(event, context)" in (BUNDLES / name / "src" / "handler.py").read_text()
    assert isinstance(data["timeout"], int) and 1 <= data["timeout"] <= 900
    assert isinstance(data["memory"], int) and 128 <= data["memory"] <= 10240
    for permission in data["permissions"]:
        assert set(permission) in ({"actions", "resources"}, {"actions", "resources", "conditions"})
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+", a) for a in permission["actions"]), permission
        assert permission["resources"] and all(r == "*" or r.startswith("arn:") for r in permission["resources"])
    for section in ("env", "secrets"):
        for variable, spec in (data[section] or {}).items():
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", variable)
            allowed = {"required", "description"} | ({"default"} if section == "env" else set())
            assert set(spec) <= allowed and {"required", "description"} <= set(spec), (variable, spec)
            assert isinstance(spec["required"], bool) and spec["description"].strip()
            if "default" in spec:
                assert isinstance(spec["default"], str) and not spec["required"]
            if section == "secrets":
                assert not variable.endswith("_SECRET_ARN")
    assert not set(data["env"] or {}) & set(data["secrets"] or {})


def settings_read(code: str) -> dict[str, str | None]:
    """Settings read with env_str/env_bool/env_float and their defaults as the manifest writes them."""
    found = {}
    for function, variable, rest in re.findall(r"env_(str|bool|float)\(\s*\"([A-Z_]+)\"\s*(?:,\s*([^,)]+))?", code):
        default = None
        if rest and not rest.strip().startswith("required"):
            value = ast.literal_eval(rest.strip())
            default = str(value).lower() if function == "bool" else (f"{value:g}" if function == "float" else value)
        found[variable] = default
    return found


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_declared_settings_and_secrets_are_the_ones_the_code_reads(name):
    data = manifest(name)
    code = "\n".join(sources(name).values())
    read = settings_read(code)
    if "common.aws_session(" in code:
        read["CROSS_ACCOUNT_ROLE_NAME"] = None
    declared = data["env"] or {}
    assert set(read) == set(declared)
    for variable, default in read.items():
        assert declared[variable].get("default") == default, variable
        if declared[variable]["required"]:
            assert re.search(rf'env_str\(\s*"{variable}",\s*required=True', code), variable
    secrets = set(re.findall(r"get_secret\(\s*\"([A-Z_]+)\"", code))
    if "slack.notify(" in code or "get_secret(slack.SECRET_NAME)" in code:
        secrets.add("SLACK_WEBHOOK_URL")
    assert secrets == set(data["secrets"] or {})
    if "slack.notify(" in code:
        assert data["secrets"]["SLACK_WEBHOOK_URL"]["required"] is False
    if "get_secret(slack.SECRET_NAME)" in code:
        assert data["secrets"]["SLACK_WEBHOOK_URL"]["required"] is True


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def actions_called(code: str) -> set[str]:
    """AWS actions of the boto3 calls in `code` (clients are named after their service)."""
    actions = set()
    for service, method in re.findall(r"\b(ec2|iam|s3)\.(\w+)\(", code):
        if method not in {"get_paginator", "exceptions"}:
            actions.add(f"{service}:{camel(method)}")
    for service, method in re.findall(r"\b(ec2|iam|s3)\.get_paginator\(\"(\w+)\"\)", code):
        actions.add(f"{service}:{camel(method)}")
    for service, method in re.findall(r"client\(\"(\w+)\"[^)]*\)\.(\w+)\(", code):
        actions.add(f"{service}:{camel(method)}")
    if "common.aws_session(" in code:
        actions.add("sts:AssumeRole")
    return actions - FREE_ACTIONS


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_permissions_are_exactly_the_actions_the_code_calls(name):
    granted = {a for p in manifest(name)["permissions"] for a in p["actions"]}
    assert granted == actions_called("\n".join(sources(name).values()))


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_assume_role_is_limited_to_guardform_roles(name):
    for permission in manifest(name)["permissions"]:
        if "sts:AssumeRole" in permission["actions"]:
            assert permission["resources"] == ["arn:aws:iam::*:role/guardform-*"]


@pytest.mark.parametrize("name", [*BUNDLE_NAMES, "_common"])
def test_lambda_code_imports_only_the_standard_library_boto3_and_shared_modules(name):
    folder = COMMON if name == "_common" else BUNDLES / name / "src"
    local = SHARED_MODULES | {p.stem for p in folder.glob("*.py")}
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root in {"boto3", "botocore"} or root in local, f"{path.name} imports {root}"


def test_common_folder_is_flat_and_holds_only_modules():
    # Every file in _common/ goes to the root of every zip.
    assert sorted(p.name for p in COMMON.iterdir() if p.name != "__pycache__") == sorted(f"{m}.py" for m in SHARED_MODULES)


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_resources_only_reference_required_settings(name):
    data = manifest(name)
    for permission in data["permissions"]:
        for resource in permission["resources"]:
            for variable in re.findall(r"\$\{([^}]*)\}", resource):
                assert variable in (data["env"] or {}) and data["env"][variable]["required"], (resource, variable)


@pytest.mark.parametrize("name", BUNDLE_NAMES)
def test_cross_account_role_assumption_stays_in_the_organization(name):
    # sts:AssumeRole on guardform-* roles in any account of the world would let a function
    # reach other organizations: every grant is conditioned on the organization's id.
    for permission in manifest(name)["permissions"]:
        if "sts:AssumeRole" in permission["actions"]:
            assert permission.get("conditions") == {
                "StringEquals": {"aws:ResourceOrgID": "${ORGANIZATION_ID}"}}, permission
