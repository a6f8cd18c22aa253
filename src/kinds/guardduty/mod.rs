//! GuardDuty for the organization: the delegated administrator, its detector, the
//! organization's auto-enable settings and the members, per Region. One group because they
//! share their reads (a few calls per Region, two per 50 members).

pub mod detector;
pub mod features;
pub mod init;
pub mod malware_scan;
pub mod member;
pub mod org_config;
pub mod organization_admin;
pub mod profiles;
pub mod read;
pub mod section;
pub mod service_role;
pub mod state;
pub mod trusted_access;

use super::Context;
use crate::cloud::discover::Discovery;
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Change, Plan};
use crate::engine::{Batch, BoxFuture, Kind, Planned, ReadError, State, state_of};
use crate::manifest::Manifest;
use state::{GuardDutyState, RegionState};

/// The GuardDuty organization kinds.
pub struct GuardDuty;

/// Every targeted Region's changes (pure).
pub fn plan(manifest: &Manifest, discovery: &Discovery, state: &GuardDutyState) -> Planned {
    let mut planned = Planned::default();
    planned.changes.extend(service_role::plan(discovery, state));
    planned
        .changes
        .extend(trusted_access::plan(discovery, state));
    let admin = &discovery.delegated_admin;
    for (region, detector) in &state.untargeted_detectors {
        planned.notes.push(format!(
            "{region}: the manifest no longer targets this Region, but the administrator {admin} has guardform's detector {detector} there, with whatever guardform made beside it (members, IP lists); guardform leaves it all as it is.\n  hint: target {region} again to manage it, or turn GuardDuty off there deliberately"
        ));
    }
    for (region, regional) in &state.regions {
        for (other, status) in &regional.admin_accounts {
            if other != admin && status == "ENABLED" {
                planned.notes.push(format!(
                    "{region}: the delegated administrator changes from {other} to {admin}; what guardform made in {other} (its detector settings, IP lists, response wiring) stays there and is no longer managed"
                ));
            }
        }
    }
    let targets = member_targets(manifest, discovery, &mut planned.conflicts);
    let empty = RegionState::default();
    for region in &discovery.regions {
        let state = state.regions.get(region).unwrap_or(&empty);
        planned.changes.extend(
            [
                organization_admin::plan(discovery, region, state),
                detector::plan_admin(section::of(manifest), discovery, region, state),
                org_config::plan(manifest, discovery, region, state),
                section::of(manifest)
                    .malware_scan
                    .as_ref()
                    .and_then(|scan| {
                        malware_scan::plan(
                            scan,
                            &discovery.delegated_admin,
                            region,
                            state.malware_scan.as_ref(),
                        )
                    }),
            ]
            .into_iter()
            .flatten(),
        );
        member::plan(
            &targets,
            discovery,
            region,
            state,
            &mut planned.changes,
            &mut planned.notes,
        );
    }
    planned
}

/// The administrator's malware scan settings in every targeted Region where it has a detector.
async fn read_malware_scans(
    context: &Context,
    state: &mut GuardDutyState,
) -> Result<(), crate::cloud::aws::AwsError> {
    let (aws, admin) = (
        context.aws.as_ref(),
        context.discovery.delegated_admin.as_str(),
    );
    let read = crate::kinds::each_region(context, |region| async move {
        let Some(detector_id) = aws.detector_id(admin, region).await? else {
            return Ok(None);
        };
        let client = aws.guardduty(admin, region);
        malware_scan::read(&client, &detector_id, &format!("{admin}/{region}"))
            .await
            .map(Some)
    })
    .await?;
    for (region, settings) in read {
        if let Some(regional) = state.regions.get_mut(&region) {
            regional.malware_scan = settings;
        }
    }
    Ok(())
}

/// Each targeted member's profile; accounts two assignments name equally specifically go to
/// `conflicts`.
fn member_targets<'a>(
    manifest: &'a Manifest,
    discovery: &'a Discovery,
    conflicts: &mut Vec<String>,
) -> member::MemberTargets<'a> {
    let profiles = profiles::of(manifest);
    let mut targets = member::MemberTargets::uniform(section::of(manifest), profiles);
    if profiles.assign.is_empty() {
        return targets;
    }
    for account in &discovery.organization.accounts {
        if !discovery.members.contains(&account.id) {
            continue;
        }
        match profiles::choose(profiles, account) {
            Ok(choice) => {
                if let Some(profile) = choice.profile {
                    targets.chosen.insert(account.id.as_str(), profile);
                }
            }
            Err(conflict) => conflicts.push(conflict),
        }
    }
    targets
}

impl Kind<Context> for GuardDuty {
    fn name(&self) -> &'static str {
        "guardduty"
    }

    fn types(&self) -> &'static [&'static str] {
        &[
            organization_admin::TYPE,
            detector::TYPE,
            org_config::TYPE,
            malware_scan::TYPE,
            service_role::TYPE,
            trusted_access::TYPE,
            member::TYPE,
        ]
    }

    fn read<'a>(
        &'a self,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>> {
        Box::pin(async move {
            let mut state =
                read::read(&context.aws, &context.discovery, context.parallelism).await?;
            if section::of(&context.manifest).malware_scan.is_some() {
                read_malware_scans(context, &mut state).await?;
            }
            if trusted_access::needed(&context.manifest, &context.discovery) {
                let management = &context.discovery.organization.management_account;
                state.malware_trusted_access =
                    Some(trusted_access::read(&context.aws, management).await?);
            }
            Ok(Box::new(state) as Box<dyn State>)
        })
    }

    fn init(&self, context: &Context, state: &dyn State) -> Vec<crate::engine::InitEntry> {
        init::init(context, state_of::<GuardDutyState>(state))
    }

    fn plan(&self, context: &Context, state: &dyn State) -> Planned {
        plan(&context.manifest, &context.discovery, state_of(state))
    }

    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String> {
        let region = change.region.as_str();
        let admin = plan.targets.delegated_admin.as_str();
        let account = change.account.as_deref().unwrap_or_default();
        let mut on = Vec::new();
        if change.kind == service_role::TYPE || change.kind == trusted_access::TYPE {
            return Vec::new();
        }
        if change.kind != organization_admin::TYPE {
            on.push(organization_admin::address(region));
        }
        if change.kind != organization_admin::TYPE
            && !(change.kind == detector::TYPE && account == admin)
        {
            on.push(detector::address(admin, region));
        }
        if change.kind == member::TYPE {
            on.push(org_config::address(region));
            on.push(service_role::address(account));
        }
        if change.kind == member::TYPE || change.kind == org_config::TYPE {
            on.push(trusted_access::address());
        }
        on
    }

    fn batch(&self, change: &Change) -> Option<Batch> {
        (change.kind == member::TYPE).then(|| Batch {
            key: change.region.clone(),
            size: member::BATCH,
            at_once: member::BATCHES_AT_ONCE,
        })
    }

    fn apply<'a>(
        &'a self,
        context: &'a Context,
        _state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let (aws, discovery) = (context.aws.as_ref(), context.discovery.as_ref());
            if changes.first().is_some_and(|c| c.kind == member::TYPE) {
                return member::apply(aws, discovery, changes).await;
            }
            crate::kinds::each(changes, |change| async move {
                match change.kind.as_str() {
                    organization_admin::TYPE => {
                        organization_admin::apply(aws, discovery, change).await
                    }
                    detector::TYPE => detector::apply(aws, change).await,
                    service_role::TYPE => service_role::apply(aws, change).await,
                    trusted_access::TYPE => trusted_access::apply(aws, change).await,
                    malware_scan::TYPE => {
                        malware_scan::apply(aws, &discovery.delegated_admin, change).await
                    }
                    _ => org_config::apply(aws, discovery, change).await,
                }
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::discover::{OrgAccount, Organization};
    use crate::engine::plan::{Action, Attributes, ManifestRef, Targets};
    use crate::kinds::{MANAGED_TAG_KEY, string};
    use state::{DetectorState, FeatureState, MemberState, OrgConfigState};
    use std::collections::BTreeMap;

    /// The plan of `observed`, sorted as a user sees it.
    fn plan_of(discovery: &Discovery, observed: &GuardDutyState) -> Plan {
        let registry = crate::kinds::registry();
        let planned = plan(&manifest(), discovery, observed);
        Plan::new(
            ManifestRef {
                path: "m.yaml".into(),
                digest: "sha256:0".into(),
            },
            "f".into(),
            Targets::default(),
            planned.notes,
            planned.changes,
            |t| registry.rank(t),
        )
    }

    const MANIFEST: &str = "version: 1\norganization: { delegated_admin: \"222222222222\", auto_enable: ALL }\naccounts: { include: { all: true } }\nregions: { include: [eu-west-1] }\ndetector:\n  finding_publishing_frequency: FIFTEEN_MINUTES\n  features:\n    S3_DATA_EVENTS: enabled\n    RDS_LOGIN_EVENTS: disabled\n    RUNTIME_MONITORING: { status: enabled, additional: { EKS_ADDON_MANAGEMENT: enabled } }\n  tags: { owner: security }\n";

    fn manifest() -> Manifest {
        crate::kinds::check(MANIFEST, std::path::Path::new("."))
            .0
            .unwrap()
    }

    fn discovery(members: &[&str]) -> Discovery {
        let account = |id: &str| OrgAccount {
            id: id.into(),
            name: id.into(),
            email: format!("{id}@example.com"),
            status: "ACTIVE".into(),
            ou_ids: vec![],
            ou_path: vec![],
            tags: BTreeMap::new(),
        };
        Discovery {
            organization: Organization {
                id: "o-1".into(),
                management_account: "123456789012".into(),
                accounts: [
                    "123456789012",
                    "222222222222",
                    "400000000001",
                    "400000000002",
                ]
                .into_iter()
                .map(account)
                .collect(),
            },
            delegated_admin: "222222222222".into(),
            members: members.iter().map(|s| s.to_string()).collect(),
            regions: vec!["eu-west-1".into()],
            untargeted: vec![],
            notes: vec![],
        }
    }

    fn features(pairs: &[(&str, &str)]) -> BTreeMap<String, FeatureState> {
        pairs
            .iter()
            .map(|(n, s)| {
                (
                    n.to_string(),
                    FeatureState {
                        status: s.to_string(),
                        additional: BTreeMap::new(),
                    },
                )
            })
            .collect()
    }

    fn converged() -> GuardDutyState {
        let mut runtime = FeatureState {
            status: "ENABLED".into(),
            additional: BTreeMap::new(),
        };
        runtime
            .additional
            .insert("EKS_ADDON_MANAGEMENT".into(), "ENABLED".into());
        runtime
            .additional
            .insert("EC2_AGENT_MANAGEMENT".into(), "DISABLED".into());
        let mut detector_features = features(&[
            ("S3_DATA_EVENTS", "ENABLED"),
            ("RDS_LOGIN_EVENTS", "DISABLED"),
            ("EKS_AUDIT_LOGS", "DISABLED"),
        ]);
        detector_features.insert("RUNTIME_MONITORING".into(), runtime.clone());
        let mut org_features = features(&[("S3_DATA_EVENTS", "ALL"), ("RDS_LOGIN_EVENTS", "NONE")]);
        org_features.insert(
            "RUNTIME_MONITORING".into(),
            FeatureState {
                status: "ALL".into(),
                additional: [("EKS_ADDON_MANAGEMENT".to_string(), "ALL".to_string())].into(),
            },
        );
        let state = RegionState {
            admin_accounts: [("222222222222".to_string(), "ENABLED".to_string())].into(),
            detector: Some(DetectorState {
                id: "d1".into(),
                status: "ENABLED".into(),
                finding_publishing_frequency: "FIFTEEN_MINUTES".into(),
                features: detector_features.clone(),
                tags: [
                    ("owner".to_string(), "security".to_string()),
                    (MANAGED_TAG_KEY.to_string(), "true".to_string()),
                    ("extra".to_string(), "x".to_string()),
                ]
                .into(),
            }),
            org_config: Some(OrgConfigState {
                auto_enable_organization_members: "ALL".into(),
                features: org_features,
            }),
            members: [(
                "400000000001".to_string(),
                MemberState {
                    relationship_status: "Enabled".into(),
                    administrator_id: "222222222222".into(),
                    features: Some(std::sync::Arc::new(detector_features)),
                    unreadable: None,
                },
            )]
            .into(),
            malware_scan: None,
        };
        GuardDutyState {
            regions: [("eu-west-1".to_string(), state)].into(),
            management_service_role: None,
            malware_trusted_access: None,
            untargeted_detectors: Default::default(),
        }
    }

    #[test]
    fn fresh_region_creates_everything_in_order() {
        let plan = plan_of(
            &discovery(&["400000000001", "400000000002"]),
            &GuardDutyState::default(),
        );
        let addresses: Vec<(&str, Action)> = plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(
            addresses,
            vec![
                ("guardduty.organization_admin[eu-west-1]", Action::Create),
                ("guardduty.detector[222222222222/eu-west-1]", Action::Create),
                ("guardduty.org_config[eu-west-1]", Action::Create),
                ("guardduty.member[400000000001/eu-west-1]", Action::Create),
                ("guardduty.member[400000000002/eu-west-1]", Action::Create),
            ]
        );
        assert_eq!(plan.summary.add, 5);
        assert_eq!(plan.changes[3].inputs["email"], "400000000001@example.com");
        assert_eq!(plan.changes[2].after["features.RDS_LOGIN_EVENTS"], "NONE");
        assert_eq!(plan.changes[2].after["features.S3_DATA_EVENTS"], "ALL");
    }

    #[test]
    fn converged_state_has_no_changes_and_ignores_unmanaged_fields() {
        let plan = plan_of(&discovery(&["400000000001"]), &converged());
        assert!(plan.is_empty(), "{:#?}", plan.changes);
    }

    #[test]
    fn drift_shows_only_what_differs() {
        let mut observed = converged();
        let state = observed.regions.get_mut("eu-west-1").unwrap();
        state
            .detector
            .as_mut()
            .unwrap()
            .finding_publishing_frequency = "SIX_HOURS".into();
        let member = state.members.get_mut("400000000001").unwrap();
        std::sync::Arc::make_mut(member.features.as_mut().unwrap())
            .get_mut("RUNTIME_MONITORING")
            .unwrap()
            .additional
            .insert("EKS_ADDON_MANAGEMENT".into(), "DISABLED".into());
        let plan = plan_of(&discovery(&["400000000001"]), &observed);
        assert_eq!(plan.changes.len(), 2, "{:#?}", plan.changes);
        let detector = &plan.changes[0];
        assert_eq!(detector.action, Action::Update);
        assert_eq!(
            *detector.before,
            Attributes::from([("finding_publishing_frequency".into(), string("SIX_HOURS"))])
        );
        let member = &plan.changes[1];
        assert_eq!(
            member.after.len(),
            2,
            "feature status carried with its additional configuration"
        );
        assert_eq!(
            member.before["features.RUNTIME_MONITORING.additional.EKS_ADDON_MANAGEMENT"],
            "DISABLED"
        );
    }

    #[test]
    fn untargeted_member_is_a_destroy_that_needs_a_flag() {
        let plan = plan_of(&discovery(&[]), &converged());
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(plan.changes[0].action, Action::Delete);
        assert_eq!(plan.summary.destroy, 1);
        assert_eq!(plan.blocked(false, false).len(), 1);
        assert!(plan.blocked(true, false).is_empty());
    }

    #[test]
    fn different_admin_is_a_replace_that_needs_a_flag() {
        let mut observed = converged();
        observed
            .regions
            .get_mut("eu-west-1")
            .unwrap()
            .admin_accounts = [("333333333333".to_string(), "ENABLED".to_string())].into();
        let plan = plan_of(&discovery(&["400000000001"]), &observed);
        let admin = &plan.changes[0];
        assert_eq!(admin.action, Action::Replace);
        assert_eq!(admin.requires.as_deref(), Some("--allow-admin-change"));
        assert_eq!(plan.blocked(true, false).len(), 1);
    }

    #[test]
    fn members_in_the_same_state_share_one_comparison_and_one_map() {
        // Four members: two sharing one stale feature map, one invited, one converged.
        let mut observed = converged();
        let state = observed.regions.get_mut("eu-west-1").unwrap();
        let converged_member = state.members["400000000001"].clone();
        let mut stale = (**converged_member.features.as_ref().unwrap()).clone();
        stale.get_mut("S3_DATA_EVENTS").unwrap().status = "DISABLED".into();
        let stale = std::sync::Arc::new(stale);
        for account in ["400000000002", "400000000003"] {
            let mut member = converged_member.clone();
            member.features = Some(stale.clone());
            state.members.insert(account.into(), member);
        }
        let mut invited = converged_member.clone();
        invited.relationship_status = "Invited".into();
        state.members.insert("400000000004".into(), invited);
        let targets = [
            "400000000001",
            "400000000002",
            "400000000003",
            "400000000004",
        ];
        let plan = plan_of(&discovery(&targets), &observed);
        let members: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| c.kind == member::TYPE)
            .collect();
        let accounts: Vec<_> = members.iter().map(|c| c.account.as_deref()).collect();
        assert_eq!(
            accounts,
            [
                Some("400000000002"),
                Some("400000000003"),
                Some("400000000004")
            ]
        );
        assert_eq!(
            members[0].address,
            member::address("400000000002", "eu-west-1")
        );
        assert_eq!(
            members[1].address,
            member::address("400000000003", "eu-west-1")
        );
        for stale in &members[..2] {
            assert_eq!(
                *stale.after,
                Attributes::from([("features.S3_DATA_EVENTS".into(), string("ENABLED"))])
            );
            assert_eq!(
                stale.reason,
                "member detector features differ from the manifest"
            );
        }
        assert!(crate::engine::plan::Shared::same(
            &members[0].after,
            &members[1].after
        ));
        assert_eq!(members[2].reason, "membership is Invited, not Enabled");
        assert_eq!(members[2].after["relationship_status"], "Enabled");
    }
}
