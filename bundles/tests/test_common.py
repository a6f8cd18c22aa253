"""The shared modules in bundles/_common/ (finding parsing, secrets, logging, HTTPS)."""

from __future__ import annotations

import json

import pytest
from conftest import (
    BITCOIN_DNS,
    EC2_MALICIOUS_IP_CUSTOM,
    FIXTURE_FILES,
    IAM_MALICIOUS_IP,
    PORT_PROBE,
    S3_MALICIOUS_IP,
    SSH_BRUTE_FORCE,
    RecordingServer,
    Reply,
    bare,
    load_finding,
    put_secret,
)

import guardform_common as common
import guardform_http as http


def test_envelope_and_bare_finding_parse_to_the_same_finding():
    event = load_finding(SSH_BRUTE_FORCE)
    from_envelope = common.parse_event(event)
    from_bare = common.parse_event(bare(event))
    assert from_envelope.data == from_bare.data
    assert from_envelope.envelope is event and from_bare.envelope is None
    assert from_envelope.id == "7cafe3b26b9d34205f2dbfc38339cfb3"
    assert from_envelope.type == "UnauthorizedAccess:EC2/SSHBruteForce"
    assert from_envelope.instance_id == "i-08eb5518ab527d5aa"
    assert from_envelope.account_id == "123456789012" and from_envelope.region == "us-east-1"


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_every_fixture_parses(name):
    finding = common.parse_event(load_finding(name))
    assert finding.id and finding.type and finding.title
    assert finding.severity_label in ("LOW", "MEDIUM", "HIGH", "CRITICAL")


def test_events_that_are_not_findings_are_refused_clearly():
    with pytest.raises(common.InvalidEvent, match="aws.ec2"):
        common.parse_event({"source": "aws.ec2", "detail": {"id": "x", "type": "y"}})
    with pytest.raises(common.InvalidEvent, match="no id and no type"):
        common.parse_event({"hello": "world"})
    with pytest.raises(common.InvalidEvent, match="list"):
        common.parse_event([])


@pytest.mark.parametrize(
    ("severity", "label"),
    [(0, "LOW"), (1, "LOW"), (3.9, "LOW"), (3.99, "LOW"), (4, "MEDIUM"), (6.9, "MEDIUM"), (7, "HIGH"), (8.9, "HIGH"), (9, "CRITICAL"), (10, "CRITICAL")],
)
def test_severity_labels_follow_guardduty_ranges(severity, label):
    assert common.severity_label(severity) == label


@pytest.mark.parametrize(
    ("name", "address", "country"),
    [
        (SSH_BRUTE_FORCE, "111.230.166.116", "China"),  # networkConnectionAction
        (PORT_PROBE, "123.244.9.76", "China"),  # portProbeAction.portProbeDetails[]
        (BITCOIN_DNS, None, None),  # dnsRequestAction: no remote IP
        (S3_MALICIOUS_IP, "81.2.69.144", "GeneratedFindingCountryName"),  # awsApiCallAction
        (IAM_MALICIOUS_IP, "81.2.69.144", "GeneratedFindingCountryName"),
        (EC2_MALICIOUS_IP_CUSTOM, "34.201.172.46", "United States"),
    ],
)
def test_remote_ip_and_country_for_each_action_type(name, address, country):
    remote = common.parse_event(load_finding(name)).remote_ip()
    if address is None:
        assert remote is None
    else:
        assert (remote.address, remote.country) == (address, country)


def test_port_probe_with_several_remote_ips_lists_each_once():
    finding = bare(load_finding(PORT_PROBE))
    details = finding["service"]["action"]["portProbeAction"]["portProbeDetails"]
    details.append({"remoteIpDetails": {"ipAddressV4": "198.51.100.7", "country": {"countryName": "Peru"}}})
    details.append(json.loads(json.dumps(details[0])))
    ips = common.Finding(finding).remote_ips()
    assert [ip.describe() for ip in ips] == ["123.244.9.76 (China)", "198.51.100.7 (Peru)"]


def test_console_link_searches_for_the_finding_id_in_its_region():
    finding = common.parse_event(load_finding(S3_MALICIOUS_IP))
    assert finding.console_url == (
        "https://console.aws.amazon.com/guardduty/home?region=us-east-2#/findings?search=id%3D02bf27df0ab318783b0a8f63569dfd68"
    )


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        (SSH_BRUTE_FORCE, "EC2 instance i-08eb5518ab527d5aa (GD-Target)"),
        (BITCOIN_DNS, "EC2 instance i-00aa97663294ffbbd"),
        (S3_MALICIOUS_IP, "S3 bucket bucketName (by IAMUser GeneratedFindingUserName, access key GeneratedFindingAccessKeyId)"),
        (IAM_MALICIOUS_IP, "IAM IAMUser GeneratedFindingUserName, access key GeneratedFindingAccessKeyId"),
    ],
)
def test_resource_summary(name, summary):
    assert common.parse_event(load_finding(name)).resource_summary() == summary


def test_sample_findings_are_recognised():
    assert common.parse_event(load_finding(S3_MALICIOUS_IP)).is_sample
    assert not common.parse_event(load_finding(SSH_BRUTE_FORCE)).is_sample


def test_timestamps_that_are_not_dates_give_none():
    finding = common.parse_event(load_finding(BITCOIN_DNS))
    assert finding.updated_at is None and finding.event_time is None
    assert common.parse_event(load_finding(SSH_BRUTE_FORCE)).updated_at.isoformat() == "2017-11-17T00:33:15.578000+00:00"
    assert common.parse_timestamp(1510782306000).year == 2017


def test_secret_plain_and_json_values_are_read_and_cached(aws, monkeypatch):
    import boto3

    plain = put_secret("PLAIN", "  value-one  ")
    wrapped = put_secret("WRAPPED", json.dumps({"WRAPPED": "value-two", "note": "x"}))
    monkeypatch.setenv("PLAIN_SECRET_ARN", plain)
    monkeypatch.setenv("WRAPPED_SECRET_ARN", wrapped)
    assert common.get_secret("PLAIN") == "value-one"
    assert common.get_secret("WRAPPED") == "value-two"
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(SecretId=plain, SecretString="rotated")
    assert common.get_secret("PLAIN") == "value-one"  # cached in the container
    assert common.redact("a value-one b value-two") == "a [redacted] b [redacted]"


def test_missing_secret_names_the_variable(aws, monkeypatch):
    with pytest.raises(common.ConfigError, match="DS_API_KEY_SECRET_ARN"):
        common.get_secret("DS_API_KEY")
    assert common.get_secret("SLACK_WEBHOOK_URL", required=False) is None
    monkeypatch.setenv("GONE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")
    with pytest.raises(common.ConfigError, match="ResourceNotFoundException"):
        common.get_secret("GONE")


def test_log_lines_are_json_and_never_contain_secret_values(capsys):
    common.register_secret('s3cr3t"value')
    log = common.Log("test-bundle")
    log.bind(finding_id="abc")
    log.info('talking about s3cr3t"value', detail={"nested": 's3cr3t"value'})
    line = capsys.readouterr().out.strip()
    entry = json.loads(line)
    assert entry["bundle"] == "test-bundle" and entry["finding_id"] == "abc" and entry["level"] == "INFO"
    assert "s3cr3t" not in line
    assert entry["message"] == "talking about [redacted]"


def test_run_turns_errors_into_responder_errors_without_secrets(capsys):
    common.register_secret("topsecretvalue")

    def respond(finding, context, log):
        raise RuntimeError("boom with topsecretvalue inside")

    with pytest.raises(common.ResponderError) as raised:
        common.run("test-bundle", load_finding(SSH_BRUTE_FORCE), None, respond)
    assert "topsecretvalue" not in str(raised.value) and "boom" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "topsecretvalue" not in capsys.readouterr().out


def test_http_retries_5xx_and_429_then_succeeds(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    server = RecordingServer(certificates, lambda request: Reply(200, {"ok": True}))
    try:
        server.queued = [Reply(503, "busy"), Reply(429, "slow down", {"Retry-After": "0"})]
        response = http.request("POST", server.url + "/x", display="test server", json_body={"a": 1}, attempts=3)
        assert response.status == 200 and response.attempts == 3 and len(server.requests) == 3
        server.queued = [Reply(500, "a"), Reply(500, "b")]
        response = http.request("GET", server.url + "/y", display="test server", attempts=2)
        assert response.status == 500 and len(server.requests) == 5
        server.queued = [Reply(400, "bad")]
        assert http.request("GET", server.url + "/z", display="test server").status == 400
        assert len(server.requests) == 6  # 4xx other than 429 is not retried
    finally:
        server.close()


def test_http_never_follows_redirects(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    server = RecordingServer(certificates, lambda request: Reply(302, "", {"Location": "https://127.0.0.1:1/elsewhere"}))
    try:
        response = http.request("GET", server.url + "/start", display="test server", headers={"api-secret-key": "k"})
        assert response.status == 302 and len(server.requests) == 1
    finally:
        server.close()


def test_http_refuses_plain_http_and_unverifiable_tls(certificates, monkeypatch):
    with pytest.raises(http.HttpError, match="only https"):
        http.request("GET", "http://127.0.0.1:9/", display="test server")
    server = RecordingServer(certificates, lambda request: Reply(200, "ok"))
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificates.other_ca_file))
        with pytest.raises(http.HttpError, match="certificate verification failed") as raised:
            http.request("GET", server.url, display="test server")
        assert raised.value.tls and not server.requests
        context = http.tls_context(certificates.ca_pem)  # PEM text works as well as a file
        assert http.request("GET", server.url, display="test server", context=context).status == 200
    finally:
        server.close()


def test_http_respects_the_deadline(certificates):
    import time

    with pytest.raises(http.HttpError, match="out of time"):
        http.request("GET", "https://127.0.0.1:9/", display="test server", deadline=time.monotonic() + 0.1)
