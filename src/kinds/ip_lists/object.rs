//! `s3.object[BUCKET/KEY]`: one IP list file, content-addressed (new content, new key). Old
//! versions are pruned after a successful apply, keeping each list's last two.

use super::sets;
use super::sources::ListContent;
use super::state::IpListsState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Action, Change, ContentDiff, Plan};
use crate::kinds::ip_lists::section::Storage;
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, string};
use std::collections::BTreeMap;

/// The type name.
pub const TYPE: &str = "s3.object";

/// The address of `key` in `bucket`.
pub fn address(bucket: &str, key: &str) -> String {
    format!("{TYPE}[{bucket}/{key}]")
}

/// The list's file: uploaded when missing, uploaded again when edited in place.
pub fn plan(
    list: &ListContent,
    storage: &Storage,
    admin: &str,
    state: &IpListsState,
) -> Option<Change> {
    let key = list.key(storage);
    let live_sha = state
        .storage
        .as_ref()
        .and_then(|s| s.objects.get(&key).cloned().flatten());
    if live_sha.as_deref() == Some(list.sha256.as_str()) {
        return None;
    }
    let previous = sets::owned_set_content(state, list);
    let action = if live_sha.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let reason = match &live_sha {
        Some(_) => "the object was changed outside guardform: upload the list again".to_string(),
        None if previous.is_empty() => format!("new list from {}", list.origin),
        None => format!("new content from {}", list.origin),
    };
    let mut c = change(
        TYPE,
        address(&storage.bucket, &key),
        action,
        Some(admin),
        &state.bucket_region,
        reason,
    );
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
        let edited = state.contents.get(&key).cloned().unwrap_or_default();
        ContentDiff::between(&edited, &list.text)
    } else {
        ContentDiff::between(&previous, &list.text)
    };
    c.content = Some(diff);
    Some(c)
}

/// Uploads the list's file (encrypted, tagged as guardform's).
pub async fn apply(
    aws: &Aws,
    admin: &str,
    state: &IpListsState,
    storage: Option<&Storage>,
    change: &Change,
) -> Result<(), AwsError> {
    let (bucket, key) = (
        change.inputs.get("bucket").cloned().unwrap_or_default(),
        change.inputs.get("key").cloned().unwrap_or_default(),
    );
    let text = storage.and_then(|storage| state.lists.iter().find(|l| l.key(storage) == key));
    let Some(list) = text else {
        return Err(AwsError::message(
            change.address.clone(),
            "the list's content is not at hand (plan again)",
        ));
    };
    aws.s3(admin, &change.region)
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .content_type("text/plain")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .tagging(format!("{MANAGED_TAG_KEY}={MANAGED_TAG_VALUE}"))
        .body(aws_sdk_s3::primitives::ByteStream::from(
            list.text.clone().into_bytes(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::new(format!("uploading s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// After the apply, removes list files older than the last two versions of each list whose
/// upload and sets all succeeded. Returns how many objects were removed.
pub async fn prune(
    aws: &Aws,
    admin: &str,
    plan: &Plan,
    outcomes: &BTreeMap<String, Outcome>,
) -> Result<usize, AwsError> {
    let mut removed = 0;
    for change in plan.changes.iter().filter(|c| c.kind == TYPE) {
        let list = change.inputs.get("list").cloned().unwrap_or_default();
        let all_ok = plan
            .changes
            .iter()
            .filter(|c| c.inputs.get("list") == Some(&list))
            .all(|c| outcomes.get(&c.address).is_some_and(Outcome::succeeded));
        if !all_ok {
            continue;
        }
        let (bucket, folder) = (
            change.inputs.get("bucket").cloned().unwrap_or_default(),
            change.inputs.get("folder").cloned().unwrap_or_default(),
        );
        let s3 = aws.s3(admin, &change.region);
        let mut objects = Vec::new();
        let mut pages = s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&folder)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new(format!("listing s3://{bucket}/{folder}"), e))?;
            for object in page.contents() {
                if let (Some(key), Some(modified)) = (object.key(), object.last_modified()) {
                    objects.push((*modified, key.to_string()));
                }
            }
        }
        objects.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let current = change.inputs.get("key").cloned().unwrap_or_default();
        let keep: Vec<String> = std::iter::once(current.clone())
            .chain(
                objects
                    .iter()
                    .map(|(_, k)| k.clone())
                    .filter(|k| *k != current)
                    .take(1),
            )
            .collect();
        for (_, key) in objects.iter().filter(|(_, k)| !keep.contains(k)) {
            s3.delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(format!("removing old list file s3://{bucket}/{key}"), e)
                })?;
            removed += 1;
        }
    }
    Ok(removed)
}
