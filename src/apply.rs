//! Executes a plan: Regions concurrently (at most `parallelism` at a time), and within a Region
//! in dependency order: delegated administrator → detector → organization configuration →
//! members (batches of 50) → member detector features. Each change gets an honest result; a
//! failure skips only what depends on it, and a fresh plan shows what is left.

use crate::aws::{Aws, AwsError};
use crate::observe::{FeatureState, member_features};
use crate::plan::{Action, Attributes, Change, Plan, ResourceKind};
use aws_sdk_guardduty::types::{
    AccountDetail, AutoEnableMembers, DetectorAdditionalConfiguration, DetectorFeature,
    DetectorFeatureConfiguration, FeatureAdditionalConfiguration, FeatureStatus,
    FindingPublishingFrequency, MemberAdditionalConfiguration, MemberFeaturesConfiguration,
    OrgFeature, OrgFeatureAdditionalConfiguration, OrgFeatureStatus,
    OrganizationAdditionalConfiguration, OrganizationFeatureConfiguration,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Regions worked on at once.
    pub parallelism: usize,
    /// IP list files to upload, by S3 key (from the lists' sources, read again at apply time;
    /// the plan's fingerprint guarantees they are what was planned).
    pub list_files: BTreeMap<String, String>,
    /// How long to wait for a list to become ACTIVE.
    pub list_timeout: std::time::Duration,
    /// Bundle zips by response name (built again at apply time; the fingerprint guarantees
    /// they are what was planned).
    pub function_zips: BTreeMap<String, Vec<u8>>,
}

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Failed { error: String },
    Skipped { reason: String },
}

/// The result of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    pub address: String,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Progress callbacks; the binary draws bars or prints lines, the library only calls these.
pub trait Reporter: Send + Sync {
    /// Apply starts with this many changes.
    fn begin(&self, total: usize);
    /// A change is done.
    fn finished(&self, result: &ChangeResult);
    /// Apply is over.
    fn end(&self);
}

/// A reporter that shows nothing.
pub struct Silent;

impl Reporter for Silent {
    fn begin(&self, _total: usize) {}
    fn finished(&self, _result: &ChangeResult) {}
    fn end(&self) {}
}

/// Every change's result, in plan order.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub results: Vec<ChangeResult>,
    /// Old list files removed after the apply, or why that failed (the apply itself stands).
    pub pruned: Result<usize, String>,
}

impl ApplyReport {
    /// How many changes were applied, failed and skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for result in &self.results {
            match result.outcome {
                Outcome::Applied => counts.0 += 1,
                Outcome::Failed { .. } => counts.1 += 1,
                Outcome::Skipped { .. } => counts.2 += 1,
            }
        }
        counts
    }

    /// True when every change was applied.
    pub fn succeeded(&self) -> bool {
        let (_, failed, skipped) = self.counts();
        failed == 0 && skipped == 0
    }
}

/// Features in flat attributes: name → (value, additional name → value).
type FeatureValues = BTreeMap<String, (Option<String>, BTreeMap<String, String>)>;

fn features_of(attributes: &Attributes) -> FeatureValues {
    let mut features = FeatureValues::new();
    for (key, value) in attributes {
        let Some(rest) = key.strip_prefix("features.") else {
            continue;
        };
        let Some(text) = value.as_str() else {
            continue;
        };
        match rest.split_once(".additional.") {
            Some((name, extra)) => {
                features
                    .entry(name.to_string())
                    .or_default()
                    .1
                    .insert(extra.to_string(), text.to_string());
            }
            None => features.entry(rest.to_string()).or_default().0 = Some(text.to_string()),
        }
    }
    features
}

fn attribute<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes.get(key).and_then(Value::as_str)
}

fn detector_features(features: &FeatureValues) -> Vec<DetectorFeatureConfiguration> {
    features
        .iter()
        .map(|(name, (status, additional))| {
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::from(name.as_str()))
                .set_status(status.as_deref().map(FeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            DetectorAdditionalConfiguration::builder()
                                .name(FeatureAdditionalConfiguration::from(n.as_str()))
                                .status(FeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

fn member_feature_configs(features: &FeatureValues) -> Vec<MemberFeaturesConfiguration> {
    features
        .iter()
        .map(|(name, (status, additional))| {
            MemberFeaturesConfiguration::builder()
                .name(OrgFeature::from(name.as_str()))
                .set_status(status.as_deref().map(FeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            MemberAdditionalConfiguration::builder()
                                .name(OrgFeatureAdditionalConfiguration::from(n.as_str()))
                                .status(FeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

fn org_feature_configs(features: &FeatureValues) -> Vec<OrganizationFeatureConfiguration> {
    features
        .iter()
        .map(|(name, (auto, additional))| {
            OrganizationFeatureConfiguration::builder()
                .name(OrgFeature::from(name.as_str()))
                .set_auto_enable(auto.as_deref().map(OrgFeatureStatus::from))
                .set_additional_configuration((!additional.is_empty()).then(|| {
                    additional
                        .iter()
                        .map(|(n, s)| {
                            OrganizationAdditionalConfiguration::builder()
                                .name(OrgFeatureAdditionalConfiguration::from(n.as_str()))
                                .auto_enable(OrgFeatureStatus::from(s.as_str()))
                                .build()
                        })
                        .collect()
                }))
                .build()
        })
        .collect()
}

/// The feature attributes of `desired` that `observed` does not match.
fn missing_features(desired: &Attributes, observed: &BTreeMap<String, FeatureState>) -> Attributes {
    let mut differing = Attributes::new();
    for (key, want) in desired.iter().filter(|(k, _)| k.starts_with("features.")) {
        let rest = &key["features.".len()..];
        let have = match rest.split_once(".additional.") {
            Some((name, extra)) => observed.get(name).and_then(|f| f.additional.get(extra)),
            None => observed.get(rest).map(|f| &f.status),
        };
        if have.map(String::as_str) != want.as_str() {
            differing.insert(key.clone(), want.clone());
        }
    }
    // Carry a feature's status with its additional configurations.
    let parents: Vec<String> = differing
        .keys()
        .filter_map(|k| k.split_once(".additional.").map(|(p, _)| p.to_string()))
        .collect();
    for parent in parents {
        if let Some(want) = desired.get(&parent) {
            differing.entry(parent).or_insert_with(|| want.clone());
        }
    }
    differing
}

struct RegionRun<'a> {
    aws: &'a Aws,
    region: &'a str,
    admin: &'a str,
    management: &'a str,
    results: BTreeMap<String, Outcome>,
    /// Lists whose file could not be uploaded: their sets are skipped.
    failed_lists: &'a BTreeSet<String>,
    list_timeout: std::time::Duration,
    /// Responses whose role could not be written: their functions are skipped.
    failed_roles: &'a BTreeSet<String>,
    zips: &'a BTreeMap<String, Vec<u8>>,
}

impl RegionRun<'_> {
    fn record(&mut self, change: &Change, outcome: Outcome) {
        self.results.insert(change.address.clone(), outcome);
    }

    fn fail(&mut self, change: &Change, error: &AwsError) {
        self.record(
            change,
            Outcome::Failed {
                error: error.to_string(),
            },
        );
    }

    fn skip_all(&mut self, changes: &[&Change], reason: &str) {
        for change in changes {
            self.record(
                change,
                Outcome::Skipped {
                    reason: reason.to_string(),
                },
            );
        }
    }

    async fn organization_admin(&mut self, change: &Change) -> Result<(), AwsError> {
        let client = self.aws.guardduty(self.management, self.region);
        let context = format!(
            "{} (as management account {})",
            change.address, self.management
        );
        if change.action == Action::Replace
            && let Some(previous) = change.inputs.get("previous_admin")
        {
            client
                .disable_organization_admin_account()
                .admin_account_id(previous)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!("removing the previous administrator {previous}: {context}"),
                        e,
                    )
                })?;
        }
        let enabled = client
            .enable_organization_admin_account()
            .admin_account_id(self.admin)
            .send()
            .await;
        if let Err(error) = enabled {
            // Someone (or an earlier run) may have done it already: re-read before failing.
            let admins = client.list_organization_admin_accounts().send().await.ok();
            let already = admins.is_some_and(|out| {
                out.admin_accounts().iter().any(|a| {
                    a.admin_account_id() == Some(self.admin)
                        && a.admin_status().map(|s| s.as_str()) == Some("ENABLED")
                })
            });
            if !already {
                return Err(AwsError::new(context, error));
            }
        }
        Ok(())
    }

    async fn find_detector(&self, account: &str) -> Result<Option<String>, AwsError> {
        let output = self
            .aws
            .guardduty(account, self.region)
            .list_detectors()
            .send()
            .await
            .map_err(|e| {
                AwsError::new(format!("listing detectors in {account}/{}", self.region), e)
            })?;
        Ok(output.detector_ids().first().cloned())
    }

    /// Creates or updates the detector of the change's account (the administrator's, or the
    /// management account's before it becomes a member); an existing one is adopted.
    async fn detector(&mut self, change: &Change) -> Result<String, AwsError> {
        let account = change
            .account
            .clone()
            .unwrap_or_else(|| self.admin.to_string());
        let client = self.aws.guardduty(&account, self.region);
        let existing = match change.inputs.get("detector_id") {
            Some(id) => Some(id.clone()),
            None => self.find_detector(&account).await?,
        };
        let features = features_of(&change.after);
        let frequency = attribute(&change.after, "finding_publishing_frequency")
            .map(FindingPublishingFrequency::from);
        let tags: BTreeMap<String, String> = change
            .after
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("tags.")?.to_string(),
                    v.as_str()?.to_string(),
                ))
            })
            .collect();
        let Some(id) = existing else {
            let output = client
                .create_detector()
                .enable(true)
                .set_finding_publishing_frequency(frequency)
                .set_features((!features.is_empty()).then(|| detector_features(&features)))
                .set_tags((!tags.is_empty()).then(|| tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::new(format!("creating {}", change.address), e))?;
            return output.detector_id().map(str::to_string).ok_or_else(|| {
                AwsError::message(
                    format!("creating {}", change.address),
                    "CreateDetector returned no detector id",
                )
            });
        };
        let enable = attribute(&change.after, "status").map(|s| s == "ENABLED");
        if enable.is_some() || frequency.is_some() || !features.is_empty() {
            client
                .update_detector()
                .detector_id(&id)
                .set_enable(enable)
                .set_finding_publishing_frequency(frequency)
                .set_features((!features.is_empty()).then(|| detector_features(&features)))
                .send()
                .await
                .map_err(|e| AwsError::new(format!("updating {}", change.address), e))?;
        }
        if !tags.is_empty() {
            client
                .tag_resource()
                .resource_arn(format!(
                    "arn:aws:guardduty:{}:{account}:detector/{id}",
                    self.region
                ))
                .set_tags(Some(tags.into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::new(format!("tagging {}", change.address), e))?;
        }
        Ok(id)
    }

    async fn org_config(&mut self, change: &Change, detector_id: &str) -> Result<(), AwsError> {
        let features = features_of(&change.after);
        self.aws
            .guardduty(self.admin, self.region)
            .update_organization_configuration()
            .detector_id(detector_id)
            .set_auto_enable_organization_members(
                attribute(&change.after, "auto_enable_organization_members")
                    .map(AutoEnableMembers::from),
            )
            .set_features((!features.is_empty()).then(|| org_feature_configs(&features)))
            .send()
            .await
            .map_err(|e| AwsError::new(format!("updating {}", change.address), e))?;
        Ok(())
    }

    /// CreateMembers in batches of 50; returns the accounts GuardDuty did not process, with why.
    async fn create_members(
        &self,
        detector_id: &str,
        changes: &[&Change],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let client = self.aws.guardduty(self.admin, self.region);
        let mut unprocessed = BTreeMap::new();
        for batch in changes.chunks(50) {
            let details: Vec<AccountDetail> = batch
                .iter()
                .map(|c| {
                    AccountDetail::builder()
                        .account_id(c.account.clone().unwrap_or_default())
                        .email(c.inputs.get("email").cloned().unwrap_or_default())
                        .build()
                })
                .collect();
            let output = client
                .create_members()
                .detector_id(detector_id)
                .set_account_details(Some(details))
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!(
                            "adding {} member(s) in {}/{}",
                            batch.len(),
                            self.admin,
                            self.region
                        ),
                        e,
                    )
                })?;
            for account in output.unprocessed_accounts() {
                unprocessed.insert(
                    account.account_id().unwrap_or_default().to_string(),
                    account.result().unwrap_or_default().to_string(),
                );
            }
        }
        Ok(unprocessed)
    }

    /// Brings member detectors' features to what each change wants, grouping identical updates
    /// into UpdateMemberDetectors calls of at most 50 accounts.
    async fn member_features(
        &self,
        detector_id: &str,
        wanted: &BTreeMap<String, Attributes>,
        read_first: bool,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let client = self.aws.guardduty(self.admin, self.region);
        let context = format!("{}/{}", self.admin, self.region);
        let mut needed: BTreeMap<String, Attributes> = BTreeMap::new();
        let mut failures = BTreeMap::new();
        if read_first {
            let accounts: Vec<String> = wanted.keys().cloned().collect();
            for (account, observed) in
                member_features(&client, detector_id, &accounts, &context).await?
            {
                match observed {
                    Ok(features) => {
                        let differing = missing_features(&wanted[&account], &features);
                        if !differing.is_empty() {
                            needed.insert(account, differing);
                        }
                    }
                    Err(reason) => {
                        failures.insert(account, reason);
                    }
                }
            }
        } else {
            for (account, attributes) in wanted {
                let features: Attributes = attributes
                    .iter()
                    .filter(|(k, _)| k.starts_with("features."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !features.is_empty() {
                    needed.insert(account.clone(), features);
                }
            }
        }
        let mut groups: BTreeMap<String, (Attributes, Vec<String>)> = BTreeMap::new();
        for (account, attributes) in needed {
            let key = serde_json::to_string(&attributes).unwrap_or_default();
            groups
                .entry(key)
                .or_insert_with(|| (attributes, Vec::new()))
                .1
                .push(account);
        }
        for (attributes, accounts) in groups.into_values() {
            let features = member_feature_configs(&features_of(&attributes));
            for batch in accounts.chunks(50) {
                let output = client
                    .update_member_detectors()
                    .detector_id(detector_id)
                    .set_account_ids(Some(batch.to_vec()))
                    .set_features(Some(features.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::new(
                            format!("updating {} member detector(s) in {context}", batch.len()),
                            e,
                        )
                    })?;
                for account in output.unprocessed_accounts() {
                    failures.insert(
                        account.account_id().unwrap_or_default().to_string(),
                        account.result().unwrap_or_default().to_string(),
                    );
                }
            }
        }
        Ok(failures)
    }

    async fn members(&mut self, detector_id: &str, changes: &[&Change]) {
        let creates: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| {
                c.action == Action::Create
                    || (c.action == Action::Update && c.after.contains_key("relationship_status"))
            })
            .collect();
        let deletes: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| c.action == Action::Delete)
            .collect();
        let mut failed: BTreeMap<String, String> = BTreeMap::new();

        match self.create_members(detector_id, &creates).await {
            Ok(unprocessed) => failed.extend(unprocessed),
            Err(error) => {
                for change in &creates {
                    failed.insert(
                        change.account.clone().unwrap_or_default(),
                        error.to_string(),
                    );
                }
            }
        }
        // Accounts just enrolled: their detector was created by GuardDuty from the organization
        // configuration (or adopted), so read before updating. Existing members: the plan knows.
        let mut fresh = BTreeMap::new();
        let mut known = BTreeMap::new();
        for change in changes.iter().filter(|c| c.action != Action::Delete) {
            let account = change.account.clone().unwrap_or_default();
            if failed.contains_key(&account) {
                continue;
            }
            if creates.iter().any(|c| c.address == change.address) {
                fresh.insert(account, change.after.clone());
            } else {
                known.insert(account, change.after.clone());
            }
        }
        for (wanted, read_first) in [(fresh, true), (known, false)] {
            if wanted.is_empty() {
                continue;
            }
            match self.member_features(detector_id, &wanted, read_first).await {
                Ok(failures) => failed.extend(failures),
                Err(error) => {
                    for account in wanted.keys() {
                        failed.insert(account.clone(), error.to_string());
                    }
                }
            }
        }

        if !deletes.is_empty() {
            let client = self.aws.guardduty(self.admin, self.region);
            for batch in deletes.chunks(50) {
                let ids: Vec<String> = batch.iter().filter_map(|c| c.account.clone()).collect();
                let result = async {
                    let out = client
                        .disassociate_members()
                        .detector_id(detector_id)
                        .set_account_ids(Some(ids.clone()))
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::new(
                                format!(
                                    "disassociating {} member(s) in {}/{}",
                                    ids.len(),
                                    self.admin,
                                    self.region
                                ),
                                e,
                            )
                        })?;
                    let mut unprocessed: BTreeMap<String, String> = out
                        .unprocessed_accounts()
                        .iter()
                        .map(|u| {
                            (
                                u.account_id().unwrap_or_default().to_string(),
                                u.result().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    let out = client
                        .delete_members()
                        .detector_id(detector_id)
                        .set_account_ids(Some(ids.clone()))
                        .send()
                        .await
                        .map_err(|e| {
                            AwsError::new(
                                format!(
                                    "deleting {} member(s) in {}/{}",
                                    ids.len(),
                                    self.admin,
                                    self.region
                                ),
                                e,
                            )
                        })?;
                    unprocessed.extend(out.unprocessed_accounts().iter().map(|u| {
                        (
                            u.account_id().unwrap_or_default().to_string(),
                            u.result().unwrap_or_default().to_string(),
                        )
                    }));
                    Ok::<_, AwsError>(unprocessed)
                }
                .await;
                match result {
                    Ok(unprocessed) => failed.extend(unprocessed),
                    Err(error) => {
                        for id in ids {
                            failed.insert(id, error.to_string());
                        }
                    }
                }
            }
        }

        for change in changes {
            let account = change.account.clone().unwrap_or_default();
            let outcome = match failed.get(&account) {
                Some(reason) => Outcome::Failed {
                    error: format!("{}: {reason}", change.address),
                },
                None => Outcome::Applied,
            };
            self.record(change, outcome);
        }
    }

    /// Response resources: queues, functions, permissions, rules and targets in that order;
    /// deletions in the reverse order. A failure skips the rest of that response.
    async fn responses(&mut self, changes: &[&Change]) {
        let order = [
            ResourceKind::SqsQueue,
            ResourceKind::LambdaFunction,
            ResourceKind::LambdaPermission,
            ResourceKind::EventsRule,
            ResourceKind::EventsTarget,
        ];
        let mut failed: BTreeMap<String, String> = self
            .failed_roles
            .iter()
            .map(|r| {
                (
                    r.clone(),
                    format!("the role of response `{r}` could not be written"),
                )
            })
            .collect();
        let mut sequence: Vec<&Change> = Vec::new();
        for kind in order {
            sequence.extend(
                changes
                    .iter()
                    .filter(|c| c.kind == kind && c.action != Action::Delete),
            );
        }
        for kind in order.iter().rev() {
            sequence.extend(
                changes
                    .iter()
                    .filter(|c| c.kind == *kind && c.action == Action::Delete),
            );
        }
        for change in sequence {
            let response = change.inputs.get("response").cloned().unwrap_or_default();
            if let Some(reason) = failed.get(&response) {
                self.record(
                    change,
                    Outcome::Skipped {
                        reason: reason.clone(),
                    },
                );
                continue;
            }
            match crate::responses::apply_regional(
                self.aws,
                self.admin,
                self.region,
                change,
                self.zips,
            )
            .await
            {
                Ok(()) => self.record(change, Outcome::Applied),
                Err(error) => {
                    failed.insert(
                        response,
                        format!("depends on {}, which failed", change.address),
                    );
                    self.fail(change, &error);
                }
            }
        }
    }

    async fn run(&mut self, changes: &[&Change]) {
        let response_changes: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| {
                matches!(
                    c.kind,
                    ResourceKind::SqsQueue
                        | ResourceKind::LambdaFunction
                        | ResourceKind::LambdaPermission
                        | ResourceKind::EventsRule
                        | ResourceKind::EventsTarget
                )
            })
            .collect();
        if !response_changes.is_empty() {
            self.responses(&response_changes).await;
        }
        let changes: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| !response_changes.iter().any(|r| r.address == c.address))
            .collect();
        let changes = changes.as_slice();
        let of = |kind: ResourceKind| -> Vec<&Change> {
            changes.iter().copied().filter(|c| c.kind == kind).collect()
        };
        let (admins, detectors, configs, members) = (
            of(ResourceKind::OrganizationAdmin),
            of(ResourceKind::Detector),
            of(ResourceKind::OrgConfig),
            of(ResourceKind::Member),
        );
        let lists: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| matches!(c.kind, ResourceKind::IpSet | ResourceKind::ThreatIntelSet))
            .collect();
        let rest: Vec<&Change> = detectors
            .iter()
            .chain(&configs)
            .chain(&lists)
            .chain(&members)
            .copied()
            .collect();
        for change in &admins {
            if let Err(error) = self.organization_admin(change).await {
                self.fail(change, &error);
                self.skip_all(
                    &rest,
                    &format!("depends on {}, which failed", change.address),
                );
                return;
            }
            self.record(change, Outcome::Applied);
        }
        let (admin_detectors, other_detectors): (Vec<&Change>, Vec<&Change>) = detectors
            .iter()
            .partition(|c| c.account.as_deref() == Some(self.admin));
        let after: Vec<&Change> = configs
            .iter()
            .chain(&lists)
            .chain(&members)
            .copied()
            .collect();
        let detector_id = match admin_detectors.first() {
            Some(change) => match self.detector(change).await {
                Ok(id) => {
                    self.record(change, Outcome::Applied);
                    Some(id)
                }
                Err(error) => {
                    self.fail(change, &error);
                    self.skip_all(
                        &other_detectors,
                        &format!("depends on {}, which failed", change.address),
                    );
                    self.skip_all(
                        &after,
                        &format!("depends on {}, which failed", change.address),
                    );
                    return;
                }
            },
            None if after.is_empty() && other_detectors.is_empty() => return,
            None => match self.find_detector(self.admin).await {
                Ok(id) => id,
                Err(error) => {
                    for change in other_detectors.iter().chain(&after) {
                        self.fail(change, &error);
                    }
                    return;
                }
            },
        };
        let Some(detector_id) = detector_id else {
            self.skip_all(
                &other_detectors,
                &format!(
                    "the administrator {} has no detector in {}",
                    self.admin, self.region
                ),
            );
            self.skip_all(
                &after,
                &format!(
                    "the administrator {} has no detector in {}",
                    self.admin, self.region
                ),
            );
            return;
        };
        for change in &other_detectors {
            match self.detector(change).await {
                Ok(_) => self.record(change, Outcome::Applied),
                Err(error) => self.fail(change, &error),
            }
        }
        for change in &configs {
            match self.org_config(change, &detector_id).await {
                Ok(()) => self.record(change, Outcome::Applied),
                Err(error) => self.fail(change, &error),
            }
        }
        for change in &lists {
            if let Some(list) = change.inputs.get("list")
                && self.failed_lists.contains(list)
            {
                self.skip_all(
                    &[change],
                    &format!("the file of list `{list}` could not be uploaded"),
                );
                continue;
            }
            match self.list_set(change, &detector_id).await {
                Ok(()) => self.record(change, Outcome::Applied),
                Err(error) => self.fail(change, &error),
            }
        }
        if !members.is_empty() {
            self.members(&detector_id, &members).await;
        }
    }

    /// Creates, updates (re-activating, which makes GuardDuty reload the file) or deletes an
    /// IPSet or ThreatIntelSet, then waits until it is ACTIVE.
    async fn list_set(&self, change: &Change, detector_id: &str) -> Result<(), AwsError> {
        let client = self.aws.guardduty(self.admin, self.region);
        let context = |what: &str| format!("{what} {}", change.address);
        let input = |key: &str| {
            change
                .inputs
                .get(key)
                .cloned()
                .or_else(|| attribute(&change.after, key).map(str::to_string))
                .unwrap_or_default()
        };
        let trusted = change.kind == ResourceKind::IpSet;
        let mut set_id = change.inputs.get("set_id").cloned();
        if matches!(change.action, Action::Delete | Action::Replace)
            && let Some(id) = set_id.take()
        {
            if trusted {
                client
                    .delete_ip_set()
                    .detector_id(detector_id)
                    .ip_set_id(&id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("deleting"), e))?;
            } else {
                client
                    .delete_threat_intel_set()
                    .detector_id(detector_id)
                    .threat_intel_set_id(&id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("deleting"), e))?;
            }
            if change.action == Action::Delete {
                return Ok(());
            }
        }
        let tags: std::collections::HashMap<String, String> = [
            (
                crate::diff::MANAGED_TAG_KEY.to_string(),
                crate::diff::MANAGED_TAG_VALUE.to_string(),
            ),
            (crate::diff::LIST_TAG_KEY.to_string(), input("list")),
        ]
        .into();
        let (name, location, format) = (input("name"), input("location"), input("format"));
        let id = match set_id {
            None => {
                let token = format!(
                    "guardform-{}",
                    &crate::manifest::sha256_hex(
                        format!("{}{location}", change.address).as_bytes()
                    )[..32]
                );
                if trusted {
                    client
                        .create_ip_set()
                        .detector_id(detector_id)
                        .name(&name)
                        .format(format.as_str().into())
                        .location(&location)
                        .activate(true)
                        .client_token(token)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("creating"), e))?
                        .ip_set_id()
                        .unwrap_or_default()
                        .to_string()
                } else {
                    client
                        .create_threat_intel_set()
                        .detector_id(detector_id)
                        .name(&name)
                        .format(format.as_str().into())
                        .location(&location)
                        .activate(true)
                        .client_token(token)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("creating"), e))?
                        .threat_intel_set_id()
                        .unwrap_or_default()
                        .to_string()
                }
            }
            Some(id) => {
                if trusted {
                    client
                        .update_ip_set()
                        .detector_id(detector_id)
                        .ip_set_id(&id)
                        .name(&name)
                        .location(&location)
                        .activate(true)
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("updating"), e))?;
                } else {
                    client
                        .update_threat_intel_set()
                        .detector_id(detector_id)
                        .threat_intel_set_id(&id)
                        .name(&name)
                        .location(&location)
                        .activate(true)
                        .send()
                        .await
                        .map_err(|e| AwsError::new(context("updating"), e))?;
                }
                let kind = if trusted { "ipset" } else { "threatintelset" };
                client
                    .tag_resource()
                    .resource_arn(format!(
                        "arn:aws:guardduty:{}:{}:detector/{detector_id}/{kind}/{id}",
                        self.region, self.admin
                    ))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("tagging"), e))?;
                id
            }
        };
        // Wait for ACTIVE, bounded.
        let deadline = tokio::time::Instant::now() + self.list_timeout;
        loop {
            let status = if trusted {
                client
                    .get_ip_set()
                    .detector_id(detector_id)
                    .ip_set_id(&id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("reading"), e))?
                    .status()
                    .map(|s| s.as_str().to_string())
            } else {
                client
                    .get_threat_intel_set()
                    .detector_id(detector_id)
                    .threat_intel_set_id(&id)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(context("reading"), e))?
                    .status()
                    .map(|s| s.as_str().to_string())
            }
            .unwrap_or_default();
            match status.as_str() {
                "ACTIVE" => return Ok(()),
                "ERROR" => {
                    return Err(AwsError::message(
                        context("activating"),
                        format!(
                            "GuardDuty reports status ERROR: it could not read or parse {location} (is the object there, readable by GuardDuty, and within GuardDuty's limits?)"
                        ),
                    ));
                }
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(AwsError::message(
                        context("activating"),
                        format!("still {status} after {} s", self.list_timeout.as_secs()),
                    ));
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
    }
}

/// Creates or fixes the list bucket and uploads list files; returns the lists whose file
/// could not be uploaded.
async fn storage_phase(
    aws: &Aws,
    plan: &Plan,
    options: &ApplyOptions,
    outcomes: &mut BTreeMap<String, Outcome>,
) -> BTreeSet<String> {
    let mut failed_lists = BTreeSet::new();
    let admin = plan.targets.delegated_admin.as_str();
    let mut bucket_failed = None;
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::S3Bucket)
    {
        let result = ensure_bucket(aws, admin, change).await;
        if let Err(error) = &result {
            bucket_failed = Some(format!("depends on {}, which failed", change.address));
            outcomes.insert(
                change.address.clone(),
                Outcome::Failed {
                    error: error.to_string(),
                },
            );
        } else {
            outcomes.insert(change.address.clone(), Outcome::Applied);
        }
    }
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::S3Object)
    {
        let list = change.inputs.get("list").cloned().unwrap_or_default();
        if let Some(reason) = &bucket_failed {
            outcomes.insert(
                change.address.clone(),
                Outcome::Skipped {
                    reason: reason.clone(),
                },
            );
            failed_lists.insert(list);
            continue;
        }
        let (bucket, key) = (
            change.inputs.get("bucket").cloned().unwrap_or_default(),
            change.inputs.get("key").cloned().unwrap_or_default(),
        );
        let outcome = match options.list_files.get(&key) {
            None => Outcome::Failed {
                error: format!(
                    "{}: the list's content is not at hand (plan again)",
                    change.address
                ),
            },
            Some(text) => match aws
                .s3(admin, &change.region)
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("text/plain")
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                .tagging(format!(
                    "{}={}",
                    crate::diff::MANAGED_TAG_KEY,
                    crate::diff::MANAGED_TAG_VALUE
                ))
                .body(aws_sdk_s3::primitives::ByteStream::from(
                    text.clone().into_bytes(),
                ))
                .send()
                .await
            {
                Ok(_) => Outcome::Applied,
                Err(e) => Outcome::Failed {
                    error: AwsError::new(format!("uploading s3://{bucket}/{key}"), e).to_string(),
                },
            },
        };
        if !matches!(outcome, Outcome::Applied) {
            failed_lists.insert(list);
        }
        outcomes.insert(change.address.clone(), outcome);
    }
    failed_lists
}

async fn ensure_bucket(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let bucket = change.inputs.get("bucket").cloned().unwrap_or_default();
    let s3 = aws.s3(admin, &change.region);
    if change.action == Action::Create {
        let mut create = s3.create_bucket().bucket(&bucket);
        if change.region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        change.region.as_str(),
                    ))
                    .build(),
            );
        }
        create.send().await.map_err(|e| {
            AwsError::new(
                format!("creating bucket {bucket} in {admin}/{}", change.region),
                e,
            )
        })?;
    }
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new(format!("blocking public access to bucket {bucket}"), e))?;
    let rule = aws_sdk_s3::types::ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| AwsError::message("configuring bucket encryption", e.to_string()))?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| AwsError::message("configuring bucket encryption", e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| AwsError::new(format!("turning on encryption of bucket {bucket}"), e))?;
    Ok(())
}

/// After a successful apply, removes list files older than the last two versions of each list
/// whose upload and sets all succeeded. Returns how many objects were removed.
async fn prune(
    aws: &Aws,
    plan: &Plan,
    outcomes: &BTreeMap<String, Outcome>,
) -> Result<usize, AwsError> {
    let admin = plan.targets.delegated_admin.as_str();
    let mut removed = 0;
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::S3Object)
    {
        let list = change.inputs.get("list").cloned().unwrap_or_default();
        let all_ok = plan
            .changes
            .iter()
            .filter(|c| c.inputs.get("list") == Some(&list))
            .all(|c| matches!(outcomes.get(&c.address), Some(Outcome::Applied)));
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

/// Applies a plan. Changes needing flags must have been checked by the caller
/// ([`Plan::blocked`]).
pub async fn apply(
    aws: Arc<Aws>,
    plan: &Plan,
    options: &ApplyOptions,
    reporter: Arc<dyn Reporter>,
) -> ApplyReport {
    reporter.begin(plan.changes.len());
    let mut storage_outcomes = BTreeMap::new();
    let failed_lists = Arc::new(storage_phase(&aws, plan, options, &mut storage_outcomes).await);
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.kind, ResourceKind::S3Bucket | ResourceKind::S3Object))
    {
        if let Some(outcome) = storage_outcomes.get(&change.address) {
            reporter.finished(&ChangeResult {
                address: change.address.clone(),
                action: change.action,
                outcome: outcome.clone(),
            });
        }
    }
    // IAM roles (global) before the functions that use them.
    let mut failed_roles = BTreeSet::new();
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::IamRole && c.action != Action::Delete)
    {
        let outcome =
            match crate::responses::apply_role(&aws, &plan.targets.delegated_admin, change).await {
                Ok(()) => Outcome::Applied,
                Err(error) => {
                    failed_roles.insert(change.inputs.get("response").cloned().unwrap_or_default());
                    Outcome::Failed {
                        error: error.to_string(),
                    }
                }
            };
        reporter.finished(&ChangeResult {
            address: change.address.clone(),
            action: change.action,
            outcome: outcome.clone(),
        });
        storage_outcomes.insert(change.address.clone(), outcome);
    }
    let failed_roles = Arc::new(failed_roles);
    let zips = Arc::new(options.function_zips.clone());
    let permits = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let regional = |c: &&Change| {
        !matches!(
            c.kind,
            ResourceKind::S3Bucket | ResourceKind::S3Object | ResourceKind::IamRole
        )
    };
    let regions: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(regional)
        .map(|c| c.region.as_str())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for region in regions {
        let changes: Vec<Change> = plan
            .changes
            .iter()
            .filter(regional)
            .filter(|c| c.region == region)
            .cloned()
            .collect();
        let (aws, permits, reporter, failed_lists) = (
            aws.clone(),
            permits.clone(),
            reporter.clone(),
            failed_lists.clone(),
        );
        let (failed_roles, zips) = (failed_roles.clone(), zips.clone());
        let admin = plan.targets.delegated_admin.clone();
        let management = plan.targets.management_account.clone();
        let region = region.to_string();
        let list_timeout = options.list_timeout;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let mut run = RegionRun {
                aws: &aws,
                region: &region,
                admin: &admin,
                management: &management,
                results: BTreeMap::new(),
                failed_lists: &failed_lists,
                list_timeout,
                failed_roles: &failed_roles,
                zips: &zips,
            };
            let refs: Vec<&Change> = changes.iter().collect();
            run.run(&refs).await;
            for change in &changes {
                if let Some(outcome) = run.results.get(&change.address) {
                    reporter.finished(&ChangeResult {
                        address: change.address.clone(),
                        action: change.action,
                        outcome: outcome.clone(),
                    });
                }
            }
            run.results
        });
    }
    let mut outcomes = storage_outcomes;
    while let Some(joined) = tasks.join_next().await {
        if let Ok(results) = joined {
            outcomes.extend(results);
        }
    }
    // Roles of removed responses go last, once nothing of that response is left in any Region.
    for change in plan
        .changes
        .iter()
        .filter(|c| c.kind == ResourceKind::IamRole && c.action == Action::Delete)
    {
        let response = change.inputs.get("response");
        let blocked = plan
            .changes
            .iter()
            .filter(|c| c.kind != ResourceKind::IamRole && c.inputs.get("response") == response)
            .any(|c| !matches!(outcomes.get(&c.address), Some(Outcome::Applied)));
        let outcome = if blocked {
            Outcome::Skipped {
                reason: "other resources of the response are still there".to_string(),
            }
        } else {
            match crate::responses::apply_role(&aws, &plan.targets.delegated_admin, change).await {
                Ok(()) => Outcome::Applied,
                Err(error) => Outcome::Failed {
                    error: error.to_string(),
                },
            }
        };
        reporter.finished(&ChangeResult {
            address: change.address.clone(),
            action: change.action,
            outcome: outcome.clone(),
        });
        outcomes.insert(change.address.clone(), outcome);
    }
    let pruned = prune(&aws, plan, &outcomes).await;
    reporter.end();
    let results = plan
        .changes
        .iter()
        .map(|change| ChangeResult {
            address: change.address.clone(),
            action: change.action,
            outcome: outcomes.remove(&change.address).unwrap_or(Outcome::Failed {
                error: "apply stopped before this change ran".to_string(),
            }),
        })
        .collect();
    ApplyReport {
        results,
        pruned: pruned.map_err(|e| e.to_string()),
    }
}
