//! `guardduty.filter`: one filter of the administrator's detector in one Region. Ranks follow
//! the manifest's order, contiguous from 1, ahead of filters guardform does not own; the calls
//! of a Region run in one unit, in an order GuardDuty never refuses (see [`apply_region`]).

use super::section::{FilterSpec, MAX_FILTERS};
use super::state::{FilterState, RegionFilters};
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::{MANAGED_TAG_KEY, MANAGED_TAG_VALUE, change, differing, string, text};
use aws_sdk_guardduty::types::FilterAction;
use serde_json::Value;

pub const TYPE: &str = "guardduty.filter";

/// The address of filter `name` of `admin` in `region`.
pub fn address(admin: &str, region: &str, name: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{name}]")
}

/// The attributes guardform compares (the rank is compared by position, see [`plan`]).
fn attributes(description: &str, action: &str, criteria: &Value) -> Attributes {
    Attributes::from([
        ("description".to_string(), string(description)),
        ("action".to_string(), string(action)),
        (
            "criteria".to_string(),
            string(crate::kinds::canonical_text(criteria)),
        ),
    ])
}

fn desired(spec: &FilterSpec) -> Attributes {
    attributes(&spec.description, &spec.action, &spec.criteria)
}

fn live(filter: &FilterState) -> Attributes {
    attributes(&filter.description, &filter.action, &filter.criteria)
}

/// Whether guardform may manage `filter`: it made it, or the manifest adopts it.
pub fn ours(specs: &[FilterSpec], filter: &FilterState) -> bool {
    filter.owned() || specs.iter().any(|s| s.adopt && s.name == filter.name)
}

/// What no plan resolves: a manifest filter named like one guardform may not manage, or more
/// filters than GuardDuty keeps.
fn conflicts_of(
    specs: &[FilterSpec],
    admin: &str,
    region: &str,
    live_filters: &[FilterState],
) -> Vec<String> {
    let mut conflicts = Vec::new();
    for spec in specs {
        if let Some(filter) = live_filters.iter().find(|f| f.name == spec.name)
            && !ours(specs, filter)
        {
            conflicts.push(format!(
                "{admin}/{region}: a filter named `{}` exists and guardform did not create it\n  hint: add `adopt: true` to the filter in the manifest to take it over, or give yours another name",
                spec.name
            ));
        }
    }
    let foreign = live_filters.iter().filter(|f| !ours(specs, f)).count();
    if foreign + specs.len() > MAX_FILTERS {
        conflicts.push(format!(
            "{admin}/{region}: {} filters in the manifest and {foreign} that guardform does not own make more than GuardDuty's {MAX_FILTERS} per Region",
            specs.len()
        ));
    }
    conflicts
}

/// What a Region's filters need: conflicts no plan resolves are pushed to `conflicts`.
pub fn plan(
    specs: &[FilterSpec],
    admin: &str,
    region: &str,
    live_filters: &RegionFilters,
    changes: &mut Vec<Change>,
    conflicts: &mut Vec<String>,
) {
    let live_filters = &live_filters.filters;
    conflicts.extend(conflicts_of(specs, admin, region, live_filters));
    // Removed first: guardform's own filters the manifest no longer names.
    let mut order: Vec<&str> = Vec::new();
    for filter in live_filters {
        if filter.owned() && !specs.iter().any(|s| s.name == filter.name) {
            let mut c = change(
                TYPE,
                address(admin, region, &filter.name),
                Action::Delete,
                Some(admin),
                region,
                "no longer in the manifest",
            );
            let mut before = live(filter);
            before.insert("rank".into(), Value::from(filter.rank));
            c.before = before.into();
            c.requires = Some("--allow-destroy".into());
            c.inputs.insert("name".into(), filter.name.clone());
            changes.push(c);
        } else {
            order.push(&filter.name);
        }
    }
    // Then each of the manifest's filters in turn takes the next rank: created there, or moved
    // there when it is somewhere else (inserting one moves those after it by itself).
    for (position, spec) in specs.iter().enumerate() {
        let rank = position + 1;
        let existing = live_filters.iter().find(|f| f.name == spec.name);
        let (mut before, mut after, action, mut reason) = match existing {
            None => {
                order.insert(position, &spec.name);
                (
                    Attributes::new(),
                    desired(spec),
                    Action::Create,
                    "not in GuardDuty yet".to_string(),
                )
            }
            Some(filter) => {
                let (before, after) = differing(&desired(spec), &live(filter));
                let reason = if filter.owned() {
                    "differs from the manifest".to_string()
                } else {
                    "adopted: guardform takes over this filter".to_string()
                };
                (before, after, Action::Update, reason)
            }
        };
        if let Some(filter) = existing {
            let at = order
                .iter()
                .position(|n| *n == spec.name)
                .unwrap_or(position);
            if at != position {
                order.remove(at);
                order.insert(position, &spec.name);
                before.insert("rank".into(), Value::from(filter.rank));
                after.insert("rank".into(), Value::from(rank));
                if filter.rank as usize == rank && after.len() == 1 {
                    reason = format!("stays at rank {rank} while the filters ahead of it move");
                }
            }
            if !filter.owned() {
                before.insert(format!("tags.{MANAGED_TAG_KEY}"), Value::Null);
                after.insert(format!("tags.{MANAGED_TAG_KEY}"), string(MANAGED_TAG_VALUE));
            }
            if after.is_empty() {
                continue;
            }
        } else {
            after.insert("rank".into(), Value::from(rank));
        }
        let mut c = change(
            TYPE,
            address(admin, region, &spec.name),
            action,
            Some(admin),
            region,
            reason,
        );
        c.before = before.into();
        c.after = after.into();
        c.inputs.insert("name".into(), spec.name.clone());
        changes.push(c);
    }
}

/// Makes a Region's filter changes (one unit, in plan order): deletions first, then the
/// manifest's filters by rank, so each rank GuardDuty is given is at most one past the filters
/// it has. Once a rank-setting call fails, later ones in the Region are skipped (their ranks
/// assumed it succeeded); attribute-only updates still run.
pub async fn apply_region(aws: &Aws, admin: &str, changes: &[&Change]) -> Vec<Outcome> {
    let mut order: Vec<usize> = (0..changes.len()).collect();
    let rank_of = |c: &Change| c.after.get("rank").and_then(Value::as_i64);
    order.sort_by_key(|&i| {
        let c = changes[i];
        (c.action != Action::Delete, rank_of(c).unwrap_or(i64::MAX))
    });
    let mut outcomes = vec![Outcome::NoOp; changes.len()];
    let mut broken: Option<String> = None;
    for i in order {
        let c = changes[i];
        if let (Some(cause), Some(_)) = (&broken, rank_of(c)) {
            outcomes[i] = Outcome::Skipped {
                reason: format!("its rank depends on {cause}, which failed"),
            };
            continue;
        }
        outcomes[i] = match apply(aws, admin, c).await {
            Ok(()) => Outcome::Applied,
            Err(error) => {
                if c.action != Action::Update || rank_of(c).is_some() {
                    broken.get_or_insert_with(|| c.address.clone());
                }
                Outcome::failed(error)
            }
        };
    }
    outcomes
}

async fn apply(aws: &Aws, admin: &str, c: &Change) -> Result<(), AwsError> {
    let region = c.region.as_str();
    let name = c.inputs.get("name").map(String::as_str).unwrap_or_default();
    let context = format!("{admin}/{region}");
    let detector_id = aws
        .required_detector_id(
            admin,
            region,
            &format!("changing filter {name} in {context}"),
        )
        .await?;
    let client = aws.guardduty(admin, region);
    let rank = c
        .after
        .get("rank")
        .and_then(Value::as_i64)
        .map(|r| r as i32);
    let criteria = c
        .after
        .get("criteria")
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok());
    let action = c
        .after
        .get("action")
        .and_then(Value::as_str)
        .map(FilterAction::from);
    let description = c.after.get("description").and_then(Value::as_str);
    match c.action {
        Action::Delete => {
            client
                .delete_filter()
                .detector_id(&detector_id)
                .filter_name(name)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("deleting filter {name} in {context}"), e))?;
            Ok(())
        }
        Action::Create | Action::Replace => {
            client
                .create_filter()
                .detector_id(&detector_id)
                .name(name)
                .description(text(&c.after, "description"))
                .set_action(action)
                .set_rank(rank)
                .finding_criteria(super::criteria::finding_criteria(
                    criteria.as_ref().unwrap_or(&Value::Null),
                ))
                .tags(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("creating filter {name} in {context}"), e))?;
            Ok(())
        }
        Action::Update => {
            if c.after.contains_key(&format!("tags.{MANAGED_TAG_KEY}")) {
                let arn = format!(
                    "arn:aws:guardduty:{region}:{admin}:detector/{detector_id}/filter/{name}"
                );
                client
                    .tag_resource()
                    .resource_arn(arn)
                    .tags(MANAGED_TAG_KEY, MANAGED_TAG_VALUE)
                    .send()
                    .await
                    .map_err(|e| AwsError::new(format!("tagging filter {name} in {context}"), e))?;
            }
            if rank.is_none() && criteria.is_none() && action.is_none() && description.is_none() {
                return Ok(());
            }
            client
                .update_filter()
                .detector_id(&detector_id)
                .filter_name(name)
                .set_description(description.map(str::to_string))
                .set_action(action)
                .set_rank(rank)
                .set_finding_criteria(criteria.as_ref().map(super::criteria::finding_criteria))
                .send()
                .await
                .map_err(|e| AwsError::new(format!("updating filter {name} in {context}"), e))?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn spec(name: &str) -> FilterSpec {
        FilterSpec {
            name: name.into(),
            description: String::new(),
            action: "NOOP".into(),
            criteria: json!({"type": {"equals": [name]}}),
            allow_broad: false,
            adopt: false,
        }
    }

    fn live(name: &str, rank: i32, owned: bool) -> FilterState {
        FilterState {
            name: name.into(),
            description: String::new(),
            action: "NOOP".into(),
            rank,
            criteria: json!({"type": {"equals": [name]}}),
            tags: if owned {
                BTreeMap::from([(MANAGED_TAG_KEY.to_string(), MANAGED_TAG_VALUE.to_string())])
            } else {
                BTreeMap::new()
            },
        }
    }

    fn planned(specs: &[FilterSpec], filters: Vec<FilterState>) -> (Vec<String>, Vec<String>) {
        let region = RegionFilters {
            detector_id: Some("d".into()),
            filters,
        };
        let (mut changes, mut conflicts) = (Vec::new(), Vec::new());
        plan(
            specs,
            "222222222222",
            "eu-west-1",
            &region,
            &mut changes,
            &mut conflicts,
        );
        let shown = changes
            .iter()
            .map(|c| {
                let rank =
                    |a: &Attributes| a.get("rank").map(|r| r.to_string()).unwrap_or("-".into());
                format!(
                    "{} {} {}->{}",
                    c.action.symbol(),
                    c.inputs["name"],
                    rank(&c.before),
                    rank(&c.after)
                )
            })
            .collect();
        (shown, conflicts)
    }

    #[test]
    fn inserting_in_the_middle_creates_one_and_moves_nothing() {
        let (changes, conflicts) = planned(
            &[spec("a"), spec("new"), spec("b")],
            vec![live("a", 1, true), live("b", 2, true)],
        );
        assert!(conflicts.is_empty());
        assert_eq!(changes, ["+ new -->2"]);
    }

    #[test]
    fn reordering_moves_only_what_inserting_does_not_fix() {
        let (changes, _) = planned(
            &[spec("c"), spec("a"), spec("b")],
            vec![live("a", 1, true), live("b", 2, true), live("c", 3, true)],
        );
        assert_eq!(changes, ["~ c 3->1"]);
        let (changes, _) = planned(
            &[spec("b"), spec("a")],
            vec![
                live("foreign", 1, false),
                live("a", 2, true),
                live("b", 3, true),
            ],
        );
        // `a` ends where it was, but only after a call: moving `b` ahead of the foreign
        // filter pushes `a` to 3 first.
        assert_eq!(changes, ["~ b 3->1", "~ a 2->2"]);
    }

    #[test]
    fn removed_filters_go_first_and_foreign_ones_stay_behind() {
        let (changes, conflicts) = planned(
            &[spec("b")],
            vec![
                live("a", 1, true),
                live("foreign", 2, false),
                live("b", 3, true),
            ],
        );
        assert!(conflicts.is_empty());
        assert_eq!(changes, ["- a 1->-", "~ b 3->1"]);
    }

    #[test]
    fn a_same_named_foreign_filter_needs_adopt() {
        let (_, conflicts) = planned(&[spec("theirs")], vec![live("theirs", 1, false)]);
        assert_eq!(conflicts.len(), 1);
        assert!(conflicts[0].contains("add `adopt: true`"));
        let mut adopted = spec("theirs");
        adopted.adopt = true;
        let (changes, conflicts) = planned(&[adopted], vec![live("theirs", 1, false)]);
        assert!(conflicts.is_empty());
        assert_eq!(changes, ["~ theirs -->-"]);
    }

    #[test]
    fn foreign_filters_count_against_the_limit() {
        let specs: Vec<FilterSpec> = (0..60).map(|i| spec(&format!("f{i:02}"))).collect();
        let foreign: Vec<FilterState> = (0..41)
            .map(|i| live(&format!("x{i:02}"), i + 1, false))
            .collect();
        let (_, conflicts) = planned(&specs, foreign);
        assert_eq!(conflicts.len(), 1);
        assert!(
            conflicts[0].contains("60 filters in the manifest and 41 that guardform does not own")
        );
    }
}
