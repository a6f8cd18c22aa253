//! The resource kinds guardform manages, each in its own folder, and the registry that lists
//! them in one place. A kind reads what it owns, compares it with what the manifest wants,
//! says what its changes depend on, and makes them; the [`engine`](crate::engine) does the rest.
//!
//! To add a kind: make a folder beside these with a type implementing
//! [`Kind<Context>`](crate::engine::Kind), and add it to [`registry`].

pub mod export;
pub mod filters;
pub mod guardduty;
pub mod ip_lists;
pub mod malware_s3;
pub mod responses;

use crate::cloud::aws::Aws;
use crate::cloud::discover::Discovery;
use crate::engine::plan::{Action, Attributes, Change, ManifestRef, Plan, Targets};
use crate::engine::{Registry, States};
use crate::manifest::{Manifest, Section};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The tag guardform puts on what it manages.
pub const MANAGED_TAG_KEY: &str = "guardform:managed";
/// Its value.
pub const MANAGED_TAG_VALUE: &str = "true";

/// Everything a kind is handed: the AWS clients, the manifest and what discovery found.
pub struct Context {
    pub aws: Arc<Aws>,
    /// The manifest, with defaults that need AWS filled in (the list bucket's Region).
    pub manifest: Manifest,
    /// The manifest's folder (relative list files and local bundles are found from it).
    pub manifest_dir: PathBuf,
    pub discovery: Arc<Discovery>,
    /// Reads and writes at once.
    pub parallelism: usize,
    /// How long to wait for an IP list to become ACTIVE.
    pub list_timeout: std::time::Duration,
}

/// Every kind's manifest section, in the order their problems are looked for.
pub fn sections() -> [&'static dyn Section; 7] {
    [
        &guardduty::section::DetectorSection,
        &guardduty::profiles::ProfilesSection,
        &filters::section::FiltersSection,
        &export::section::ExportSection,
        &malware_s3::section::MalwareS3Section,
        &ip_lists::section::IpListsSectionReader,
        &responses::section::ResponsesSection,
    ]
}

/// Checks manifest text from `folder` with every kind's section.
pub fn check(
    source: &str,
    folder: &std::path::Path,
) -> (
    Option<Manifest>,
    Vec<crate::manifest::diagnostic::Diagnostic>,
) {
    crate::manifest::check(source, folder, &sections())
}

/// Every kind, in the order plans list them.
pub fn registry() -> Registry<Context> {
    Registry::new(vec![
        Box::new(guardduty::GuardDuty),
        Box::new(filters::Filters),
        Box::new(export::Export),
        Box::new(malware_s3::MalwareS3),
        Box::new(ip_lists::IpLists),
        Box::new(responses::Responses),
    ])
}

/// A SHA-256 that JSON is written into.
struct Hasher(sha2::Sha256);

impl std::io::Write for Hasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fingerprint a saved plan keeps: the SHA-256 of what discovery and every kind saw,
/// hashed as it is written (never held as one text).
pub fn fingerprint(registry: &Registry<Context>, discovery: &Discovery, states: &States) -> String {
    let mut hasher = Hasher(<sha2::Sha256 as sha2::Digest>::new());
    let _ = serde_json::to_writer(&mut hasher, discovery);
    states.fingerprint(registry, &mut hasher);
    let digest = sha2::Digest::finalize(hasher.0);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Compares what the manifest wants with what every kind read, into a plan. Conflicts that no
/// plan can resolve are returned, all at once.
pub fn plan(
    registry: &Registry<Context>,
    context: &Context,
    states: &States,
    manifest_ref: ManifestRef,
) -> Result<Plan, Vec<String>> {
    let planned = registry.plan(context, states);
    if !planned.conflicts.is_empty() {
        return Err(planned.conflicts);
    }
    let discovery = &context.discovery;
    let mut notes = discovery.notes.clone();
    notes.extend(planned.notes);
    let targets = Targets {
        management_account: discovery.organization.management_account.clone(),
        delegated_admin: discovery.delegated_admin.clone(),
        regions: discovery.regions.clone(),
        member_accounts: discovery.members.len(),
    };
    Ok(Plan::new(
        manifest_ref,
        fingerprint(registry, discovery, states),
        targets,
        notes,
        planned.changes,
        |type_name| registry.rank(type_name),
    ))
}

/// Runs `read` for every targeted Region, at most `--parallelism` at once, and returns what
/// each read, by Region; the first error (in Region order) if any failed.
pub async fn each_region<'a, T, F, Fut>(
    context: &'a Context,
    read: F,
) -> Result<BTreeMap<String, T>, crate::cloud::aws::AwsError>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::cloud::aws::AwsError>>,
{
    let permits = tokio::sync::Semaphore::new(context.parallelism.max(1));
    let regions = &context.discovery.regions;
    let reads = futures_util::future::join_all(regions.iter().map(|region| {
        let (permits, read) = (&permits, &read);
        async move {
            let _permit = permits.acquire().await;
            read(region).await
        }
    }))
    .await;
    let mut out = BTreeMap::new();
    for (region, answer) in regions.iter().zip(reads) {
        out.insert(region.clone(), answer?);
    }
    Ok(out)
}

/// `value` with every object's keys sorted (AWS answers documents in its own order): what
/// plans compare and show.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// [`canonical`] as text: how plans store and compare documents.
pub fn canonical_text(value: &Value) -> String {
    canonical(value).to_string()
}

/// A JSON string value.
pub fn string(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

/// The desired attributes whose live value differs, as (before, after).
pub fn differing(desired: &Attributes, live: &Attributes) -> (Attributes, Attributes) {
    let mut before = Attributes::new();
    let mut after = Attributes::new();
    for (key, want) in desired {
        let have = live.get(key).cloned().unwrap_or(Value::Null);
        if have != *want {
            before.insert(key.clone(), have);
            after.insert(key.clone(), want.clone());
        }
    }
    (before, after)
}

/// A change with nothing compared yet.
pub fn change(
    kind: &str,
    address: String,
    action: Action,
    account: Option<&str>,
    region: &str,
    reason: impl Into<String>,
) -> Change {
    Change {
        address,
        kind: kind.to_string(),
        action,
        account: account.map(str::to_string),
        region: region.to_string(),
        before: Default::default(),
        after: Default::default(),
        reason: reason.into(),
        requires: None,
        inputs: BTreeMap::new(),
        content: None,
    }
}

/// The value of a string attribute or input of a change.
pub fn text<'a>(attributes: &'a Attributes, key: &str) -> &'a str {
    attributes
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Runs `apply` on each change of a unit in turn, turning errors into outcomes.
pub async fn each<'a, F, Fut>(
    changes: &'a [&'a Change],
    apply: F,
) -> Vec<crate::engine::outcome::Outcome>
where
    F: Fn(&'a Change) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::cloud::aws::AwsError>>,
{
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        outcomes.push(match apply(change).await {
            Ok(()) => crate::engine::outcome::Outcome::Applied,
            Err(error) => crate::engine::outcome::Outcome::failed(error),
        });
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::diagnostic::Severity;

    const MINIMAL: &str = "version: 1\norganization:\n  delegated_admin: \"222222222222\"\naccounts:\n  include: { all: true }\nregions:\n  include: [eu-west-1]\n";

    fn errors(source: &str) -> Vec<String> {
        check(source, std::path::Path::new("."))
            .1
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let p = d.position.unwrap_or_default();
                format!("{}:{} {}", p.line, p.column, d.message)
            })
            .collect()
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let source = "version: 1\norganization:\n  delegated_admin: \"2222\"\n  auto_enable: SOME\naccounts:\n  include: { all: true }\n  exclud: {}\nregions:\n  include: [eu-west-9x]\ndetector:\n  features:\n    EKS_AUDIT_LOG: enabled\n";
        let found = errors(source);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("3:20 invalid account id `2222`"));
        assert!(found.iter().any(|e| e.contains("unknown key `exclud`")));
        assert!(
            found
                .iter()
                .any(|e| e.contains("invalid `organization.auto_enable` `SOME`"))
        );
        assert!(
            found
                .iter()
                .any(|e| e.contains("unknown GuardDuty feature `EKS_AUDIT_LOG`"))
        );
    }

    #[test]
    fn detector_tags_leave_room_for_guardforms_own() {
        let tags: Vec<String> = (0..49).map(|i| format!("k{i}: v")).collect();
        let ok = format!("{MINIMAL}detector:\n  tags: {{ {} }}\n", tags.join(", "));
        assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
        let full = ok.replace("k0: v", "k0: v, k49: v");
        let found = errors(&full);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("has 50 tags; GuardDuty allows 50 on a detector"));
        let own = ok.replace("k0: v", "\"guardform:managed\": \"false\"");
        assert!(errors(&own)[0].contains("sets a `guardform:` tag"));
    }

    #[test]
    fn runtime_monitoring_twice_is_refused() {
        let source = format!(
            "{MINIMAL}detector:\n  features:\n    RUNTIME_MONITORING: enabled\n    EKS_RUNTIME_MONITORING: enabled\n"
        );
        let found = errors(&source);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("11:5 EKS_RUNTIME_MONITORING and RUNTIME_MONITORING"));
    }

    #[test]
    fn list_kinds_have_their_own_limits() {
        let list = |name: &str, kind: &str| {
            format!("  - {{ name: {name}, kind: {kind}, source: {{ inline: [\"8.8.8.8\"] }} }}\n")
        };
        let ok = format!(
            "{MINIMAL}storage: {{ bucket: \"s3://lists-bucket\" }}\nip_lists:\n{}{}{}",
            list("a", "trusted"),
            list("b", "trusted_entities"),
            list("c", "threat_entities")
        );
        assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
        let two = format!("{ok}{}", list("d", "trusted_entities"));
        let found = errors(&two);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("one `kind: trusted_entities` list too many"),
            "{found:?}"
        );
        let bad = format!("{ok}{}", list("e", "entities"));
        assert!(errors(&bad)[0].contains("invalid `ip_lists.kind` `entities`"));
    }

    fn keys_at<'a>(schema: &'a serde_json::Value, path: &str) -> Vec<&'a str> {
        // Where a value may be a scalar or a mapping (`oneOf`), the mapping's schema.
        fn mapping_of(node: &serde_json::Value) -> &serde_json::Value {
            match node.get("oneOf").and_then(|o| o.as_array()) {
                Some(alternatives) => alternatives
                    .iter()
                    .find(|a| a["type"] == "object")
                    .unwrap_or(node),
                None => node,
            }
        }
        let mut node = schema;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = mapping_of(node);
            node = if part == "*" && node.get("items").is_some() {
                &node["items"]
            } else if part == "*" && node["additionalProperties"].is_object() {
                // A mapping of names the user chooses (profiles): its values' schema.
                &node["additionalProperties"]
            } else if part == "*" && node["properties"].get("RUNTIME_MONITORING").is_some() {
                &node["properties"]["RUNTIME_MONITORING"]["oneOf"][1]
            } else if part == "*" {
                // A mapping whose values share one schema (filter criteria): any of them.
                node["properties"]
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
            } else {
                &node["properties"][part]
            };
        }
        node = mapping_of(node);
        let mut keys: Vec<&str> = node["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn schema_keys_match_the_validator() {
        let schema = crate::manifest::schema::schema(&sections());
        let mut tables: Vec<(&str, &[&str])> = crate::manifest::KNOWN_KEYS.to_vec();
        for section in sections() {
            tables.extend_from_slice(section.known_keys());
        }
        let mut merged: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (path, keys) in tables {
            merged.entry(path).or_default().extend_from_slice(keys);
        }
        for (path, mut known) in merged {
            known.sort_unstable();
            assert_eq!(keys_at(&schema, path), known, "section `{path}`");
        }
    }

    #[test]
    fn every_section_has_its_own_top_level_keys() {
        let mut seen: Vec<&str> = crate::manifest::KNOWN_KEYS[0].1.to_vec();
        for section in sections() {
            for (path, keys) in section.known_keys() {
                if path.is_empty() {
                    for key in *keys {
                        assert!(!seen.contains(key), "`{key}` is claimed twice");
                        seen.push(key);
                    }
                }
            }
        }
    }
}
