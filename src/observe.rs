//! Reads live GuardDuty state per Region through the administrator's batch APIs, so a no-op plan
//! costs a few calls per Region plus two per 50 member accounts.

use crate::aws::{Aws, AwsError};
use crate::discover::Discovery;
use crate::manifest::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// A feature's status and its additional configurations (`ENABLED` / `DISABLED` for detectors,
/// `NEW` / `ALL` / `NONE` for the organization configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeatureState {
    pub status: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional: BTreeMap<String, String>,
}

/// The administrator's detector in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectorState {
    pub id: String,
    pub status: String,
    pub finding_publishing_frequency: String,
    pub features: BTreeMap<String, FeatureState>,
    pub tags: BTreeMap<String, String>,
}

/// The organization configuration in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgConfigState {
    pub auto_enable_organization_members: String,
    pub features: BTreeMap<String, FeatureState>,
}

/// A member account of the administrator in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberState {
    pub relationship_status: String,
    pub administrator_id: String,
    /// The member detector's features; `None` when not read (not targeted, or unprocessed).
    pub features: Option<BTreeMap<String, FeatureState>>,
    /// Why the features could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A trusted (IPSet) or threat (ThreatIntelSet) list of the administrator in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSetState {
    pub id: String,
    pub name: String,
    pub format: String,
    pub location: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
}

/// Everything observed in one Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegionState {
    /// Delegated administrators of the organization in this Region, with their status.
    pub admin_accounts: BTreeMap<String, String>,
    pub detector: Option<DetectorState>,
    pub org_config: Option<OrgConfigState>,
    pub members: BTreeMap<String, MemberState>,
    /// Whether the management account has a detector of its own; read only when it is targeted
    /// but not yet a member (GuardDuty refuses to add it as a member before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_has_detector: Option<bool>,
    /// The administrator's IPSets (GuardDuty allows one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_sets: Vec<ListSetState>,
    /// The administrator's ThreatIntelSets (at most six).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threat_intel_sets: Vec<ListSetState>,
    /// Response wiring (rules, targets, functions, queues) in the administrator account.
    #[serde(default)]
    pub responses: crate::responses::ResponsesState,
}

/// The list storage bucket and the list objects guardform cares about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StorageState {
    pub bucket_exists: bool,
    pub public_access_blocked: bool,
    pub encrypted: bool,
    /// SHA-256 of the content of each object read (desired keys and live sets' locations),
    /// `None` where the object does not exist.
    pub objects: BTreeMap<String, Option<String>>,
}

/// Live state of every targeted Region.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observed {
    pub regions: BTreeMap<String, RegionState>,
    /// Present when the manifest has IP lists or guardform-managed sets exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageState>,
    /// SHA-256 of each IP list's content as its source gives it now (sources are part of the
    /// world a saved plan was built from).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// guardform's IAM roles in the administrator account (IAM is global).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, crate::responses::RoleState>,
    /// Code SHA-256 of each response's bundle now (bundles are part of the world a saved plan
    /// was built from).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bundles: BTreeMap<String, String>,
    /// Notes on what could not be read and did not matter.
    #[serde(skip)]
    pub notes: Vec<String>,
    /// Text of the objects read, by key (not fingerprinted: their SHA-256 is).
    #[serde(skip)]
    pub contents: BTreeMap<String, String>,
}

/// The fingerprint a saved plan keeps: the SHA-256 of what discovery and observation saw.
pub fn fingerprint(discovery: &Discovery, observed: &Observed) -> String {
    let text = serde_json::to_string(&(discovery, observed)).unwrap_or_default();
    format!("sha256:{}", sha256_hex(text.as_bytes()))
}

fn feature_map<'a>(
    items: impl Iterator<Item = (&'a str, &'a str, Vec<(&'a str, &'a str)>)>,
) -> BTreeMap<String, FeatureState> {
    items
        .map(|(name, status, additional)| {
            (
                name.to_string(),
                FeatureState {
                    status: status.to_string(),
                    additional: additional
                        .into_iter()
                        .map(|(n, s)| (n.to_string(), s.to_string()))
                        .collect(),
                },
            )
        })
        .collect()
}

/// Reads the member detectors' features of a detector, in batches of 50.
pub async fn member_features(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    accounts: &[String],
    context: &str,
) -> Result<BTreeMap<String, Result<BTreeMap<String, FeatureState>, String>>, AwsError> {
    let mut found = BTreeMap::new();
    for batch in accounts.chunks(50) {
        let output = client
            .get_member_detectors()
            .detector_id(detector_id)
            .set_account_ids(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::new(format!("reading member detectors in {context}"), e))?;
        for member in output.member_data_source_configurations() {
            let features = feature_map(member.features().iter().filter_map(|f| {
                Some((
                    f.name()?.as_str(),
                    f.status()?.as_str(),
                    f.additional_configuration()
                        .iter()
                        .filter_map(|a| Some((a.name()?.as_str(), a.status()?.as_str())))
                        .collect(),
                ))
            }));
            found.insert(
                member.account_id().unwrap_or_default().to_string(),
                Ok(features),
            );
        }
        for unprocessed in output.unprocessed_accounts() {
            found.insert(
                unprocessed.account_id().unwrap_or_default().to_string(),
                Err(unprocessed.result().unwrap_or_default().to_string()),
            );
        }
    }
    Ok(found)
}

/// GuardDuty adds the management account as a member only once it runs GuardDuty itself: when
/// it is targeted and not yet a member, read whether it has a detector.
async fn read_management_detector(
    aws: &Aws,
    discovery: &Discovery,
    region: &str,
    state: &mut RegionState,
) -> Result<(), AwsError> {
    let management = &discovery.organization.management_account;
    let member = state
        .members
        .get(management)
        .is_some_and(|m| m.relationship_status == "Enabled");
    if !discovery.members.contains(management) || member {
        return Ok(());
    }
    let detectors = aws
        .guardduty(management, region)
        .list_detectors()
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!("listing detectors in the management account {management}/{region}"),
                e,
            )
        })?;
    state.management_has_detector = Some(!detectors.detector_ids().is_empty());
    Ok(())
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
                });
            }
        }
        sets.sort_by(|a: &ListSetState, b: &ListSetState| a.name.cmp(&b.name));
        sets
    }};
}

/// Reads the administrator's IPSets and ThreatIntelSets.
async fn read_list_sets(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    context: &str,
    state: &mut RegionState,
) -> Result<(), AwsError> {
    state.ip_sets = read_sets!(
        client,
        detector_id,
        context,
        list_ip_sets,
        get_ip_set,
        ip_set_ids,
        ip_set_id,
        "IP sets"
    );
    state.threat_intel_sets = read_sets!(
        client,
        detector_id,
        context,
        list_threat_intel_sets,
        get_threat_intel_set,
        threat_intel_set_ids,
        threat_intel_set_id,
        "threat intel sets"
    );
    Ok(())
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
                return Err(AwsError::new(
                    format!("reading bucket {bucket} as {account}"),
                    error,
                ));
            }
        }
    }
    if !state.bucket_exists {
        for key in keys {
            state.objects.insert(key.clone(), None);
        }
        return Ok((state, contents));
    }
    state.public_access_blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(output) => output.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(_) => false,
    };
    state.encrypted = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .is_ok_and(|output| {
            output
                .server_side_encryption_configuration()
                .is_some_and(|c| !c.rules().is_empty())
        });
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

/// Reads the list storage for the manifest's lists: the bucket, the objects the lists would be
/// uploaded to, and the objects guardform-managed sets point at now.
pub async fn observe_list_storage(
    aws: &Aws,
    observed: &mut Observed,
    admin: &str,
    storage: &crate::manifest::Storage,
    lists: &[crate::sources::ListContent],
) -> Result<(), AwsError> {
    let mut keys: Vec<String> = lists.iter().map(|l| l.key(storage)).collect();
    for state in observed.regions.values() {
        for set in state.ip_sets.iter().chain(&state.threat_intel_sets) {
            if let Some((bucket, key)) = parse_location(&set.location)
                && bucket == storage.bucket
            {
                keys.push(key);
            }
        }
    }
    keys.sort();
    keys.dedup();
    let region = storage.region.clone().unwrap_or_else(|| aws.home_region());
    let (state, contents) = observe_storage(aws, admin, &region, &storage.bucket, &keys).await?;
    observed.storage = Some(state);
    observed.contents = contents;
    observed.sources = lists
        .iter()
        .map(|l| (l.name.clone(), l.sha256.clone()))
        .collect();
    Ok(())
}

/// Reads one Region.
async fn observe_region(
    aws: &Aws,
    discovery: &Discovery,
    region: &str,
    permits: &Semaphore,
) -> Result<RegionState, AwsError> {
    let _permit = permits
        .acquire()
        .await
        .map_err(|_| AwsError::message("observing", "cancelled"))?;
    let admin = &discovery.delegated_admin;
    let management = &discovery.organization.management_account;
    let mut state = RegionState::default();

    let admins = aws
        .guardduty(management, region)
        .list_organization_admin_accounts()
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!("listing GuardDuty administrators in {region} as {management}"),
                e,
            )
        })?;
    for account in admins.admin_accounts() {
        if let Some(id) = account.admin_account_id() {
            state.admin_accounts.insert(
                id.to_string(),
                account
                    .admin_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            );
        }
    }

    let client = aws.guardduty(admin, region);
    let context = format!("{admin}/{region}");
    let detectors = client
        .list_detectors()
        .send()
        .await
        .map_err(|e| AwsError::new(format!("listing detectors in {context}"), e))?;
    let Some(detector_id) = detectors.detector_ids().first().cloned() else {
        read_management_detector(aws, discovery, region, &mut state).await?;
        return Ok(state);
    };
    let detector = client
        .get_detector()
        .detector_id(&detector_id)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading detector {detector_id} in {context}"), e))?;
    state.detector = Some(DetectorState {
        id: detector_id.clone(),
        status: detector
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        finding_publishing_frequency: detector
            .finding_publishing_frequency()
            .map(|f| f.as_str().to_string())
            .unwrap_or_default(),
        features: feature_map(detector.features().iter().filter_map(|f| {
            Some((
                f.name()?.as_str(),
                f.status()?.as_str(),
                f.additional_configuration()
                    .iter()
                    .filter_map(|a| Some((a.name()?.as_str(), a.status()?.as_str())))
                    .collect(),
            ))
        })),
        tags: detector
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    });

    if state.admin_accounts.get(admin).map(String::as_str) == Some("ENABLED") {
        let mut config: Option<OrgConfigState> = None;
        let mut next_token: Option<String> = None;
        loop {
            let output = client
                .describe_organization_configuration()
                .detector_id(&detector_id)
                .set_next_token(next_token.clone())
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!("reading the organization configuration in {context}"),
                        e,
                    )
                })?;
            let entry = config.get_or_insert_with(|| OrgConfigState {
                auto_enable_organization_members: output
                    .auto_enable_organization_members()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
                features: BTreeMap::new(),
            });
            entry
                .features
                .extend(feature_map(output.features().iter().filter_map(|f| {
                    Some((
                        f.name()?.as_str(),
                        f.auto_enable()?.as_str(),
                        f.additional_configuration()
                            .iter()
                            .filter_map(|a| Some((a.name()?.as_str(), a.auto_enable()?.as_str())))
                            .collect(),
                    ))
                })));
            next_token = output
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        state.org_config = config;
    }

    let mut pages = client
        .list_members()
        .detector_id(&detector_id)
        .only_associated("false")
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(format!("listing members in {context}"), e))?;
        for member in page.members() {
            state.members.insert(
                member.account_id().unwrap_or_default().to_string(),
                MemberState {
                    relationship_status: member
                        .relationship_status()
                        .unwrap_or_default()
                        .to_string(),
                    administrator_id: member
                        .administrator_id()
                        .or(member.master_id())
                        .unwrap_or_default()
                        .to_string(),
                    features: None,
                    unreadable: None,
                },
            );
        }
    }
    let targeted: Vec<String> = state
        .members
        .keys()
        .filter(|id| discovery.members.contains(*id))
        .cloned()
        .collect();
    for (account, features) in member_features(&client, &detector_id, &targeted, &context).await? {
        if let Some(member) = state.members.get_mut(&account) {
            match features {
                Ok(features) => member.features = Some(features),
                Err(reason) => member.unreadable = Some(reason),
            }
        }
    }
    read_management_detector(aws, discovery, region, &mut state).await?;
    read_list_sets(&client, &detector_id, &context, &mut state).await?;
    Ok(state)
}

/// Reads every targeted Region, at most `parallelism` at a time.
pub async fn observe(
    aws: Arc<Aws>,
    discovery: Arc<Discovery>,
    parallelism: usize,
) -> Result<Observed, AwsError> {
    let permits = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for region in &discovery.regions {
        let (aws, discovery, permits, region) = (
            aws.clone(),
            discovery.clone(),
            permits.clone(),
            region.clone(),
        );
        tasks.spawn(async move {
            let state = observe_region(&aws, &discovery, &region, &permits).await;
            (region, state)
        });
    }
    let mut observed = Observed::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((region, Ok(state))) => {
                observed.regions.insert(region, state);
            }
            Ok((_, Err(error))) => {
                first_error.get_or_insert(error);
            }
            Err(join) => {
                first_error.get_or_insert(AwsError::message("observing", join.to_string()));
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(observed),
    }
}
