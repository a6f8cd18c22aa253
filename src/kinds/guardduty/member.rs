//! `guardduty.member[ACCOUNT/REGION]`: an organization account as a member of the delegated
//! administrator, with its detector's features. Members are written 50 to a call; identical
//! feature updates share one UpdateMemberDetectors call.

use super::features::{
    compare, feature_attributes, features_of, member_feature_configs, missing_features,
    observed_feature_attributes, requests, status,
};
use super::read::member_features;
use super::state::{MemberState, RegionState};
use crate::cloud::aws::{Aws, AwsError};
use crate::cloud::discover::Discovery;
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Action, Attributes, Change, Shared};
use crate::kinds::guardduty::profiles::Profiles;
use crate::kinds::guardduty::section::DetectorSettings;
use crate::kinds::{change, string};
use aws_sdk_guardduty::types::AccountDetail;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The type name.
pub const TYPE: &str = "guardduty.member";

/// How many accounts GuardDuty takes in one member call.
pub const BATCH: usize = 50;

/// Member batches of one Region applied at once (GuardDuty's limits are per account and
/// Region).
pub const BATCHES_AT_ONCE: usize = 4;

/// The address of `account` in `region`.
pub fn address(account: &str, region: &str) -> String {
    format!("{TYPE}[{account}/{region}]")
}

/// Desired attributes of a member account.
pub fn desired(settings: &DetectorSettings) -> Attributes {
    let mut attributes = feature_attributes(settings, |enabled| status(enabled).to_string());
    attributes.insert("relationship_status".into(), string("Enabled"));
    attributes
}

/// What each targeted member should have: the default settings, and the profile of each
/// account that has another (see `profiles`).
pub struct MemberTargets<'a> {
    pub base: &'a DetectorSettings,
    pub profiles: &'a Profiles,
    /// Accounts whose profile is not the default, with their profile's name.
    pub chosen: BTreeMap<&'a str, &'a str>,
}

impl<'a> MemberTargets<'a> {
    /// Everyone on the default settings.
    pub fn uniform(base: &'a DetectorSettings, profiles: &'a Profiles) -> Self {
        MemberTargets {
            base,
            profiles,
            chosen: BTreeMap::new(),
        }
    }
}

/// Members to add, update and remove in one Region; notes on members left alone.
pub fn plan(
    targets: &MemberTargets<'_>,
    discovery: &Discovery,
    region: &str,
    state: &RegionState,
    changes: &mut Vec<Change>,
    notes: &mut Vec<String>,
) {
    let emails: BTreeMap<&str, &str> = discovery
        .organization
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.email.as_str()))
        .collect();
    // One desired map per profile, held once; members share their feature maps too (a few
    // distinct sets among thousands of members), so each distinct (profile, features,
    // relationship, unreadable) is compared once per Region.
    let mut desired: HashMap<Option<&str>, Option<(Attributes, Shared)>> = HashMap::new();
    let mut compared = HashMap::new();
    let mut left_out: BTreeMap<&str, usize> = BTreeMap::new();
    for account in &discovery.members {
        let email = emails.get(account.as_str()).copied();
        let profile = targets.chosen.get(account.as_str()).copied();
        let wanted = desired.entry(profile).or_insert_with(|| match profile {
            None => Some(desired_pair(targets.base)),
            Some(name) => {
                let profile = targets.profiles.profiles.get(name)?;
                (!profile.exclude_regions.iter().any(|r| r == region))
                    .then(|| desired_pair(&super::profiles::settings(targets.base, profile)))
            }
        });
        let Some((wanted, shared)) = wanted else {
            *left_out.entry(profile.unwrap_or_default()).or_default() += 1;
            continue;
        };
        match state.members.get(account) {
            None => {
                let mut c = change(
                    TYPE,
                    address(account, region),
                    Action::Create,
                    Some(account),
                    region,
                    "targeted by the manifest but not a GuardDuty member",
                );
                c.after = shared.clone();
                c.inputs
                    .insert("email".into(), email.unwrap_or_default().to_string());
                changes.push(c);
            }
            Some(member) => {
                let key = (
                    profile,
                    member.features.as_ref().map(Arc::as_ptr),
                    member.relationship_status.as_str(),
                    member.unreadable.as_deref(),
                );
                let difference = compared
                    .entry(key)
                    .or_insert_with(|| difference(member, wanted));
                if let Some((before, after, reason)) = difference {
                    let mut c = change(
                        TYPE,
                        address(account, region),
                        Action::Update,
                        Some(account),
                        region,
                        reason.clone(),
                    );
                    c.before = before.clone();
                    c.after = after.clone();
                    if let Some(email) = email {
                        c.inputs.insert("email".into(), email.to_string());
                    }
                    changes.push(c);
                }
            }
        }
    }
    for (profile, count) in left_out {
        notes.push(format!(
            "{region}: {count} account(s) of profile `{profile}` are left out here (the profile excludes {region}); guardform neither enrolls nor changes them"
        ));
    }
    plan_removals(discovery, region, state, changes, notes);
}

fn desired_pair(settings: &DetectorSettings) -> (Attributes, Shared) {
    let attributes = desired(settings);
    let shared = Shared::from(attributes.clone());
    (attributes, shared)
}

/// Members no longer targeted: removed (with `--allow-destroy`) when they are organization
/// accounts; others are left alone with a note.
fn plan_removals(
    discovery: &Discovery,
    region: &str,
    state: &RegionState,
    changes: &mut Vec<Change>,
    notes: &mut Vec<String>,
) {
    let admin = discovery.delegated_admin.as_str();
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
                    TYPE,
                    address(account, region),
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

/// How an existing member differs from the manifest: the live and desired values of what
/// differs, and why; `None` when it does not.
fn difference(member: &MemberState, desired: &Attributes) -> Option<(Shared, Shared, String)> {
    let mut observed = member
        .features
        .as_ref()
        .map(|features| observed_feature_attributes(features))
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
    Some((before.into(), after.into(), reason))
}

/// Accounts GuardDuty did not process, with why.
type Failures = BTreeMap<String, String>;

/// The reason GuardDuty gave for each unprocessed account of a reply. An entry without an
/// account id is not dropped: it fails the whole call's accounts.
fn unprocessed<'a>(
    entries: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    accounts: &[String],
    failures: &mut Failures,
) {
    for (account, result) in entries {
        let result = result.unwrap_or("no reason given").to_string();
        match account {
            Some(account) if !account.is_empty() => {
                failures.insert(account.to_string(), result);
            }
            _ => {
                for account in accounts {
                    failures.entry(account.clone()).or_insert_with(|| {
                        format!("GuardDuty did not process an account it did not name: {result}")
                    });
                }
            }
        }
    }
}

/// One batch of member changes in one Region.
struct Batch<'a> {
    aws: &'a Aws,
    admin: &'a str,
    region: &'a str,
    detector_id: String,
}

impl Batch<'_> {
    fn context(&self) -> String {
        format!("{}/{}", self.admin, self.region)
    }

    /// CreateMembers; returns the accounts GuardDuty did not process, with why.
    async fn create(&self, changes: &[&Change]) -> Result<Failures, AwsError> {
        let mut failures = Failures::new();
        if changes.is_empty() {
            return Ok(failures);
        }
        let details: Vec<AccountDetail> = changes
            .iter()
            .map(|c| {
                AccountDetail::builder()
                    .account_id(c.account.clone().unwrap_or_default())
                    .email(c.inputs.get("email").cloned().unwrap_or_default())
                    .build()
            })
            .collect();
        let accounts: Vec<String> = changes.iter().filter_map(|c| c.account.clone()).collect();
        let output = self
            .aws
            .guardduty(self.admin, self.region)
            .create_members()
            .detector_id(&self.detector_id)
            .set_account_details(Some(details))
            .send()
            .await
            .map_err(|e| {
                AwsError::new(
                    format!("adding {} member(s) in {}", changes.len(), self.context()),
                    e,
                )
            })?;
        unprocessed(
            output
                .unprocessed_accounts()
                .iter()
                .map(|u| (u.account_id(), u.result())),
            &accounts,
            &mut failures,
        );
        Ok(failures)
    }

    /// Brings member detectors' features to what each account wants, grouping identical
    /// updates into one UpdateMemberDetectors call. Accounts just enrolled are read first
    /// (GuardDuty set them up from the organization configuration); an account missing from
    /// both lists of that read is a failure, not a success.
    async fn features(
        &self,
        wanted: &BTreeMap<String, Shared>,
        read_first: bool,
    ) -> Result<Failures, AwsError> {
        let client = self.aws.guardduty(self.admin, self.region);
        let mut needed: BTreeMap<String, Attributes> = BTreeMap::new();
        let mut failures = Failures::new();
        if read_first {
            let accounts: Vec<String> = wanted.keys().cloned().collect();
            let mut read =
                member_features(&client, &self.detector_id, &accounts, &self.context()).await?;
            for account in &accounts {
                match read.remove(account) {
                    Some(Ok(features)) => {
                        let differing = missing_features(&wanted[account], &features);
                        if !differing.is_empty() {
                            needed.insert(account.clone(), differing);
                        }
                    }
                    Some(Err(reason)) => {
                        failures.insert(account.clone(), reason);
                    }
                    None => {
                        failures.insert(
                            account.clone(),
                            "GuardDuty returned neither the member's detector nor a reason"
                                .to_string(),
                        );
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
        // Runtime Monitoring and its EKS predecessor go in separate requests, new one first.
        let calls = groups.into_values().flat_map(|(attributes, accounts)| {
            requests(features_of(&attributes))
                .into_iter()
                .map(move |part| (part, accounts.clone()))
        });
        for (part, accounts) in calls {
            let features = member_feature_configs(&part);
            let output = client
                .update_member_detectors()
                .detector_id(&self.detector_id)
                .set_account_ids(Some(accounts.clone()))
                .set_features(Some(features))
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!(
                            "updating {} member detector(s) in {}",
                            accounts.len(),
                            self.context()
                        ),
                        e,
                    )
                })?;
            unprocessed(
                output
                    .unprocessed_accounts()
                    .iter()
                    .map(|u| (u.account_id(), u.result())),
                &accounts,
                &mut failures,
            );
        }
        Ok(failures)
    }

    /// DisassociateMembers then DeleteMembers.
    async fn remove(&self, accounts: Vec<String>) -> Result<Failures, AwsError> {
        let mut failures = Failures::new();
        if accounts.is_empty() {
            return Ok(failures);
        }
        let client = self.aws.guardduty(self.admin, self.region);
        let context =
            |what: &str| format!("{what} {} member(s) in {}", accounts.len(), self.context());
        let out = client
            .disassociate_members()
            .detector_id(&self.detector_id)
            .set_account_ids(Some(accounts.clone()))
            .send()
            .await
            .map_err(|e| AwsError::new(context("disassociating"), e))?;
        unprocessed(
            out.unprocessed_accounts()
                .iter()
                .map(|u| (u.account_id(), u.result())),
            &accounts,
            &mut failures,
        );
        let out = client
            .delete_members()
            .detector_id(&self.detector_id)
            .set_account_ids(Some(accounts.clone()))
            .send()
            .await
            .map_err(|e| AwsError::new(context("deleting"), e))?;
        unprocessed(
            out.unprocessed_accounts()
                .iter()
                .map(|u| (u.account_id(), u.result())),
            &accounts,
            &mut failures,
        );
        Ok(failures)
    }
}

/// Each account of `changes` failing with `error`.
fn all_failed(changes: &[&Change], error: &AwsError, failures: &mut Failures) {
    for change in changes {
        failures.insert(
            change.account.clone().unwrap_or_default(),
            error.to_string(),
        );
    }
}

/// Applies one batch of member changes (all in one Region): adds, then features, then removals.
pub async fn apply(aws: &Aws, discovery: &Discovery, changes: &[&Change]) -> Vec<Outcome> {
    let admin = discovery.delegated_admin.as_str();
    let region = changes
        .first()
        .map(|c| c.region.as_str())
        .unwrap_or_default();
    let detector_id = match aws.current_detector_id(admin, region).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            let reason = format!("the administrator {admin} has no detector in {region}");
            return changes
                .iter()
                .map(|_| Outcome::Skipped {
                    reason: reason.clone(),
                })
                .collect();
        }
        Err(error) => return changes.iter().map(|_| Outcome::failed(&error)).collect(),
    };
    let batch = Batch {
        aws,
        admin,
        region,
        detector_id,
    };
    let creates: Vec<&Change> = changes
        .iter()
        .copied()
        .filter(|c| {
            c.action == Action::Create
                || (c.action == Action::Update && c.after.contains_key("relationship_status"))
        })
        .collect();
    let mut failed = Failures::new();
    match batch.create(&creates).await {
        Ok(unprocessed) => failed.extend(unprocessed),
        Err(error) => all_failed(&creates, &error, &mut failed),
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
        match batch.features(&wanted, read_first).await {
            Ok(failures) => failed.extend(failures),
            Err(error) => {
                for account in wanted.keys() {
                    failed.insert(account.clone(), error.to_string());
                }
            }
        }
    }
    let deletes: Vec<&Change> = changes
        .iter()
        .copied()
        .filter(|c| c.action == Action::Delete)
        .collect();
    let ids: Vec<String> = deletes.iter().filter_map(|c| c.account.clone()).collect();
    match batch.remove(ids).await {
        Ok(failures) => failed.extend(failures),
        Err(error) => all_failed(&deletes, &error, &mut failed),
    }
    changes
        .iter()
        .map(
            |change| match failed.get(change.account.as_deref().unwrap_or_default()) {
                Some(reason) => Outcome::Failed {
                    error: format!("{}: {reason}", change.address),
                },
                None => Outcome::Applied,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unprocessed_entry_without_an_account_fails_the_whole_call_not_an_empty_key() {
        let accounts = vec!["400000000001".to_string(), "400000000002".to_string()];
        let mut failures = Failures::new();
        unprocessed(
            [
                (
                    Some("400000000001"),
                    Some("The request is rejected because the account is suspended."),
                ),
                (None, Some("Internal error")),
            ]
            .into_iter(),
            &accounts,
            &mut failures,
        );
        assert!(!failures.contains_key(""), "{failures:?}");
        assert_eq!(
            failures["400000000001"], "The request is rejected because the account is suspended.",
            "an account's own reason is kept"
        );
        assert!(failures["400000000002"].contains("did not name: Internal error"));
    }
}
