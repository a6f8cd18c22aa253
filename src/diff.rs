//! Pure comparison of what the manifest wants with what was observed. No network, no printing:
//! `diff(manifest, discovery, observed)` returns a [`Plan`].
//!
//! Normalisation rules: features the manifest does not mention are not drift; fields GuardDuty
//! fills in by itself (timestamps, data sources, service role, tags guardform did not set) are
//! not compared; an existing detector is adopted, never created again.

use crate::discover::Discovery;
use crate::iplist::ListKind;
use crate::manifest::{DetectorSettings, Manifest};
use crate::observe::{
    FeatureState, ListSetState, MemberState, Observed, RegionState, StorageState, fingerprint,
    parse_location,
};
use crate::plan::{
    Action, Attributes, Change, ContentDiff, ManifestRef, Plan, ResourceKind, Targets,
};
use crate::sources::{ListContent, location};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tag guardform puts on what it manages.
pub const MANAGED_TAG_KEY: &str = "guardform:managed";
/// Its value.
pub const MANAGED_TAG_VALUE: &str = "true";

fn string(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

fn status(enabled: bool) -> &'static str {
    if enabled { "ENABLED" } else { "DISABLED" }
}

/// Feature attributes (`features.X`, `features.X.additional.Y`) from the manifest, with the
/// value each enabled/disabled maps to.
fn feature_attributes(
    settings: &DetectorSettings,
    value_of: impl Fn(bool) -> String,
) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, feature) in &settings.features {
        attributes.insert(
            format!("features.{name}"),
            string(value_of(feature.enabled)),
        );
        for (extra, enabled) in &feature.additional {
            attributes.insert(
                format!("features.{name}.additional.{extra}"),
                string(value_of(*enabled)),
            );
        }
    }
    attributes
}

fn observed_feature_attributes(features: &BTreeMap<String, FeatureState>) -> Attributes {
    let mut attributes = Attributes::new();
    for (name, feature) in features {
        attributes.insert(format!("features.{name}"), string(feature.status.clone()));
        for (extra, value) in &feature.additional {
            attributes.insert(
                format!("features.{name}.additional.{extra}"),
                string(value.clone()),
            );
        }
    }
    attributes
}

/// Desired attributes of the administrator's detector.
pub fn desired_detector(settings: &DetectorSettings) -> Attributes {
    let mut attributes = feature_attributes(settings, |enabled| status(enabled).to_string());
    attributes.insert("status".into(), string("ENABLED"));
    if let Some(frequency) = &settings.finding_publishing_frequency {
        attributes.insert(
            "finding_publishing_frequency".into(),
            string(frequency.clone()),
        );
    }
    for (key, value) in &settings.tags {
        attributes.insert(format!("tags.{key}"), string(value.clone()));
    }
    attributes.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    attributes
}

/// Desired organization configuration: members auto-enabled as the manifest says; enabled
/// features auto-enabled for new members (all members with `ALL`), disabled ones not.
pub fn desired_org_config(manifest: &Manifest) -> Attributes {
    let auto_enable = manifest.organization.auto_enable.clone();
    let for_enabled = if auto_enable == "ALL" { "ALL" } else { "NEW" };
    let mut attributes = feature_attributes(&manifest.detector, |enabled| {
        if enabled {
            for_enabled.to_string()
        } else {
            "NONE".to_string()
        }
    });
    attributes.insert(
        "auto_enable_organization_members".into(),
        string(auto_enable),
    );
    attributes
}

/// Desired attributes of a member account.
pub fn desired_member(settings: &DetectorSettings) -> Attributes {
    let mut attributes = feature_attributes(settings, |enabled| status(enabled).to_string());
    attributes.insert("relationship_status".into(), string("Enabled"));
    attributes
}

/// The desired attributes whose observed value differs, as (before, after). When an additional
/// configuration changes, its feature's status is carried along: GuardDuty updates features as
/// a whole.
fn compare(desired: &Attributes, observed: &Attributes) -> (Attributes, Attributes) {
    let mut before = Attributes::new();
    let mut after = Attributes::new();
    for (key, want) in desired {
        let have = observed.get(key).cloned().unwrap_or(Value::Null);
        if have != *want {
            before.insert(key.clone(), have);
            after.insert(key.clone(), want.clone());
        }
    }
    let parents: Vec<String> = after
        .keys()
        .filter_map(|key| {
            key.split_once(".additional.")
                .map(|(parent, _)| parent.to_string())
        })
        .collect();
    for parent in parents {
        if let Some(want) = desired.get(&parent) {
            after.entry(parent.clone()).or_insert_with(|| want.clone());
            before
                .entry(parent.clone())
                .or_insert_with(|| observed.get(&parent).cloned().unwrap_or(Value::Null));
        }
    }
    (before, after)
}

fn change(
    kind: ResourceKind,
    action: Action,
    account: Option<&str>,
    region: &str,
    reason: impl Into<String>,
) -> Change {
    Change {
        address: kind.address(account, region),
        kind,
        action,
        account: account.map(str::to_string),
        region: region.to_string(),
        before: Attributes::new(),
        after: Attributes::new(),
        reason: reason.into(),
        requires: None,
        inputs: BTreeMap::new(),
        content: None,
    }
}

fn diff_region(
    manifest: &Manifest,
    discovery: &Discovery,
    region: &str,
    state: &RegionState,
    changes: &mut Vec<Change>,
    notes: &mut Vec<String>,
) {
    let admin = discovery.delegated_admin.as_str();
    let admin_enabled = state.admin_accounts.get(admin).map(String::as_str) == Some("ENABLED");
    let others: Vec<&String> = state
        .admin_accounts
        .keys()
        .filter(|id| id.as_str() != admin)
        .collect();
    if !admin_enabled {
        let mut c = match others.first() {
            Some(other) => {
                let mut c = change(
                    ResourceKind::OrganizationAdmin,
                    Action::Replace,
                    None,
                    region,
                    format!(
                        "{other} is the delegated administrator in {region}; the manifest names {admin}"
                    ),
                );
                c.before.insert("account_id".into(), string(other.as_str()));
                c.requires = Some("--allow-admin-change".into());
                c.inputs.insert("previous_admin".into(), other.to_string());
                c
            }
            None => change(
                ResourceKind::OrganizationAdmin,
                Action::Create,
                None,
                region,
                format!("GuardDuty has no delegated administrator in {region}"),
            ),
        };
        c.after.insert("account_id".into(), string(admin));
        c.inputs.insert(
            "management_account".into(),
            discovery.organization.management_account.clone(),
        );
        c.inputs.insert("admin_account".into(), admin.to_string());
        changes.push(c);
    }

    let desired = desired_detector(&manifest.detector);
    match &state.detector {
        None => {
            let mut c = change(
                ResourceKind::Detector,
                Action::Create,
                Some(admin),
                region,
                format!("the administrator {admin} has no detector in {region}"),
            );
            c.after = desired;
            changes.push(c);
        }
        Some(detector) => {
            let mut observed = observed_feature_attributes(&detector.features);
            observed.insert("status".into(), string(detector.status.clone()));
            observed.insert(
                "finding_publishing_frequency".into(),
                string(detector.finding_publishing_frequency.clone()),
            );
            for (key, value) in &detector.tags {
                observed.insert(format!("tags.{key}"), string(value.clone()));
            }
            let (before, after) = compare(&desired, &observed);
            if !after.is_empty() {
                let adopting = !detector.tags.contains_key(MANAGED_TAG_KEY);
                let mut c = change(
                    ResourceKind::Detector,
                    Action::Update,
                    Some(admin),
                    region,
                    if adopting {
                        format!(
                            "adopting the existing detector {} and bringing it to the manifest's settings",
                            detector.id
                        )
                    } else {
                        "detector settings differ from the manifest".to_string()
                    },
                );
                c.before = before;
                c.after = after;
                c.inputs.insert("detector_id".into(), detector.id.clone());
                changes.push(c);
            }
        }
    }

    let desired = desired_org_config(manifest);
    match (&state.org_config, admin_enabled) {
        (Some(config), true) => {
            let mut observed = observed_feature_attributes(&config.features);
            observed.insert(
                "auto_enable_organization_members".into(),
                string(config.auto_enable_organization_members.clone()),
            );
            let (before, after) = compare(&desired, &observed);
            if !after.is_empty() {
                let mut c = change(
                    ResourceKind::OrgConfig,
                    Action::Update,
                    None,
                    region,
                    "organization auto-enable settings differ from the manifest",
                );
                c.before = before;
                c.after = after;
                changes.push(c);
            }
        }
        _ => {
            let mut c = change(
                ResourceKind::OrgConfig,
                Action::Create,
                None,
                region,
                format!(
                    "{admin} is not yet the administrator in {region}, so the organization configuration is not set"
                ),
            );
            c.after = desired;
            changes.push(c);
        }
    }

    let management = discovery.organization.management_account.as_str();
    if state.management_has_detector == Some(false) {
        let mut c = change(
            ResourceKind::Detector,
            Action::Create,
            Some(management),
            region,
            format!(
                "GuardDuty adds the management account {management} as a member only once it has a detector of its own"
            ),
        );
        c.after.insert("status".into(), string("ENABLED"));
        c.after
            .insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
        changes.push(c);
    }

    let desired = desired_member(&manifest.detector);
    let emails: BTreeMap<&str, &str> = discovery
        .organization
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.email.as_str()))
        .collect();
    for account in &discovery.members {
        match state.members.get(account) {
            None => {
                let mut c = change(
                    ResourceKind::Member,
                    Action::Create,
                    Some(account),
                    region,
                    "targeted by the manifest but not a GuardDuty member",
                );
                c.after = desired.clone();
                c.inputs.insert(
                    "email".into(),
                    emails
                        .get(account.as_str())
                        .copied()
                        .unwrap_or_default()
                        .to_string(),
                );
                changes.push(c);
            }
            Some(member) => {
                if let Some(c) = diff_member(
                    account,
                    region,
                    member,
                    &desired,
                    emails.get(account.as_str()).copied(),
                ) {
                    changes.push(c);
                }
            }
        }
    }
    let mut foreign = Vec::new();
    for (account, member) in &state.members {
        if discovery.members.contains(account) || account == admin {
            continue;
        }
        match discovery
            .organization
            .accounts
            .iter()
            .find(|a| a.id == *account)
        {
            Some(org_account) if org_account.status == "ACTIVE" => {
                let mut c = change(
                    ResourceKind::Member,
                    Action::Delete,
                    Some(account),
                    region,
                    "no longer targeted by the manifest",
                );
                c.before.insert(
                    "relationship_status".into(),
                    string(member.relationship_status.clone()),
                );
                c.requires = Some("--allow-destroy".into());
                changes.push(c);
            }
            Some(_) => {}
            None => foreign.push(account.clone()),
        }
    }
    if !foreign.is_empty() {
        notes.push(format!(
            "{region}: {} member(s) outside the organization are left alone: {}",
            foreign.len(),
            foreign.join(", ")
        ));
    }
}

fn diff_member(
    account: &str,
    region: &str,
    member: &MemberState,
    desired: &Attributes,
    email: Option<&str>,
) -> Option<Change> {
    let mut observed = member
        .features
        .as_ref()
        .map(observed_feature_attributes)
        .unwrap_or_default();
    observed.insert(
        "relationship_status".into(),
        string(member.relationship_status.clone()),
    );
    let (before, after) = compare(desired, &observed);
    if after.is_empty() {
        return None;
    }
    let reason = match (
        &member.unreadable,
        after.contains_key("relationship_status"),
    ) {
        (_, true) => format!("membership is {}, not Enabled", member.relationship_status),
        (Some(why), false) => format!("the member detector could not be read ({why})"),
        (None, false) => "member detector features differ from the manifest".to_string(),
    };
    let mut c = change(
        ResourceKind::Member,
        Action::Update,
        Some(account),
        region,
        reason,
    );
    c.before = before;
    c.after = after;
    if let Some(email) = email {
        c.inputs.insert("email".into(), email.to_string());
    }
    Some(c)
}

/// Compares desired and observed state into a plan.
/// Compares desired and observed state into a plan. `lists` are the IP lists as their sources
/// give them now. Conflicts that no plan can resolve (a same-named set guardform does not own,
/// GuardDuty's per-Region limits) are returned as errors, all at once.
pub fn diff(
    manifest: &Manifest,
    manifest_ref: ManifestRef,
    discovery: &Discovery,
    observed: &Observed,
    lists: &[ListContent],
    responses: &[crate::responses::Prepared<'_>],
) -> Result<Plan, Vec<String>> {
    let mut changes = Vec::new();
    let mut notes = discovery.notes.clone();
    let mut errors = Vec::new();
    let empty = RegionState::default();
    for region in &discovery.regions {
        let state = observed.regions.get(region).unwrap_or(&empty);
        diff_region(manifest, discovery, region, state, &mut changes, &mut notes);
    }
    for list in lists {
        notes.extend(list.notes.iter().cloned());
    }
    notes.extend(observed.notes.iter().cloned());
    diff_lists(
        manifest,
        discovery,
        observed,
        lists,
        &mut changes,
        &mut errors,
    );
    let states: BTreeMap<String, crate::responses::ResponsesState> = observed
        .regions
        .iter()
        .map(|(region, state)| (region.clone(), state.responses.clone()))
        .collect();
    crate::responses::diff(
        responses,
        &discovery.delegated_admin,
        &discovery.regions,
        &states,
        &observed.roles,
        &mut changes,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    let targets = Targets {
        management_account: discovery.organization.management_account.clone(),
        delegated_admin: discovery.delegated_admin.clone(),
        regions: discovery.regions.clone(),
        member_accounts: discovery.members.len(),
    };
    Ok(Plan::new(
        manifest_ref,
        fingerprint(discovery, observed),
        targets,
        notes,
        changes,
    ))
}

/// The tag naming the manifest list a set belongs to.
pub const LIST_TAG_KEY: &str = "guardform:list";

fn list_address(kind: ResourceKind, admin: &str, region: &str, name: &str) -> String {
    format!("{}[{admin}/{region}/{name}]", kind.name())
}

/// Bucket, objects and sets for the manifest's IP lists.
fn diff_lists(
    manifest: &Manifest,
    discovery: &Discovery,
    observed: &Observed,
    lists: &[ListContent],
    changes: &mut Vec<Change>,
    errors: &mut Vec<String>,
) {
    let admin = discovery.delegated_admin.as_str();
    let empty_storage = StorageState::default();
    let storage_state = observed.storage.as_ref().unwrap_or(&empty_storage);
    if let Some(storage) = &manifest.storage
        && !lists.is_empty()
    {
        let region = storage.region.clone().unwrap_or_default();
        let mut desired = Attributes::new();
        desired.insert("public_access_block".into(), string("all blocked"));
        desired.insert("encryption".into(), string("enabled"));
        let mut live = Attributes::new();
        if storage_state.bucket_exists {
            live.insert(
                "public_access_block".into(),
                string(if storage_state.public_access_blocked {
                    "all blocked"
                } else {
                    "not fully blocked"
                }),
            );
            live.insert(
                "encryption".into(),
                string(if storage_state.encrypted {
                    "enabled"
                } else {
                    "none"
                }),
            );
        }
        let (before, after) = compare(&desired, &live);
        if !after.is_empty() {
            let (action, reason) = if storage_state.bucket_exists {
                (
                    Action::Update,
                    "the list bucket must block public access and encrypt at rest",
                )
            } else {
                (Action::Create, "the list bucket does not exist")
            };
            let mut c = change(ResourceKind::S3Bucket, action, Some(admin), &region, reason);
            c.address = format!("s3.bucket[{}]", storage.bucket);
            c.before = before;
            c.after = after;
            c.inputs.insert("bucket".into(), storage.bucket.clone());
            changes.push(c);
        }
    }

    // Live sets per Region, by kind.
    for list in lists {
        let Some(storage) = &manifest.storage else {
            continue;
        };
        let key = list.key(storage);
        let location = location(&storage.bucket, &key);
        let kind = match list.kind {
            ListKind::Trusted => ResourceKind::IpSet,
            ListKind::Threat => ResourceKind::ThreatIntelSet,
        };
        let spec = manifest.ip_lists.iter().find(|l| l.name == list.name);
        let adopt = spec.is_some_and(|l| l.adopt);

        // The object: uploaded when missing, re-uploaded when edited in place.
        let live_sha = storage_state.objects.get(&key).cloned().flatten();
        if live_sha.as_deref() != Some(list.sha256.as_str()) {
            let previous = observed
                .regions
                .values()
                .flat_map(|r| sets_of(r, kind))
                .find(|set| owns(set, &list.name))
                .and_then(|set| parse_location(&set.location))
                .and_then(|(_, k)| observed.contents.get(&k))
                .cloned()
                .unwrap_or_default();
            let action = if live_sha.is_some() {
                Action::Update
            } else {
                Action::Create
            };
            let reason = match &live_sha {
                Some(_) => {
                    "the object was changed outside guardform: upload the list again".to_string()
                }
                None if previous.is_empty() => format!("new list from {}", list.origin),
                None => format!("new content from {}", list.origin),
            };
            let mut c = change(
                ResourceKind::S3Object,
                action,
                Some(admin),
                &storage.region.clone().unwrap_or_default(),
                reason,
            );
            c.address = format!("s3.object[{}/{key}]", storage.bucket);
            if let Some(sha) = &live_sha {
                c.before.insert("sha256".into(), string(sha.clone()));
            }
            c.after.insert("sha256".into(), string(list.sha256.clone()));
            if action == Action::Create {
                c.after.insert("format".into(), string(list.format.clone()));
            }
            c.inputs.insert("bucket".into(), storage.bucket.clone());
            c.inputs.insert("key".into(), key.clone());
            c.inputs.insert("list".into(), list.name.clone());
            c.inputs.insert("folder".into(), list.folder(storage));
            let diff = if action == Action::Update {
                let edited = observed.contents.get(&key).cloned().unwrap_or_default();
                ContentDiff::between(&edited, &list.text)
            } else {
                ContentDiff::between(&previous, &list.text)
            };
            c.content = Some(diff);
            changes.push(c);
        }

        for region in &discovery.regions {
            let Some(state) = observed.regions.get(region) else {
                continue;
            };
            let sets = sets_of(state, kind);
            let found = sets
                .iter()
                .find(|s| owns(s, &list.name))
                .or_else(|| sets.iter().find(|s| s.name == list.name));
            let address = list_address(kind, admin, region, &list.name);
            let mut desired = Attributes::new();
            desired.insert("name".into(), string(list.name.clone()));
            desired.insert("format".into(), string(list.format.clone()));
            desired.insert("location".into(), string(location.clone()));
            desired.insert("status".into(), string("ACTIVE"));
            desired.insert("content_sha256".into(), string(list.sha256.clone()));
            desired.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
            desired.insert(format!("tags.{LIST_TAG_KEY}"), string(list.name.clone()));
            match found {
                None => {
                    let mut c = change(
                        kind,
                        Action::Create,
                        Some(admin),
                        region,
                        format!("new {} list", list.kind.name()),
                    );
                    c.address = address;
                    c.after = desired;
                    c.inputs.insert("list".into(), list.name.clone());
                    changes.push(c);
                }
                Some(set) if !owns(set, &list.name) && !adopt => {
                    errors.push(format!(
                        "IP list `{}`: {admin}/{region} already has a GuardDuty {} named `{}` that guardform does not own (id {}); guardform leaves it alone.\n  hint: set `adopt: true` on the list to take it over, or give the list another name",
                        list.name,
                        if kind == ResourceKind::IpSet { "IPSet" } else { "ThreatIntelSet" },
                        set.name,
                        set.id
                    ));
                }
                Some(set) => {
                    let mut live = Attributes::new();
                    live.insert("name".into(), string(set.name.clone()));
                    live.insert("format".into(), string(set.format.clone()));
                    live.insert("location".into(), string(set.location.clone()));
                    live.insert("status".into(), string(set.status.clone()));
                    let live_content = parse_location(&set.location)
                        .and_then(|(bucket, key)| {
                            (manifest
                                .storage
                                .as_ref()
                                .is_some_and(|s| s.bucket == bucket))
                            .then_some(key)
                        })
                        .and_then(|key| storage_state.objects.get(&key).cloned().flatten());
                    if let Some(sha) = live_content {
                        live.insert("content_sha256".into(), string(sha));
                    }
                    for (k, v) in &set.tags {
                        live.insert(format!("tags.{k}"), string(v.clone()));
                    }
                    let (before, after) = compare(&desired, &live);
                    if after.is_empty() {
                        continue;
                    }
                    let replace = after.contains_key("format");
                    let reason = if !owns(set, &list.name) {
                        format!("adopting the existing set {} (`adopt: true`)", set.id)
                    } else if replace {
                        "GuardDuty cannot change a list's format in place".to_string()
                    } else if after.contains_key("location") {
                        "point the set at the new list file and reload it".to_string()
                    } else if after.contains_key("content_sha256") {
                        "reload the list file that was changed outside guardform".to_string()
                    } else if after.contains_key("status") {
                        format!("the set is {}, not ACTIVE: activate it", set.status)
                    } else {
                        "set settings differ from the manifest".to_string()
                    };
                    let mut c = change(
                        kind,
                        if replace {
                            Action::Replace
                        } else {
                            Action::Update
                        },
                        Some(admin),
                        region,
                        reason,
                    );
                    c.address = address;
                    c.before = before;
                    c.after = after;
                    c.inputs.insert("set_id".into(), set.id.clone());
                    c.inputs.insert("list".into(), list.name.clone());
                    c.inputs.insert("location".into(), location.clone());
                    c.inputs.insert("name".into(), list.name.clone());
                    c.inputs.insert("format".into(), list.format.clone());
                    if replace {
                        c.requires = Some("--allow-destroy".into());
                    }
                    changes.push(c);
                }
            }
        }
    }

    // Sets guardform made for lists the manifest no longer has; and GuardDuty's limits.
    for region in &discovery.regions {
        let Some(state) = observed.regions.get(region) else {
            continue;
        };
        for (kind, limit, list_kind) in [
            (ResourceKind::IpSet, 1, ListKind::Trusted),
            (ResourceKind::ThreatIntelSet, 6, ListKind::Threat),
        ] {
            let sets = sets_of(state, kind);
            let wanted: Vec<&ListContent> = lists.iter().filter(|l| l.kind == list_kind).collect();
            let mut foreign = 0;
            for set in sets {
                let managed_list = set.tags.get(LIST_TAG_KEY).filter(|_| {
                    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
                });
                let claimed = wanted.iter().any(|l| {
                    owns(set, &l.name)
                        || (set.name == l.name
                            && manifest
                                .ip_lists
                                .iter()
                                .any(|s| s.name == l.name && s.adopt))
                });
                match managed_list {
                    Some(name) if !lists.iter().any(|l| l.name == *name && l.kind == list_kind) => {
                        let mut c = change(
                            kind,
                            Action::Delete,
                            Some(admin),
                            region,
                            format!("list `{name}` is no longer in the manifest"),
                        );
                        c.address = list_address(kind, admin, region, name);
                        c.before.insert("name".into(), string(set.name.clone()));
                        c.before
                            .insert("location".into(), string(set.location.clone()));
                        c.requires = Some("--allow-destroy".into());
                        c.inputs.insert("set_id".into(), set.id.clone());
                        changes.push(c);
                    }
                    _ if !claimed && !wanted.iter().any(|l| l.name == set.name) => foreign += 1,
                    _ => {}
                }
            }
            if foreign + wanted.len() > limit && !wanted.is_empty() {
                errors.push(format!(
                    "{admin}/{region}: GuardDuty allows {limit} {} per account and Region; {foreign} not managed by guardform already exist(s) and the manifest wants {} more.\n  hint: remove the other set(s), or adopt one with a list of the same name and `adopt: true`",
                    if kind == ResourceKind::IpSet { "trusted IP list (IPSet)" } else { "threat lists (ThreatIntelSets)" },
                    wanted.len()
                ));
            }
        }
    }
}

fn sets_of(state: &RegionState, kind: ResourceKind) -> &[ListSetState] {
    if kind == ResourceKind::IpSet {
        &state.ip_sets
    } else {
        &state.threat_intel_sets
    }
}

/// True when guardform made `set` for the list `name`.
fn owns(set: &ListSetState, name: &str) -> bool {
    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
        && set.tags.get(LIST_TAG_KEY).map(String::as_str) == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{OrgAccount, Organization};
    use crate::manifest::check;
    use crate::observe::{DetectorState, OrgConfigState};

    const MANIFEST: &str = "version: 1\norganization: { delegated_admin: \"222222222222\", auto_enable: ALL }\naccounts: { include: { all: true } }\nregions: { include: [eu-west-1] }\ndetector:\n  finding_publishing_frequency: FIFTEEN_MINUTES\n  features:\n    S3_DATA_EVENTS: enabled\n    RDS_LOGIN_EVENTS: disabled\n    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }\n  tags: { owner: security }\n";

    fn manifest() -> Manifest {
        check(MANIFEST).0.unwrap()
    }

    fn discovery(members: &[&str]) -> Discovery {
        let account = |id: &str| OrgAccount {
            id: id.into(),
            name: id.into(),
            email: format!("{id}@example.com"),
            status: "ACTIVE".into(),
            ou_ids: vec![],
            ou_path: vec![],
            tags: BTreeMap::new(),
        };
        Discovery {
            organization: Organization {
                id: "o-1".into(),
                management_account: "123456789012".into(),
                accounts: [
                    "123456789012",
                    "222222222222",
                    "400000000001",
                    "400000000002",
                ]
                .into_iter()
                .map(account)
                .collect(),
            },
            delegated_admin: "222222222222".into(),
            members: members.iter().map(|s| s.to_string()).collect(),
            regions: vec!["eu-west-1".into()],
            notes: vec![],
        }
    }

    fn manifest_ref() -> ManifestRef {
        ManifestRef {
            path: "m.yaml".into(),
            digest: "sha256:0".into(),
        }
    }

    fn features(pairs: &[(&str, &str)]) -> BTreeMap<String, FeatureState> {
        pairs
            .iter()
            .map(|(n, s)| {
                (
                    n.to_string(),
                    FeatureState {
                        status: s.to_string(),
                        additional: BTreeMap::new(),
                    },
                )
            })
            .collect()
    }

    fn converged() -> Observed {
        let mut runtime = FeatureState {
            status: "ENABLED".into(),
            additional: BTreeMap::new(),
        };
        runtime
            .additional
            .insert("EKS_ADDON_MANAGEMENT".into(), "ENABLED".into());
        runtime
            .additional
            .insert("EC2_AGENT_MANAGEMENT".into(), "DISABLED".into());
        let mut detector_features = features(&[
            ("S3_DATA_EVENTS", "ENABLED"),
            ("RDS_LOGIN_EVENTS", "DISABLED"),
            ("EKS_AUDIT_LOGS", "DISABLED"),
        ]);
        detector_features.insert("RUNTIME_MONITORING".into(), runtime.clone());
        let mut org_features = features(&[("S3_DATA_EVENTS", "ALL"), ("RDS_LOGIN_EVENTS", "NONE")]);
        org_features.insert(
            "RUNTIME_MONITORING".into(),
            FeatureState {
                status: "ALL".into(),
                additional: [("EKS_ADDON_MANAGEMENT".to_string(), "ALL".to_string())].into(),
            },
        );
        let state = RegionState {
            admin_accounts: [("222222222222".to_string(), "ENABLED".to_string())].into(),
            detector: Some(DetectorState {
                id: "d1".into(),
                status: "ENABLED".into(),
                finding_publishing_frequency: "FIFTEEN_MINUTES".into(),
                features: detector_features.clone(),
                tags: [
                    ("owner".to_string(), "security".to_string()),
                    (MANAGED_TAG_KEY.to_string(), "true".to_string()),
                    ("extra".to_string(), "x".to_string()),
                ]
                .into(),
            }),
            org_config: Some(OrgConfigState {
                auto_enable_organization_members: "ALL".into(),
                features: org_features,
            }),
            members: [(
                "400000000001".to_string(),
                MemberState {
                    relationship_status: "Enabled".into(),
                    administrator_id: "222222222222".into(),
                    features: Some(detector_features),
                    unreadable: None,
                },
            )]
            .into(),
            management_has_detector: None,
            ip_sets: vec![],
            threat_intel_sets: vec![],
            responses: Default::default(),
        };
        Observed {
            regions: [("eu-west-1".to_string(), state)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn fresh_region_creates_everything_in_order() {
        let plan = diff(
            &manifest(),
            manifest_ref(),
            &discovery(&["400000000001", "400000000002"]),
            &Observed::default(),
            &[],
            &[],
        )
        .unwrap();
        let addresses: Vec<(&str, Action)> = plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(
            addresses,
            vec![
                ("guardduty.organization_admin[eu-west-1]", Action::Create),
                ("guardduty.detector[222222222222/eu-west-1]", Action::Create),
                ("guardduty.org_config[eu-west-1]", Action::Create),
                ("guardduty.member[400000000001/eu-west-1]", Action::Create),
                ("guardduty.member[400000000002/eu-west-1]", Action::Create),
            ]
        );
        assert_eq!(plan.summary.add, 5);
        assert_eq!(plan.changes[3].inputs["email"], "400000000001@example.com");
        assert_eq!(plan.changes[2].after["features.RDS_LOGIN_EVENTS"], "NONE");
        assert_eq!(plan.changes[2].after["features.S3_DATA_EVENTS"], "ALL");
    }

    #[test]
    fn converged_state_has_no_changes_and_ignores_unmanaged_fields() {
        let plan = diff(
            &manifest(),
            manifest_ref(),
            &discovery(&["400000000001"]),
            &converged(),
            &[],
            &[],
        )
        .unwrap();
        assert!(plan.is_empty(), "{:#?}", plan.changes);
    }

    #[test]
    fn drift_shows_only_what_differs() {
        let mut observed = converged();
        let state = observed.regions.get_mut("eu-west-1").unwrap();
        state
            .detector
            .as_mut()
            .unwrap()
            .finding_publishing_frequency = "SIX_HOURS".into();
        let member = state.members.get_mut("400000000001").unwrap();
        member
            .features
            .as_mut()
            .unwrap()
            .get_mut("RUNTIME_MONITORING")
            .unwrap()
            .additional
            .insert("EKS_ADDON_MANAGEMENT".into(), "DISABLED".into());
        let plan = diff(
            &manifest(),
            manifest_ref(),
            &discovery(&["400000000001"]),
            &observed,
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(plan.changes.len(), 2, "{:#?}", plan.changes);
        let detector = &plan.changes[0];
        assert_eq!(detector.action, Action::Update);
        assert_eq!(
            detector.before,
            Attributes::from([("finding_publishing_frequency".into(), string("SIX_HOURS"))])
        );
        let member = &plan.changes[1];
        assert_eq!(
            member.after.len(),
            2,
            "feature status carried with its additional configuration"
        );
        assert_eq!(
            member.before["features.RUNTIME_MONITORING.additional.EKS_ADDON_MANAGEMENT"],
            "DISABLED"
        );
    }

    #[test]
    fn untargeted_member_is_a_destroy_that_needs_a_flag() {
        let plan = diff(
            &manifest(),
            manifest_ref(),
            &discovery(&[]),
            &converged(),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::Delete);
        assert_eq!(plan.summary.destroy, 1);
        assert_eq!(plan.blocked(false, false).len(), 1);
        assert!(plan.blocked(true, false).is_empty());
    }

    #[test]
    fn different_admin_is_a_replace_that_needs_a_flag() {
        let mut observed = converged();
        observed
            .regions
            .get_mut("eu-west-1")
            .unwrap()
            .admin_accounts = [("333333333333".to_string(), "ENABLED".to_string())].into();
        let plan = diff(
            &manifest(),
            manifest_ref(),
            &discovery(&["400000000001"]),
            &observed,
            &[],
            &[],
        )
        .unwrap();
        let admin = &plan.changes[0];
        assert_eq!(admin.action, Action::Replace);
        assert_eq!(admin.requires.as_deref(), Some("--allow-admin-change"));
        assert_eq!(plan.blocked(true, false).len(), 1);
    }
}
