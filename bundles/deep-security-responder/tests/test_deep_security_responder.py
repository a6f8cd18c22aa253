"""deep-security-responder end to end: the real fixture findings, the API key and Slack webhook
in (moto's) Secrets Manager, a local HTTPS Deep Security manager (self-signed CA given through
DS_CA_BUNDLE) and a local HTTPS Slack webhook, both recording and checking what they receive."""

from __future__ import annotations

import json

import pytest
from conftest import (
    BITCOIN_DNS,
    EC2_MALICIOUS_IP_CUSTOM,
    PORT_PROBE,
    S3_MALICIOUS_IP,
    SENTINEL_KEY,
    SSH_BRUTE_FORCE,
    FakeDeepSecurity,
    Reply,
    load_finding,
    load_handler,
    put_secret,
)

import guardform_common as common

SSH_INSTANCE = "i-08eb5518ab527d5aa"
SENTINELS = (SENTINEL_KEY, "SENTINEL-api-key", "sentinelWebhookToken42")


@pytest.fixture
def handler():
    return load_handler("deep-security-responder")


@pytest.fixture
def configured(aws, deep_security, slack_server, certificates, monkeypatch):
    """The responder set up as guardform deploys it: settings in the environment, secrets as ARNs."""
    monkeypatch.setenv("DS_URL", deep_security.url)
    monkeypatch.setenv("DS_CA_BUNDLE", str(certificates.ca_file))
    monkeypatch.setenv("DS_API_KEY_SECRET_ARN", put_secret("DS_API_KEY", SENTINEL_KEY))
    monkeypatch.setenv("SLACK_WEBHOOK_URL_SECRET_ARN", put_secret("SLACK_WEBHOOK_URL", slack_server.webhook_url))
    deep_security.add_computer(42, SSH_INSTANCE, "gd-target.internal")
    deep_security.add_computer(7, "i-0e8dfbd8c13eca8ad", "webserver-20a.internal", ips_state="prevent")
    return deep_security


def slack_text(slack_server) -> str:
    """Everything the (single) Slack message says."""
    [message] = slack_server.messages()
    attachment = message["attachments"][0]
    return "\n".join([message["text"], attachment["text"]] + [f"{f['title']}: {f['value']}" for f in attachment["fields"]])


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for sentinel in SENTINELS:
            assert sentinel not in text


def test_ssh_brute_force_scans_and_sets_ips_to_prevent(handler, configured, slack_server, context, monkeypatch, capsys):
    monkeypatch.setenv("ENABLE_IPS", "true")

    result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)

    assert result["outcome"] == "acted"
    assert result["actions"] == ["recommendation-scan", "integrity-scan", "ips-prevent"]
    assert result["computer"] == {"id": 42, "name": "gd-target.internal", "agent_status": "active"}
    assert not configured.problems
    search, recommendation, integrity, ips = configured.requests
    for request in configured.requests:
        assert request.method == "POST"
        assert request.header("api-secret-key") == SENTINEL_KEY
        assert request.header("api-version") == "v1"
        assert request.header("Content-Type") == "application/json"
        assert request.header("Accept") == "application/json"
    assert search.path.startswith("/api/computers/search?")
    assert search.json()["searchCriteria"] == [
        {"fieldName": "ec2VirtualMachineSummary/instanceID", "stringTest": "equal", "stringValue": SSH_INSTANCE}
    ]
    assert recommendation.path == integrity.path == "/api/scheduledtasks"
    task = recommendation.json()
    assert task["type"] == "scan-for-recommendations" and task["runNow"] is True
    assert task["scanForRecommendationsTaskParameters"] == {"computerFilter": {"type": "computer", "computerID": 42}}
    assert task["scheduleDetails"]["recurrenceType"] == "none" and task["scheduleDetails"]["recurrenceCount"] == 1
    assert "7cafe3b26b9d34205f2dbfc38339cfb3" in task["name"]
    assert integrity.json()["type"] == "scan-for-integrity-changes"
    assert integrity.json()["scanForIntegrityChangesTaskParameters"]["computerFilter"]["computerID"] == 42
    assert ips.path.startswith("/api/computers/42") and ips.json() == {"intrusionPrevention": {"state": "prevent"}}
    assert configured.computers[42]["intrusionPrevention"]["state"] == "prevent"
    assert configured.computers[7]["intrusionPrevention"]["state"] == "prevent"  # untouched other computer

    text = slack_text(slack_server)
    assert "gd-target.internal" in text and "ID 42" in text
    assert "recommendation scan requested (scheduled task 100)" in text.lower()
    assert "integrity scan requested (scheduled task 101)" in text.lower()
    assert "intrusion prevention set to *prevent* (was detect)" in text.lower()
    assert "111.230.166.116 (China)" in text
    output = capsys.readouterr()
    assert_no_secrets(output.out, output.err, json.dumps(result), json.dumps(slack_server.messages()))


def test_ips_is_left_alone_unless_enabled(handler, configured, context):
    result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert result["actions"] == ["recommendation-scan", "integrity-scan"]
    assert [r.path.split("?")[0] for r in configured.requests] == ["/api/computers/search", "/api/scheduledtasks", "/api/scheduledtasks"]
    assert configured.computers[42]["intrusionPrevention"]["state"] == "detect"


def test_instance_not_in_deep_security_is_reported_as_not_protected(handler, configured, slack_server, context):
    configured.computers.pop(42)
    result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert result["outcome"] == "not-protected"
    assert [r.path.split("?")[0] for r in configured.requests] == ["/api/computers/search"]
    assert not configured.tasks
    text = slack_text(slack_server)
    assert f"{SSH_INSTANCE} is *not protected by Deep Security*" in text and "no scans were run" in text


def test_unknown_finding_type_only_notifies(handler, configured, slack_server, context):
    result = handler.lambda_handler(load_finding(PORT_PROBE), context)
    assert result["outcome"] == "notify-only" and result["actions"] == []
    assert configured.requests == []
    assert "no Deep Security action is configured" in slack_text(slack_server)


def test_crypto_currency_finding_runs_malware_and_integrity_scans(handler, configured, context, monkeypatch):
    monkeypatch.setenv("ENABLE_IPS", "true")
    configured.add_computer(9, "i-00aa97663294ffbbd", "miner")
    result = handler.lambda_handler(load_finding(BITCOIN_DNS), context)
    assert result["outcome"] == "acted"
    assert [t["type"] for t in configured.tasks] == ["scan-for-malware", "scan-for-integrity-changes"]
    assert configured.tasks[0]["scanForMalwareTaskParameters"]["computerFilter"] == {"type": "computer", "computerID": 9}
    assert all("/api/computers/9" not in r.path for r in configured.requests)  # no IPS for malware types


def test_custom_threat_list_finding_skips_ips_already_preventing(handler, configured, slack_server, context, monkeypatch):
    monkeypatch.setenv("ENABLE_IPS", "true")
    result = handler.lambda_handler(load_finding(EC2_MALICIOUS_IP_CUSTOM), context)
    assert result["computer"]["id"] == 7
    assert len(configured.tasks) == 2 and len(configured.requests) == 3
    assert "already set to prevent" in slack_text(slack_server)


def test_sample_findings_do_not_contact_deep_security(handler, configured, context):
    event = load_finding(S3_MALICIOUS_IP)
    event["type"] = "UnauthorizedAccess:EC2/SSHBruteForce"
    assert handler.lambda_handler(event, context)["outcome"] == "sample-finding"
    assert configured.requests == []


def test_401_gives_a_clear_error_without_the_key(handler, aws, slack_server, certificates, context, monkeypatch, capsys):
    manager = FakeDeepSecurity(certificates, api_key="the-right-key")
    try:
        monkeypatch.setenv("DS_URL", manager.url + "/api/")
        monkeypatch.setenv("DS_CA_BUNDLE", str(certificates.ca_file))
        monkeypatch.setenv("DS_API_KEY_SECRET_ARN", put_secret("DS_API_KEY", SENTINEL_KEY))
        monkeypatch.setenv("SLACK_WEBHOOK_URL_SECRET_ARN", put_secret("SLACK_WEBHOOK_URL", slack_server.webhook_url))
        with pytest.raises(common.ResponderError) as raised:
            handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
        message = str(raised.value)
        assert f"Deep Security manager {manager.url} refused the API key" in message
        assert "HTTP 401" in message and "DS_API_KEY" in message
        assert len(manager.requests) == 1  # a refused key is not retried
        output = capsys.readouterr()
        assert "could not finish" in slack_text(slack_server)
        assert_no_secrets(message, output.out, output.err, json.dumps(slack_server.messages()))
    finally:
        manager.close()


def test_cloud_one_auth_header(handler, aws, certificates, context, monkeypatch):
    manager = FakeDeepSecurity(certificates, auth_style="apikey")
    manager.add_computer(42, SSH_INSTANCE, "gd-target")
    try:
        monkeypatch.setenv("DS_URL", manager.url)
        monkeypatch.setenv("DS_AUTH_STYLE", "apikey")
        monkeypatch.setenv("DS_CA_BUNDLE", certificates.ca_pem)  # PEM text instead of a file
        monkeypatch.setenv("DS_API_KEY_SECRET_ARN", put_secret("DS_API_KEY", json.dumps({"DS_API_KEY": SENTINEL_KEY})))
        result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
        assert result["outcome"] == "acted" and result["slack"] == "not-configured"
        assert manager.requests[0].header("Authorization") == f"ApiKey {SENTINEL_KEY}"
        assert manager.requests[0].header("api-secret-key") is None
    finally:
        manager.close()


def test_tls_is_verified_by_default(handler, configured, certificates, context, monkeypatch):
    monkeypatch.delenv("DS_CA_BUNDLE")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.other_ca_file))  # the manager's CA is not trusted
    with pytest.raises(common.ResponderError) as raised:
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    message = str(raised.value)
    assert configured.url in message and "certificate verification failed" in message and "DS_CA_BUNDLE" in message
    assert configured.requests == []
    monkeypatch.setenv("DS_CA_BUNDLE", str(certificates.other_ca_file))
    with pytest.raises(common.ResponderError, match="certificate verification failed"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)


def test_plain_http_manager_url_is_refused(handler, configured, context, monkeypatch):
    monkeypatch.setenv("DS_URL", configured.url.replace("https://", "http://"))
    with pytest.raises(common.ResponderError, match="only https"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)


def test_5xx_and_429_from_the_manager_are_retried(handler, configured, context):
    configured.queued = [Reply(503, {"message": "busy"}), Reply(429, {"message": "slow"}, {"Retry-After": "0"})]
    result = handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert result["outcome"] == "acted"
    assert len(configured.requests) == 5 and len(configured.tasks) == 2


def test_a_failed_scan_is_reported_and_fails_the_invocation(handler, configured, slack_server, context):
    original = configured.route

    def route(request):
        if request.path == "/api/scheduledtasks" and request.json()["type"] == "scan-for-integrity-changes":
            return Reply(400, {"message": "Integrity Monitoring is not licensed"})
        return original(request)

    configured.route = route
    with pytest.raises(common.ResponderError, match="1 of 2 Deep Security actions failed.*not licensed"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert [t["type"] for t in configured.tasks] == ["scan-for-recommendations"]
    text = slack_text(slack_server)
    assert "could not finish" in text and "Recommendation scan requested" in text


def test_action_map_from_the_environment(handler, configured, context, monkeypatch):
    monkeypatch.setenv("ACTION_MAP", json.dumps({"recon:ec2/*": ["malware-scan"], "*": []}))
    configured.add_computer(8, "i-0e8dfbd8c13eca8ad-probe", "unused")
    configured.computers[7]["ec2VirtualMachineSummary"]["instanceID"] = "i-0e8dfbd8c13eca8ad"
    result = handler.lambda_handler(load_finding(PORT_PROBE), context)
    assert result["matched"] == "recon:ec2/*" and [t["type"] for t in configured.tasks] == ["scan-for-malware"]
    assert handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)["outcome"] == "notify-only"


def test_invalid_action_map_reports_every_problem(handler, configured, context, monkeypatch):
    monkeypatch.setenv("ACTION_MAP", json.dumps({"a": ["reboot"], "b": "malware-scan", "c": ["malware-scan"]}))
    with pytest.raises(common.ConfigError) as raised:
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert "'a' names unknown actions reboot" in str(raised.value)
    assert "'b' must map to a list" in str(raised.value)
    assert configured.requests == []


def test_default_action_map(handler):
    cases = {
        "UnauthorizedAccess:EC2/SSHBruteForce": ["recommendation-scan", "integrity-scan", "ips-prevent"],
        "UnauthorizedAccess:EC2/RDPBruteForce": ["recommendation-scan", "integrity-scan", "ips-prevent"],
        "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": ["recommendation-scan", "integrity-scan", "ips-prevent"],
        "CryptoCurrency:EC2/BitcoinTool.B!DNS": ["malware-scan", "integrity-scan"],
        "Backdoor:EC2/C&CActivity.B": ["malware-scan", "integrity-scan"],
        "Trojan:EC2/DNSDataExfiltration": ["malware-scan", "integrity-scan"],
        "Recon:EC2/PortProbeUnprotectedPort": [],
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller": [],
    }
    for finding_type, expected in cases.items():
        assert handler.actions_for(finding_type, handler.DEFAULT_ACTION_MAP, True)[1] == expected, finding_type
    assert "ips-prevent" not in handler.actions_for("UnauthorizedAccess:EC2/SSHBruteForce", handler.DEFAULT_ACTION_MAP, False)[1]


def test_missing_manager_url_is_a_config_error(handler, aws, context):
    with pytest.raises(common.ConfigError, match="DS_URL"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
