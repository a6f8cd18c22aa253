"""archive-findings against moto's S3 for every real fixture finding, and the Athena DDL checked
against the same findings (every key they contain has a column, except inside the objects the
table keeps as JSON text)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import boto3
import pytest
from conftest import (
    BITCOIN_DNS,
    EC2_MALICIOUS_IP_CUSTOM,
    FIXTURE_FILES,
    IAM_MALICIOUS_IP,
    PORT_PROBE,
    S3_MALICIOUS_IP,
    SSH_BRUTE_FORCE,
    bare,
    load_finding,
    load_handler,
)

import guardform_common as common

ATHENA = Path(__file__).resolve().parents[1] / "athena"
BUCKET = "guardform-findings-archive"

EXPECTED_KEYS = {
    SSH_BRUTE_FORCE: "AWSLogs/123456789012/GuardDuty/us-east-1/2017/11/17/7cafe3b26b9d34205f2dbfc38339cfb3.json",
    PORT_PROBE: "AWSLogs/123456789012/GuardDuty/us-east-1/2017/11/16/bcafe0d92f37640ada65ef4d5471fe8a.json",
    # Account and dates were replaced by X in the source: filed under today, account kept as is.
    BITCOIN_DNS: "AWSLogs/XXXXXXXXXXXX/GuardDuty/us-east-1/{today}/92c1a1d65b221e96d6a6fae27aaaae43.json",
    S3_MALICIOUS_IP: "AWSLogs/973743533182/GuardDuty/us-east-2/2022/01/28/02bf27df0ab318783b0a8f63569dfd68.json",
    IAM_MALICIOUS_IP: "AWSLogs/973743533182/GuardDuty/us-east-2/2022/01/28/eebf27df0ab4541e38ed1259867c6aaf.json",
    EC2_MALICIOUS_IP_CUSTOM: "AWSLogs/123456789012/GuardDuty/us-east-1/2017/11/16/f0afe19014013a0dbcccc845d4ed5a55.json",
}


@pytest.fixture
def handler():
    return load_handler("archive-findings")


@pytest.fixture
def s3(aws, monkeypatch):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("BUCKET", BUCKET)
    return client


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_every_fixture_is_covered():
    assert sorted(EXPECTED_KEYS) == FIXTURE_FILES


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_key_layout_and_one_json_line_for_each_fixture(name, handler, s3, context):
    event = load_finding(name)
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y/%m/%d")
    expected = EXPECTED_KEYS[name].format(today=today)

    result = handler.lambda_handler(event, context)

    assert result["key"] == expected and keys(s3) == [expected]
    obj = s3.get_object(Bucket=BUCKET, Key=expected)
    body = obj["Body"].read().decode()
    assert obj["ContentType"] == "application/json"
    assert body.endswith("\n") and body.count("\n") == 1
    assert json.loads(body) == bare(event)


@pytest.mark.parametrize(("prefix", "start"), [("guardduty-archive", "guardduty-archive/AWSLogs/"), ("/a/b/", "a/b/AWSLogs/"), ("/", "AWSLogs/")])
def test_prefix(prefix, start, handler, s3, context, monkeypatch):
    monkeypatch.setenv("PREFIX", prefix)
    result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert result["key"].startswith(start) and keys(s3) == [result["key"]]


def test_event_time_is_used_when_updated_at_is_not_a_date(handler, s3, context):
    event = load_finding(SSH_BRUTE_FORCE)
    event["detail"]["updatedAt"] = "not a date"
    event["time"] = "2024-02-29T23:59:59Z"
    result = handler.lambda_handler(event, context)
    assert result["key"] == "AWSLogs/123456789012/GuardDuty/us-east-1/2024/02/29/7cafe3b26b9d34205f2dbfc38339cfb3.json"
    assert result["date_source"] == "event time"


def test_a_second_delivery_the_same_day_overwrites(handler, s3, context):
    handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    event = load_finding(SSH_BRUTE_FORCE)
    event["detail"]["service"]["count"] = 2
    handler.lambda_handler(event, context)
    [key] = keys(s3)
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["service"]["count"] == 2


def test_path_segments_cannot_escape_the_layout(handler, s3, context):
    event = load_finding(SSH_BRUTE_FORCE)
    event["detail"]["id"] = "../../etc/passwd"
    event["detail"]["accountId"] = "12/34"
    assert handler.lambda_handler(event, context)["key"] == "AWSLogs/12_34/GuardDuty/us-east-1/2017/11/17/.._.._etc_passwd.json"


def test_bucket_is_required(handler, aws, context):
    with pytest.raises(common.ConfigError, match="BUCKET"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)


# ---------------------------------------------------------------------------------------------
# Athena DDL


def hive_type(text: str):
    """Parses a Hive type (`string`, `array<T>`, `map<K,V>`, `struct<name: T, ...>`) into
    `"string"`-like names, `("array", T)`, `("map", K, V)` or a dict for a struct."""
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|[<>:,]", text)
    position = 0

    def take(expected=None):
        nonlocal position
        token = tokens[position]
        if expected is not None:
            assert token == expected, f"expected {expected!r} at token {position} ({token!r}) in {text[:80]}"
        position += 1
        return token

    def parse():
        name = take().lower()
        if name == "array":
            take("<")
            inner = parse()
            take(">")
            return ("array", inner)
        if name == "map":
            take("<")
            key = parse()
            take(",")
            value = parse()
            take(">")
            return ("map", key, value)
        if name == "struct":
            take("<")
            fields = {}
            while True:
                field = take().lower()
                take(":")
                assert field not in fields, f"field {field} twice"
                fields[field] = parse()
                if tokens[position] == ">":
                    take(">")
                    return fields
                take(",")
        assert name in {"string", "int", "bigint", "double", "boolean"}, name
        return name

    result = parse()
    assert position == len(tokens), f"trailing tokens in {text[:80]}"
    return result


def table_columns() -> tuple[dict, dict, str]:
    ddl = (ATHENA / "table.sql").read_text()
    sql = "\n".join(line for line in ddl.splitlines() if not line.lstrip().startswith("--"))
    body = sql[sql.index("(") + 1: sql.index("PARTITIONED BY")].rstrip().rstrip(")")
    columns = {}
    for match in re.finditer(r"`(\w+)`\s+(.*?)(?=,\s*`\w+`\s|\Z)", body, re.S):
        columns[match.group(1)] = hive_type(match.group(2))
    partitions_text = sql[sql.index("PARTITIONED BY"):sql.index("ROW FORMAT")]
    partitions = dict(re.findall(r"`(\w+)`\s+(\w+)", partitions_text))
    return columns, partitions, sql


def uncovered(value, schema, path="") -> list[str]:
    """Paths of `value` (a finding) that `schema` has no place for."""
    if value is None or schema == "string":  # JSON text columns hold anything
        return []
    missing = []
    if isinstance(value, dict):
        if isinstance(schema, tuple) and schema[0] == "map":
            return []
        if not isinstance(schema, dict):
            return [f"{path} (object, but the column type is {schema})"]
        for key, item in value.items():
            if key.lower() not in schema:
                missing.append(f"{path}.{key}".lstrip("."))
            else:
                missing += uncovered(item, schema[key.lower()], f"{path}.{key}")
    elif isinstance(value, list):
        if not (isinstance(schema, tuple) and schema[0] == "array"):
            return [f"{path} (array, but the column type is {schema})"]
        for item in value:
            missing += uncovered(item, schema[1], f"{path}[]")
    elif isinstance(schema, (dict, tuple)):
        missing.append(f"{path} (scalar, but the column type is nested)")
    elif isinstance(value, bool):
        if schema not in ("boolean", "string"):
            missing.append(f"{path} (boolean in {schema})")
    elif isinstance(value, (int, float)) and schema not in ("int", "bigint", "double", "string"):
        missing.append(f"{path} (number in {schema})")
    elif isinstance(value, str) and schema in ("int", "bigint", "double", "boolean") and not re.fullmatch(r"-?\d+(\.\d+)?|true|false", value):
        missing.append(f"{path} (text {value!r} in {schema})")
    return missing


def test_ddl_has_the_findings_columns_lowercased():
    columns, partitions, _ = table_columns()
    assert list(columns) == [
        "schemaversion", "accountid", "region", "partition", "id", "arn", "type", "resource", "service",
        "severity", "createdat", "updatedat", "title", "description",
    ]
    assert columns["severity"] == "double" and columns["createdat"] == "string"
    assert columns["service"]["count"] == "int" and columns["service"]["archived"] == "boolean"
    remote = columns["service"]["action"]["networkconnectionaction"]["remoteipdetails"]
    assert remote["country"]["countryname"] == "string" and remote["ipaddressv4"] == "string"
    assert columns["service"]["action"]["portprobeaction"]["portprobedetails"][1]["remoteipdetails"] == remote
    assert columns["resource"]["instancedetails"]["instanceid"] == "string"
    assert partitions == {"partition_account": "string", "partition_region": "string", "partition_date": "string"}
    assert not set(partitions) & set(columns)


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_ddl_has_a_place_for_every_key_of_each_fixture(name):
    columns, _, _ = table_columns()
    assert uncovered(bare(load_finding(name)), columns) == []


def test_ddl_uses_openx_serde_and_partition_projection_over_the_archive_layout():
    _, _, sql = table_columns()
    assert "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'" in sql
    assert "LOCATION 's3://{bucket}/{prefix}/AWSLogs/'" in sql
    properties = dict(re.findall(r"'([\w.]+)'\s*=\s*'([^']*)'", sql[sql.index("TBLPROPERTIES"):]))
    assert properties["projection.enabled"] == "true"
    assert properties["projection.partition_region.type"] == "enum"
    assert properties["projection.partition_region.values"] == "{regions}"
    assert properties["projection.partition_account.values"] == "{accounts}"
    assert properties["projection.partition_date.type"] == "date"
    assert properties["projection.partition_date.format"] == "yyyy/MM/dd"
    assert properties["projection.partition_date.range"].endswith(",NOW")
    assert properties["storage.location.template"] == (
        "s3://{bucket}/{prefix}/AWSLogs/${partition_account}/GuardDuty/${partition_region}/${partition_date}/"
    )


def fill(text: str, prefix: str) -> str:
    """What `guardform athena-ddl` does with the placeholders (src/commands.rs)."""
    return text.replace("{bucket}", BUCKET).replace("{prefix}", prefix.strip("/")).replace("//AWSLogs", "/AWSLogs")


@pytest.mark.parametrize("prefix", ["", "archive", "/a/b/"])
def test_ddl_location_template_matches_the_keys_the_responder_writes(handler, prefix):
    _, _, sql = table_columns()
    template = re.search(r"'storage.location.template'\s*=\s*'([^']*)'", sql).group(1)
    location = re.search(r"LOCATION '([^']*)'", sql).group(1)
    finding = common.parse_event(load_finding(S3_MALICIOUS_IP))
    folder = (
        fill(template, prefix)
        .replace("${partition_account}", "973743533182").replace("${partition_region}", "us-east-2")
        .replace("${partition_date}", "2022/01/28")
    )
    key = f"s3://{BUCKET}/" + handler.object_key(finding, prefix)
    assert key == folder + f"{finding.id}.json"
    assert key.startswith(fill(location, prefix)) and "//" not in key[len("s3://"):]


def test_placeholders_are_only_the_documented_ones():
    for name in ("table.sql", "queries.sql"):
        text = (ATHENA / name).read_text()
        found = set(re.findall(r"(?<!\$)\{(\w+)\}", text))
        assert found <= {"bucket", "prefix", "accounts", "regions"}, (name, found)
    assert set(re.findall(r"(?<!\$)\{(\w+)\}", (ATHENA / "table.sql").read_text())) == {"bucket", "prefix", "accounts", "regions"}


def test_example_queries_cover_severity_action_type_and_country():
    queries = (ATHENA / "queries.sql").read_text()
    statements = [s for s in queries.split(";") if s.strip() and not all(line.strip().startswith("--") or not line.strip() for line in s.splitlines())]
    assert len(statements) >= 3
    assert "severity >= 9" in queries and "'CRITICAL'" in queries
    assert "service.action.actiontype" in queries
    assert "countryname" in queries and "portprobedetails" in queries and "awsapicallaction.remoteipdetails" in queries
    assert all("partition_date" in s for s in statements)
    assert "{" not in queries
