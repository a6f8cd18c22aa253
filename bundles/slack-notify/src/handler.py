"""slack-notify: posts each GuardDuty finding at or above MIN_SEVERITY to a Slack incoming
webhook, with a severity colour, account, region, type, title, resource, remote IP and
country when the finding has one, and a link to the finding in the GuardDuty console."""

from __future__ import annotations

import guardform_common as common
import guardform_slack as slack

BUNDLE = "slack-notify"


def lambda_handler(event, context):
    return common.run(BUNDLE, event, context, respond)


def respond(finding: common.Finding, context, log: common.Log) -> dict:
    raw_minimum = common.env_str("MIN_SEVERITY", "0")
    try:
        minimum = common.parse_severity_threshold(raw_minimum)
    except ValueError:
        raise common.ConfigError(f"setting MIN_SEVERITY must be a number from 0 to 10 or LOW, MEDIUM, HIGH or CRITICAL, not {raw_minimum!r}") from None
    result = {"finding_id": finding.id, "type": finding.type, "severity": finding.severity}
    if finding.severity < minimum:
        log.info("below MIN_SEVERITY; not posted", min_severity=minimum)
        return {**result, "outcome": "below-minimum-severity"}
    url = common.get_secret(slack.SECRET_NAME)
    slack.post(url, slack.finding_message(finding), deadline=common.deadline(context))
    log.info("posted to Slack")
    return {**result, "outcome": "posted"}

