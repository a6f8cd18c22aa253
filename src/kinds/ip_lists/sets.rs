//! The administrator's trusted and threat lists in every targeted Region (lists apply to
//! members): IP lists (`guardduty.ipset[ADMIN/REGION/LIST]`,
//! `guardduty.threat_intel_set[...]`) and entity lists of addresses and domains
//! (`guardduty.trusted_entity_set[...]`, `guardduty.threat_entity_set[...]`). A set carries the
//! tags that say guardform made it for a list; a same-named set it did not make is left alone
//! unless the list says `adopt: true`. A list that moves between an IP list and an entity list
//! is a replacement: the new set is created, then the old one deleted.

use super::object;
use super::read::parse_location;
use super::sources::{ListContent, location};
use super::state::{IpListsState, ListSetState, RegionSets};
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::ip_lists::section::{ListKind, Storage};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string};
use crate::manifest::Manifest;

/// The trusted IP list type.
pub const IPSET: &str = "guardduty.ipset";
/// The threat IP list type.
pub const THREAT_INTEL_SET: &str = "guardduty.threat_intel_set";
/// The trusted entity list type.
pub const TRUSTED_ENTITY_SET: &str = "guardduty.trusted_entity_set";
/// The threat entity list type.
pub const THREAT_ENTITY_SET: &str = "guardduty.threat_entity_set";

/// Every set type.
pub const TYPES: [&str; 4] = [
    IPSET,
    THREAT_INTEL_SET,
    TRUSTED_ENTITY_SET,
    THREAT_ENTITY_SET,
];

/// The tag naming the manifest list a set belongs to.
pub const LIST_TAG_KEY: &str = "guardform:list";

/// The type of sets of `kind`.
pub fn type_of(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => IPSET,
        ListKind::Threat => THREAT_INTEL_SET,
        ListKind::TrustedEntities => TRUSTED_ENTITY_SET,
        ListKind::ThreatEntities => THREAT_ENTITY_SET,
    }
}

/// The list kind of a set type.
pub fn kind_of(set_type: &str) -> Option<ListKind> {
    ListKind::ALL.into_iter().find(|k| type_of(*k) == set_type)
}

/// The address of a list's set.
pub fn address(kind: &str, admin: &str, region: &str, name: &str) -> String {
    format!("{kind}[{admin}/{region}/{name}]")
}

/// True when guardform made `set` for the list `name`.
pub fn owns(set: &ListSetState, name: &str) -> bool {
    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
        && set.tags.get(LIST_TAG_KEY).map(String::as_str) == Some(name)
}

/// The content of the file a set guardform made for `list` points at now (empty if none).
pub fn owned_set_content(state: &IpListsState, list: &ListContent) -> String {
    state
        .regions
        .values()
        .flat_map(|r| r.of(list.kind).iter().chain(r.of(list.kind.counterpart())))
        .find(|set| owns(set, &list.name))
        .and_then(|set| parse_location(&set.location))
        .and_then(|(_, k)| state.contents.get(&k))
        .cloned()
        .unwrap_or_default()
}

/// The list's set in every targeted Region: created, brought to the manifest (new file,
/// reactivated, adopted), or a conflict when a same-named set is not guardform's.
pub fn plan(
    manifest: &Manifest,
    list: &ListContent,
    admin: &str,
    regions: &[String],
    state: &IpListsState,
    changes: &mut Vec<Change>,
    conflicts: &mut Vec<String>,
) {
    let section = super::section::of(manifest);
    let Some(storage) = &section.storage else {
        return;
    };
    let kind = type_of(list.kind);
    let location = location(&storage.bucket, &list.key(storage));
    let adopt = section.lists.iter().any(|l| l.name == list.name && l.adopt);
    let mut desired = Attributes::new();
    desired.insert("name".into(), string(list.name.clone()));
    desired.insert("format".into(), string(list.format.clone()));
    desired.insert("location".into(), string(location.clone()));
    desired.insert("status".into(), string("ACTIVE"));
    desired.insert("content_sha256".into(), string(list.sha256.clone()));
    if list.kind.is_entity() {
        // GuardDuty reads entity lists from S3 itself: it must refuse a bucket someone else
        // owns (the storage bucket is the administrator's).
        desired.insert("expected_bucket_owner".into(), string(admin));
    }
    desired.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    desired.insert(format!("tags.{LIST_TAG_KEY}"), string(list.name.clone()));
    let empty = RegionSets::default();
    for region in regions {
        let region_sets = state.regions.get(region).unwrap_or(&empty);
        let sets = region_sets.of(list.kind);
        let found = sets
            .iter()
            .find(|s| owns(s, &list.name))
            .or_else(|| sets.iter().find(|s| s.name == list.name));
        let moving = region_sets
            .of(list.kind.counterpart())
            .iter()
            .find(|s| owns(s, &list.name));
        match found {
            None if moving.is_some() => {
                let old = moving.expect("checked");
                changes.push(plan_move(list, admin, region, old, &desired));
            }
            None => {
                let mut c = change(
                    kind,
                    address(kind, admin, region, &list.name),
                    Action::Create,
                    Some(admin),
                    region,
                    format!("new {} list", list.kind.words()),
                );
                c.after = desired.clone().into();
                c.inputs.insert("list".into(), list.name.clone());
                changes.push(c);
            }
            Some(set) if !owns(set, &list.name) && !adopt => {
                conflicts.push(format!(
                    "IP list `{}`: {admin}/{region} already has a GuardDuty {} named `{}` that guardform does not own (id {}); guardform leaves it alone.\n  hint: set `adopt: true` on the list to take it over, or give the list another name",
                    list.name,
                    list.kind.set_name(),
                    set.name,
                    set.id
                ));
            }
            Some(set) => changes.extend(plan_existing(
                storage, list, admin, region, state, set, &desired, &location,
            )),
        }
    }
}

/// A list that moved between an IP list and an entity list in one Region: GuardDuty cannot
/// convert a set, so the new one is created and the old one deleted (after, so the Region is
/// never without the list).
fn plan_move(
    list: &ListContent,
    admin: &str,
    region: &str,
    old: &ListSetState,
    desired: &Attributes,
) -> Change {
    let kind = type_of(list.kind);
    let old_kind = list.kind.counterpart();
    let mut c = change(
        kind,
        address(kind, admin, region, &list.name),
        Action::Replace,
        Some(admin),
        region,
        format!(
            "list `{}` moves from {} to {}: GuardDuty cannot convert a set, so the new one is created and the old one ({}) deleted",
            list.name,
            old_kind.a_set(),
            list.kind.a_set(),
            old.id
        ),
    );
    c.before.insert("type".into(), string(type_of(old_kind)));
    c.before.insert("name".into(), string(old.name.clone()));
    c.before
        .insert("location".into(), string(old.location.clone()));
    c.after = desired.clone().into();
    c.after.insert("type".into(), string(kind));
    c.requires = Some("--allow-destroy".into());
    c.inputs.insert("list".into(), list.name.clone());
    c.inputs.insert("replaces_set_id".into(), old.id.clone());
    c.inputs
        .insert("replaces_kind".into(), old_kind.name().to_string());
    c
}

/// An existing set (guardform's, or one being adopted) that differs from the manifest.
#[expect(
    clippy::too_many_arguments,
    reason = "the set, where it is and what it should be: splitting them would only rename them"
)]
fn plan_existing(
    storage: &Storage,
    list: &ListContent,
    admin: &str,
    region: &str,
    state: &IpListsState,
    set: &ListSetState,
    desired: &Attributes,
    location: &str,
) -> Option<Change> {
    let kind = type_of(list.kind);
    let mut live = Attributes::new();
    live.insert("name".into(), string(set.name.clone()));
    live.insert("format".into(), string(set.format.clone()));
    live.insert("location".into(), string(set.location.clone()));
    live.insert("status".into(), string(set.status.clone()));
    let live_content = parse_location(&set.location)
        .and_then(|(bucket, key)| (storage.bucket == bucket).then_some(key))
        .and_then(|key| {
            state
                .storage
                .as_ref()
                .and_then(|s| s.objects.get(&key).cloned().flatten())
        });
    if let Some(sha) = live_content {
        live.insert("content_sha256".into(), string(sha));
    }
    if let Some(owner) = &set.expected_bucket_owner {
        live.insert("expected_bucket_owner".into(), string(owner.clone()));
    }
    for (k, v) in &set.tags {
        live.insert(format!("tags.{k}"), string(v.clone()));
    }
    let (before, after) = differing(desired, &live);
    if after.is_empty() {
        return None;
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
        address(kind, admin, region, &list.name),
        if replace {
            Action::Replace
        } else {
            Action::Update
        },
        Some(admin),
        region,
        reason,
    );
    c.before = before.into();
    c.after = after.into();
    c.inputs.insert("set_id".into(), set.id.clone());
    c.inputs.insert("list".into(), list.name.clone());
    c.inputs.insert("location".into(), location.to_string());
    c.inputs.insert("name".into(), list.name.clone());
    c.inputs.insert("format".into(), list.format.clone());
    if replace {
        c.requires = Some("--allow-destroy".into());
    }
    Some(c)
}

/// Sets guardform made for lists the manifest no longer has (deleted with `--allow-destroy`),
/// and GuardDuty's per-Region limits, counting the sets guardform does not own.
pub fn plan_removals(
    manifest: &Manifest,
    admin: &str,
    regions: &[String],
    state: &IpListsState,
    changes: &mut Vec<Change>,
    conflicts: &mut Vec<String>,
) {
    let lists = &state.lists;
    let adopted = |name: &str| {
        super::section::of(manifest)
            .lists
            .iter()
            .any(|s| s.name == name && s.adopt)
    };
    for region in regions {
        let Some(region_state) = state.regions.get(region) else {
            continue;
        };
        for list_kind in ListKind::ALL {
            let kind = type_of(list_kind);
            let limit = list_kind.max_sets();
            let wanted: Vec<&ListContent> = lists.iter().filter(|l| l.kind == list_kind).collect();
            let mut foreign = 0;
            for set in region_state.of(list_kind) {
                let managed_list = set.tags.get(LIST_TAG_KEY).filter(|_| {
                    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
                });
                let claimed = wanted
                    .iter()
                    .any(|l| owns(set, &l.name) || (set.name == l.name && adopted(&l.name)));
                match managed_list {
                    // The list moved to the other family: its replacement deletes this set
                    // once the new one exists (until then it is still the list).
                    Some(name)
                        if lists
                            .iter()
                            .any(|l| l.name == *name && l.kind == list_kind.counterpart())
                            && !region_state
                                .of(list_kind.counterpart())
                                .iter()
                                .any(|s| owns(s, name)) => {}
                    Some(name) if !lists.iter().any(|l| l.name == *name && l.kind == list_kind) => {
                        changes.push(removal(kind, admin, region, name, set));
                    }
                    _ if !claimed && !wanted.iter().any(|l| l.name == set.name) => foreign += 1,
                    _ => {}
                }
            }
            if foreign + wanted.len() > limit && !wanted.is_empty() {
                conflicts.push(format!(
                    "{admin}/{region}: GuardDuty allows {} per account and Region; {foreign} not managed by guardform already exist(s) and the manifest wants {} more.\n  hint: remove the other set(s), or adopt one with a list of the same name and `adopt: true`",
                    list_kind.describe_limit(),
                    wanted.len()
                ));
            }
        }
    }
}

/// The deletion of a set guardform made for list `name`, which the manifest no longer has.
fn removal(kind: &str, admin: &str, region: &str, name: &str, set: &ListSetState) -> Change {
    let mut c = change(
        kind,
        address(kind, admin, region, name),
        Action::Delete,
        Some(admin),
        region,
        format!("list `{name}` is no longer in the manifest"),
    );
    c.before.insert("name".into(), string(set.name.clone()));
    c.before
        .insert("location".into(), string(set.location.clone()));
    c.requires = Some("--allow-destroy".into());
    c.inputs.insert("set_id".into(), set.id.clone());
    c.inputs.insert("list".into(), name.to_string());
    c
}

/// The address of the file a set's change needs uploaded first (its list's object upload).
pub fn object_dependency(change: &Change, plan: &crate::engine::plan::Plan) -> Option<String> {
    let list = change.inputs.get("list")?;
    plan.changes
        .iter()
        .find(|c| {
            c.kind == object::TYPE
                && c.action != Action::Delete
                && c.inputs.get("list") == Some(list)
        })
        .map(|c| c.address.clone())
}

/// The changes of a list's sets, which its old files' removal waits for.
pub fn set_changes_of(list: &str, plan: &crate::engine::plan::Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| {
            TYPES.contains(&c.kind.as_str())
                && c.inputs.get("list").map(String::as_str) == Some(list)
        })
        .map(|c| c.address.clone())
        .collect()
}

/// Keys in the storage bucket that a set points at and will still point at after `changes`
/// (sets no planned change touches): those files must stay.
pub fn files_in_use(
    state: &IpListsState,
    storage: &Storage,
    admin: &str,
    changes: &[Change],
) -> std::collections::BTreeSet<String> {
    let mut in_use = std::collections::BTreeSet::new();
    for (region, sets) in &state.regions {
        for (list_kind, set) in sets.all() {
            let kind = type_of(list_kind);
            let list = set
                .tags
                .get(LIST_TAG_KEY)
                .filter(|_| {
                    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
                })
                .unwrap_or(&set.name);
            let moving = changes.iter().any(|c| {
                c.address == address(kind, admin, region, list)
                    || (c.region == *region && c.inputs.get("replaces_set_id") == Some(&set.id))
            });
            if let Some((bucket, key)) = parse_location(&set.location)
                && bucket == storage.bucket
                && !moving
            {
                in_use.insert(key);
            }
        }
    }
    in_use
}

/// One call of the four set APIs, which differ only in their names: `$call!(operation,
/// id setter, output id)` per kind.
macro_rules! by_kind {
    ($kind:expr, $call:ident) => {
        match $kind {
            ListKind::Trusted => $call!(
                create_ip_set,
                update_ip_set,
                delete_ip_set,
                get_ip_set,
                ip_set_id
            ),
            ListKind::Threat => $call!(
                create_threat_intel_set,
                update_threat_intel_set,
                delete_threat_intel_set,
                get_threat_intel_set,
                threat_intel_set_id
            ),
            ListKind::TrustedEntities => $call!(
                create_trusted_entity_set,
                update_trusted_entity_set,
                delete_trusted_entity_set,
                get_trusted_entity_set,
                trusted_entity_set_id
            ),
            ListKind::ThreatEntities => $call!(
                create_threat_entity_set,
                update_threat_entity_set,
                delete_threat_entity_set,
                get_threat_entity_set,
                threat_entity_set_id
            ),
        }
    };
}

/// The GuardDuty calls of one set, of any of the four kinds.
struct SetCalls<'a> {
    client: aws_sdk_guardduty::Client,
    detector_id: &'a str,
    kind: ListKind,
    address: &'a str,
    /// The bucket owner GuardDuty is told to expect (entity lists).
    expected_bucket_owner: Option<String>,
}

type Tags = std::collections::HashMap<String, String>;

impl SetCalls<'_> {
    fn context(&self, what: &str) -> String {
        format!("{what} {}", self.address)
    }

    /// Deletes the set; one already gone (another run deleted it) is not an error.
    async fn delete(&self, id: &str) -> Result<(), AwsError> {
        match self.delete_set(id).await {
            Err(error) if error.detail.contains("no such resource") => Ok(()),
            other => other,
        }
    }

    async fn delete_set(&self, id: &str) -> Result<(), AwsError> {
        macro_rules! call {
            ($create:ident, $update:ident, $delete:ident, $get:ident, $id:ident) => {
                self.client
                    .$delete()
                    .detector_id(self.detector_id)
                    .$id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::new(self.context("deleting"), e))
            };
        }
        by_kind!(self.kind, call)
    }

    /// Creates the set, activated and tagged as guardform's in the same call.
    async fn create(
        &self,
        name: &str,
        format: &str,
        location: &str,
        tags: Tags,
    ) -> Result<String, AwsError> {
        // The same change asks for the same set: a retried call cannot make two.
        let token = format!(
            "guardform-{}",
            &crate::manifest::sha256_hex(format!("{}{location}", self.address).as_bytes())[..32]
        );
        macro_rules! call {
            ($create:ident, $update:ident, $delete:ident, $get:ident, $id:ident) => {
                self.client
                    .$create()
                    .detector_id(self.detector_id)
                    .name(name)
                    .format(format.into())
                    .location(location)
                    .activate(true)
                    .client_token(token)
                    .set_expected_bucket_owner(self.expected_bucket_owner.clone())
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(|out| out.$id().map(str::to_string))
                    .map_err(|e| AwsError::new(self.context("creating"), e))
            };
        }
        Ok(by_kind!(self.kind, call)?.unwrap_or_default())
    }

    /// Points the set at `location` and activates it (which makes GuardDuty reload it).
    async fn update(&self, id: &str, name: &str, location: &str) -> Result<(), AwsError> {
        macro_rules! call {
            ($create:ident, $update:ident, $delete:ident, $get:ident, $id:ident) => {
                self.client
                    .$update()
                    .detector_id(self.detector_id)
                    .$id(id)
                    .name(name)
                    .location(location)
                    .activate(true)
                    .set_expected_bucket_owner(self.expected_bucket_owner.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| AwsError::new(self.context("updating"), e))
            };
        }
        by_kind!(self.kind, call)
    }

    async fn tag(&self, arn: String, tags: Tags) -> Result<(), AwsError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::new(self.context("tagging"), e))
    }

    async fn status(&self, id: &str) -> Result<String, AwsError> {
        macro_rules! call {
            ($create:ident, $update:ident, $delete:ident, $get:ident, $id:ident) => {
                self.client
                    .$get()
                    .detector_id(self.detector_id)
                    .$id(id)
                    .send()
                    .await
                    .map(|out| out.status().map(|s| s.as_str().to_string()))
                    .map_err(|e| AwsError::new(self.context("reading"), e))
            };
        }
        Ok(by_kind!(self.kind, call)?.unwrap_or_default())
    }

    /// Waits until the set is ACTIVE, at most `timeout`.
    async fn wait_active(
        &self,
        id: &str,
        location: &str,
        timeout: std::time::Duration,
    ) -> Result<(), AwsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.status(id).await?;
            match status.as_str() {
                "ACTIVE" => return Ok(()),
                "ERROR" => {
                    return Err(AwsError::message(
                        self.context("activating"),
                        format!(
                            "GuardDuty reports status ERROR: it could not read or parse {location} (is the object there, readable by GuardDuty, owned by the expected account, and within GuardDuty's limits?)"
                        ),
                    ));
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(AwsError::message(
                        self.context("activating"),
                        format!("still {status} after {} s", timeout.as_secs()),
                    ));
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
    }
}

/// The ARN segment of a set kind.
fn arn_segment(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => "ipset",
        ListKind::Threat => "threatintelset",
        ListKind::TrustedEntities => "trustedentityset",
        ListKind::ThreatEntities => "threatentityset",
    }
}

/// Creates, updates (re-activating, which makes GuardDuty reload the file) or deletes a set,
/// then waits until it is ACTIVE; a set that moved between an IP list and an entity list is
/// created anew, then the old one deleted.
pub async fn apply(
    aws: &Aws,
    admin: &str,
    list_timeout: std::time::Duration,
    change: &Change,
) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let detector_id = aws
        .required_detector_id(admin, region, &format!("writing {}", change.address))
        .await?;
    let kind = kind_of(&change.kind).unwrap_or(ListKind::Trusted);
    let calls = SetCalls {
        client: aws.guardduty(admin, region),
        detector_id: &detector_id,
        kind,
        address: &change.address,
        expected_bucket_owner: kind.is_entity().then(|| admin.to_string()),
    };
    let input = |key: &str| {
        change
            .inputs
            .get(key)
            .cloned()
            .or_else(|| {
                change
                    .after
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    let mut set_id = change.inputs.get("set_id").cloned();
    if matches!(change.action, Action::Delete | Action::Replace)
        && let Some(id) = set_id.take()
    {
        calls.delete(&id).await?;
        if change.action == Action::Delete {
            return Ok(());
        }
    }
    let tags: Tags = [
        (MANAGED_TAG_KEY.to_string(), MANAGED_TAG_VALUE.to_string()),
        (LIST_TAG_KEY.to_string(), input("list")),
    ]
    .into();
    let (name, location, format) = (input("name"), input("location"), input("format"));
    let id = match set_id {
        None => calls.create(&name, &format, &location, tags).await?,
        Some(id) => {
            calls.update(&id, &name, &location).await?;
            let arn = format!(
                "arn:aws:guardduty:{region}:{admin}:detector/{detector_id}/{}/{id}",
                arn_segment(kind)
            );
            calls.tag(arn, tags).await?;
            id
        }
    };
    calls.wait_active(&id, &location, list_timeout).await?;
    // A move between families: the old set goes only once the new one is active.
    if let (Some(old_id), Some(old_kind)) = (
        change.inputs.get("replaces_set_id"),
        change
            .inputs
            .get("replaces_kind")
            .and_then(|k| ListKind::ALL.into_iter().find(|l| l.name() == k)),
    ) {
        let old = SetCalls {
            kind: old_kind,
            expected_bucket_owner: None,
            ..calls
        };
        old.delete(old_id).await?;
    }
    Ok(())
}
