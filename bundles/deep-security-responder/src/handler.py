"""deep-security-responder: when GuardDuty reports a finding about an EC2 instance, finds that
instance's computer in Trend Micro Deep Security (or Cloud One Workload Security) and, by
finding type, runs recommendation, integrity and/or malware scans on it and (with
ENABLE_IPS=true) sets its intrusion prevention to prevent. Posts to Slack what it did, or that
the instance is not protected by Deep Security.

The finding type picks the actions through ACTION_MAP (a JSON object of type globs to action
lists, first match wins); a type that matches nothing is only reported.
"""

from __future__ import annotations

import fnmatch
import json

import deep_security_api as ds
import guardform_common as common
import guardform_http as http
import guardform_slack as slack

BUNDLE = "deep-security-responder"

IPS_ACTION = "ips-prevent"
ACTIONS = (*ds.SCANS, IPS_ACTION)
ACTION_WORDS = {name: words for name, (_, _, words) in ds.SCANS.items()} | {IPS_ACTION: "setting intrusion prevention to prevent"}

_NETWORK = ["recommendation-scan", "integrity-scan", IPS_ACTION]
_MALWARE = ["malware-scan", "integrity-scan"]
DEFAULT_ACTION_MAP: dict[str, list[str]] = {
    "*:EC2/SSHBruteForce": _NETWORK,
    "*:EC2/RDPBruteForce": _NETWORK,
    "*:EC2/MaliciousIPCaller*": _NETWORK,
    "CryptoCurrency:EC2/*": _MALWARE,
    "Backdoor:EC2/*": _MALWARE,
    "Trojan:EC2/*": _MALWARE,
}


def lambda_handler(event, context):
    return common.run(BUNDLE, event, context, respond)


def load_action_map() -> dict[str, list[str]]:
    """ACTION_MAP from the environment, checked (every problem reported at once), or the default."""
    raw = common.env_str("ACTION_MAP")
    if raw is None:
        return DEFAULT_ACTION_MAP
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise common.ConfigError(f"setting ACTION_MAP is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise common.ConfigError('setting ACTION_MAP must be a JSON object of finding-type globs to action lists, e.g. {"*:EC2/SSHBruteForce": ["recommendation-scan"]}')
    problems = []
    for pattern, actions in document.items():
        if not pattern.strip():
            problems.append("an empty finding-type glob")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            problems.append(f"{pattern!r} must map to a list of action names")
            continue
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            problems.append(f"{pattern!r} names unknown actions {', '.join(unknown)}")
    if problems:
        raise common.ConfigError(f"setting ACTION_MAP is invalid: {'; '.join(problems)} (known actions: {', '.join(ACTIONS)})")
    return document


def actions_for(finding_type: str, action_map: dict[str, list[str]], enable_ips: bool) -> tuple[str | None, list[str]]:
    """The first glob of `action_map` matching `finding_type` (case-insensitively) and its
    actions, without `ips-prevent` unless `enable_ips`."""
    for pattern, actions in action_map.items():
        if fnmatch.fnmatchcase(finding_type.lower(), pattern.lower()):
            chosen = [a for a in dict.fromkeys(actions) if enable_ips or a != IPS_ACTION]
            return pattern, chosen
    return None, []


def respond(finding: common.Finding, context, log: common.Log) -> dict:
    base_url = ds.normalize_base_url(common.env_str("DS_URL", required=True))
    enable_ips = common.env_bool("ENABLE_IPS", False)
    auth_style = common.env_str("DS_AUTH_STYLE", "api-secret-key")
    timeout = common.env_float("DS_TIMEOUT_SECONDS", 10.0, minimum=1.0, maximum=60.0)
    action_map = load_action_map()
    deadline = common.deadline(context, reserve_seconds=8.0)

    result: dict = {"finding_id": finding.id, "type": finding.type, "manager": base_url, "instance_id": finding.instance_id}
    pattern, actions = actions_for(finding.type, action_map, enable_ips)
    result["matched"] = pattern
    result["actions"] = actions

    if not actions:
        headline = f"GuardDuty {finding.severity_label.lower()} finding {slack.escape(finding.type)}: no Deep Security action is configured for this type; notification only."
        return _finish(finding, log, result, "notify-only", headline, [], deadline)
    if finding.is_sample:
        headline = "GuardDuty sample finding (made by CreateSampleFindings): Deep Security not contacted."
        return _finish(finding, log, result, "sample-finding", headline, [], deadline)
    if not finding.instance_id:
        headline = f"GuardDuty finding {slack.escape(finding.type)} names no EC2 instance: Deep Security not contacted."
        return _finish(finding, log, result, "not-an-instance", headline, [], deadline)

    try:
        tls = http.tls_context(common.env_str("DS_CA_BUNDLE"))
    except http.HttpError as error:
        raise common.ConfigError(f"setting DS_CA_BUNDLE: {error}") from None
    client = ds.DeepSecurityClient(
        base_url,
        common.get_secret("DS_API_KEY"),
        auth_style=auth_style,
        tls=tls,
        timeout=timeout,
        attempts=3,
        deadline=deadline,
    )
    instance = slack.escape(finding.instance_id)
    try:
        computers = client.find_computers(finding.instance_id)
    except ds.DeepSecurityError as error:
        _report_failure(finding, log, result, str(error), [], deadline)
        raise
    if not computers:
        log.info("instance is not protected by Deep Security", instance_id=finding.instance_id)
        headline = f"Instance {instance} is *not protected by Deep Security*: {slack.escape(base_url)} has no computer for it, so no scans were run."
        return _finish(finding, log, result, "not-protected", headline, [], deadline)

    computer = computers[0]
    result["computer"] = {"id": computer.id, "name": computer.host_name, "agent_status": computer.agent_status}
    log.info("computer found in Deep Security", computer_id=computer.id, agent_status=computer.agent_status, matches=len(computers))
    details = [f"Deep Security computer *{slack.escape(computer.host_name)}* (ID {computer.id}) is instance {instance}."]
    if len(computers) > 1:
        details.append(f"{len(computers)} computers have this instance ID; acted on the one with the lowest ID.")
    if computer.agent_status and computer.agent_status != "active":
        details.append(f"Its agent status is *{slack.escape(computer.agent_status)}*: the manager may not reach it until the agent is active.")

    label = ds.task_label(finding)
    done: list[str] = []
    failures: list[str] = []
    for action in actions:
        try:
            if action == IPS_ACTION:
                if computer.intrusion_prevention_state == "prevent":
                    done.append("intrusion prevention was already set to prevent")
                    continue
                state = client.set_intrusion_prevention(computer, "prevent")
                done.append(f"intrusion prevention set to *prevent* (was {slack.escape(computer.intrusion_prevention_state or 'unknown')})")
                log.info("intrusion prevention set", computer_id=computer.id, state=state)
            else:
                task_id = client.run_scan(computer, action, label)
                done.append(f"{ACTION_WORDS[action]} requested (scheduled task {task_id if task_id is not None else '?'})")
                log.info("scan scheduled", computer_id=computer.id, action=action, task_id=task_id)
        except ds.DeepSecurityError as error:
            failures.append(f"{ACTION_WORDS[action]}: {error}")
            log.error("Deep Security action failed", action=action, error=str(error))
    result["done"] = done
    if failures:
        _report_failure(finding, log, result, "; ".join(failures), details + [_bullet(d) for d in done], deadline)
        raise ds.DeepSecurityError(f"{len(failures)} of {len(actions)} Deep Security actions failed: {'; '.join(failures)}")
    headline = f"Deep Security responded to GuardDuty finding {slack.escape(finding.type)} on instance {instance}: " + ", ".join(done) + "."
    return _finish(finding, log, result, "acted", headline, details + [_bullet(d) for d in done], deadline)


def _bullet(text: str) -> str:
    return f"• {text[:1].upper()}{text[1:]}"


def _finish(finding, log, result, outcome, headline, details, deadline) -> dict:
    result["outcome"] = outcome
    result["slack"] = slack.notify(log, slack.finding_message(finding, headline, details), deadline=deadline + 6.0)
    return result


def _report_failure(finding, log, result, error, details, deadline) -> None:
    result["outcome"] = "failed"
    headline = f"Deep Security responder could not finish acting on GuardDuty finding {slack.escape(finding.type)}: {slack.escape(error)}"
    result["slack"] = slack.notify(log, slack.finding_message(finding, headline, details), deadline=deadline + 6.0)
