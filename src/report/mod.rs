//! `guardform report`: the organization's GuardDuty coverage, findings and wiring as one
//! versioned document ([`Report`], `format_version` like the plan's) and one self-contained
//! HTML page ([`html`]). Coverage comes from what the plan reads; findings, runtime coverage
//! and queue depths are a few more reads per Region ([`reads`]).

pub mod coverage;
pub mod html;
pub mod reads;

use crate::engine::plan::Plan;
use crate::engine::{States, state_of};
use crate::kinds::{self, Context};
use futures_util::future::join_all;
use serde::Serialize;
use std::collections::BTreeMap;

/// The report document's format version.
pub const FORMAT_VERSION: &str = "1.0";

/// The state of one account in one Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// A member (or the administrator) with the manifest's features.
    Enabled,
    /// A member whose features differ from the manifest.
    Drift,
    /// Targeted, but not a member (or the administrator has no detector).
    NotMember,
    /// Membership or detector suspended, disabled, resigned or removed.
    Suspended,
    /// Could not be read, with why.
    Unreadable,
    /// Not targeted by the manifest here.
    NotTargeted,
}

impl CellState {
    /// Every state, in the order the page's legend shows them.
    pub const ALL: [CellState; 6] = [
        CellState::Enabled,
        CellState::Drift,
        CellState::NotMember,
        CellState::Suspended,
        CellState::Unreadable,
        CellState::NotTargeted,
    ];

    /// The state's name (as in the JSON document).
    pub fn name(self) -> &'static str {
        match self {
            CellState::Enabled => "enabled",
            CellState::Drift => "drift",
            CellState::NotMember => "not_member",
            CellState::Suspended => "suspended",
            CellState::Unreadable => "unreadable",
            CellState::NotTargeted => "not_targeted",
        }
    }

    /// The state as people read it.
    pub fn label(self) -> &'static str {
        match self {
            CellState::Enabled => "covered",
            CellState::Drift => "features differ",
            CellState::NotMember => "not a member",
            CellState::Suspended => "suspended",
            CellState::Unreadable => "unreadable",
            CellState::NotTargeted => "not targeted",
        }
    }
}

/// One account in one Region.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub state: CellState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The features that differ from the manifest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differing: Vec<String>,
}

/// One account and its cells.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    /// OU path (`Workloads/Prod`), `(root)` for accounts directly under the root.
    pub ou: String,
    pub status: String,
    pub targeted: bool,
    pub administrator: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub cells: BTreeMap<String, Cell>,
}

/// How many targeted, read cells have a feature on.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureCoverage {
    pub feature: String,
    pub enabled: usize,
    pub of: usize,
    pub percent: f64,
}

/// A name and a count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// Active findings per severity band.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Severity {
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub critical: u64,
}

/// Findings updated in the last `days` days, over every targeted Region.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    pub days: u32,
    /// Active (not archived) findings.
    pub total: u64,
    /// Archived findings (suppression rules archive matching findings as they arrive).
    pub archived: u64,
    pub by_severity: Severity,
    /// The 15 most frequent finding types.
    pub by_type: Vec<Count>,
    /// The 15 accounts with the most findings.
    pub by_account: Vec<Count>,
    /// Every day of the window, oldest first (`YYYY-MM-DD`).
    pub by_day: Vec<Count>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// Healthy and unhealthy resources of one type.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub healthy: u64,
    pub unhealthy: u64,
}

/// Runtime Monitoring coverage (ListCoverage, GetCoverageStatistics).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Runtime {
    pub by_resource_type: BTreeMap<String, Health>,
    /// Why resources are unhealthy, most frequent first.
    pub top_issues: Vec<Count>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl Runtime {
    /// Healthy and unhealthy resources over every resource type.
    pub fn totals(&self) -> Health {
        let mut total = Health::default();
        for health in self.by_resource_type.values() {
            total.healthy += health.healthy;
            total.unhealthy += health.unhealthy;
        }
        total
    }
}

/// What the plan would change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    pub pending: usize,
    /// Pending changes by resource type, most first.
    pub by_type: Vec<Count>,
    /// Why no plan could be made (conflicts), when none could.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One GuardDuty list in one Region.
#[derive(Debug, Clone, Serialize)]
pub struct ListRow {
    pub name: String,
    pub kind: String,
    pub region: String,
    pub status: String,
    pub managed: bool,
}

/// One response's rule in one Region.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseRow {
    pub rule: String,
    pub region: String,
    pub state: String,
    /// Messages waiting in its dead-letter queue (`None`: no queue, or unreadable).
    pub dead_letters: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One publishing destination.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationRow {
    pub region: String,
    pub status: String,
    pub destination: String,
}

/// Counts of cells, targeted accounts and coverage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub accounts: usize,
    pub targeted_accounts: usize,
    pub regions: usize,
    pub cells: BTreeMap<CellState, usize>,
    /// Covered cells among targeted ones, in percent (one decimal).
    pub coverage_percent: f64,
}

/// The report document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub guardform_version: &'static str,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    pub manifest: String,
    pub organization: String,
    pub administrator: String,
    pub regions: Vec<String>,
    pub summary: Summary,
    pub features: Vec<FeatureCoverage>,
    pub accounts: Vec<AccountRow>,
    pub runtime: Runtime,
    pub findings: Findings,
    pub drift: Drift,
    pub lists: Vec<ListRow>,
    pub responses: Vec<ResponseRow>,
    pub destinations: Vec<DestinationRow>,
}

/// The summary of the grid.
fn summarise(rows: &[AccountRow], regions: usize) -> Summary {
    let mut summary = Summary {
        accounts: rows.len(),
        targeted_accounts: rows.iter().filter(|r| r.targeted).count(),
        regions,
        ..Summary::default()
    };
    for state in CellState::ALL {
        summary.cells.insert(state, 0);
    }
    for c in rows.iter().flat_map(|r| r.cells.values()) {
        *summary.cells.entry(c.state).or_default() += 1;
    }
    let targeted: usize = summary
        .cells
        .iter()
        .filter(|(s, _)| **s != CellState::NotTargeted)
        .map(|(_, n)| n)
        .sum();
    let covered = summary.cells[&CellState::Enabled];
    summary.coverage_percent = if targeted == 0 {
        0.0
    } else {
        (covered as f64 * 1000.0 / targeted as f64).round() / 10.0
    };
    summary
}

/// The plan summary (or why there is none).
fn drift(plan: &Result<Plan, String>) -> Drift {
    match plan {
        Ok(plan) => {
            let mut by_type = BTreeMap::new();
            for change in &plan.changes {
                *by_type.entry(change.kind.clone()).or_default() += 1;
            }
            Drift {
                pending: plan.changes.len(),
                by_type: reads::top(by_type, usize::MAX),
                error: None,
            }
        }
        Err(error) => Drift {
            error: Some(error.clone()),
            ..Drift::default()
        },
    }
}

fn lists(states: &States, registry: &crate::engine::Registry<Context>) -> Vec<ListRow> {
    let Some(state) = states.get(registry, kinds::ip_lists::NAME) else {
        return Vec::new();
    };
    let state: &kinds::ip_lists::state::IpListsState = state_of(state);
    let mut rows = Vec::new();
    for (region, sets) in &state.regions {
        for (kind, set) in sets.all() {
            rows.push(ListRow {
                name: set.name.clone(),
                kind: kind.name().to_string(),
                region: region.clone(),
                status: set.status.clone(),
                managed: set.tags.get(kinds::MANAGED_TAG_KEY).map(String::as_str)
                    == Some(kinds::MANAGED_TAG_VALUE),
            });
        }
    }
    rows
}

fn destinations(
    states: &States,
    registry: &crate::engine::Registry<Context>,
) -> Vec<DestinationRow> {
    let Some(state) = states.get(registry, "export") else {
        return Vec::new();
    };
    let state: &kinds::export::state::ExportState = state_of(state);
    state
        .destinations
        .iter()
        .map(|(region, d)| DestinationRow {
            region: region.clone(),
            status: d.status.clone(),
            destination: d.destination_arn.clone(),
        })
        .collect()
}

/// Every response rule, with its dead-letter queue's depth.
async fn responses(
    context: &Context,
    states: &States,
    registry: &crate::engine::Registry<Context>,
) -> Vec<ResponseRow> {
    let Some(state) = states.get(registry, "responses") else {
        return Vec::new();
    };
    let state: &kinds::responses::state::ResponsesKindState = state_of(state);
    let admin = context.discovery.delegated_admin.as_str();
    let aws = context.aws.as_ref();
    let reads = state.regions.iter().flat_map(|(region, regional)| {
        regional.rules.iter().map(move |(name, rule)| async move {
            let queue = format!("{name}-dlq");
            let (dead_letters, problem) = if regional.queues.contains_key(&queue) {
                match reads::queue_depth(aws, admin, region, &queue).await {
                    Ok(n) => (Some(n), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, None)
            };
            ResponseRow {
                rule: name.clone(),
                region: region.clone(),
                state: rule.state.clone(),
                dead_letters,
                problem,
            }
        })
    });
    join_all(reads).await
}

/// The days of the window ending today (UTC), oldest first.
pub fn window(now_secs: i64, days: u32) -> Vec<String> {
    (0..i64::from(days))
        .rev()
        .map(|back| civil_day((now_secs / 86_400) - back))
        .collect()
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_day(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// What the report is made from: the plan's reads and plan.
pub struct Sources<'a> {
    pub context: &'a Context,
    pub registry: &'a crate::engine::Registry<Context>,
    pub states: &'a States,
    pub plan: Result<Plan, String>,
    pub manifest: String,
    pub days: u32,
}

/// Gathers the report: the grid from the states, the rest with a few reads per Region.
pub async fn gather(sources: Sources<'_>) -> Report {
    let context = sources.context;
    let discovery = context.discovery.as_ref();
    let aws = context.aws.as_ref();
    let admin = discovery.delegated_admin.as_str();
    let guardduty: &kinds::guardduty::state::GuardDutyState = state_of(
        sources
            .states
            .get(sources.registry, "guardduty")
            .expect("the registry has the GuardDuty kind"),
    );
    let inputs = coverage::Inputs {
        discovery,
        state: guardduty,
        base: kinds::guardduty::section::of(&context.manifest),
        profiles: kinds::guardduty::profiles::of(&context.manifest),
    };
    let rows = coverage::rows(&inputs);
    let features = coverage::features(&inputs, &rows);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let days = sources.days.max(1);
    let since_ms = (now - i64::from(days) * 86_400) * 1000;
    let regions = &discovery.regions;
    let (findings, runtime, responses) =
        tokio::join!(
            join_all(regions.iter().map(|r| async move {
                (r.clone(), reads::findings(aws, admin, r, since_ms).await)
            })),
            join_all(
                regions
                    .iter()
                    .map(|r| async move { (r.clone(), reads::runtime(aws, admin, r).await) })
            ),
            responses(context, sources.states, sources.registry),
        );
    Report {
        format_version: FORMAT_VERSION,
        guardform_version: env!("CARGO_PKG_VERSION"),
        generated_at: aws_smithy_types::DateTime::from_secs(now)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
        manifest: sources.manifest,
        organization: discovery.organization.id.clone(),
        administrator: admin.to_string(),
        regions: regions.clone(),
        summary: summarise(&rows, regions.len()),
        features,
        accounts: rows,
        runtime: reads::merge_runtime(runtime),
        findings: reads::merge_findings(days, &window(now, days), findings),
        drift: drift(&sources.plan),
        lists: lists(sources.states, sources.registry),
        responses,
        destinations: destinations(sources.states, sources.registry),
    }
}

/// The short summary for the terminal.
pub fn terminal_summary(report: &Report) -> String {
    let s = &report.summary;
    let cells = |state: CellState| s.cells.get(&state).copied().unwrap_or_default();
    let f = &report.findings;
    let mut out = String::new();
    out.push_str(&format!(
        "Coverage   {:>5.1}%  {} of {} targeted account-Regions covered ({} accounts, {} Regions)\n",
        s.coverage_percent,
        cells(CellState::Enabled),
        s.cells.iter().filter(|(k, _)| **k != CellState::NotTargeted).map(|(_, n)| n).sum::<usize>(),
        s.targeted_accounts,
        s.regions
    ));
    out.push_str(&format!(
        "Problems   drift {}, not a member {}, suspended {}, unreadable {}\n",
        cells(CellState::Drift),
        cells(CellState::NotMember),
        cells(CellState::Suspended),
        cells(CellState::Unreadable)
    ));
    out.push_str(&format!(
        "Findings   {} active in {} days (critical {}, high {}, medium {}, low {}), {} archived\n",
        f.total,
        f.days,
        f.by_severity.critical,
        f.by_severity.high,
        f.by_severity.medium,
        f.by_severity.low,
        f.archived
    ));
    let runtime = report.runtime.totals();
    out.push_str(&format!(
        "Runtime    {} healthy, {} unhealthy resource(s)\n",
        runtime.healthy, runtime.unhealthy
    ));
    match &report.drift.error {
        Some(error) => out.push_str(&format!("Drift      no plan: {error}\n")),
        None => out.push_str(&format!(
            "Drift      {} pending change(s)\n",
            report.drift.pending
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_civil_dates() {
        assert_eq!(civil_day(0), "1970-01-01");
        assert_eq!(civil_day(20_453), "2025-12-31");
        assert_eq!(civil_day(11_016), "2000-02-29");
        let days = window(20_453 * 86_400 + 3_600, 3);
        assert_eq!(days, vec!["2025-12-29", "2025-12-30", "2025-12-31"]);
    }
}
