"""The few calls of the Trend Micro Deep Security / Cloud One Workload Security REST API v1
that the responder makes:

- `POST /api/computers/search`: the computer whose `ec2VirtualMachineSummary/instanceID` is the
  instance in the finding;
- `POST /api/scheduledtasks`: a once-only scheduled task with `runNow: true` and a
  single-computer filter, deleted by the manager after it runs (`recurrenceCount: 1`), for a
  recommendation, integrity or malware scan;
- `POST /api/computers/{id}`: intrusion prevention to `prevent` on that computer only.

Every request carries `api-version: v1` and either `api-secret-key: <key>` (Deep Security
Manager) or `Authorization: ApiKey <key>` (Cloud One Workload Security). Errors name the
manager URL and never the key.
"""

from __future__ import annotations

import datetime as _dt
import ssl
from dataclasses import dataclass
from typing import Any

import guardform_common as common
import guardform_http as http

AUTH_STYLES = {
    "api-secret-key": "api-secret-key",
    "apikey": "apikey",
    "authorization": "apikey",  # the name guardform's manifest uses for the same header
}

# action name -> (scheduled task type, task parameters key, words for people)
SCANS = {
    "recommendation-scan": ("scan-for-recommendations", "scanForRecommendationsTaskParameters", "recommendation scan"),
    "integrity-scan": ("scan-for-integrity-changes", "scanForIntegrityChangesTaskParameters", "integrity scan"),
    "malware-scan": ("scan-for-malware", "scanForMalwareTaskParameters", "malware scan"),
}

INSTANCE_FIELD = "ec2VirtualMachineSummary/instanceID"


class DeepSecurityError(common.ResponderError):
    """The manager could not be reached or refused a request."""


@dataclass(frozen=True)
class Computer:
    """A computer as the manager describes it (only what the responder uses)."""

    id: int
    host_name: str
    instance_id: str | None
    agent_status: str | None
    intrusion_prevention_state: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Computer":
        summary = data.get("ec2VirtualMachineSummary") or {}
        status = data.get("computerStatus") or {}
        ips = data.get("intrusionPrevention") or {}
        return cls(
            id=int(data["ID"]),
            host_name=str(data.get("displayName") or data.get("hostName") or f"computer {data['ID']}"),
            instance_id=summary.get("instanceID"),
            agent_status=status.get("agentStatus"),
            intrusion_prevention_state=ips.get("state"),
        )


class DeepSecurityClient:
    """A Deep Security manager at `base_url` (`https://dsm.example.com:4119` or
    `https://workload.us-1.cloudone.trendmicro.com`), reached with `api_key`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        auth_style: str = "api-secret-key",
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        attempts: int = 3,
        deadline: float | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._api_key = api_key
        common.register_secret(api_key)
        style = AUTH_STYLES.get(auth_style.strip().lower())
        if style is None:
            raise common.ConfigError(f"setting DS_AUTH_STYLE must be api-secret-key (Deep Security Manager) or apikey (Cloud One Workload Security), not {auth_style!r}")
        self.auth_style = style
        self._tls = tls or http.tls_context()
        self._timeout = timeout
        self._attempts = attempts
        self._deadline = deadline

    def _headers(self) -> dict[str, str]:
        headers = {"api-version": "v1", "Accept": "application/json"}
        if self.auth_style == "apikey":
            headers["Authorization"] = f"ApiKey {self._api_key}"
        else:
            headers["api-secret-key"] = self._api_key
        return headers

    def _call(self, method: str, path: str, body: Any, purpose: str) -> Any:
        display = f"Deep Security manager {self.base_url}"
        try:
            response = http.request(
                method,
                self.base_url + path,
                display=display,
                headers=self._headers(),
                json_body=body,
                timeout=self._timeout,
                attempts=self._attempts,
                deadline=self._deadline,
                context=self._tls,
            )
        except http.HttpError as error:
            hint = " (set DS_CA_BUNDLE to the CA certificate that signed the manager's certificate)" if error.tls else ""
            raise DeepSecurityError(self._scrub(f"could not reach the {error} while {purpose}{hint}")) from None
        if response.status in (401, 403):
            raise DeepSecurityError(
                f"{display} refused the API key from secret DS_API_KEY (HTTP {response.status}) while {purpose}: "
                f"check that the key is valid and not expired, that DS_AUTH_STYLE ({self.auth_style}) suits the manager "
                f"(api-secret-key for Deep Security Manager, apikey for Cloud One Workload Security), and that the key's role allows it"
            )
        if not response.ok:
            raise DeepSecurityError(self._scrub(f"{display} answered HTTP {response.status} while {purpose}: {_message(response)}"))
        try:
            return response.json()
        except ValueError:
            raise DeepSecurityError(f"{display} sent an answer that is not JSON while {purpose}") from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, common.REDACTED) if self._api_key else text

    def find_computers(self, instance_id: str) -> list[Computer]:
        """The computers whose EC2 instance id is `instance_id` (normally zero or one)."""
        body = {
            "maxItems": 10,
            "searchCriteria": [{"fieldName": INSTANCE_FIELD, "stringTest": "equal", "stringValue": instance_id}],
            "sortByObjectID": True,
        }
        path = "/api/computers/search?expand=ec2VirtualMachineSummary&expand=computerStatus&expand=intrusionPrevention"
        answer = self._call("POST", path, body, f"searching for the computer of instance {instance_id}")
        if not isinstance(answer, dict) or not isinstance(answer.get("computers"), list):
            raise DeepSecurityError(f"Deep Security manager {self.base_url} answered the computer search without a `computers` list")
        computers = [Computer.from_api(item) for item in answer["computers"] if isinstance(item, dict) and "ID" in item]
        # Never act on a computer the manager returned for another instance.
        return [c for c in computers if c.instance_id in (None, instance_id)]

    def run_scan(self, computer: Computer, action: str, label: str) -> int | None:
        """Creates a run-now, once-only scheduled task of the scan `action` for `computer`
        alone and returns the task's ID."""
        task_type, parameters_key, words = SCANS[action]
        body = {
            "name": f"guardform {task_type} computer {computer.id} {label}"[:200],
            "type": task_type,
            "enabled": True,
            "runNow": True,
            "scheduleDetails": {
                "timeZone": "UTC",
                "recurrenceType": "none",
                "recurrenceCount": 1,
                "onceOnlyScheduleParameters": {"startTime": 0},
            },
            parameters_key: {"computerFilter": {"type": "computer", "computerID": computer.id}},
        }
        answer = self._call("POST", "/api/scheduledtasks", body, f"scheduling {'an' if words[0] in 'aeiou' else 'a'} {words} of computer {computer.id}")
        task_id = answer.get("ID") if isinstance(answer, dict) else None
        return int(task_id) if isinstance(task_id, int) else None

    def set_intrusion_prevention(self, computer: Computer, state: str = "prevent") -> str | None:
        """Sets the intrusion prevention module of `computer` (only) to `state`; returns the
        state the manager reports afterwards."""
        body = {"intrusionPrevention": {"state": state}}
        answer = self._call(
            "POST",
            f"/api/computers/{computer.id}?expand=intrusionPrevention",
            body,
            f"setting intrusion prevention to {state} on computer {computer.id}",
        )
        return ((answer or {}).get("intrusionPrevention") or {}).get("state") if isinstance(answer, dict) else None


def normalize_base_url(url: str) -> str:
    """`https://host:4119/` and `https://host:4119/api` both become `https://host:4119`."""
    base = url.strip().rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return base


def _message(response: http.HttpResponse) -> str:
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])[:300]
    text = response.text().strip()
    return text[:300] if text else "no message"


def task_label(finding: common.Finding) -> str:
    """Makes scheduled task names unique and traceable to the finding."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"finding {finding.id} {now}"
