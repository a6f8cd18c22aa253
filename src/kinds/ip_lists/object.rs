//! `s3.object[BUCKET/KEY]`: one IP list file, content-addressed (new content, new key). Files
//! under the storage prefix are guardform's, found by listing it: an old version goes once no
//! set points at it any more, and a removed list's files go with its sets.

use super::sets;
use super::sources::ListContent;
use super::state::IpListsState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change, ContentDiff};
use crate::kinds::ip_lists::section::Storage;
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, string};

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

/// True for a file name guardform gives a list version: 16 hex digits and an extension.
fn is_list_file(file: &str) -> bool {
    file.split_once('.').is_some_and(|(hash, extension)| {
        hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) && !extension.is_empty()
    })
}

/// List files to remove: versions a list no longer uses (once its sets point at the current
/// one), and every file of a list the manifest no longer has (with `--allow-destroy`). A file
/// a set still points at, and that no planned change moves it from, is kept.
pub fn plan_removals(
    storage: &Storage,
    admin: &str,
    state: &IpListsState,
    changes: &mut Vec<Change>,
) {
    let Some(live) = &state.storage else {
        return;
    };
    let prefix = if storage.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", storage.prefix)
    };
    let wanted: Vec<(String, &ListContent)> =
        state.lists.iter().map(|l| (l.key(storage), l)).collect();
    let pointed_at = sets::files_in_use(state, storage, admin, changes);
    let mut removals = Vec::new();
    for key in &live.files {
        let Some((folder, file)) = key
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        if !is_list_file(file) || file.contains('/') || pointed_at.contains(key) {
            continue;
        }
        let list = super::sources::name_of_folder(folder);
        let current = wanted.iter().find(|(_, l)| l.name == list);
        if current.is_some_and(|(wanted_key, _)| wanted_key == key) {
            continue;
        }
        let mut c = change(
            TYPE,
            address(&storage.bucket, key),
            Action::Delete,
            Some(admin),
            &state.bucket_region,
            match current {
                Some(_) => format!("an earlier version of list `{list}`, no longer used"),
                None => format!("list `{list}` is no longer in the manifest"),
            },
        );
        if current.is_none() {
            c.requires = Some("--allow-destroy".into());
        }
        c.inputs.insert("bucket".into(), storage.bucket.clone());
        c.inputs.insert("key".into(), key.clone());
        c.inputs.insert("list".into(), list);
        removals.push(c);
    }
    changes.extend(removals);
}

/// Deletes a list file.
pub async fn delete(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let (bucket, key) = (
        change.inputs.get("bucket").cloned().unwrap_or_default(),
        change.inputs.get("key").cloned().unwrap_or_default(),
    );
    aws.s3(admin, &change.region)
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("deleting s3://{bucket}/{key}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ip_lists::section::ListKind;
    use crate::kinds::ip_lists::state::{ListSetState, RegionSets, StorageState};

    fn list(name: &str, text: &str) -> ListContent {
        ListContent {
            name: name.into(),
            kind: ListKind::Trusted,
            format: "TXT".into(),
            origin: "inline".into(),
            text: text.into(),
            sha256: crate::manifest::sha256_hex(text.as_bytes()),
            notes: vec![],
        }
    }

    fn set(name: &str, key: &str, owned: bool) -> ListSetState {
        let mut tags = std::collections::BTreeMap::new();
        if owned {
            tags.insert("guardform:managed".to_string(), "true".to_string());
            tags.insert("guardform:list".to_string(), name.to_string());
        }
        ListSetState {
            id: format!("id-{name}"),
            name: name.into(),
            format: "TXT".into(),
            location: crate::kinds::ip_lists::sources::location("b", key),
            status: "ACTIVE".into(),
            tags,
            expected_bucket_owner: None,
        }
    }

    #[test]
    fn old_versions_go_once_unused_and_removed_lists_need_the_flag() {
        let storage = Storage {
            bucket: "b".into(),
            prefix: "gf".into(),
            region: None,
        };
        let office = list("office", "203.0.113.9\n");
        let current = office.key(&storage);
        let old = "gf/office/0123456789abcdef.txt".to_string();
        let older = "gf/office/fedcba9876543210.txt".to_string();
        let gone = "gf/old_20feed/aaaaaaaaaaaaaaaa.txt".to_string();
        let foreign = "gf/theirs/bbbbbbbbbbbbbbbb.txt".to_string();
        let mut state = IpListsState {
            bucket_region: "us-east-1".into(),
            lists: vec![office],
            storage: Some(StorageState {
                bucket_exists: true,
                public_access_blocked: true,
                encrypted: true,
                objects: Default::default(),
                files: vec![
                    current.clone(),
                    old.clone(),
                    older.clone(),
                    gone.clone(),
                    foreign.clone(),
                    "gf/README".into(),
                ],
            }),
            ..Default::default()
        };
        // The office set still points at `old` (an update is planned); a set guardform does
        // not own points at `foreign`.
        state.regions.insert(
            "eu-west-1".into(),
            RegionSets {
                ip_sets: vec![set("office", &old, true)],
                threat_intel_sets: vec![set("theirs", &foreign, false)],
                ..RegionSets::default()
            },
        );
        let mut changes = vec![change(
            sets::IPSET,
            sets::address(sets::IPSET, "222222222222", "eu-west-1", "office"),
            Action::Update,
            Some("222222222222"),
            "eu-west-1",
            "point the set at the new list file and reload it",
        )];
        plan_removals(&storage, "222222222222", &state, &mut changes);
        let removed: Vec<(&str, Option<&str>)> = changes[1..]
            .iter()
            .map(|c| (c.inputs["key"].as_str(), c.requires.as_deref()))
            .collect();
        assert_eq!(
            removed,
            vec![
                (old.as_str(), None),
                (older.as_str(), None),
                (gone.as_str(), Some("--allow-destroy")),
            ],
            "the current file and the one a foreign set uses stay; files not shaped like guardform's are not touched"
        );
        assert_eq!(changes[3].inputs["list"], "old feed");

        // Without the planned set update, the file the set uses stays.
        let mut unchanged = Vec::new();
        plan_removals(&storage, "222222222222", &state, &mut unchanged);
        assert!(unchanged.iter().all(|c| c.inputs["key"] != old));
    }
}
