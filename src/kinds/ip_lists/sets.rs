//! `guardduty.ipset[ADMIN/REGION/LIST]` and `guardduty.threat_intel_set[ADMIN/REGION/LIST]`:
//! the administrator's trusted and threat lists in every targeted Region (lists apply to
//! members). A set carries the tags that say guardform made it for a list; a same-named set it
//! did not make is left alone unless the list says `adopt: true`.

use super::object;
use super::read::parse_location;
use super::sources::{ListContent, location};
use super::state::{IpListsState, ListSetState, RegionSets};
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::ip_lists::section::{ListKind, Storage};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string};
use crate::manifest::Manifest;

/// The trusted list type.
pub const IPSET: &str = "guardduty.ipset";
/// The threat list type.
pub const THREAT_INTEL_SET: &str = "guardduty.threat_intel_set";

/// The tag naming the manifest list a set belongs to.
pub const LIST_TAG_KEY: &str = "guardform:list";

/// The type of sets of `kind`.
pub fn type_of(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Trusted => IPSET,
        ListKind::Threat => THREAT_INTEL_SET,
    }
}

/// The address of a list's set.
pub fn address(kind: &str, admin: &str, region: &str, name: &str) -> String {
    format!("{kind}[{admin}/{region}/{name}]")
}

fn sets_of<'a>(state: &'a RegionSets, kind: &str) -> &'a [ListSetState] {
    if kind == IPSET {
        &state.ip_sets
    } else {
        &state.threat_intel_sets
    }
}

/// True when guardform made `set` for the list `name`.
pub fn owns(set: &ListSetState, name: &str) -> bool {
    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
        && set.tags.get(LIST_TAG_KEY).map(String::as_str) == Some(name)
}

/// The content of the file a set guardform made for `list` points at now (empty if none).
pub fn owned_set_content(state: &IpListsState, list: &ListContent) -> String {
    let kind = type_of(list.kind);
    state
        .regions
        .values()
        .flat_map(|r| sets_of(r, kind))
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
    desired.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
    desired.insert(format!("tags.{LIST_TAG_KEY}"), string(list.name.clone()));
    let empty = RegionSets::default();
    for region in regions {
        let sets = sets_of(state.regions.get(region).unwrap_or(&empty), kind);
        let found = sets
            .iter()
            .find(|s| owns(s, &list.name))
            .or_else(|| sets.iter().find(|s| s.name == list.name));
        match found {
            None => {
                let mut c = change(
                    kind,
                    address(kind, admin, region, &list.name),
                    Action::Create,
                    Some(admin),
                    region,
                    format!("new {} list", list.kind.name()),
                );
                c.after = desired.clone().into();
                c.inputs.insert("list".into(), list.name.clone());
                changes.push(c);
            }
            Some(set) if !owns(set, &list.name) && !adopt => {
                conflicts.push(format!(
                    "IP list `{}`: {admin}/{region} already has a GuardDuty {} named `{}` that guardform does not own (id {}); guardform leaves it alone.\n  hint: set `adopt: true` on the list to take it over, or give the list another name",
                    list.name,
                    if kind == IPSET { "IPSet" } else { "ThreatIntelSet" },
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
    for region in regions {
        let Some(region_state) = state.regions.get(region) else {
            continue;
        };
        for (kind, limit, list_kind) in [
            (IPSET, 1, ListKind::Trusted),
            (THREAT_INTEL_SET, 6, ListKind::Threat),
        ] {
            let wanted: Vec<&ListContent> = lists.iter().filter(|l| l.kind == list_kind).collect();
            let mut foreign = 0;
            for set in sets_of(region_state, kind) {
                let managed_list = set.tags.get(LIST_TAG_KEY).filter(|_| {
                    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
                });
                let claimed = wanted.iter().any(|l| {
                    owns(set, &l.name)
                        || (set.name == l.name
                            && super::section::of(manifest)
                                .lists
                                .iter()
                                .any(|s| s.name == l.name && s.adopt))
                });
                match managed_list {
                    Some(name) if !lists.iter().any(|l| l.name == *name && l.kind == list_kind) => {
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
                        c.inputs.insert("list".into(), name.clone());
                        changes.push(c);
                    }
                    _ if !claimed && !wanted.iter().any(|l| l.name == set.name) => foreign += 1,
                    _ => {}
                }
            }
            if foreign + wanted.len() > limit && !wanted.is_empty() {
                conflicts.push(format!(
                    "{admin}/{region}: GuardDuty allows {limit} {} per account and Region; {foreign} not managed by guardform already exist(s) and the manifest wants {} more.\n  hint: remove the other set(s), or adopt one with a list of the same name and `adopt: true`",
                    if kind == IPSET { "trusted IP list (IPSet)" } else { "threat lists (ThreatIntelSets)" },
                    wanted.len()
                ));
            }
        }
    }
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
            (c.kind == IPSET || c.kind == THREAT_INTEL_SET)
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
        for (kind, set) in sets
            .ip_sets
            .iter()
            .map(|s| (IPSET, s))
            .chain(sets.threat_intel_sets.iter().map(|s| (THREAT_INTEL_SET, s)))
        {
            let list = set
                .tags
                .get(LIST_TAG_KEY)
                .filter(|_| {
                    set.tags.get(MANAGED_TAG_KEY).map(String::as_str) == Some(MANAGED_TAG_VALUE)
                })
                .unwrap_or(&set.name);
            let moving = changes
                .iter()
                .any(|c| c.address == address(kind, admin, region, list));
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

/// Creates, updates (re-activating, which makes GuardDuty reload the file) or deletes an
/// The GuardDuty calls of one set, trusted (IPSet) or threat (ThreatIntelSet).
struct SetCalls<'a> {
    client: aws_sdk_guardduty::Client,
    detector_id: &'a str,
    trusted: bool,
    address: &'a str,
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
        if self.trusted {
            self.client
                .delete_ip_set()
                .detector_id(self.detector_id)
                .ip_set_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::new(self.context("deleting"), e))
        } else {
            self.client
                .delete_threat_intel_set()
                .detector_id(self.detector_id)
                .threat_intel_set_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::new(self.context("deleting"), e))
        }
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
        let id = if self.trusted {
            self.client
                .create_ip_set()
                .detector_id(self.detector_id)
                .name(name)
                .format(format.into())
                .location(location)
                .activate(true)
                .client_token(token)
                .set_tags(Some(tags))
                .send()
                .await
                .map(|out| out.ip_set_id().map(str::to_string))
                .map_err(|e| AwsError::new(self.context("creating"), e))
        } else {
            self.client
                .create_threat_intel_set()
                .detector_id(self.detector_id)
                .name(name)
                .format(format.into())
                .location(location)
                .activate(true)
                .client_token(token)
                .set_tags(Some(tags))
                .send()
                .await
                .map(|out| out.threat_intel_set_id().map(str::to_string))
                .map_err(|e| AwsError::new(self.context("creating"), e))
        };
        Ok(id?.unwrap_or_default())
    }

    /// Points the set at `location` and activates it (which makes GuardDuty reload it).
    async fn update(&self, id: &str, name: &str, location: &str) -> Result<(), AwsError> {
        if self.trusted {
            self.client
                .update_ip_set()
                .detector_id(self.detector_id)
                .ip_set_id(id)
                .name(name)
                .location(location)
                .activate(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::new(self.context("updating"), e))
        } else {
            self.client
                .update_threat_intel_set()
                .detector_id(self.detector_id)
                .threat_intel_set_id(id)
                .name(name)
                .location(location)
                .activate(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::new(self.context("updating"), e))
        }
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
        let status = if self.trusted {
            self.client
                .get_ip_set()
                .detector_id(self.detector_id)
                .ip_set_id(id)
                .send()
                .await
                .map(|out| out.status().map(|s| s.as_str().to_string()))
                .map_err(|e| AwsError::new(self.context("reading"), e))
        } else {
            self.client
                .get_threat_intel_set()
                .detector_id(self.detector_id)
                .threat_intel_set_id(id)
                .send()
                .await
                .map(|out| out.status().map(|s| s.as_str().to_string()))
                .map_err(|e| AwsError::new(self.context("reading"), e))
        };
        Ok(status?.unwrap_or_default())
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
                            "GuardDuty reports status ERROR: it could not read or parse {location} (is the object there, readable by GuardDuty, and within GuardDuty's limits?)"
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

/// Creates, updates (re-activating, which makes GuardDuty reload the file) or deletes an
/// IPSet or ThreatIntelSet, then waits until it is ACTIVE.
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
    let calls = SetCalls {
        client: aws.guardduty(admin, region),
        detector_id: &detector_id,
        trusted: change.kind == IPSET,
        address: &change.address,
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
            let kind = if calls.trusted {
                "ipset"
            } else {
                "threatintelset"
            };
            let arn =
                format!("arn:aws:guardduty:{region}:{admin}:detector/{detector_id}/{kind}/{id}");
            calls.tag(arn, tags).await?;
            id
        }
    };
    calls.wait_active(&id, &location, list_timeout).await
}
