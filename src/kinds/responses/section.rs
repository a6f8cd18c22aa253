//! The `responses:` section: EventBridge rules on GuardDuty findings and what they trigger,
//! checked against the bundles' own declarations.

use super::check::check_bundles;
use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::yaml::{self, Node};
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue, schema};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// The section's name and key.
pub const NAME: &str = "responses";

/// GuardDuty severity labels and their ranges (`[low, high)`).
pub const SEVERITY_LABELS: &[(&str, f64, f64)] = &[
    ("LOW", 1.0, 4.0),
    ("MEDIUM", 4.0, 7.0),
    ("HIGH", 7.0, 9.0),
    ("CRITICAL", 9.0, 10.1),
];

/// `detail.resource.resourceType` values of GuardDuty findings.
pub const RESOURCE_TYPES: &[&str] = &[
    "AccessKey",
    "Container",
    "EC2Instance",
    "ECSCluster",
    "EKSCluster",
    "Instance",
    "KubernetesCluster",
    "Lambda",
    "RDSDBInstance",
    "RDSLimitlessDB",
    "S3Bucket",
    "S3Object",
];

/// The responses of a checked manifest, in manifest order (none when it has none).
pub fn of(manifest: &Manifest) -> &[ResponseSpec] {
    static DEFAULT: LazyLock<Vec<ResponseSpec>> = LazyLock::new(Vec::new);
    manifest
        .sections
        .get::<Vec<ResponseSpec>>(NAME)
        .unwrap_or(&DEFAULT)
}

/// One `responses` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseSpec {
    pub name: String,
    pub when: When,
    pub action: ResponseAction,
    /// An explicit dead-letter queue (SQS ARN); otherwise guardform creates one.
    pub dlq: Option<String>,
    /// EventBridge retry policy of the target.
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: u32,
    /// Where parts of the entry are in the manifest, for later checks (`bundle`, `env.X`, ...).
    #[serde(skip)]
    pub positions: BTreeMap<String, yaml::Position>,
}

/// Which findings a response gets.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct When {
    pub severity_min: Option<f64>,
    pub severity_max: Option<f64>,
    /// LOW, MEDIUM, HIGH, CRITICAL.
    pub labels: Vec<String>,
    /// Finding types; a trailing `*` matches by prefix.
    pub types: Vec<String>,
    /// `detail.resource.resourceType` values.
    pub resource_types: Vec<String>,
}

/// What a response does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// A Lambda function built from a bundle.
    Run(RunSpec),
    /// An SNS topic.
    Sns(String),
    /// Another EventBridge bus (e.g. a central security account's).
    EventBus(String),
}

/// `run:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpec {
    pub bundle: String,
    pub env: BTreeMap<String, String>,
    /// Secret names to Secrets Manager ARNs (references only, never values).
    pub secrets: BTreeMap<String, String>,
    pub timeout: Option<u32>,
    pub memory: Option<u32>,
}

/// The `responses:` section.
pub struct ResponsesSection;

impl Section for ResponsesSection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["responses"]),
            (
                "responses.*",
                &["name", "when", "run", "send_to", "dlq", "retry"],
            ),
            (
                "responses.*.when",
                &["severity", "labels", "types", "resource_types"],
            ),
            ("responses.*.when.severity", &["min", "max"]),
            (
                "responses.*.run",
                &["bundle", "env", "secrets", "timeout", "memory"],
            ),
            ("responses.*.send_to", &["sns", "event_bus"]),
            (
                "responses.*.retry",
                &["maximum_attempts", "maximum_event_age"],
            ),
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        // Responses that parsed, even when others did not: their bundles are checked too, so
        // every problem is reported at once.
        let mut parsed = Vec::new();
        let responses = match top.get(NAME) {
            Some(node) => responses(checker, node, &mut parsed),
            None => Some(Vec::new()),
        };
        let bundle_problems = check_bundles(&parsed, checker.folder());
        checker.diagnostics.extend(bundle_problems);
        Some(Arc::new(responses?))
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        let severity = json!({"type": "number", "minimum": 0, "maximum": 10});
        let labels: Vec<&str> = SEVERITY_LABELS.iter().map(|(name, _, _)| *name).collect();
        let mut properties = serde_json::Map::new();
        properties.insert(
            NAME.into(),
            json!({
                "type": "array",
                "description": "EventBridge rules on GuardDuty findings in the administrator account, in every targeted Region, and what they trigger.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "when"],
                    "oneOf": [{"required": ["run"]}, {"required": ["send_to"]}],
                    "properties": {
                        "name": {"type": ["string", "number"], "pattern": "^[A-Za-z0-9_-]{1,50}$"},
                        "when": {
                            "type": ["object", "null"],
                            "description": "`when: {}` sends every finding; `severity` or `labels`, not both.",
                            "additionalProperties": false,
                            "not": {"type": "object", "required": ["severity", "labels"]},
                            "properties": {
                                "severity": {"type": "object", "additionalProperties": false, "properties": {"min": severity, "max": severity}},
                                "labels": {"type": "array", "items": {"enum": labels}},
                                "types": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9]+:([^*]*/[^*]*\\*?|[^*]*\\*)$"}, "description": "Finding types (ThreatPurpose:ResourceType/ThreatFamily); a trailing * matches by prefix."},
                                "resource_types": {"type": "array", "items": {"enum": RESOURCE_TYPES}}
                            }
                        },
                        "run": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["bundle"],
                            "properties": {
                                "bundle": {"type": "string", "examples": super::bundles::builtin_names()},
                                "env": {"type": "object", "additionalProperties": schema::text()},
                                "secrets": {"type": "object", "additionalProperties": schema::arn("secretsmanager")},
                                "timeout": {"type": "integer", "minimum": 1, "maximum": 900},
                                "memory": {"type": "integer", "minimum": 128, "maximum": 10240}
                            }
                        },
                        "send_to": {"type": "object", "additionalProperties": false, "minProperties": 1, "maxProperties": 1, "properties": {"sns": schema::arn("sns"), "event_bus": schema::arn("events")}},
                        "dlq": schema::arn("sqs"),
                        "retry": {"type": "object", "additionalProperties": false, "properties": {"maximum_attempts": {"type": "integer", "minimum": 0, "maximum": 185}, "maximum_event_age": {"type": "integer", "minimum": 60, "maximum": 86400}}}
                    }
                }
            }),
        );
        properties
    }
}

fn responses(
    checker: &mut Checker,
    node: &Node,
    parsed: &mut Vec<ResponseSpec>,
) -> Option<Vec<ResponseSpec>> {
    let mut responses: Vec<ResponseSpec> = Vec::new();
    let mut ok = true;
    for item in checker.list(node, "`responses`") {
        match response(checker, item, parsed) {
            Some(response) => {
                if responses.iter().any(|r| r.name == response.name) {
                    checker.error(Diagnostic::error(
                        response.positions.get("name").copied(),
                        format!("duplicate response name `{}`", response.name),
                    ));
                    ok = false;
                }
                responses.push(response);
            }
            None => ok = false,
        }
    }
    ok.then_some(responses)
}

fn response(
    checker: &mut Checker,
    node: &Node,
    parsed: &mut Vec<ResponseSpec>,
) -> Option<ResponseSpec> {
    let entries = checker.mapping(node, "responses.*", "a response")?;
    let mut positions = BTreeMap::new();
    let name = checker
        .required(
            &entries,
            "name",
            "a response",
            "add `name:`; guardform names the rule, function and role `guardform-<name>`",
        )
        .and_then(|n| {
            positions.insert("name".to_string(), n.position);
            let name = checker.string(n, "`responses.name`")?;
            let valid = !name.is_empty()
                && name.len() <= 50
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if valid {
                Some(name)
            } else {
                checker.error(
                    Diagnostic::error(Some(n.position), format!("invalid response name `{name}`"))
                        .expected("1 to 50 letters, digits, `-` and `_`")
                        .hint("the name becomes part of AWS resource names (guardform-<name>)"),
                );
                None
            }
        });
    let what = format!("response `{}`", name.as_deref().unwrap_or("?"));
    let when = match entries.get("when") {
        Some(n) => when(checker, n, &what),
        None => {
            checker.error(Diagnostic::error(Some(node.position), format!("missing `when` in {what}")).hint("`when: {}` sends every finding; narrow it with `severity`, `labels`, `types` or `resource_types`"));
            None
        }
    };
    let action = match (entries.get("run"), entries.get("send_to")) {
        (Some(node), None) => run(checker, node, &what, &mut positions).map(ResponseAction::Run),
        (None, Some(send)) => {
            let send_entries = checker.mapping(send, "responses.*.send_to", "`send_to`")?;
            match send_entries.entries.as_slice() {
                [("sns", _, v)] => checker
                    .arn(v, "`send_to.sns`", "sns")
                    .map(ResponseAction::Sns),
                [("event_bus", _, v)] => checker
                    .arn(v, "`send_to.event_bus`", "events")
                    .map(ResponseAction::EventBus),
                _ => {
                    checker.error(Diagnostic::error(
                        Some(send.position),
                        "`send_to` takes exactly one of `sns`, `event_bus`",
                    ));
                    None
                }
            }
        }
        _ => {
            checker.error(Diagnostic::error(Some(node.position), format!("{what} needs exactly one of `run` (a Lambda from a bundle) or `send_to` (SNS or an event bus)")));
            None
        }
    };
    let dlq = match entries.get("dlq") {
        Some(n) => Some(checker.arn(n, "`dlq`", "sqs")?),
        None => None,
    };
    let (mut attempts, mut age) = (Some(8u32), Some(3600u32));
    if let Some(retry) = entries.get("retry") {
        let retry_entries = checker.mapping(retry, "responses.*.retry", "`retry`")?;
        if let Some(n) = retry_entries.get("maximum_attempts") {
            attempts = checker.whole_number(n, "`retry.maximum_attempts`", 0, 185);
        }
        if let Some(n) = retry_entries.get("maximum_event_age") {
            age = checker.whole_number(n, "`retry.maximum_event_age` (seconds)", 60, 86400);
        }
    }
    if let (Some(name), Some(action)) = (&name, &action) {
        parsed.push(ResponseSpec {
            name: name.clone(),
            when: when.clone().unwrap_or_default(),
            action: action.clone(),
            dlq: dlq.clone(),
            maximum_retry_attempts: 0,
            maximum_event_age_seconds: 0,
            positions: positions.clone(),
        });
    }
    Some(ResponseSpec {
        name: name?,
        when: when?,
        action: action?,
        dlq,
        maximum_retry_attempts: attempts?,
        maximum_event_age_seconds: age?,
        positions,
    })
}

fn when(checker: &mut Checker, node: &Node, what: &str) -> Option<When> {
    let entries = checker.mapping(node, "responses.*.when", &format!("`when` of {what}"))?;
    let mut when = When::default();
    let mut ok = true;
    if let Some(severity) = entries.get("severity") {
        let s = checker.mapping(severity, "responses.*.when.severity", "`severity`")?;
        when.severity_min = s
            .get("min")
            .and_then(|n| checker.number(n, "`severity.min`", 0.0, 10.0));
        when.severity_max = s
            .get("max")
            .and_then(|n| checker.number(n, "`severity.max`", 0.0, 10.0));
        ok &= s.get("min").is_none() || when.severity_min.is_some();
        ok &= s.get("max").is_none() || when.severity_max.is_some();
        if let (Some(min), Some(max)) = (when.severity_min, when.severity_max)
            && min > max
        {
            checker.error(Diagnostic::error(
                Some(severity.position),
                format!("`severity.min` ({min}) is above `severity.max` ({max})"),
            ));
            ok = false;
        }
    }
    if let Some(labels) = entries.get("labels") {
        let names: Vec<&str> = SEVERITY_LABELS.iter().map(|(n, _, _)| *n).collect();
        for item in checker.list(labels, "`labels`") {
            match checker.one_of(item, "severity label", &names) {
                Some(label) => when.labels.push(label),
                None => ok = false,
            }
        }
        if entries.get("severity").is_some() {
            checker.error(Diagnostic::error(Some(labels.position), "give `severity` or `labels`, not both").hint("labels are severity ranges: LOW 1-3.9, MEDIUM 4-6.9, HIGH 7-8.9, CRITICAL 9-10"));
            ok = false;
        }
    }
    if let Some(types) = entries.get("types") {
        for item in checker.list(types, "`types`") {
            let Some(text) = checker.string(item, "a finding type") else {
                ok = false;
                continue;
            };
            let stars = text.matches('*').count();
            let shape = text.split_once(':').is_some_and(|(purpose, rest)| {
                !purpose.is_empty()
                    && purpose.chars().all(|c| c.is_ascii_alphanumeric())
                    && (rest == "*" || rest.contains('/') || rest.ends_with('*'))
            });
            if stars > 1 || (stars == 1 && !text.ends_with('*')) {
                checker.error(
                    Diagnostic::error(Some(item.position), format!("finding type pattern `{text}` cannot be expressed as an EventBridge prefix match"))
                        .expected("an exact type, or a prefix ending in `*` (e.g. `Recon:EC2/*`)")
                        .hint("EventBridge matches `detail.type` exactly or by prefix; list the types you mean, or cut the pattern at its first `*`"),
                );
                ok = false;
            } else if !shape {
                checker.error(
                    Diagnostic::error(Some(item.position), format!("`{text}` is not a GuardDuty finding type"))
                        .expected("ThreatPurpose:ResourceType/ThreatFamily, e.g. `UnauthorizedAccess:EC2/SSHBruteForce`"),
                );
                ok = false;
            } else {
                when.types.push(text);
            }
        }
    }
    if let Some(resources) = entries.get("resource_types") {
        for item in checker.list(resources, "`resource_types`") {
            match checker.one_of(item, "resource type", RESOURCE_TYPES) {
                Some(t) => when.resource_types.push(t),
                None => ok = false,
            }
        }
    }
    ok.then_some(when)
}

/// What kind of secret `text` looks like, if it looks like one: the shapes of common tokens and
/// of random keys (long, high-entropy values).
pub fn secret_shape(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    if lower.contains("hooks.slack.com/") {
        return Some("a Slack webhook URL");
    }
    if ["xoxb-", "xoxp-", "xoxa-", "xoxs-", "xapp-"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Some("a Slack token");
    }
    let aws_key = |t: &str| {
        t.len() == 20
            && ["AKIA", "ASIA"].iter().any(|p| t.starts_with(p))
            && t.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if aws_key(text) {
        return Some("an AWS access key id");
    }
    if lower.starts_with("bearer ") || lower.starts_with("basic ") {
        return Some("an Authorization header value");
    }
    if [
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "glpat-",
        "sk-",
        "sk_live_",
        "xkeysat-",
    ]
    .iter()
    .any(|p| text.starts_with(p))
        && text.len() >= 20
    {
        return Some("an API token");
    }
    if text.starts_with("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some("a private key");
    }
    if let Some((scheme, rest)) = text.split_once("://")
        && !scheme.is_empty()
        && rest.split(['/', '?', '#']).next().is_some_and(|authority| {
            authority.contains('@')
                && authority
                    .split('@')
                    .next()
                    .is_some_and(|user| user.contains(':'))
        })
    {
        return Some("a URL with credentials");
    }
    if looks_random(text) {
        return Some("a long random value, like a key or token");
    }
    None
}

/// At least 32 characters of letters, digits and `+/=_-` with no spaces, mixing character
/// classes, and more than 4 bits of entropy per character: a key, not a word or an ARN.
fn looks_random(text: &str) -> bool {
    if text.len() < 32
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c))
    {
        return false;
    }
    let classes = [
        text.chars().any(|c| c.is_ascii_lowercase()),
        text.chars().any(|c| c.is_ascii_uppercase()),
        text.chars().any(|c| c.is_ascii_digit()),
    ];
    if classes.iter().filter(|x| **x).count() < 2 {
        return false;
    }
    let mut counts = [0usize; 128];
    for b in text.bytes() {
        counts[usize::from(b & 0x7f)] += 1;
    }
    let n = text.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy > 4.0
}

fn run(
    checker: &mut Checker,
    node: &Node,
    what: &str,
    positions: &mut BTreeMap<String, yaml::Position>,
) -> Option<RunSpec> {
    let entries = checker.mapping(node, "responses.*.run", &format!("`run` of {what}"))?;
    let bundle = checker
        .required(
            &entries,
            "bundle",
            &format!("`run` of {what}"),
            "name a bundle from bundles/, e.g. `bundle: slack-notify`",
        )
        .and_then(|n| {
            positions.insert("bundle".to_string(), n.position);
            checker.string(n, "`run.bundle`")
        });
    let mut env = BTreeMap::new();
    if let Some(node) = entries.get("env") {
        for (name, key, value) in checker.string_map(node, "`run.env`") {
            positions.insert(format!("env.{name}"), key.position);
            positions.insert(format!("env_value.{name}"), value.position);
            if let Some(text) = checker.string(&value, &format!("`env.{name}`")) {
                if let Some(shape) = secret_shape(&text) {
                    checker.error(
                        Diagnostic::error(Some(value.position), format!("`env.{name}` holds a secret value ({shape})"))
                            .hint("secrets never go into the manifest or the Lambda environment: store it in Secrets Manager and reference its ARN under `secrets`")
                            .secret(),
                    );
                    continue;
                }
                env.insert(name, text);
            }
        }
    }
    let mut secrets = BTreeMap::new();
    if let Some(node) = entries.get("secrets") {
        for (name, key, value) in checker.string_map(node, "`run.secrets`") {
            positions.insert(format!("secrets.{name}"), key.position);
            if let Some(arn) = checker.arn(&value, &format!("`secrets.{name}`"), "secretsmanager") {
                secrets.insert(name, arn);
            }
        }
    }
    let timeout = entries
        .get("timeout")
        .and_then(|n| checker.whole_number(n, "`run.timeout` (seconds)", 1, 900));
    let memory = entries
        .get("memory")
        .and_then(|n| checker.whole_number(n, "`run.memory` (MB)", 128, 10240));
    Some(RunSpec {
        bundle: bundle?,
        env,
        secrets,
        timeout,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::secret_shape;

    #[test]
    fn common_secret_shapes_are_recognised_and_settings_are_not() {
        for (value, shape) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXXX",
                "a Slack webhook URL",
            ),
            ("xoxb-1234-5678-abcdef", "a Slack token"),
            ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
            (
                "Bearer eyJhbGciOiJIUzI1NiJ9",
                "an Authorization header value",
            ),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "an API token"),
            (
                "https://admin:hunter2@dsm.example.com:4119",
                "a URL with credentials",
            ),
            (
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "a long random value, like a key or token",
            ),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "a private key"),
        ] {
            assert_eq!(secret_shape(value), Some(shape), "{value}");
        }
        for value in [
            "true",
            "https://dsm.example.com:4119",
            "acme-findings-archive",
            "arn:aws:sns:us-east-1:222222222222:security-alerts",
            "guardform:no-disable",
            "https://user@example.com/path",
            "this_is_a_rather_long_setting_name_for_tests",
        ] {
            assert_eq!(secret_shape(value), None, "{value}");
        }
    }
}
