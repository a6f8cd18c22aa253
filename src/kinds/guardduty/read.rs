//! Reads GuardDuty's organization state per Region through the administrator's batch APIs, so a
//! no-op plan costs a few calls per Region plus two per 50 member accounts.

use super::state::{
    DetectorState, FeatureState, GuardDutyState, MemberState, OrgConfigState, RegionState,
};
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

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

/// Member reads of one Region at once (GuardDuty's limits are per account and Region).
const MEMBER_READS_AT_ONCE: usize = 4;

/// Reads the member detectors' features of a detector, in batches of 50, a few at a time.
pub async fn member_features(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    accounts: &[String],
    context: &str,
) -> Result<BTreeMap<String, Result<BTreeMap<String, FeatureState>, String>>, AwsError> {
    use futures_util::StreamExt;
    let batches: Vec<_> = accounts
        .chunks(50)
        .map(|batch| member_features_batch(client, detector_id, batch, context))
        .collect();
    let reads = futures_util::stream::iter(batches)
        .buffer_unordered(MEMBER_READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let mut found = BTreeMap::new();
    for read in reads {
        found.extend(read?);
    }
    Ok(found)
}

/// One GetMemberDetectors call.
async fn member_features_batch(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    batch: &[String],
    context: &str,
) -> Result<BTreeMap<String, Result<BTreeMap<String, FeatureState>, String>>, AwsError> {
    let mut found = BTreeMap::new();
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
    Ok(found)
}

/// Delegated administrators of the organization in `region`, with their status.
pub async fn read_admins(
    aws: &Aws,
    management: &str,
    region: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
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
    Ok(admins
        .admin_accounts()
        .iter()
        .filter_map(|account| {
            Some((
                account.admin_account_id()?.to_string(),
                account
                    .admin_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            ))
        })
        .collect())
}

/// The administrator's detector.
async fn read_detector(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    context: &str,
) -> Result<DetectorState, AwsError> {
    let detector = client
        .get_detector()
        .detector_id(detector_id)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading detector {detector_id} in {context}"), e))?;
    Ok(DetectorState {
        id: detector_id.to_string(),
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
    })
}

/// The organization configuration (all its pages).
async fn read_org_config(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    context: &str,
) -> Result<Option<OrgConfigState>, AwsError> {
    let mut config: Option<OrgConfigState> = None;
    let mut next_token: Option<String> = None;
    loop {
        let output = client
            .describe_organization_configuration()
            .detector_id(detector_id)
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
            return Ok(config);
        }
    }
}

/// A member detector read, by account: its features, or why GuardDuty did not give them.
type MemberFeatures = BTreeMap<String, Result<BTreeMap<String, FeatureState>, String>>;

/// One map per distinct feature set: 10,000 members with the same features hold one.
#[derive(Default)]
struct Interner(BTreeMap<BTreeMap<String, FeatureState>, Arc<BTreeMap<String, FeatureState>>>);

impl Interner {
    /// Puts what one GetMemberDetectors call read into `members`, sharing feature maps.
    fn settle(&mut self, members: &mut BTreeMap<String, MemberState>, read: MemberFeatures) {
        for (account, features) in read {
            let Some(member) = members.get_mut(&account) else {
                continue;
            };
            match features {
                Ok(features) => {
                    let shared = match self.0.get(&features) {
                        Some(shared) => shared.clone(),
                        None => {
                            let shared = Arc::new(features.clone());
                            self.0.insert(features, shared.clone());
                            shared
                        }
                    };
                    member.features = Some(shared);
                }
                Err(reason) => member.unreadable = Some(reason),
            }
        }
    }
}

/// Every member of the administrator (associated or not), with the features of the targeted
/// ones: each page's GetMemberDetectors starts as the page arrives, a few at a time, while the
/// next page is read, and what they read is folded in (shared) as soon as it is there, so a
/// Region's members never hold more than a few pages of unshared maps.
async fn read_members(
    client: &aws_sdk_guardduty::Client,
    detector_id: &str,
    context: &str,
    discovery: &Discovery,
) -> Result<BTreeMap<String, MemberState>, AwsError> {
    let permits = Arc::new(Semaphore::new(MEMBER_READS_AT_ONCE));
    let mut reads = tokio::task::JoinSet::new();
    let mut members = BTreeMap::new();
    let mut interner = Interner::default();
    let joined = |read: Result<Result<MemberFeatures, AwsError>, tokio::task::JoinError>| {
        read.map_err(|e| {
            AwsError::message(
                format!("reading member detectors in {context}"),
                e.to_string(),
            )
        })?
    };
    let mut pages = client
        .list_members()
        .detector_id(detector_id)
        .only_associated("false")
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(format!("listing members in {context}"), e))?;
        for member in page.members() {
            members.insert(
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
        let targeted: Vec<String> = page
            .members()
            .iter()
            .filter_map(|m| m.account_id())
            .filter(|id| discovery.members.contains(*id))
            .map(str::to_string)
            .collect();
        if !targeted.is_empty() {
            let (client, detector_id, context, permits) = (
                client.clone(),
                detector_id.to_string(),
                context.to_string(),
                permits.clone(),
            );
            reads.spawn(async move {
                let _permit = permits.acquire_owned().await;
                member_features(&client, &detector_id, &targeted, &context).await
            });
        }
        while let Some(read) = reads.try_join_next() {
            interner.settle(&mut members, joined(read)?);
        }
    }
    while let Some(read) = reads.join_next().await {
        interner.settle(&mut members, joined(read)?);
    }
    Ok(members)
}

/// Reads one Region: administrators, the administrator's detector, the organization
/// configuration, members and the features of the targeted ones.
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
    let mut state = RegionState {
        admin_accounts: read_admins(aws, &discovery.organization.management_account, region)
            .await?,
        ..RegionState::default()
    };
    let Some(detector_id) = aws.detector_id(admin, region).await? else {
        return Ok(state);
    };
    let client = aws.guardduty(admin, region);
    let context = format!("{admin}/{region}");
    state.detector = Some(read_detector(&client, &detector_id, &context).await?);
    if state.admin_accounts.get(admin).map(String::as_str) == Some("ENABLED") {
        state.org_config = read_org_config(&client, &detector_id, &context).await?;
    }
    state.members = read_members(&client, &detector_id, &context, discovery).await?;
    Ok(state)
}

/// The administrator's guardform-managed detectors in Regions the manifest does not target.
async fn read_untargeted(
    aws: &Aws,
    discovery: &Discovery,
) -> Result<BTreeMap<String, String>, AwsError> {
    let admin = &discovery.delegated_admin;
    let reads =
        futures_util::future::join_all(discovery.untargeted.iter().map(|region| async move {
            let Some(id) = aws.detector_id(admin, region).await? else {
                return Ok(None);
            };
            let client = aws.guardduty(admin, region);
            let detector = read_detector(&client, &id, &format!("{admin}/{region}")).await?;
            let managed = detector
                .tags
                .get(crate::kinds::MANAGED_TAG_KEY)
                .map(String::as_str)
                == Some(crate::kinds::MANAGED_TAG_VALUE);
            Ok::<_, AwsError>(managed.then(|| (region.clone(), id)))
        }))
        .await;
    reads.into_iter().filter_map(Result::transpose).collect()
}

/// Reads every targeted Region, at most `parallelism` at a time.
pub async fn read(
    aws: &Aws,
    discovery: &Discovery,
    parallelism: usize,
) -> Result<GuardDutyState, AwsError> {
    let permits = Semaphore::new(parallelism.max(1));
    let reads = futures_util::future::join_all(
        discovery
            .regions
            .iter()
            .map(|region| observe_region(aws, discovery, region, &permits)),
    )
    .await;
    let mut state = GuardDutyState::default();
    for (region, read) in discovery.regions.iter().zip(reads) {
        state.regions.insert(region.clone(), read?);
    }
    state.untargeted_detectors = read_untargeted(aws, discovery).await?;
    if super::service_role::needed(discovery, &state) {
        let management = &discovery.organization.management_account;
        state.management_service_role = Some(super::service_role::read(aws, management).await?);
    }
    Ok(state)
}
