"""Slack messages about findings, posted to an incoming webhook.

A message is a headline (`text`, also what notifications show) and one attachment whose colour
bar shows the severity, with the finding's fields and a link to it in the GuardDuty console.
The webhook URL is a secret: it is read at run time and never logged or put in an error.

Standard library only: this file is copied to the root of every bundle's Lambda zip.
"""

from __future__ import annotations

from typing import Any

import guardform_common as common
import guardform_http as http

SECRET_NAME = "SLACK_WEBHOOK_URL"

SEVERITY_COLOURS = {
    "LOW": "#439FE0",
    "MEDIUM": "#F2C744",
    "HIGH": "#E01E5A",
    "CRITICAL": "#7A0019",
}

MAX_REMOTE_IPS = 5


class SlackError(common.ResponderError):
    """Slack did not accept the message."""


def escape(text: Any) -> str:
    """Escapes the three characters Slack's mrkdwn gives meaning to."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{url}|{escape(label).replace('|', '¦')}>"


def finding_fields(finding: common.Finding) -> list[dict[str, Any]]:
    """Severity, account, region, type, resource and (when the action has one) the remote
    party or the queried domain."""
    fields = [
        {"title": "Severity", "value": f"{finding.severity_label} ({finding.severity:g})", "short": True},
        {"title": "Account", "value": escape(finding.account_id or "unknown"), "short": True},
        {"title": "Region", "value": escape(finding.region or "unknown"), "short": True},
        {"title": "Count", "value": str(finding.count) if finding.count is not None else "1", "short": True},
        {"title": "Type", "value": escape(finding.type), "short": False},
        {"title": "Resource", "value": escape(finding.resource_summary()), "short": False},
    ]
    remote = finding.remote_ips()
    if remote:
        shown = ", ".join(escape(ip.describe()) for ip in remote[:MAX_REMOTE_IPS])
        if len(remote) > MAX_REMOTE_IPS:
            shown += f" and {len(remote) - MAX_REMOTE_IPS} more"
        fields.append({"title": "Remote IP" if len(remote) == 1 else "Remote IPs", "value": shown, "short": False})
    domain = finding.dns_domain()
    if domain:
        fields.append({"title": "Domain queried", "value": escape(domain), "short": False})
    return fields


def finding_message(finding: common.Finding, headline: str | None = None, details: list[str] | None = None) -> dict[str, Any]:
    """A webhook payload about `finding`. `headline` and `details` (mrkdwn, already escaped
    by the caller) say what a responder did; without them the message just reports the finding."""
    label = finding.severity_label
    default_headline = f"GuardDuty {label.lower()} severity finding: {escape(finding.title)}"
    text_lines = [escape(finding.description)] if finding.description else []
    if details:
        text_lines = details + ([""] + text_lines if text_lines else [])
    attachment: dict[str, Any] = {
        "color": SEVERITY_COLOURS[label],
        "fallback": f"[{label}] {finding.type}: {finding.title}",
        "title": escape(finding.title),
        "title_link": finding.console_url,
        "text": "\n".join(text_lines),
        "fields": finding_fields(finding),
        "footer": f"guardform · finding {finding.id} · {link(finding.console_url, 'open in GuardDuty')}",
        "mrkdwn_in": ["text", "fields", "footer"],
    }
    when = finding.updated_at or finding.created_at
    if when is not None:
        attachment["ts"] = int(when.timestamp())
    return {"text": headline or default_headline, "attachments": [attachment]}


def post(webhook_url: str, payload: dict[str, Any], *, timeout: float = 5.0, deadline: float | None = None) -> None:
    """Posts `payload` to the webhook; raises `SlackError` unless Slack accepts it."""
    try:
        response = http.request(
            "POST",
            webhook_url,
            display="Slack webhook",
            json_body=payload,
            timeout=timeout,
            attempts=3,
            deadline=deadline,
        )
    except http.HttpError as error:
        raise SlackError(common.redact(f"posting to Slack failed: {error}")) from None
    if not response.ok:
        reason = common.redact(response.text().strip()[:200]) or "no reason given"
        raise SlackError(f"Slack refused the message (HTTP {response.status}: {reason})")


def notify(log: common.Log, payload: dict[str, Any], *, deadline: float | None = None) -> str:
    """Posts `payload` when the optional secret SLACK_WEBHOOK_URL is configured. Returns
    `sent`, `not-configured` or `failed`; a failure is logged, not raised, so that a Slack
    outage never hides what a responder did."""
    if not common.secret_configured(SECRET_NAME):
        log.info("Slack is not configured; message not sent", slack_text=payload.get("text"))
        return "not-configured"
    try:
        url = common.get_secret(SECRET_NAME)
        post(url, payload, deadline=deadline)
    except common.ResponderError as error:
        log.error("could not post to Slack", error=str(error))
        return "failed"
    log.info("posted to Slack", slack_text=payload.get("text"))
    return "sent"
