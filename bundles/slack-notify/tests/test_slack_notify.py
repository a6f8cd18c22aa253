"""slack-notify against a local HTTPS Slack webhook, with the webhook URL in (moto's) Secrets
Manager, for each real fixture finding."""

from __future__ import annotations

import pytest
from conftest import (
    BITCOIN_DNS,
    EC2_MALICIOUS_IP_CUSTOM,
    FIXTURE_FILES,
    IAM_MALICIOUS_IP,
    PORT_PROBE,
    S3_MALICIOUS_IP,
    SLACK_PATH,
    SSH_BRUTE_FORCE,
    Reply,
    bare,
    load_finding,
    load_handler,
    put_secret,
)

import guardform_common as common

# fixture -> (severity label, colour, remote IP field value or None, extra field)
EXPECTED = {
    SSH_BRUTE_FORCE: ("LOW", "#439FE0", "111.230.166.116 (China)", None),
    PORT_PROBE: ("LOW", "#439FE0", "123.244.9.76 (China)", None),
    BITCOIN_DNS: ("HIGH", "#E01E5A", None, ("Domain queried", "pool.minergate.com")),
    S3_MALICIOUS_IP: ("HIGH", "#E01E5A", "81.2.69.144 (GeneratedFindingCountryName)", None),
    IAM_MALICIOUS_IP: ("MEDIUM", "#F2C744", "81.2.69.144 (GeneratedFindingCountryName)", None),
    EC2_MALICIOUS_IP_CUSTOM: ("MEDIUM", "#F2C744", "34.201.172.46 (United States)", None),
}


@pytest.fixture
def handler():
    return load_handler("slack-notify")


@pytest.fixture
def webhook(aws, slack_server, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL_SECRET_ARN", put_secret("SLACK_WEBHOOK_URL", slack_server.webhook_url))
    return slack_server


def test_every_fixture_is_covered():
    assert sorted(EXPECTED) == FIXTURE_FILES


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_message_for_each_fixture(name, handler, webhook, context):
    event = load_finding(name)
    finding = bare(event)
    label, colour, remote, extra = EXPECTED[name]

    result = handler.lambda_handler(event, context)

    assert result["outcome"] == "posted"
    [request] = webhook.requests
    assert request.method == "POST" and request.path == SLACK_PATH
    assert request.header("Content-Type") == "application/json"
    message = request.json()
    [attachment] = message["attachments"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert attachment["color"] == colour
    assert fields["Severity"] == f"{label} ({finding['severity']:g})"
    assert fields["Account"] == finding["accountId"]
    assert fields["Region"] == finding["region"]
    assert fields["Type"] == finding["type"].replace("&", "&amp;")
    assert attachment["title"] == finding["title"].strip().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert attachment["title_link"] == (
        f"https://console.aws.amazon.com/guardduty/home?region={finding['region']}#/findings?search=id%3D{finding['id']}"
    )
    assert label.lower() in message["text"]
    assert finding["id"] in attachment["footer"]
    if remote is None:
        assert "Remote IP" not in fields and "Remote IPs" not in fields
    else:
        assert fields["Remote IP"] == remote
    if extra:
        assert fields[extra[0]] == extra[1]


def test_resource_field_names_the_instance_and_its_name_tag(handler, webhook, context):
    handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    fields = {f["title"]: f["value"] for f in webhook.messages()[0]["attachments"][0]["fields"]}
    assert fields["Resource"] == "EC2 instance i-08eb5518ab527d5aa (GD-Target)"


def test_findings_below_min_severity_are_not_posted(handler, webhook, context, monkeypatch):
    monkeypatch.setenv("MIN_SEVERITY", "7")
    assert handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)["outcome"] == "below-minimum-severity"
    assert handler.lambda_handler(load_finding(BITCOIN_DNS), context)["outcome"] == "posted"
    monkeypatch.setenv("MIN_SEVERITY", "medium")
    assert handler.lambda_handler(load_finding(IAM_MALICIOUS_IP), context)["outcome"] == "posted"
    assert handler.lambda_handler(load_finding(PORT_PROBE), context)["outcome"] == "below-minimum-severity"
    assert len(webhook.requests) == 2


def test_invalid_min_severity_is_a_config_error(handler, webhook, context, monkeypatch):
    monkeypatch.setenv("MIN_SEVERITY", "urgent")
    with pytest.raises(common.ConfigError, match="MIN_SEVERITY"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)


def test_slack_errors_fail_the_invocation_without_showing_the_webhook(handler, webhook, context, capsys):
    webhook.queued = [Reply(404, "no_service")]
    with pytest.raises(common.ResponderError) as raised:
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)
    assert "HTTP 404" in str(raised.value) and "no_service" in str(raised.value)
    output = capsys.readouterr()
    for text in (str(raised.value), output.out, output.err):
        assert "sentinelWebhookToken42" not in text


def test_slack_5xx_is_retried(handler, webhook, context):
    webhook.queued = [Reply(503, "busy")]
    assert handler.lambda_handler(load_finding(PORT_PROBE), context)["outcome"] == "posted"
    assert len(webhook.requests) == 2


def test_webhook_secret_is_required(handler, aws, context):
    with pytest.raises(common.ConfigError, match="SLACK_WEBHOOK_URL_SECRET_ARN"):
        handler.lambda_handler(load_finding(SSH_BRUTE_FORCE), context)


def test_logs_never_contain_the_webhook_url(handler, webhook, context, capsys):
    handler.lambda_handler(load_finding(EC2_MALICIOUS_IP_CUSTOM), context)
    output = capsys.readouterr()
    assert '"message": "posted to Slack"' in output.out
    assert "sentinelWebhookToken42" not in output.out + output.err


def test_slack_text_is_escaped(handler, webhook, context):
    event = load_finding(SSH_BRUTE_FORCE)
    event["detail"]["title"] = "a <b> & c"
    handler.lambda_handler(event, context)
    assert webhook.messages()[0]["attachments"][0]["title"] == "a &lt;b&gt; &amp; c"
