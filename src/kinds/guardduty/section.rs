//! The `detector:` section: the features, finding frequency and tags of the administrator's
//! and every member's detector.

use crate::manifest::catalog;
use crate::manifest::diagnostic::{Diagnostic, did_you_mean};
use crate::manifest::yaml::{Node, Value};
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue, schema};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// The section's name and key.
pub const NAME: &str = "detector";

/// `detector:`: settings of the administrator's and every member's detector.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DetectorSettings {
    pub finding_publishing_frequency: Option<String>,
    /// Only the features named here are managed; others are left as they are.
    pub features: BTreeMap<String, FeatureSetting>,
    pub tags: BTreeMap<String, String>,
    /// GuardDuty-initiated malware scans of EC2 (the administrator's settings, which apply to
    /// the organization's members); `None`: left as they are.
    pub malware_scan: Option<MalwareScan>,
}

/// `detector.malware_scan`: snapshot retention and which instances are scanned.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MalwareScan {
    /// Keep the EBS snapshots of volumes where malware was found.
    pub keep_snapshots: bool,
    /// Scan only instances carrying one of these tags (key to value; empty value: any).
    pub include_tags: BTreeMap<String, String>,
    /// Skip instances carrying one of these tags.
    pub exclude_tags: BTreeMap<String, String>,
}

/// One feature's desired state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureSetting {
    pub enabled: bool,
    pub additional: BTreeMap<String, bool>,
}

/// The `detector:` section.
pub struct DetectorSection;

/// The detector settings of a checked manifest (the defaults when it has none).
pub fn of(manifest: &Manifest) -> &DetectorSettings {
    static DEFAULT: LazyLock<DetectorSettings> = LazyLock::new(DetectorSettings::default);
    manifest
        .sections
        .get::<DetectorSettings>(NAME)
        .unwrap_or(&DEFAULT)
}

impl Section for DetectorSection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["detector"]),
            (
                "detector",
                &[
                    "finding_publishing_frequency",
                    "features",
                    "tags",
                    "malware_scan",
                ],
            ),
            (
                "detector.malware_scan",
                &["keep_snapshots", "include_tags", "exclude_tags"],
            ),
            ("detector.features.*", &["status", "additional"]),
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        let settings = match top.get(NAME) {
            Some(node) => detector(checker, node)?,
            None => DetectorSettings::default(),
        };
        Some(Arc::new(settings))
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        let features = features_schema();
        // GuardDuty allows 50 tags on a detector and guardform adds its own.
        let mut detector_tags = schema::tags();
        detector_tags["maxProperties"] = json!(49);
        detector_tags["propertyNames"]["allOf"] = json!([{"not": {"pattern": "^guardform:"}}]);
        let mut properties = serde_json::Map::new();
        properties.insert(
            NAME.into(),
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "finding_publishing_frequency": {"enum": catalog::PUBLISHING_FREQUENCIES},
                    "features": features,
                    "malware_scan": {
                        "type": "object",
                        "additionalProperties": false,
                        "description": "GuardDuty-initiated malware scans of EC2: the administrator's settings apply to the organization's members.",
                        "not": {
                            "type": "object",
                            "required": ["include_tags", "exclude_tags"],
                            "properties": {"include_tags": {"type": "object", "minProperties": 1}, "exclude_tags": {"type": "object", "minProperties": 1}}
                        },
                        "properties": {
                            "keep_snapshots": {"enum": ["with_finding", "never"], "default": "never"},
                            "include_tags": schema::tags(),
                            "exclude_tags": schema::tags()
                        }
                    },
                    "tags": detector_tags
                }
            }),
        );
        properties
    }
}

/// The JSON Schema of a `features:` mapping (of `detector:` or a profile).
pub fn features_schema() -> serde_json::Value {
    let status = json!({"enum": ["enabled", "disabled"]});
    let features: serde_json::Map<String, serde_json::Value> = catalog::FEATURES
        .iter()
        .map(|name| {
            let additional: serde_json::Map<String, serde_json::Value> =
                catalog::additional_configurations(name)
                    .iter()
                    .map(|extra| (extra.to_string(), status.clone()))
                    .collect();
            let mut detailed = json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["status"],
                "properties": {"status": status},
            });
            detailed["properties"]["additional"] =
                json!({"type": "object", "additionalProperties": false, "properties": additional});
            (name.to_string(), json!({"oneOf": [status, detailed]}))
        })
        .collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": features,
        "not": {"type": "object", "required": ["RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING"]}
    })
}

fn detector(checker: &mut Checker, node: &Node) -> Option<DetectorSettings> {
    let entries = checker.mapping(node, "detector", "`detector`")?;
    let mut settings = DetectorSettings::default();
    let mut ok = true;
    if let Some(node) = entries.get("finding_publishing_frequency") {
        settings.finding_publishing_frequency = checker.one_of(
            node,
            "`detector.finding_publishing_frequency`",
            catalog::PUBLISHING_FREQUENCIES,
        );
        ok &= settings.finding_publishing_frequency.is_some();
    }
    if let Some(node) = entries.get("tags") {
        settings.tags = checker.tags(node, "`detector.tags`");
        // GuardDuty allows 50 tags on a resource; guardform adds its own ownership tag.
        if settings.tags.len() >= 50 {
            checker.error(
                Diagnostic::error(
                    Some(node.position),
                    format!(
                        "`detector.tags` has {} tags; GuardDuty allows 50 on a detector and guardform adds `{}`",
                        settings.tags.len(),
                        crate::kinds::MANAGED_TAG_KEY
                    ),
                )
                .expected("at most 49 tags"),
            );
            ok = false;
        }
        if settings.tags.keys().any(|k| k.starts_with("guardform:")) {
            checker.error(
                Diagnostic::error(Some(node.position), "`detector.tags` sets a `guardform:` tag")
                    .hint("guardform sets the tags that start with `guardform:` itself: they say what it owns"),
            );
            ok = false;
        }
    }
    if let Some(node) = entries.get("malware_scan") {
        match malware_scan(checker, node) {
            Some(scan) => settings.malware_scan = Some(scan),
            None => ok = false,
        }
    }
    if let Some(node) = entries.get("features") {
        match features(checker, node, "detector.features", "`detector.features`") {
            Some(found) => settings.features = found,
            None => ok = false,
        }
    }
    ok.then_some(settings)
}

fn malware_scan(checker: &mut Checker, node: &Node) -> Option<MalwareScan> {
    let what = "`detector.malware_scan`";
    let entries = checker.mapping(node, "detector.malware_scan", what)?;
    let keep_snapshots = match entries.get("keep_snapshots") {
        Some(n) => checker
            .one_of(
                n,
                "`malware_scan.keep_snapshots`",
                &["with_finding", "never"],
            )
            .map(|v| v == "with_finding"),
        None => Some(false),
    };
    let include_tags = entries
        .get("include_tags")
        .map(|n| checker.tags(n, "`malware_scan.include_tags`"))
        .unwrap_or_default();
    let exclude_tags = entries
        .get("exclude_tags")
        .map(|n| checker.tags(n, "`malware_scan.exclude_tags`"))
        .unwrap_or_default();
    if !include_tags.is_empty() && !exclude_tags.is_empty() {
        checker.error(
            Diagnostic::error(entries.get("exclude_tags").map(|n| n.position), format!("{what} gives both `include_tags` and `exclude_tags`"))
                .hint("GuardDuty scans either only the instances with the included tags, or all but those with the excluded ones: keep one"),
        );
        return None;
    }
    Some(MalwareScan {
        keep_snapshots: keep_snapshots?,
        include_tags,
        exclude_tags,
    })
}

/// A `features:` mapping (of `detector:` or a profile): feature names to `enabled`/`disabled`
/// or `{ status, additional }`. `path` is its place in the known-keys table.
pub fn features(
    checker: &mut Checker,
    node: &Node,
    path: &str,
    what: &str,
) -> Option<BTreeMap<String, FeatureSetting>> {
    let mut found = BTreeMap::new();
    let mut ok = true;
    match &node.value {
        Value::Mapping(pairs) => {
            for (key, value) in pairs {
                let Some(name) = checker.string(key, "a feature name") else {
                    ok = false;
                    continue;
                };
                if !catalog::FEATURES.contains(&name.as_str()) {
                    checker.error(
                        Diagnostic::error(
                            Some(key.position),
                            format!("unknown GuardDuty feature `{name}`"),
                        )
                        .expected(format!("one of: {}", catalog::FEATURES.join(", ")))
                        .suggest(&name, catalog::FEATURES.iter().copied()),
                    );
                    ok = false;
                    continue;
                }
                match feature(checker, &name, value, &format!("{path}.*")) {
                    Some(setting) => {
                        found.insert(name, setting);
                    }
                    None => ok = false,
                }
            }
            let names: Vec<&str> = pairs.iter().filter_map(|(k, _)| k.as_scalar()).collect();
            if names.contains(&"RUNTIME_MONITORING") && names.contains(&"EKS_RUNTIME_MONITORING") {
                let position = pairs
                    .iter()
                    .find(|(k, _)| k.as_scalar() == Some("EKS_RUNTIME_MONITORING"))
                    .map(|(k, _)| k.position);
                checker.error(
                    Diagnostic::error(position, "EKS_RUNTIME_MONITORING and RUNTIME_MONITORING cannot both be configured")
                        .hint("GuardDuty rejects both in one request; RUNTIME_MONITORING covers EKS: move its settings there and remove EKS_RUNTIME_MONITORING"),
                );
                ok = false;
            }
        }
        _ if node.is_null() => {}
        _ => {
            checker.type_error(
                node,
                what,
                "a mapping of feature names to `enabled`/`disabled`",
            );
            ok = false;
        }
    }
    ok.then_some(found)
}

fn status(checker: &mut Checker, node: &Node, what: &str) -> Option<bool> {
    match node.as_scalar() {
        Some("enabled") => Some(true),
        Some("disabled") => Some(false),
        Some(other) => {
            let lowered = other.to_ascii_lowercase();
            let hint = match lowered.as_str() {
                "enabled" | "true" | "on" | "yes" => Some("write `enabled`".to_string()),
                "disabled" | "false" | "off" | "no" => Some("write `disabled`".to_string()),
                _ => did_you_mean(other, ["enabled", "disabled"])
                    .map(|s| format!("did you mean `{s}`?")),
            };
            checker.error(
                Diagnostic::error(
                    Some(node.position),
                    format!("invalid status `{other}` for {what}"),
                )
                .expected("`enabled` or `disabled`")
                .maybe_hint(hint),
            );
            None
        }
        None => {
            checker.type_error(node, what, "`enabled` or `disabled`");
            None
        }
    }
}

fn feature(checker: &mut Checker, name: &str, node: &Node, path: &str) -> Option<FeatureSetting> {
    let what = format!("feature `{name}`");
    if !matches!(node.value, Value::Mapping(_)) {
        return status(checker, node, &what).map(|enabled| FeatureSetting {
            enabled,
            additional: BTreeMap::new(),
        });
    }
    let entries = checker.mapping(node, path, &what)?;
    let enabled = checker
        .required(
            &entries,
            "status",
            &what,
            "add `status: enabled` or `status: disabled`",
        )
        .and_then(|node| status(checker, node, &what));
    let mut additional = BTreeMap::new();
    let mut ok = true;
    if let Some(extra) = entries.get("additional") {
        let allowed = catalog::additional_configurations(name);
        match &extra.value {
            Value::Mapping(pairs) => {
                for (key, value) in pairs {
                    let Some(config) = checker.string(key, "an additional configuration name")
                    else {
                        ok = false;
                        continue;
                    };
                    if !allowed.contains(&config.as_str()) {
                        let expected = if allowed.is_empty() {
                            format!("no additional configuration: `{name}` has none")
                        } else {
                            format!("one of: {}", allowed.join(", "))
                        };
                        checker.error(
                            Diagnostic::error(
                                Some(key.position),
                                format!("unknown additional configuration `{config}` for `{name}`"),
                            )
                            .expected(expected)
                            .suggest(&config, allowed.iter().copied()),
                        );
                        ok = false;
                        continue;
                    }
                    match status(checker, value, &format!("`{name}.{config}`")) {
                        Some(status) => {
                            additional.insert(config, status);
                        }
                        None => ok = false,
                    }
                }
            }
            _ if extra.is_null() => {}
            _ => {
                checker.type_error(
                    extra,
                    &format!("`{name}.additional`"),
                    "a mapping of names to `enabled`/`disabled`",
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    Some(FeatureSetting {
        enabled: enabled?,
        additional,
    })
}
