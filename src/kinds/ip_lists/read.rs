//! Reads the IP list kinds' state: every list's source, the administrator's sets in every
//! Region where it has a detector, and the list bucket with the files that matter.

use super::sources;
use super::state::{IpListsState, ListSetState, RegionSets, StorageState};
use crate::cloud::aws::Aws;
use crate::cloud::aws::AwsError;
use crate::engine::ReadError;
use crate::kinds::Context;
use crate::kinds::ip_lists::section::Storage;
use crate::manifest::sha256_hex;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::BTreeMap;

/// Reads everything the IP list kinds plan from.
pub async fn read(context: &Context) -> Result<IpListsState, ReadError> {
    let (aws, admin) = (
        context.aws.as_ref(),
        context.discovery.delegated_admin.as_str(),
    );
    let section = super::section::of(&context.manifest);
    let mut state = IpListsState::default();
    if !section.lists.is_empty() {
        state.lists = sources::resolve(&section.lists, &context.manifest_dir, aws, admin).await?;
    }
    state.regions = crate::kinds::each_region(context, |region| async move {
        let Some(detector_id) = aws.detector_id(admin, region).await? else {
            return Ok(RegionSets::default());
        };
        let client = aws.guardduty(admin, region);
        read_list_sets(&client, &detector_id, &format!("{admin}/{region}")).await
    })
    .await?;
    state.storage_location = section
        .storage
        .clone()
        .or_else(|| storage_of_owned_sets(&state));
    if let Some(storage) = state.storage_location.clone() {
        state.bucket_region = storage.region.clone().unwrap_or_else(|| aws.home_region());
        observe_list_storage(aws, &mut state, admin, &storage).await?;
    }
    Ok(state)
}

macro_rules! read_sets {
    ($client:expr, $detector:expr, $context:expr, $list:ident, $get:ident, $ids:ident, $id:ident, $what:literal) => {{
        let mut sets = Vec::new();
        let mut pages = $client
            .$list()
            .detector_id($detector)
            .max_results(50)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new(format!("listing {} in {}", $what, $context), e))?;
            for id in page.$ids() {
                let set = $client
                    .$get()
                    .detector_id($detector)
                    .$id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::new(format!("reading {} {id} in {}", $what, $context), e)
                    })?;
                sets.push(ListSetState {
                    id: id.clone(),
                    name: set.name().unwrap_or_default().to_string(),
                    format: set
                        .format()
                        .map(|f| f.as_str().to_string())
                        .unwrap_or_default(),
                    location: set.location().unwrap_or_default().to_string(),
                    status: set
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    tags: set
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    expected_bucket_owner: set.expected_bucket_owner().map(str::to_string),
                });
            }
        }
        sets.sort_by(|a: &ListSetState, b: &ListSetState| a.name.cmp(&b.name));
        sets
    }};
}

/// Reads the administrator's IPSets, ThreatIntelSets, TrustedEntitySets and ThreatEntitySets.
async fn read_list_sets(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    context: &str,
) -> Result<RegionSets, AwsError> {
    let ip_sets = async {
        Ok::<_, AwsError>(read_sets!(
            client,
            detector_id,
            context,
            list_ip_sets,
            get_ip_set,
            ip_set_ids,
            ip_set_id,
            "IP sets"
        ))
    };
    let threat_intel_sets = async {
        Ok::<_, AwsError>(read_sets!(
            client,
            detector_id,
            context,
            list_threat_intel_sets,
            get_threat_intel_set,
            threat_intel_set_ids,
            threat_intel_set_id,
            "threat intel sets"
        ))
    };
    let trusted_entity_sets = async {
        Ok::<_, AwsError>(read_sets!(
            client,
            detector_id,
            context,
            list_trusted_entity_sets,
            get_trusted_entity_set,
            trusted_entity_set_ids,
            trusted_entity_set_id,
            "trusted entity sets"
        ))
    };
    let threat_entity_sets = async {
        Ok::<_, AwsError>(read_sets!(
            client,
            detector_id,
            context,
            list_threat_entity_sets,
            get_threat_entity_set,
            threat_entity_set_ids,
            threat_entity_set_id,
            "threat entity sets"
        ))
    };
    // The four kinds are read concurrently.
    let (ip_sets, threat_intel_sets, trusted_entity_sets, threat_entity_sets) = tokio::try_join!(
        ip_sets,
        threat_intel_sets,
        trusted_entity_sets,
        threat_entity_sets
    )?;
    Ok(RegionSets {
        ip_sets,
        threat_intel_sets,
        trusted_entity_sets,
        threat_entity_sets,
    })
}

/// The bucket and key of a GuardDuty list location in one of the S3 URL forms.
pub fn parse_location(location: &str) -> Option<(String, String)> {
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/')?;
        return Some((bucket.to_string(), key.to_string()));
    }
    let rest = location.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    if host == "s3.amazonaws.com" || (host.starts_with("s3.") && host.ends_with(".amazonaws.com")) {
        let (bucket, key) = path.split_once('/')?;
        return Some((bucket.to_string(), key.to_string()));
    }
    let (bucket, _) = host.split_once(".s3")?;
    Some((bucket.to_string(), path.to_string()))
}

/// Reads the storage bucket's settings and the content of `keys` (missing ones are `None`).
pub async fn observe_storage(
    aws: &Aws,
    account: &str,
    region: &str,
    bucket: &str,
    keys: &[String],
) -> Result<(StorageState, BTreeMap<String, String>), AwsError> {
    let s3 = aws.s3(account, region);
    let mut state = StorageState::default();
    let mut contents = BTreeMap::new();
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => state.bucket_exists = true,
        Err(error) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            if status != Some(404) {
                return Err(crate::cloud::s3::head_bucket_error(bucket, account, error));
            }
        }
    }
    if !state.bucket_exists {
        for key in keys {
            state.objects.insert(key.clone(), None);
        }
        return Ok((state, contents));
    }
    // "Not configured" is an answer; any other error (access denied, throttling that outlasted
    // the retries) is not, and must not read as drift.
    let not_configured = |code: Option<&str>, expected: &str| code == Some(expected);
    state.public_access_blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(output) => output.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(error) if not_configured(error.code(), "NoSuchPublicAccessBlockConfiguration") => false,
        Err(error) => {
            return Err(AwsError::new(
                format!("reading the public access block of bucket {bucket} as {account}"),
                error,
            ));
        }
    };
    state.encrypted = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(output) => output
            .server_side_encryption_configuration()
            .is_some_and(|c| !c.rules().is_empty()),
        Err(error)
            if not_configured(
                error.code(),
                "ServerSideEncryptionConfigurationNotFoundError",
            ) =>
        {
            false
        }
        Err(error) => {
            return Err(AwsError::new(
                format!("reading the encryption of bucket {bucket} as {account}"),
                error,
            ));
        }
    };
    for key in keys {
        match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| {
                        AwsError::message(format!("reading s3://{bucket}/{key}"), e.to_string())
                    })?
                    .into_bytes();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                state
                    .objects
                    .insert(key.clone(), Some(sha256_hex(text.as_bytes())));
                contents.insert(key.clone(), text);
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                state.objects.insert(key.clone(), None);
            }
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading s3://{bucket}/{key} as {account}"),
                    error,
                ));
            }
        }
    }
    Ok((state, contents))
}

/// Where the files of guardform's sets are (`<prefix>/<list folder>/<file>`), for a manifest
/// that no longer says: its list files must still be found and removed.
fn storage_of_owned_sets(state: &IpListsState) -> Option<Storage> {
    let owned = state
        .regions
        .values()
        .flat_map(|r| r.all().map(|(_, set)| set))
        .filter(|set| {
            set.tags
                .get(crate::kinds::MANAGED_TAG_KEY)
                .map(String::as_str)
                == Some(crate::kinds::MANAGED_TAG_VALUE)
                && set.tags.contains_key(super::sets::LIST_TAG_KEY)
        });
    owned
        .filter_map(|set| parse_location(&set.location))
        .find_map(|(bucket, key)| {
            let folder = key.rsplit_once('/')?.0;
            let prefix = folder.rsplit_once('/').map(|(p, _)| p).unwrap_or_default();
            Some(Storage {
                bucket,
                prefix: prefix.to_string(),
                region: None,
            })
        })
}

/// Every object under the storage prefix.
async fn list_files(
    aws: &Aws,
    admin: &str,
    region: &str,
    storage: &Storage,
) -> Result<Vec<String>, AwsError> {
    let prefix = if storage.prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", storage.prefix)
    };
    let mut files = Vec::new();
    let mut pages = aws
        .s3(admin, region)
        .list_objects_v2()
        .bucket(&storage.bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                format!("listing s3://{}/{prefix} as {admin}", storage.bucket),
                e,
            )
        })?;
        files.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    files.sort();
    Ok(files)
}

/// Reads the list storage for the manifest's lists: the bucket, the objects the lists would be
/// uploaded to, and the objects guardform-managed sets point at now.
async fn observe_list_storage(
    aws: &Aws,
    observed: &mut IpListsState,
    admin: &str,
    storage: &Storage,
) -> Result<(), AwsError> {
    let mut keys: Vec<String> = observed.lists.iter().map(|l| l.key(storage)).collect();
    for state in observed.regions.values() {
        for (_, set) in state.all() {
            if let Some((bucket, key)) = parse_location(&set.location)
                && bucket == storage.bucket
            {
                keys.push(key);
            }
        }
    }
    keys.sort();
    keys.dedup();
    let region = observed.bucket_region.clone();
    let (mut state, contents) =
        observe_storage(aws, admin, &region, &storage.bucket, &keys).await?;
    if state.bucket_exists {
        state.files = list_files(aws, admin, &region, storage).await?;
    }
    observed.storage = Some(state);
    observed.contents = contents;
    observed.sources = observed
        .lists
        .iter()
        .map(|l| (l.name.clone(), l.sha256.clone()))
        .collect();
    Ok(())
}
