//! `profiles:` and `assign:`: member accounts with other detector features than `detector:`
//! (the default profile). A profile overrides only the features it names, and may leave some
//! Regions out. Each account gets exactly one profile: the assignment that names it most
//! specifically wins (its account id, over the deepest OU on its path, over a parent OU); two
//! assignments equally specific for one account are an error.

use super::section::{DetectorSettings, FeatureSetting, features};
use crate::cloud::discover::OrgAccount;
use crate::manifest::diagnostic::Diagnostic;
use crate::manifest::yaml::{Node, Value};
use crate::manifest::{Checker, Entries, Manifest, Section, SectionValue, schema};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// The section's name (it also reads `assign:`).
pub const NAME: &str = "profiles";

/// One profile: what it changes from `detector:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Profile {
    pub features: BTreeMap<String, FeatureSetting>,
    /// Regions where this profile's accounts are left out (not enrolled by guardform).
    pub exclude_regions: Vec<String>,
}

/// One `assign:` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub profile: String,
    /// OU ids (`ou-...`) or name paths from the root (`Workloads/Sandbox`); nested OUs included.
    pub ous: Vec<String>,
    pub accounts: Vec<String>,
    /// Its line in the manifest (for explanations and conflicts).
    pub line: usize,
}

/// `profiles:` and `assign:`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Profiles {
    pub profiles: BTreeMap<String, Profile>,
    pub assign: Vec<Assignment>,
}

/// The profiles of a checked manifest (none when it has none).
pub fn of(manifest: &Manifest) -> &Profiles {
    static NONE: LazyLock<Profiles> = LazyLock::new(Profiles::default);
    manifest.sections.get::<Profiles>(NAME).unwrap_or(&NONE)
}

/// The profile an account got, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<'a> {
    /// `None`: the default profile (`detector:`).
    pub profile: Option<&'a str>,
    pub why: String,
}

/// How specifically `assignment` names `account`: its id beats any OU, a deeper OU a parent.
fn specificity(assignment: &Assignment, account: &OrgAccount) -> Option<(usize, String)> {
    if assignment.accounts.contains(&account.id) {
        return Some((usize::MAX, format!("account {}", account.id)));
    }
    let path = account.ou_path.join("/");
    assignment
        .ous
        .iter()
        .filter_map(|ou| {
            let depth = if let Some(i) = account.ou_ids.iter().position(|id| id == ou) {
                i + 1
            } else if path == *ou || path.starts_with(&format!("{ou}/")) {
                ou.split('/').count()
            } else {
                return None;
            };
            Some((depth, format!("OU `{ou}`")))
        })
        .max_by_key(|(depth, _)| *depth)
}

/// The profile of `account`, or why two assignments name it equally specifically.
pub fn choose<'a>(profiles: &'a Profiles, account: &OrgAccount) -> Result<Choice<'a>, String> {
    let matches: Vec<(usize, String, &Assignment)> = profiles
        .assign
        .iter()
        .filter_map(|a| specificity(a, account).map(|(depth, by)| (depth, by, a)))
        .collect();
    let Some(best) = matches.iter().map(|(depth, _, _)| *depth).max() else {
        return Ok(Choice {
            profile: None,
            why: "no `assign:` entry names it or an OU above it: the default profile (`detector:`)"
                .into(),
        });
    };
    let winners: Vec<&(usize, String, &Assignment)> = matches
        .iter()
        .filter(|(depth, _, _)| *depth == best)
        .collect();
    let first = winners[0];
    if let Some(other) = winners.iter().find(|w| w.2.profile != first.2.profile) {
        return Err(format!(
            "account {} is assigned two profiles equally specifically: `{}` by {} (line {}) and `{}` by {} (line {})\n  hint: name the account itself in one assignment (an account id beats an OU), or assign a deeper OU",
            account.id,
            first.2.profile,
            first.1,
            first.2.line,
            other.2.profile,
            other.1,
            other.2.line
        ));
    }
    let overridden = matches.len() > winners.len();
    Ok(Choice {
        profile: Some(first.2.profile.as_str()),
        why: format!(
            "assigned by {} (`assign:` entry at line {}){}",
            first.1,
            first.2.line,
            if overridden {
                ", more specific than the other entries that match it"
            } else {
                ""
            }
        ),
    })
}

/// The detector settings of a profile: `detector:` with the profile's features over it. Runtime
/// Monitoring and its EKS predecessor are one setting: a profile naming either replaces
/// whichever `detector:` names (GuardDuty refuses both together).
pub fn settings(base: &DetectorSettings, profile: &Profile) -> DetectorSettings {
    use super::features::{EKS_RUNTIME, RUNTIME};
    let mut settings = base.clone();
    for (name, feature) in &profile.features {
        match name.as_str() {
            RUNTIME => settings.features.remove(EKS_RUNTIME),
            EKS_RUNTIME => settings.features.remove(RUNTIME),
            _ => None,
        };
        settings.features.insert(name.clone(), feature.clone());
    }
    settings
}

/// The `profiles:` and `assign:` sections.
pub struct ProfilesSection;

impl Section for ProfilesSection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn known_keys(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("", &["profiles", "assign"]),
            ("profiles.*", &["features", "regions"]),
            ("profiles.*.features.*", &["status", "additional"]),
            ("profiles.*.regions", &["exclude"]),
            ("assign.*", &["profile", "ous", "accounts"]),
        ]
    }

    fn check(&self, checker: &mut Checker, top: &Entries<'_>) -> Option<SectionValue> {
        let mut ok = true;
        let mut found = Profiles::default();
        if let Some(node) = top.get("profiles") {
            // Profiles with problems are still known by name, so assignments to them are not
            // reported as assignments to nothing.
            let (profiles, valid) = profiles(checker, node);
            found.profiles = profiles;
            ok &= valid;
        }
        if let Some(node) = top.get("assign") {
            match assignments(checker, node, &found.profiles) {
                Some(assign) => found.assign = assign,
                None => ok = false,
            }
        }
        for assignment in &found.assign {
            checker.needs.ous.extend(assignment.ous.iter().cloned());
        }
        ok.then(|| Arc::new(found) as SectionValue)
    }

    fn schema(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut properties = serde_json::Map::new();
        properties.insert(
            "profiles".into(),
            json!({
                "type": "object",
                "description": "Detector feature sets other than `detector:` (the default profile), by name; a profile overrides only the features it names.",
                "propertyNames": {"pattern": "^[A-Za-z0-9_-]{1,64}$", "not": {"const": "default"}},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "features": super::section::features_schema(),
                        "regions": {
                            "type": "object",
                            "additionalProperties": false,
                            "properties": {"exclude": {"type": "array", "items": schema::region()}}
                        }
                    }
                }
            }),
        );
        properties.insert(
            "assign".into(),
            json!({
                "type": "array",
                "description": "Which accounts get which profile: an account id beats an OU, a deeper OU a parent.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["profile"],
                    "anyOf": [
                        {"required": ["ous"], "properties": {"ous": {"type": "array", "minItems": 1}}},
                        {"required": ["accounts"], "properties": {"accounts": {"type": "array", "minItems": 1}}}
                    ],
                    "properties": {
                        "profile": {"type": ["string", "number"], "description": "A profile of `profiles:`."},
                        "ous": {"type": "array", "items": schema::text()},
                        "accounts": {"type": "array", "items": schema::account_id()}
                    }
                }
            }),
        );
        properties
    }
}

/// The profiles whose names are valid (with what of their settings is), and whether every
/// profile is.
fn profiles(checker: &mut Checker, node: &Node) -> (BTreeMap<String, Profile>, bool) {
    let Value::Mapping(pairs) = &node.value else {
        if node.is_null() {
            return (BTreeMap::new(), true);
        }
        checker.type_error(node, "`profiles`", "a mapping of profile names to settings");
        return (BTreeMap::new(), false);
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, value) in pairs {
        let Some(name) = checker.string(key, "a profile name") else {
            ok = false;
            continue;
        };
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        if !valid || name == "default" {
            checker.error(
                Diagnostic::error(Some(key.position), format!("invalid profile name `{name}`"))
                    .expected("1 to 64 letters, digits, `-` and `_`, not `default`")
                    .hint("`detector:` is the default profile"),
            );
            ok = false;
            continue;
        }
        let what = format!("profile `{name}`");
        let Some(entries) = checker.mapping(value, "profiles.*", &what) else {
            ok = false;
            out.insert(name, Profile::default());
            continue;
        };
        let mut profile = Profile::default();
        if let Some(node) = entries.get("features") {
            match features(
                checker,
                node,
                "profiles.*.features",
                &format!("the features of {what}"),
            ) {
                Some(found) => profile.features = found,
                None => ok = false,
            }
        }
        if let Some(node) = entries.get("regions")
            && let Some(regions) = checker.mapping(
                node,
                "profiles.*.regions",
                &format!("the Regions of {what}"),
            )
            && let Some(exclude) = regions.get("exclude")
        {
            for item in checker.list(exclude, "`regions.exclude`") {
                match checker.region(item, &format!("a Region excluded by {what}")) {
                    Some(region) => profile.exclude_regions.push(region),
                    None => ok = false,
                }
            }
        }
        out.insert(name, profile);
    }
    (out, ok)
}

fn assignments(
    checker: &mut Checker,
    node: &Node,
    profiles: &BTreeMap<String, Profile>,
) -> Option<Vec<Assignment>> {
    let mut out: Vec<Assignment> = Vec::new();
    let mut ok = true;
    for item in checker.list(node, "`assign`") {
        let Some(entries) = checker.mapping(item, "assign.*", "an `assign:` entry") else {
            ok = false;
            continue;
        };
        let profile = checker
            .required(
                &entries,
                "profile",
                "an `assign:` entry",
                "add `profile: NAME` (one of `profiles:`)",
            )
            .and_then(|n| {
                let name = checker.string(n, "`assign.profile`")?;
                if profiles.contains_key(&name) {
                    return Some(name);
                }
                checker.error(
                    Diagnostic::error(
                        Some(n.position),
                        format!("no profile `{name}` in `profiles:`"),
                    )
                    .expected(if profiles.is_empty() {
                        "a profile declared under `profiles:`".to_string()
                    } else {
                        format!(
                            "one of: {}",
                            profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    })
                    .suggest(&name, profiles.keys().map(String::as_str)),
                );
                None
            });
        let mut assignment = Assignment {
            profile: profile.clone().unwrap_or_default(),
            ous: Vec::new(),
            accounts: Vec::new(),
            line: item.position.line,
        };
        if let Some(n) = entries.get("ous") {
            for ou in checker.list(n, "`assign.ous`") {
                match checker.string(ou, "an OU") {
                    Some(text) => assignment.ous.push(text.trim_matches('/').to_string()),
                    None => ok = false,
                }
            }
        }
        if let Some(n) = entries.get("accounts") {
            for account in checker.list(n, "`assign.accounts`") {
                match checker.account_id(account, "`assign.accounts`") {
                    Some(id) => {
                        let earlier = out
                            .iter()
                            .find(|a| a.accounts.contains(&id) && a.profile != assignment.profile);
                        if let Some(earlier) = earlier {
                            checker.error(
                                Diagnostic::error(Some(account.position), format!("account {id} is already assigned profile `{}` (line {})", earlier.profile, earlier.line))
                                    .hint("an account gets exactly one profile: remove it from one of the entries"),
                            );
                            ok = false;
                        }
                        assignment.accounts.push(id);
                    }
                    None => ok = false,
                }
            }
        }
        for ou in &assignment.ous {
            if let Some(earlier) = out
                .iter()
                .find(|a| a.ous.contains(ou) && a.profile != assignment.profile)
            {
                checker.error(
                    Diagnostic::error(entries.get("ous").map(|n| n.position), format!("OU `{ou}` is already assigned profile `{}` (line {})", earlier.profile, earlier.line))
                        .hint("an OU gets exactly one profile; to give part of it another, assign a deeper OU or the accounts themselves"),
                );
                ok = false;
            }
        }
        // Named but invalid ids or OUs are reported on their own, not as naming nothing.
        let names_items = |key: &str| {
            entries
                .get(key)
                .is_some_and(|n| matches!(&n.value, Value::Sequence(items) if !items.is_empty()))
        };
        if assignment.ous.is_empty()
            && assignment.accounts.is_empty()
            && !names_items("ous")
            && !names_items("accounts")
        {
            checker.error(
                Diagnostic::error(
                    Some(item.position),
                    match entries.get("profile").and_then(|n| n.as_scalar()) {
                        Some(name) => {
                            format!("the `assign:` entry for `{name}` names no OU and no account")
                        }
                        None => "the `assign:` entry names no OU and no account".to_string(),
                    },
                )
                .expected("`ous: [...]` and/or `accounts: [...]`"),
            );
            ok = false;
        }
        if profile.is_none() {
            ok = false;
        }
        out.push(assignment);
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, ou_ids: &[&str], ou_path: &[&str]) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: id.into(),
            email: format!("{id}@example.com"),
            status: "ACTIVE".into(),
            ou_ids: ou_ids.iter().map(|s| s.to_string()).collect(),
            ou_path: ou_path.iter().map(|s| s.to_string()).collect(),
            tags: BTreeMap::new(),
        }
    }

    fn assign(profile: &str, ous: &[&str], accounts: &[&str], line: usize) -> Assignment {
        Assignment {
            profile: profile.into(),
            ous: ous.iter().map(|s| s.to_string()).collect(),
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            line,
        }
    }

    #[test]
    fn a_profile_naming_either_runtime_feature_replaces_the_other() {
        let on = crate::kinds::guardduty::section::FeatureSetting {
            enabled: true,
            additional: BTreeMap::new(),
        };
        let mut base = DetectorSettings::default();
        base.features
            .insert("RUNTIME_MONITORING".into(), on.clone());
        base.features.insert("S3_DATA_EVENTS".into(), on.clone());
        let profile = Profile {
            features: BTreeMap::from([("EKS_RUNTIME_MONITORING".to_string(), on)]),
            exclude_regions: Vec::new(),
        };
        let names: Vec<String> = settings(&base, &profile).features.into_keys().collect();
        assert_eq!(names, vec!["EKS_RUNTIME_MONITORING", "S3_DATA_EVENTS"]);
    }

    #[test]
    fn the_most_specific_assignment_wins() {
        let profiles = Profiles {
            profiles: BTreeMap::new(),
            assign: vec![
                assign("cheap", &["Workloads"], &[], 10),
                assign("prod", &["Workloads/Prod"], &[], 11),
                assign("special", &[], &["444444444444"], 12),
            ],
        };
        let prod = account("400000000001", &["ou-w", "ou-p"], &["Workloads", "Prod"]);
        let dev = account("400000000002", &["ou-w", "ou-d"], &["Workloads", "Dev"]);
        let special = account("444444444444", &["ou-w", "ou-p"], &["Workloads", "Prod"]);
        let other = account("400000000003", &["ou-s"], &["Security"]);
        assert_eq!(choose(&profiles, &prod).unwrap().profile, Some("prod"));
        assert_eq!(choose(&profiles, &dev).unwrap().profile, Some("cheap"));
        let chosen = choose(&profiles, &special).unwrap();
        assert_eq!(chosen.profile, Some("special"));
        assert!(
            chosen
                .why
                .contains("account 444444444444 (`assign:` entry at line 12)"),
            "{}",
            chosen.why
        );
        assert_eq!(choose(&profiles, &other).unwrap().profile, None);
    }

    #[test]
    fn equally_specific_assignments_are_an_error_naming_both() {
        // The same OU, once by id and once by name path.
        let profiles = Profiles {
            profiles: BTreeMap::new(),
            assign: vec![
                assign("a", &["ou-p"], &[], 3),
                assign("b", &["Workloads/Prod"], &[], 4),
            ],
        };
        let prod = account("400000000001", &["ou-w", "ou-p"], &["Workloads", "Prod"]);
        let error = choose(&profiles, &prod).unwrap_err();
        assert!(
            error.contains("`a` by OU `ou-p` (line 3) and `b` by OU `Workloads/Prod` (line 4)"),
            "{error}"
        );
    }
}
