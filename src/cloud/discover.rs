//! Which accounts and Regions the manifest targets: Organizations (accounts, OUs, tags) and the
//! Account API (enabled Regions of the administrator account).

use crate::cloud::aws::{Aws, AwsError};
use crate::manifest::{AccountSelector, Manifest, RegionInclude};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `ACTIVE`, `SUSPENDED` or `PENDING_CLOSURE`.
    pub status: String,
    /// OU ids from the root down to the account's parent (empty when OUs were not read).
    pub ou_ids: Vec<String>,
    /// OU names from the root down, e.g. `["Workloads", "Prod"]`.
    pub ou_path: Vec<String>,
    /// Tags (empty when tags were not read).
    pub tags: BTreeMap<String, String>,
}

/// The organization as discovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
    pub accounts: Vec<OrgAccount>,
}

/// What the plan is about: the organization, targeted accounts and Regions, and notes on what
/// was left out and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub organization: Organization,
    pub delegated_admin: String,
    /// Accounts to be GuardDuty members (never the administrator itself).
    pub members: BTreeSet<String>,
    pub regions: Vec<String>,
    /// Regions enabled in the administrator account that the manifest does not target (where
    /// guardform may have left what it made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untargeted: Vec<String>,
    pub notes: Vec<String>,
}

/// Discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Targets(String),
}

/// Reads the organization and resolves the manifest's targets.
pub async fn discover(aws: &Aws, manifest: &Manifest) -> Result<Discovery, DiscoverError> {
    let organization = read_organization(aws, manifest).await?;
    let (members, mut notes) =
        select_members(manifest, &organization).map_err(DiscoverError::Targets)?;
    let (regions, region_notes, untargeted) = select_regions(aws, manifest).await?;
    notes.extend(region_notes);
    if regions.is_empty() {
        return Err(DiscoverError::Targets(
            "no Region is targeted: every Region the manifest selects is excluded or not enabled in the administrator account".to_string(),
        ));
    }
    Ok(Discovery {
        delegated_admin: manifest.organization.delegated_admin.clone(),
        organization,
        members,
        regions,
        untargeted,
        notes,
    })
}

fn uses(manifest: &Manifest, pick: impl Fn(&AccountSelector) -> bool) -> bool {
    pick(&manifest.accounts.include) || pick(&manifest.accounts.exclude)
}

async fn read_organization(aws: &Aws, manifest: &Manifest) -> Result<Organization, DiscoverError> {
    let caller = aws.caller_account().to_string();
    let described = aws
        .organizations(&caller)
        .describe_organization()
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "reading the organization (organizations:DescribeOrganization)",
                e,
            )
        })?;
    let org = described.organization().ok_or_else(|| {
        AwsError::message(
            "reading the organization",
            "DescribeOrganization returned no organization",
        )
    })?;
    let management = org.master_account_id().unwrap_or_default().to_string();
    if let Some(expected) = &manifest.organization.management_account
        && *expected != management
    {
        return Err(DiscoverError::Targets(format!(
            "the manifest says the management account is {expected}, but the caller's organization {} is managed by {management}; check the credentials (--profile) or `organization.management_account`",
            org.id().unwrap_or_default()
        )));
    }
    let client = aws.organizations(&management);
    let mut accounts = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                format!("listing the accounts of the organization as {management}"),
                e,
            )
        })?;
        for account in page.accounts() {
            accounts.push(OrgAccount {
                id: account.id().unwrap_or_default().to_string(),
                name: account.name().unwrap_or_default().to_string(),
                email: account.email().unwrap_or_default().to_string(),
                status: account
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                ou_ids: Vec::new(),
                ou_path: Vec::new(),
                tags: BTreeMap::new(),
            });
        }
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));

    let needs = manifest.sections.needs();
    if uses(manifest, |s| !s.ous.is_empty()) || !needs.ous.is_empty() || needs.ou_tree {
        let parents = read_ou_tree(&client).await?;
        for account in &mut accounts {
            if let Some((ids, names)) = parents.get(&account.id) {
                account.ou_ids = ids.clone();
                account.ou_path = names.clone();
            }
        }
    }
    if uses(manifest, |s| !s.tags.is_empty()) {
        read_tags(&client, &mut accounts).await?;
    }
    Ok(Organization {
        id: org.id().unwrap_or_default().to_string(),
        management_account: management,
        accounts,
    })
}

/// Organizations answers one account's tags per call: read them a few at a time (a global
/// service with low rate limits, so the cap stays small whatever `--parallelism` says).
const TAG_READS_AT_ONCE: usize = 8;

/// The tags of every active account.
async fn read_tags(
    client: &aws_sdk_organizations::Client,
    accounts: &mut [OrgAccount],
) -> Result<(), AwsError> {
    use futures_util::StreamExt;
    let reads: Vec<_> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.status == "ACTIVE")
        .map(|(index, account)| {
            let id = account.id.clone();
            async move {
                let mut tags = BTreeMap::new();
                let mut pages = client
                    .list_tags_for_resource()
                    .resource_id(&id)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        AwsError::new(format!("reading the tags of account {id}"), e)
                    })?;
                    for tag in page.tags() {
                        tags.insert(tag.key().to_string(), tag.value().to_string());
                    }
                }
                Ok::<_, AwsError>((index, tags))
            }
        })
        .collect();
    let reads = futures_util::stream::iter(reads)
        .buffer_unordered(TAG_READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    for read in reads {
        let (index, tags) = read?;
        accounts[index].tags = tags;
    }
    Ok(())
}

/// For every account: the OU ids and names from the root down to its parent.
async fn read_ou_tree(
    client: &aws_sdk_organizations::Client,
) -> Result<BTreeMap<String, (Vec<String>, Vec<String>)>, AwsError> {
    let roots = client
        .list_roots()
        .send()
        .await
        .map_err(|e| AwsError::new("listing the organization's roots", e))?;
    let mut parents = BTreeMap::new();
    let mut queue: Vec<(String, Vec<String>, Vec<String>)> = roots
        .roots()
        .iter()
        .filter_map(|root| root.id())
        .map(|id| (id.to_string(), Vec::new(), Vec::new()))
        .collect();
    while let Some((parent, ids, names)) = queue.pop() {
        let mut pages = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new(format!("listing the accounts in {parent}"), e))?;
            for account in page.accounts() {
                if let Some(id) = account.id() {
                    parents.insert(id.to_string(), (ids.clone(), names.clone()));
                }
            }
        }
        let mut pages = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new(format!("listing the OUs in {parent}"), e))?;
            for ou in page.organizational_units() {
                let (Some(id), Some(name)) = (ou.id(), ou.name()) else {
                    continue;
                };
                let mut child_ids = ids.clone();
                child_ids.push(id.to_string());
                let mut child_names = names.clone();
                child_names.push(name.to_string());
                queue.push((id.to_string(), child_ids, child_names));
            }
        }
    }
    Ok(parents)
}

fn selects(selector: &AccountSelector, account: &OrgAccount) -> bool {
    if selector.all || selector.ids.contains(&account.id) {
        return true;
    }
    let path = account.ou_path.join("/");
    let in_ou = selector.ous.iter().any(|ou| {
        account.ou_ids.contains(ou) || path == *ou || path.starts_with(&format!("{ou}/"))
    });
    let tagged = !selector.tags.is_empty()
        && selector
            .tags
            .iter()
            .all(|(key, value)| account.tags.get(key) == Some(value));
    in_ou || tagged
}

/// The member accounts a manifest selects in an organization, and notes on what was left out.
/// Pure: unit-tested without AWS.
pub fn select_members(
    manifest: &Manifest,
    organization: &Organization,
) -> Result<(BTreeSet<String>, Vec<String>), String> {
    let admin = &manifest.organization.delegated_admin;
    let mut notes = Vec::new();
    let Some(admin_account) = organization.accounts.iter().find(|a| a.id == *admin) else {
        return Err(format!(
            "the delegated administrator {admin} is not an account of organization {}; check `organization.delegated_admin`",
            organization.id
        ));
    };
    if admin_account.status != "ACTIVE" {
        return Err(format!(
            "the delegated administrator {admin} is {} in the organization; GuardDuty needs an active administrator account",
            admin_account.status
        ));
    }
    let selection = &manifest.accounts;
    for id in selection.include.ids.iter().chain(&selection.exclude.ids) {
        if !organization.accounts.iter().any(|a| a.id == *id) {
            notes.push(format!(
                "account {id} named in the manifest is not in the organization; ignored"
            ));
        }
    }
    for ou in selection.include.ous.iter().chain(&selection.exclude.ous) {
        let known = organization.accounts.iter().any(|a| {
            let path = a.ou_path.join("/");
            a.ou_ids.contains(ou) || path == *ou || path.starts_with(&format!("{ou}/"))
        });
        if !known {
            notes.push(format!("OU `{ou}` holds no account of the organization"));
        }
    }
    let mut members = BTreeSet::new();
    let mut suspended = Vec::new();
    for account in &organization.accounts {
        if !selects(&selection.include, account) || selects(&selection.exclude, account) {
            if account.id == *admin && selects(&selection.exclude, account) {
                return Err(format!(
                    "the delegated administrator {admin} is excluded by `accounts`; the administrator runs GuardDuty for the organization and must be a target"
                ));
            }
            continue;
        }
        if account.status != "ACTIVE" {
            suspended.push(format!("{} ({})", account.id, account.status));
            continue;
        }
        if account.id != *admin {
            members.insert(account.id.clone());
        }
    }
    if !suspended.is_empty() {
        notes.push(format!(
            "{} selected account(s) are not active and are never targeted: {}",
            suspended.len(),
            suspended.join(", ")
        ));
    }
    Ok((members, notes))
}

/// Every Region `account` lists, with its opt-in status (`ENABLED_BY_DEFAULT`, `ENABLED`,
/// `DISABLED`, ...); `whose` names the account in errors.
pub async fn region_statuses(
    aws: &Aws,
    account: &str,
    whose: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut statuses: BTreeMap<String, String> = BTreeMap::new();
    let mut pages = aws
        .account(account)
        .list_regions()
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                format!("listing the Regions of {whose} {account} (account:ListRegions)"),
                e,
            )
        })?;
        for region in page.regions() {
            if let Some(name) = region.region_name() {
                statuses.insert(
                    name.to_string(),
                    region
                        .region_opt_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                );
            }
        }
    }
    Ok(statuses)
}

/// Whether a Region status from [`region_statuses`] means the Region can be used.
pub fn is_enabled(status: &str) -> bool {
    matches!(status, "ENABLED" | "ENABLED_BY_DEFAULT")
}

async fn select_regions(
    aws: &Aws,
    manifest: &Manifest,
) -> Result<(Vec<String>, Vec<String>, Vec<String>), AwsError> {
    let admin = &manifest.organization.delegated_admin;
    let statuses = region_statuses(aws, admin, "the administrator account").await?;
    let enabled = is_enabled;
    let mut notes = Vec::new();
    let candidates: Vec<String> = match &manifest.regions.include {
        RegionInclude::AllEnabled => statuses
            .iter()
            .filter(|(_, status)| enabled(status))
            .map(|(name, _)| name.clone())
            .collect(),
        RegionInclude::List(list) => {
            let mut chosen = Vec::new();
            for region in list {
                match statuses.get(region) {
                    Some(status) if enabled(status) => chosen.push(region.clone()),
                    Some(status) => notes.push(format!(
                        "Region {region} skipped: it is an opt-in Region that is {} in the administrator account {admin}",
                        status.to_ascii_lowercase()
                    )),
                    None => notes.push(format!("Region {region} skipped: the administrator account {admin} does not list it")),
                }
            }
            chosen
        }
    };
    let mut regions: Vec<String> = candidates
        .into_iter()
        .filter(|r| !manifest.regions.exclude.contains(r))
        .collect();
    regions.sort();
    regions.dedup();
    let untargeted = statuses
        .iter()
        .filter(|(name, status)| enabled(status) && !regions.contains(name))
        .map(|(name, _)| name.clone())
        .collect();
    Ok((regions, notes, untargeted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        source: &str,
    ) -> (
        Option<Manifest>,
        Vec<crate::manifest::diagnostic::Diagnostic>,
    ) {
        crate::manifest::check(source, std::path::Path::new("."), &[])
    }

    fn organization() -> Organization {
        let account = |id: &str, path: &[&str], env: &str, status: &str| OrgAccount {
            id: id.to_string(),
            name: format!("acct-{id}"),
            email: format!("{id}@example.com"),
            status: status.to_string(),
            ou_ids: path
                .iter()
                .map(|p| format!("ou-{}", p.to_lowercase()))
                .collect(),
            ou_path: path.iter().map(|p| p.to_string()).collect(),
            tags: [("env".to_string(), env.to_string())].into(),
        };
        Organization {
            id: "o-test".into(),
            management_account: "123456789012".into(),
            accounts: vec![
                account("123456789012", &[], "mgmt", "ACTIVE"),
                account("222222222222", &["Security"], "security", "ACTIVE"),
                account("400000000001", &["Workloads", "Prod"], "prod", "ACTIVE"),
                account("400000000002", &["Workloads", "Dev"], "dev", "ACTIVE"),
                account("400000000003", &["Workloads", "Prod"], "prod", "SUSPENDED"),
            ],
        }
    }

    fn manifest(accounts: &str) -> Manifest {
        let source = format!(
            "version: 1\norganization: {{ delegated_admin: \"222222222222\" }}\naccounts: {accounts}\nregions: {{ include: [eu-west-1] }}\n"
        );
        let (manifest, diagnostics) = check(&source);
        manifest.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    #[test]
    fn all_accounts_minus_admin_and_suspended() {
        let (members, notes) =
            select_members(&manifest("{ include: { all: true } }"), &organization()).unwrap();
        assert_eq!(
            members,
            BTreeSet::from([
                "123456789012".into(),
                "400000000001".into(),
                "400000000002".into()
            ])
        );
        assert!(notes[0].contains("400000000003 (SUSPENDED)"), "{notes:?}");
    }

    #[test]
    fn ous_by_path_include_nested_and_tags_exclude() {
        let (members, _) = select_members(
            &manifest(
                "{ include: { ous: [Workloads, Security] }, exclude: { tags: { env: dev } } }",
            ),
            &organization(),
        )
        .unwrap();
        assert_eq!(members, BTreeSet::from(["400000000001".into()]));
        let (members, _) =
            select_members(&manifest("{ include: { ous: [ou-dev] } }"), &organization()).unwrap();
        assert_eq!(members, BTreeSet::from(["400000000002".into()]));
    }

    #[test]
    fn excluding_the_admin_by_ou_is_an_error() {
        let error = select_members(
            &manifest("{ include: { all: true }, exclude: { ous: [Security] } }"),
            &organization(),
        )
        .unwrap_err();
        assert!(error.contains("222222222222 is excluded"), "{error}");
    }
}
