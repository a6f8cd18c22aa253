//! What the report reads beyond the plan's state: finding statistics, runtime coverage and
//! dead-letter queue depths. Each Region is read on its own; a Region that cannot be read is
//! reported (with why), never a reason to show nothing.

use super::{Count, Findings, Health, Runtime, Severity};
use crate::cloud::aws::{Aws, AwsError};
use aws_sdk_guardduty::types::{
    Condition, CoverageFilterCondition, CoverageFilterCriteria, CoverageFilterCriterion,
    CoverageFilterCriterionKey, CoverageStatisticsType, FindingCriteria, GroupByType, OrderBy,
};
use std::collections::BTreeMap;

/// One Region's finding statistics.
#[derive(Debug, Default)]
pub struct RegionFindings {
    /// Active findings by severity value.
    pub severities: Vec<(f64, u64)>,
    pub types: BTreeMap<String, u64>,
    pub accounts: BTreeMap<String, u64>,
    /// Findings per day (`YYYY-MM-DD`).
    pub days: BTreeMap<String, u64>,
    pub archived: u64,
}

fn criteria(since_ms: i64, archived: bool) -> FindingCriteria {
    FindingCriteria::builder()
        .criterion(
            "updatedAt",
            Condition::builder().greater_than_or_equal(since_ms).build(),
        )
        .criterion(
            "service.archived",
            Condition::builder()
                .equals(if archived { "true" } else { "false" })
                .build(),
        )
        .build()
}

/// The statistics of one grouping (GuardDuty answers the 100 largest groups).
async fn grouped(
    client: &aws_sdk_guardduty::Client,
    detector: &str,
    group: GroupByType,
    criteria: &FindingCriteria,
    context: &str,
) -> Result<Vec<aws_sdk_guardduty::types::FindingStatistics>, AwsError> {
    let out = client
        .get_findings_statistics()
        .detector_id(detector)
        .group_by(group.clone())
        .order_by(OrderBy::Desc)
        .max_results(100)
        .finding_criteria(criteria.clone())
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                format!(
                    "reading finding statistics by {} in {context}",
                    group.as_str()
                ),
                e,
            )
        })?;
    Ok(out.finding_statistics().cloned().into_iter().collect())
}

fn total(n: Option<i32>) -> u64 {
    u64::try_from(n.unwrap_or_default()).unwrap_or_default()
}

/// The day of an AWS timestamp (`YYYY-MM-DD`, UTC).
fn day_of(time: &aws_smithy_types::DateTime) -> String {
    time.fmt(aws_smithy_types::date_time::Format::DateTime)
        .map(|s| s.chars().take(10).collect())
        .unwrap_or_default()
}

/// Finding statistics of the administrator's detector in one Region (its own and its
/// members' findings), updated since `since_ms`.
pub async fn findings(
    aws: &Aws,
    admin: &str,
    region: &str,
    since_ms: i64,
) -> Result<RegionFindings, AwsError> {
    let context = format!("{admin}/{region}");
    let Some(detector) = aws.detector_id(admin, region).await? else {
        return Ok(RegionFindings::default());
    };
    let client = aws.guardduty(admin, region);
    let active = criteria(since_ms, false);
    let archived_criteria = criteria(since_ms, true);
    let (severity, types, accounts, days, archived) = tokio::try_join!(
        grouped(&client, &detector, GroupByType::Severity, &active, &context),
        grouped(
            &client,
            &detector,
            GroupByType::FindingType,
            &active,
            &context
        ),
        grouped(&client, &detector, GroupByType::Account, &active, &context),
        grouped(&client, &detector, GroupByType::Date, &active, &context),
        grouped(
            &client,
            &detector,
            GroupByType::Severity,
            &archived_criteria,
            &context
        ),
    )?;
    let mut out = RegionFindings::default();
    for stats in &severity {
        for s in stats.grouped_by_severity() {
            out.severities
                .push((s.severity().unwrap_or_default(), total(s.total_findings())));
        }
    }
    for stats in &types {
        for t in stats.grouped_by_finding_type() {
            *out.types
                .entry(t.finding_type().unwrap_or_default().to_string())
                .or_default() += total(t.total_findings());
        }
    }
    for stats in &accounts {
        for a in stats.grouped_by_account() {
            *out.accounts
                .entry(a.account_id().unwrap_or_default().to_string())
                .or_default() += total(a.total_findings());
        }
    }
    for stats in &days {
        for d in stats.grouped_by_date() {
            let day = d.date().map(day_of).unwrap_or_default();
            *out.days.entry(day).or_default() += total(d.total_findings());
        }
    }
    out.archived = archived
        .iter()
        .flat_map(|s| s.grouped_by_severity())
        .map(|s| total(s.total_findings()))
        .sum();
    Ok(out)
}

/// GuardDuty's severity bands: low 1.0–3.9, medium 4.0–6.9, high 7.0–8.9, critical 9.0–10.0.
pub fn band(severity: f64, counts: &mut Severity, n: u64) {
    if severity >= 9.0 {
        counts.critical += n;
    } else if severity >= 7.0 {
        counts.high += n;
    } else if severity >= 4.0 {
        counts.medium += n;
    } else {
        counts.low += n;
    }
}

/// The most frequent entries, most first (ties by name), at most `n`.
pub fn top(counts: BTreeMap<String, u64>, n: usize) -> Vec<Count> {
    let mut list: Vec<Count> = counts
        .into_iter()
        .map(|(name, count)| Count { name, count })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    list.truncate(n);
    list
}

/// Every Region's statistics merged into the report's findings section.
pub fn merge_findings(
    days: u32,
    window: &[String],
    regions: Vec<(String, Result<RegionFindings, AwsError>)>,
) -> Findings {
    let mut findings = Findings {
        days,
        ..Findings::default()
    };
    let (mut types, mut accounts) = (BTreeMap::new(), BTreeMap::new());
    let mut per_day: BTreeMap<String, u64> = window.iter().map(|d| (d.clone(), 0)).collect();
    for (region, result) in regions {
        let region_findings = match result {
            Ok(found) => found,
            Err(error) => {
                findings.unreadable.push(format!("{region}: {error}"));
                continue;
            }
        };
        for (severity, n) in region_findings.severities {
            band(severity, &mut findings.by_severity, n);
            findings.total += n;
        }
        for (name, n) in region_findings.types {
            *types.entry(name).or_default() += n;
        }
        for (name, n) in region_findings.accounts {
            *accounts.entry(name).or_default() += n;
        }
        for (day, n) in region_findings.days {
            if let Some(slot) = per_day.get_mut(&day) {
                *slot += n;
            }
        }
        findings.archived += region_findings.archived;
    }
    findings.by_type = top(types, 15);
    findings.by_account = top(accounts, 15);
    findings.by_day = per_day
        .into_iter()
        .map(|(name, count)| Count { name, count })
        .collect();
    findings
}

fn status_filter(status: &str) -> CoverageFilterCriteria {
    CoverageFilterCriteria::builder()
        .filter_criterion(
            CoverageFilterCriterion::builder()
                .criterion_key(CoverageFilterCriterionKey::CoverageStatus)
                .filter_condition(CoverageFilterCondition::builder().equals(status).build())
                .build(),
        )
        .build()
}

async fn count_by_type(
    client: &aws_sdk_guardduty::Client,
    detector: &str,
    filter: Option<CoverageFilterCriteria>,
    context: &str,
) -> Result<BTreeMap<String, u64>, AwsError> {
    let out = client
        .get_coverage_statistics()
        .detector_id(detector)
        .statistics_type(CoverageStatisticsType::CountByResourceType)
        .set_filter_criteria(filter)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading coverage statistics in {context}"), e))?;
    Ok(out
        .coverage_statistics()
        .and_then(|s| s.count_by_resource_type())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        u64::try_from(*v).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// One Region's runtime coverage: resources by type, and why unhealthy ones are (issue → count).
pub type RegionRuntime = (BTreeMap<String, Health>, BTreeMap<String, u64>);

/// Runtime coverage in one Region: resources by type, healthy and unhealthy, and why the
/// unhealthy ones are.
pub async fn runtime(aws: &Aws, admin: &str, region: &str) -> Result<RegionRuntime, AwsError> {
    let context = format!("{admin}/{region}");
    let Some(detector) = aws.detector_id(admin, region).await? else {
        return Ok(Default::default());
    };
    let client = aws.guardduty(admin, region);
    let (all, unhealthy) = tokio::try_join!(
        count_by_type(&client, &detector, None, &context),
        count_by_type(
            &client,
            &detector,
            Some(status_filter("UNHEALTHY")),
            &context
        ),
    )?;
    let mut by_type = BTreeMap::new();
    for (kind, n) in all {
        let bad = unhealthy.get(&kind).copied().unwrap_or_default();
        by_type.insert(
            kind,
            Health {
                healthy: n.saturating_sub(bad),
                unhealthy: bad,
            },
        );
    }
    let mut issues = BTreeMap::new();
    if unhealthy.values().any(|n| *n > 0) {
        let mut pages = client
            .list_coverage()
            .detector_id(&detector)
            .filter_criteria(status_filter("UNHEALTHY"))
            .max_results(50)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new(format!("listing coverage in {context}"), e))?;
            for resource in page.resources() {
                let issue = resource.issue().unwrap_or("no reason given").to_string();
                *issues.entry(issue).or_default() += 1;
            }
        }
    }
    Ok((by_type, issues))
}

/// Every Region's runtime coverage merged.
pub fn merge_runtime(regions: Vec<(String, Result<RegionRuntime, AwsError>)>) -> Runtime {
    let mut runtime = Runtime::default();
    let mut issues = BTreeMap::new();
    for (region, result) in regions {
        match result {
            Ok((by_type, region_issues)) => {
                for (kind, health) in by_type {
                    let slot = runtime.by_resource_type.entry(kind).or_default();
                    slot.healthy += health.healthy;
                    slot.unhealthy += health.unhealthy;
                }
                for (issue, n) in region_issues {
                    *issues.entry(issue).or_default() += n;
                }
            }
            Err(error) => runtime.unreadable.push(format!("{region}: {error}")),
        }
    }
    runtime.top_issues = top(issues, 10);
    runtime
}

/// The number of messages waiting in a queue of `account` (its dead letters).
pub async fn queue_depth(
    aws: &Aws,
    account: &str,
    region: &str,
    queue: &str,
) -> Result<u64, AwsError> {
    let sqs = aws.sqs(account, region);
    let context = format!("{account}/{region}/{queue}");
    let url = sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("finding the queue {context}"), e))?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| AwsError::new(format!("reading the depth of {context}"), e))?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_fall_into_guardduty_bands() {
        let mut counts = Severity::default();
        for (severity, n) in [
            (1.0, 1),
            (3.9, 2),
            (4.0, 3),
            (6.9, 4),
            (7.0, 5),
            (8.9, 6),
            (9.0, 7),
        ] {
            band(severity, &mut counts, n);
        }
        assert_eq!(
            (counts.low, counts.medium, counts.high, counts.critical),
            (3, 7, 11, 7)
        );
    }

    #[test]
    fn regions_merge_and_days_outside_the_window_are_left_out() {
        let region = |accounts: &[(&str, u64)]| RegionFindings {
            severities: vec![(8.0, 3), (2.0, 1)],
            types: BTreeMap::from([("Recon:EC2/Portscan".to_string(), 4)]),
            accounts: accounts.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
            days: BTreeMap::from([("2026-11-30".to_string(), 3), ("2026-01-01".to_string(), 1)]),
            archived: 2,
        };
        let merged = merge_findings(
            2,
            &["2026-11-30".to_string(), "2026-12-01".to_string()],
            vec![
                ("eu-west-1".into(), Ok(region(&[("111", 4)]))),
                ("us-east-1".into(), Ok(region(&[("111", 1), ("222", 3)]))),
                (
                    "ap-south-1".into(),
                    Err(AwsError::message("reading", "AccessDenied")),
                ),
            ],
        );
        assert_eq!(merged.total, 8);
        assert_eq!(merged.archived, 4);
        assert_eq!(merged.by_severity.high, 6);
        assert_eq!(merged.by_type[0].count, 8);
        assert_eq!(merged.by_account[0].name, "111");
        assert_eq!(merged.by_account[0].count, 5);
        let days: Vec<(String, u64)> = merged
            .by_day
            .iter()
            .map(|c| (c.name.clone(), c.count))
            .collect();
        assert_eq!(
            days,
            vec![("2026-11-30".into(), 6), ("2026-12-01".into(), 0)]
        );
        assert_eq!(merged.unreadable.len(), 1);
    }
}
