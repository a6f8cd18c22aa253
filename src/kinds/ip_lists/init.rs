//! `guardform init` for IP and entity lists: every set of the administrator, as a list whose
//! source is the file GuardDuty reads now, adopted (`adopt: true`) when guardform did not make
//! it, and the storage guardform keeps its own copies in.

use super::read::parse_location;
use super::sets::owns;
use super::state::IpListsState;
use crate::engine::InitEntry;
use crate::kinds::Context;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The `ip_lists` and `storage` entries (none when the administrator has no sets).
pub fn init(context: &Context, state: &IpListsState) -> Vec<InitEntry> {
    let admin = context.discovery.delegated_admin.as_str();
    // (kind, name) -> (location -> Regions), owned, format
    type Found = (BTreeMap<String, Vec<String>>, bool, String);
    let mut found: BTreeMap<(&'static str, String), Found> = BTreeMap::new();
    let mut storage: Option<String> = None;
    for (region, sets) in &state.regions {
        for (kind, set) in sets.all() {
            let owned = set
                .tags
                .get(super::sets::LIST_TAG_KEY)
                .is_some_and(|name| owns(set, name));
            let name = if owned {
                set.tags[super::sets::LIST_TAG_KEY].clone()
            } else {
                set.name.clone()
            };
            if owned
                && storage.is_none()
                && let Some((bucket, key)) = parse_location(&set.location)
                && let Some(prefix) = key.strip_suffix(
                    key.rsplit('/')
                        .next()
                        .map(|file| format!("/{name}/{file}"))
                        .unwrap_or_default()
                        .as_str(),
                )
            {
                storage = Some(format!("s3://{bucket}/{prefix}"));
            }
            let entry = found
                .entry((kind.name(), name))
                .or_insert_with(|| (BTreeMap::new(), owned, set.format.clone()));
            entry
                .0
                .entry(set.location.clone())
                .or_default()
                .push(region.clone());
        }
    }
    if found.is_empty() {
        return Vec::new();
    }
    let mut lists = Vec::new();
    let mut comments = vec![
        "Each list's source is the file GuardDuty reads now; guardform copies it into `storage`"
            .to_string(),
        "and points the set at its copy, so the first plan shows those copies and set updates."
            .to_string(),
    ];
    for ((kind, name), (locations, owned, format)) in found {
        // The location most Regions use.
        let Some((location, _)) = locations.iter().max_by_key(|(_, regions)| regions.len()) else {
            continue;
        };
        let Some((bucket, key)) = parse_location(location) else {
            comments.push(format!(
                "list `{name}`: GuardDuty reads it from {location}, which guardform cannot read; give it a source"
            ));
            continue;
        };
        if locations.len() > 1 {
            comments.push(format!(
                "list `{name}`: Regions read different files; the first plan gives every Region this one"
            ));
        }
        if owned {
            comments.push(format!(
                "list `{name}`: guardform made it; its source is guardform's own copy, so point it at where the list comes from"
            ));
        }
        let mut list = Map::new();
        list.insert("name".into(), json!(name));
        list.insert("kind".into(), json!(kind));
        list.insert(
            "source".into(),
            json!({"s3": format!("s3://{bucket}/{key}")}),
        );
        if format != "TXT" {
            list.insert("format".into(), json!(format));
        }
        if !owned {
            list.insert("adopt".into(), json!(true));
        }
        lists.push(Value::Object(list));
    }
    let mut storage_comments = Vec::new();
    let storage = storage.unwrap_or_else(|| {
        storage_comments.push(format!(
            "a bucket in {admin} for guardform's copies of the lists (the first plan creates it)"
        ));
        format!("s3://guardform-lists-{admin}/guardform")
    });
    vec![
        InitEntry {
            key: "ip_lists".into(),
            value: Value::Array(lists),
            comments,
        },
        InitEntry {
            key: "storage".into(),
            value: json!({"bucket": storage}),
            comments: storage_comments,
        },
    ]
}
