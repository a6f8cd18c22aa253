//! The coverage grid: every account of the organization × every targeted Region, each cell in
//! one state, from what the plan already read (no call of its own).

use super::{AccountRow, Cell, CellState, FeatureCoverage};
use crate::cloud::discover::{Discovery, OrgAccount};
use crate::kinds::guardduty::features::{
    compare, feature_attributes, observed_feature_attributes, status,
};
use crate::kinds::guardduty::profiles::{self, Profiles};
use crate::kinds::guardduty::section::DetectorSettings;
use crate::kinds::guardduty::state::{FeatureState, GuardDutyState, RegionState};
use std::collections::{BTreeMap, BTreeSet};

/// What the grid is built from.
pub struct Inputs<'a> {
    pub discovery: &'a Discovery,
    pub state: &'a GuardDutyState,
    pub base: &'a DetectorSettings,
    pub profiles: &'a Profiles,
}

/// The features that differ from `settings` (names, sorted).
fn differing(settings: &DetectorSettings, live: &BTreeMap<String, FeatureState>) -> Vec<String> {
    let desired = feature_attributes(settings, |on| status(on).to_string());
    let (_, after) = compare(&desired, &observed_feature_attributes(live));
    let names: BTreeSet<String> = after
        .keys()
        .filter_map(|k| k.strip_prefix("features."))
        .map(|k| k.split(".additional.").next().unwrap_or(k).to_string())
        .collect();
    names.into_iter().collect()
}

fn cell(state: CellState, detail: impl Into<String>) -> Cell {
    Cell {
        state,
        detail: detail.into(),
        differing: Vec::new(),
    }
}

/// The features compared for a cell whose detector is read.
fn compared(settings: &DetectorSettings, live: &BTreeMap<String, FeatureState>) -> Cell {
    let differing = differing(settings, live);
    if differing.is_empty() {
        cell(CellState::Enabled, "")
    } else {
        Cell {
            state: CellState::Drift,
            detail: differing.join(", "),
            differing,
        }
    }
}

/// The administrator's own cell.
fn admin_cell(settings: &DetectorSettings, region: Option<&RegionState>) -> Cell {
    match region.and_then(|r| r.detector.as_ref()) {
        None => cell(
            CellState::NotMember,
            "the administrator has no detector here",
        ),
        Some(d) if d.status != "ENABLED" => {
            cell(CellState::Suspended, format!("detector {}", d.status))
        }
        Some(d) => compared(settings, &d.features),
    }
}

/// A targeted member's cell.
fn member_cell(settings: &DetectorSettings, region: Option<&RegionState>, account: &str) -> Cell {
    let Some(region) = region else {
        return cell(CellState::Unreadable, "this Region was not read");
    };
    let Some(member) = region.members.get(account) else {
        return cell(CellState::NotMember, "not a GuardDuty member");
    };
    match member.relationship_status.as_str() {
        "Enabled" => {}
        status @ ("Disabled" | "AccountSuspended" | "Resigned" | "Removed") => {
            return cell(CellState::Suspended, format!("membership {status}"));
        }
        status => return cell(CellState::NotMember, format!("membership {status}")),
    }
    if let Some(why) = &member.unreadable {
        return cell(CellState::Unreadable, why.clone());
    }
    match &member.features {
        Some(live) => compared(settings, live),
        None => cell(CellState::Unreadable, "the member detector was not read"),
    }
}

/// One account's row.
fn row(inputs: &Inputs<'_>, account: &OrgAccount) -> AccountRow {
    let discovery = inputs.discovery;
    let admin = account.id == discovery.delegated_admin;
    let targeted = admin || discovery.members.contains(&account.id);
    let choice = profiles::choose(inputs.profiles, account);
    let profile = choice
        .as_ref()
        .ok()
        .and_then(|c| c.profile)
        .map(str::to_string);
    let chosen = profile
        .as_deref()
        .and_then(|p| inputs.profiles.profiles.get(p));
    let settings = match chosen {
        Some(p) if !admin => profiles::settings(inputs.base, p),
        _ => inputs.base.clone(),
    };
    let mut cells = BTreeMap::new();
    for region in &discovery.regions {
        let state = inputs.state.regions.get(region);
        let c = if !targeted {
            let why = if account.status == "ACTIVE" {
                "not selected by `accounts:`".to_string()
            } else {
                format!("account {}", account.status)
            };
            cell(CellState::NotTargeted, why)
        } else if !admin && chosen.is_some_and(|p| p.exclude_regions.contains(region)) {
            cell(
                CellState::NotTargeted,
                format!(
                    "profile `{}` leaves {region} out",
                    profile.as_deref().unwrap_or_default()
                ),
            )
        } else if admin {
            admin_cell(&settings, state)
        } else {
            member_cell(&settings, state, &account.id)
        };
        cells.insert(region.clone(), c);
    }
    AccountRow {
        id: account.id.clone(),
        name: account.name.clone(),
        ou: if account.ou_path.is_empty() {
            "(root)".to_string()
        } else {
            account.ou_path.join("/")
        },
        status: account.status.clone(),
        targeted,
        administrator: admin,
        profile,
        cells,
    }
}

/// Every account's row, by OU then id.
pub fn rows(inputs: &Inputs<'_>) -> Vec<AccountRow> {
    let mut rows: Vec<AccountRow> = inputs
        .discovery
        .organization
        .accounts
        .iter()
        .map(|a| row(inputs, a))
        .collect();
    rows.sort_by(|a, b| a.ou.cmp(&b.ou).then_with(|| a.id.cmp(&b.id)));
    rows
}

/// How many targeted, read cells have each feature on.
pub fn features(inputs: &Inputs<'_>, rows: &[AccountRow]) -> Vec<FeatureCoverage> {
    let mut names: BTreeSet<String> = inputs.base.features.keys().cloned().collect();
    for profile in inputs.profiles.profiles.values() {
        names.extend(profile.features.keys().cloned());
    }
    let mut coverage: BTreeMap<String, (usize, usize)> =
        names.into_iter().map(|n| (n, (0, 0))).collect();
    for row in rows {
        for (region, c) in &row.cells {
            if !matches!(c.state, CellState::Enabled | CellState::Drift) {
                continue;
            }
            let Some(state) = inputs.state.regions.get(region) else {
                continue;
            };
            let live = if row.administrator {
                state.detector.as_ref().map(|d| &d.features)
            } else {
                state
                    .members
                    .get(&row.id)
                    .and_then(|m| m.features.as_deref())
            };
            for (name, (on, of)) in &mut coverage {
                *of += 1;
                if live
                    .and_then(|f| f.get(name))
                    .is_some_and(|f| f.status == "ENABLED")
                {
                    *on += 1;
                }
            }
        }
    }
    coverage
        .into_iter()
        .map(|(feature, (enabled, of))| FeatureCoverage {
            percent: if of == 0 {
                0.0
            } else {
                (enabled as f64 * 1000.0 / of as f64).round() / 10.0
            },
            feature,
            enabled,
            of,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::discover::Organization;
    use crate::kinds::guardduty::section::FeatureSetting;
    use crate::kinds::guardduty::state::{DetectorState, MemberState};
    use std::sync::Arc;

    fn account(id: &str, ou: &str, status: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: format!("n{id}"),
            email: String::new(),
            status: status.into(),
            ou_ids: Vec::new(),
            ou_path: ou
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            tags: BTreeMap::new(),
        }
    }

    fn feature_map(s3: &str) -> BTreeMap<String, FeatureState> {
        BTreeMap::from([(
            "S3_DATA_EVENTS".to_string(),
            FeatureState {
                status: s3.into(),
                additional: BTreeMap::new(),
            },
        )])
    }

    fn member(status: &str, s3: &str) -> MemberState {
        MemberState {
            relationship_status: status.into(),
            administrator_id: "222222222222".into(),
            features: Some(Arc::new(feature_map(s3))),
            unreadable: None,
        }
    }

    #[test]
    fn every_cell_state_comes_from_what_was_read() {
        let accounts = ["222222222222", "401", "402", "403", "404", "405", "406"];
        let discovery = Discovery {
            organization: Organization {
                id: "o-1".into(),
                management_account: "100".into(),
                accounts: accounts
                    .iter()
                    .map(|id| {
                        account(
                            id,
                            "Workloads/Prod",
                            if *id == "406" { "SUSPENDED" } else { "ACTIVE" },
                        )
                    })
                    .collect(),
            },
            delegated_admin: "222222222222".into(),
            members: ["401", "402", "403", "404", "405"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            regions: vec!["eu-west-1".into()],
            untargeted: Vec::new(),
            notes: Vec::new(),
        };
        let mut region = RegionState {
            detector: Some(DetectorState {
                id: "d".into(),
                status: "ENABLED".into(),
                finding_publishing_frequency: "SIX_HOURS".into(),
                features: feature_map("ENABLED"),
                tags: BTreeMap::new(),
            }),
            ..RegionState::default()
        };
        region
            .members
            .insert("401".into(), member("Enabled", "ENABLED"));
        region
            .members
            .insert("402".into(), member("Enabled", "DISABLED"));
        region
            .members
            .insert("403".into(), member("Created", "ENABLED"));
        region
            .members
            .insert("404".into(), member("AccountSuspended", "ENABLED"));
        let mut unreadable = member("Enabled", "ENABLED");
        unreadable.features = None;
        unreadable.unreadable = Some("AccessDenied".into());
        region.members.insert("405".into(), unreadable);
        let state = GuardDutyState {
            regions: BTreeMap::from([("eu-west-1".to_string(), region)]),
            ..GuardDutyState::default()
        };
        let mut base = DetectorSettings::default();
        base.features.insert(
            "S3_DATA_EVENTS".into(),
            FeatureSetting {
                enabled: true,
                additional: BTreeMap::new(),
            },
        );
        let profiles = Profiles::default();
        let inputs = Inputs {
            discovery: &discovery,
            state: &state,
            base: &base,
            profiles: &profiles,
        };
        let rows = rows(&inputs);
        let states: Vec<(&str, CellState)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.cells["eu-west-1"].state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("222222222222", CellState::Enabled),
                ("401", CellState::Enabled),
                ("402", CellState::Drift),
                ("403", CellState::NotMember),
                ("404", CellState::Suspended),
                ("405", CellState::Unreadable),
                ("406", CellState::NotTargeted),
            ]
        );
        assert_eq!(rows[2].cells["eu-west-1"].differing, vec!["S3_DATA_EVENTS"]);
        assert_eq!(rows[6].cells["eu-west-1"].detail, "account SUSPENDED");
        let coverage = features(&inputs, &rows);
        assert_eq!((coverage[0].enabled, coverage[0].of), (2, 3));
    }
}
