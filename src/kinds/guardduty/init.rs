//! `guardform init` for GuardDuty itself: the administrator, the Regions where it has a
//! detector, the accounts that are members, the detector's settings and the organization's
//! auto-enable, as the manifest says them. What one setting cannot say (a Region whose detector
//! differs, members whose features differ) is written as the most common value and a comment.

use super::state::{FeatureState, GuardDutyState, RegionState};
use crate::engine::InitEntry;
use crate::kinds::{Context, MANAGED_TAG_KEY};
use crate::manifest::catalog;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many profiles are written for members that differ; beyond, a comment.
const MAX_PROFILES: usize = 8;

/// The most common of `values` (the first in order on a tie), with how many had it.
fn most_common<T: Ord + Clone>(values: impl IntoIterator<Item = T>) -> Option<(T, usize)> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for value in values {
        let count = counts.entry(value.clone()).or_default();
        if *count == 0 {
            order.push(value);
        }
        *count += 1;
    }
    order
        .into_iter()
        .map(|v| {
            let n = counts[&v];
            (v, n)
        })
        .reduce(|best, next| if next.1 > best.1 { next } else { best })
}

fn lower(status: &str) -> &'static str {
    if status == "ENABLED" {
        "enabled"
    } else {
        "disabled"
    }
}

/// A detector's features as `detector.features` says them (features guardform does not know
/// are left out, and said so).
fn features_value(
    features: &BTreeMap<String, FeatureState>,
    comments: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, feature) in features {
        if !catalog::FEATURES.contains(&name.as_str()) {
            comments.push(format!(
                "feature {name} is not one guardform manages; it is left as it is"
            ));
            continue;
        }
        let known = catalog::additional_configurations(name);
        let additional: Map<String, Value> = feature
            .additional
            .iter()
            .filter(|(extra, _)| known.contains(&extra.as_str()))
            .map(|(extra, status)| (extra.clone(), json!(lower(status))))
            .collect();
        let value = if additional.is_empty() {
            json!(lower(&feature.status))
        } else {
            json!({"status": lower(&feature.status), "additional": additional})
        };
        out.insert(name.clone(), value);
    }
    // GuardDuty reports both runtime features; the manifest names one (the one that is on, or
    // the current one when neither is), and the plan turns the other off when it is on.
    if out.contains_key("RUNTIME_MONITORING") && out.contains_key("EKS_RUNTIME_MONITORING") {
        let on = |name: &str| features.get(name).is_some_and(|f| f.status == "ENABLED");
        let drop = if on("EKS_RUNTIME_MONITORING") && !on("RUNTIME_MONITORING") {
            "RUNTIME_MONITORING"
        } else {
            "EKS_RUNTIME_MONITORING"
        };
        out.remove(drop);
    }
    out
}

/// The administrator's features that most members have alike: what `detector.features` can
/// say for all of them. A feature the members mostly have otherwise is left unnamed (so left
/// as it is), and said.
fn agreed_features(
    features: &BTreeMap<String, FeatureState>,
    state: &GuardDutyState,
    regions: &[&str],
    admin: &str,
    comments: &mut Vec<String>,
) -> BTreeMap<String, FeatureState> {
    let mut kept = BTreeMap::new();
    for (name, feature) in features {
        let members: Vec<Option<&FeatureState>> = regions
            .iter()
            .flat_map(|r| state.regions[*r].members.values())
            .filter(|m| m.relationship_status == "Enabled" && m.administrator_id == admin)
            .filter_map(|m| m.features.as_ref())
            .map(|f| f.get(name))
            .collect();
        let alike = members.iter().filter(|m| **m == Some(feature)).count();
        if members.is_empty() || alike * 2 > members.len() {
            kept.insert(name.clone(), feature.clone());
        } else if catalog::FEATURES.contains(&name.as_str()) {
            comments.push(format!(
                "{name} is {} on the administrator but not on {} of {} member detectors: not named, so guardform leaves it as it is (name it to manage it)",
                feature.status.to_ascii_lowercase(),
                members.len() - alike,
                members.len()
            ));
        }
    }
    kept
}

/// `organization.auto_enable`: the members' setting, and per feature where the organization
/// configuration differs from what that setting gives the detector's features.
fn auto_enable_value(region: &RegionState, features: &Map<String, Value>, members: &str) -> Value {
    let Some(config) = &region.org_config else {
        return json!(members);
    };
    let for_enabled = if members == "ALL" { "ALL" } else { "NEW" };
    let implied = |status: &str| {
        if status == "enabled" {
            for_enabled
        } else {
            "NONE"
        }
    };
    let mut per_feature = Map::new();
    for (name, value) in features {
        let Some(live) = config.features.get(name) else {
            continue;
        };
        let (status, additional) = match value {
            Value::String(status) => (status.as_str(), Map::new()),
            other => (
                other["status"].as_str().unwrap_or("disabled"),
                other["additional"].as_object().cloned().unwrap_or_default(),
            ),
        };
        let feature_differs = live.status != implied(status);
        let extras_differ = additional.iter().any(|(extra, v)| {
            live.additional
                .get(extra)
                .is_some_and(|l| l != implied(v.as_str().unwrap_or("disabled")))
        });
        if feature_differs || extras_differ {
            let extras: Map<String, Value> = live
                .additional
                .iter()
                .filter(|(extra, _)| additional.contains_key(*extra))
                .map(|(extra, v)| (extra.clone(), json!(v)))
                .collect();
            let mut setting = Map::new();
            setting.insert("auto_enable".into(), json!(live.status));
            if !extras.is_empty() {
                setting.insert("additional".into(), Value::Object(extras));
            }
            per_feature.insert(name.clone(), Value::Object(setting));
        }
    }
    if per_feature.is_empty() {
        return json!(members);
    }
    let mut value = Map::new();
    value.insert("default".into(), json!(members));
    value.extend(per_feature);
    Value::Object(value)
}

/// The entries for `organization`, `accounts`, `regions` and `detector`.
pub fn init(context: &Context, state: &GuardDutyState) -> Vec<InitEntry> {
    let discovery = &context.discovery;
    let admin = discovery.delegated_admin.as_str();
    let mut region_comments = Vec::new();
    // Regions where this administrator has a detector.
    let mut regions: Vec<&str> = Vec::new();
    for (name, region) in &state.regions {
        let ours = region.admin_accounts.contains_key(admin);
        match (&region.detector, ours) {
            (Some(_), true) => regions.push(name),
            (None, true) => region_comments.push(format!(
                "{name}: {admin} is the administrator but has no detector; left out (add it to enable GuardDuty there)"
            )),
            (_, false) => {}
        }
    }
    let detectors: Vec<(&str, &super::state::DetectorState)> = regions
        .iter()
        .filter_map(|r| state.regions[*r].detector.as_ref().map(|d| (*r, d)))
        .collect();

    // Detector settings: the most common across Regions.
    let mut detector_comments = Vec::new();
    let key = |d: &super::state::DetectorState| {
        (
            d.features.clone(),
            d.finding_publishing_frequency.clone(),
            d.tags
                .iter()
                .filter(|(k, _)| !k.starts_with("guardform:"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let chosen = most_common(detectors.iter().map(|(_, d)| key(d)));
    let mut detector = Map::new();
    let mut feature_map = Map::new();
    if let Some(((features, frequency, tags), _)) = &chosen {
        for (region, d) in &detectors {
            if key(d) != (features.clone(), frequency.clone(), tags.clone()) {
                detector_comments.push(format!(
                    "{region}: the administrator's detector differs from this (the first plan brings it in line)"
                ));
            }
        }
        let kept = agreed_features(features, state, &regions, admin, &mut detector_comments);
        feature_map = features_value(&kept, &mut detector_comments);
        if !frequency.is_empty() {
            detector.insert("finding_publishing_frequency".into(), json!(frequency));
        }
        detector.insert("features".into(), Value::Object(feature_map.clone()));
        if !tags.is_empty() {
            detector.insert("tags".into(), json!(tags));
        }
        let untagged = detectors
            .iter()
            .filter(|(_, d)| !d.tags.contains_key(MANAGED_TAG_KEY))
            .count();
        if untagged > 0 {
            detector_comments.push(format!(
                "guardform tags the detector it manages `{MANAGED_TAG_KEY}=true`: the first plan adds that tag in {untagged} Region(s)"
            ));
        }
    }

    // Auto-enable: the most common organization configuration.
    let members_setting = most_common(regions.iter().filter_map(|r| {
        state.regions[*r]
            .org_config
            .as_ref()
            .map(|c| c.auto_enable_organization_members.clone())
    }))
    .map(|(v, _)| v)
    .unwrap_or_else(|| "NONE".into());
    let auto_enable = most_common(regions.iter().map(|r| {
        auto_enable_value(&state.regions[*r], &feature_map, &members_setting).to_string()
    }))
    .and_then(|(v, _)| serde_json::from_str::<Value>(&v).ok())
    .unwrap_or_else(|| json!(members_setting));

    // Accounts: members of the administrator (enabled) in any Region, with the named
    // features each has in each Region where it is one.
    let admin_features = chosen
        .as_ref()
        .map(|((f, _, _), _)| f.clone())
        .unwrap_or_default();
    let named = |features: &BTreeMap<String, FeatureState>| -> BTreeMap<String, FeatureState> {
        feature_map
            .keys()
            .filter_map(|n| features.get(n).map(|f| (n.clone(), f.clone())))
            .collect()
    };
    let admin_named = named(&admin_features);
    type Seen<'s> = Vec<(&'s str, Option<BTreeMap<String, FeatureState>>)>;
    let mut seen: BTreeMap<&str, Seen<'_>> = BTreeMap::new();
    for region in &regions {
        for (account, member) in &state.regions[*region].members {
            if member.relationship_status != "Enabled" || member.administrator_id != admin {
                continue;
            }
            seen.entry(account)
                .or_default()
                .push((region, member.features.as_deref().map(named)));
        }
    }
    let enrolled: BTreeSet<&str> = seen.keys().copied().collect();
    // What sets each member apart from `detector:`: other features, Regions it is not in.
    type Signature = (BTreeMap<String, FeatureState>, Vec<String>);
    let mut groups: BTreeMap<Signature, Vec<&str>> = BTreeMap::new();
    let mut differing: BTreeSet<&str> = BTreeSet::new();
    for (account, found) in &seen {
        let excluded: Vec<String> = regions
            .iter()
            .filter(|r| !found.iter().any(|(here, _)| here == *r))
            .map(|r| r.to_string())
            .collect();
        // On a tie between Regions, the administrator's features win (no profile for it).
        let mut candidates: Vec<BTreeMap<String, FeatureState>> =
            found.iter().filter_map(|(_, f)| f.clone()).collect();
        candidates.sort_by_key(|f| *f != admin_named);
        let Some((features, alike)) = most_common(candidates) else {
            continue;
        };
        if alike < found.len() || features.len() < admin_named.len() {
            // Not one setting in every Region, or a named feature it lacks: the plan aligns it.
            differing.insert(account);
        }
        let overrides: BTreeMap<String, FeatureState> = features
            .into_iter()
            .filter(|(name, f)| admin_named.get(name) != Some(f))
            .collect();
        if !overrides.is_empty() || !excluded.is_empty() {
            groups
                .entry((overrides, excluded))
                .or_default()
                .push(account);
        }
    }
    let mut profiles = Map::new();
    let mut assign = Vec::new();
    let mut profile_comments = Vec::new();
    if groups.len() <= MAX_PROFILES {
        for (index, ((overrides, excluded), accounts)) in groups.iter().enumerate() {
            let name = format!("as-found-{}", index + 1);
            let mut profile = Map::new();
            if !overrides.is_empty() {
                profile.insert(
                    "features".into(),
                    Value::Object(features_value(overrides, &mut Vec::new())),
                );
            }
            if !excluded.is_empty() {
                profile.insert("regions".into(), json!({"exclude": excluded}));
            }
            profile_comments.push(format!(
                "{name}: {} account(s){}{}",
                accounts.len(),
                if overrides.is_empty() {
                    String::new()
                } else {
                    format!(
                        " whose {} differ from `detector:`",
                        overrides.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                },
                if excluded.is_empty() {
                    String::new()
                } else {
                    format!(", not members in {}", excluded.join(", "))
                }
            ));
            profiles.insert(name.clone(), Value::Object(profile));
            assign.push(json!({"profile": name, "accounts": accounts}));
        }
    } else {
        differing.extend(groups.values().flatten().copied());
        detector_comments.push(format!(
            "members fall into {} different feature sets; more than {MAX_PROFILES} are not written as profiles",
            groups.len()
        ));
    }
    if !profile_comments.is_empty() {
        profile_comments.insert(
            0,
            "Members as they are, where they differ from `detector:` (rename these profiles, or assign them by OU):".into(),
        );
    }
    let active: Vec<&str> = discovery
        .organization
        .accounts
        .iter()
        .filter(|a| a.status == "ACTIVE" && a.id != admin)
        .map(|a| a.id.as_str())
        .collect();
    let missing: Vec<&str> = active
        .iter()
        .copied()
        .filter(|a| !enrolled.contains(a))
        .collect();
    let mut account_comments = Vec::new();
    let accounts = if missing.is_empty() {
        json!({"include": {"all": true}})
    } else if enrolled.len() < missing.len() {
        account_comments.push(format!(
            "{} of {} active accounts are GuardDuty members; the others ({}) are not named, so guardform leaves them alone",
            enrolled.len(),
            active.len(),
            missing.len()
        ));
        json!({"include": {"ids": enrolled.iter().collect::<Vec<_>>()}})
    } else {
        account_comments.push(format!(
            "not GuardDuty members today, so excluded: {} (remove them from `exclude` to enrol them)",
            missing.join(", ")
        ));
        json!({"include": {"all": true}, "exclude": {"ids": missing}})
    };
    if !differing.is_empty() {
        detector_comments.push(format!(
            "members whose features are not the same in every Region (the first plan changes them to these or their profile's): {}",
            differing.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }

    let mut organization = Map::new();
    organization.insert("delegated_admin".into(), json!(admin));
    let role = &context.manifest.organization.member_role;
    if role != "OrganizationAccountAccessRole" {
        organization.insert("member_role".into(), json!(role));
    }
    organization.insert("auto_enable".into(), auto_enable);
    let mut entries = vec![
        InitEntry {
            key: "organization".into(),
            value: Value::Object(organization),
            comments: vec![],
        },
        InitEntry {
            key: "accounts".into(),
            value: accounts,
            comments: account_comments,
        },
        InitEntry {
            key: "regions".into(),
            value: json!({"include": regions}),
            comments: region_comments,
        },
        InitEntry {
            key: "detector".into(),
            value: Value::Object(detector),
            comments: detector_comments,
        },
    ];
    if !profiles.is_empty() {
        entries.push(InitEntry {
            key: "profiles".into(),
            value: Value::Object(profiles),
            comments: profile_comments,
        });
        entries.push(InitEntry {
            key: "assign".into(),
            value: Value::Array(assign),
            comments: Vec::new(),
        });
    }
    entries
}
