//! `events.rule[ADMIN/REGION/NAME]`: the EventBridge rule that sends a response's GuardDuty
//! findings (`when`) to its target.

use super::common::{
    Prepared, Target, deleted, desired_of, owner, ownership, ownership_tags, push, removal,
    response_of, tags_of,
};
use super::documents::{canonical, event_pattern};
use super::names::{resource_name, rule_arn};
use super::state::ResponsesState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change};
use crate::kinds::{string, text};
use std::collections::BTreeSet;

/// The type name.
pub const TYPE: &str = "events.rule";

/// The address of a response's rule.
pub fn address(admin: &str, region: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{}]", resource_name(response))
}

/// The response's rule.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    let response = prepared.spec.name.as_str();
    let mut desired = ownership(response);
    desired.insert(
        "event_pattern".into(),
        string(canonical(&event_pattern(&prepared.spec.when))),
    );
    desired.insert("state".into(), string("ENABLED"));
    let live = state.rules.get(&resource_name(response)).map(|r| {
        let mut attributes = tags_of(&r.tags);
        attributes.insert("event_pattern".into(), string(r.pattern.clone()));
        attributes.insert("state".into(), string(r.state.clone()));
        attributes
    });
    push(
        changes,
        Target {
            kind: TYPE,
            address: address(admin, region, response),
            region,
            admin,
            response,
            reasons: (
                "GuardDuty findings matching `when` go to the response",
                "the rule differs from the manifest",
            ),
        },
        &desired,
        live.as_ref(),
    );
}

/// Rules (and their targets) guardform made for responses the manifest no longer has.
pub fn plan_removals(
    wanted: &BTreeSet<&str>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    for (name, rule) in &state.rules {
        let Some(response) = owner(&rule.tags).filter(|r| !wanted.contains(r)) else {
            continue;
        };
        if rule.target.is_some() {
            changes.push(removal(
                super::target::TYPE,
                format!("{}[{admin}/{region}/{name}]", super::target::TYPE),
                admin,
                region,
                response,
                name,
            ));
        }
        changes.push(removal(
            TYPE,
            format!("{TYPE}[{admin}/{region}/{name}]"),
            admin,
            region,
            response,
            name,
        ));
    }
}

/// Writes (or deletes) the rule.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let response = response_of(change);
    let name = resource_name(&response);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);

    let events = aws.eventbridge(admin, region);
    if change.action == Action::Delete {
        // Already gone (another run removed it): the change is made.
        return deleted(
            events.delete_rule().name(&name).send().await,
            |e| e.is_resource_not_found_exception(),
            context("deleting"),
        );
    }
    let tags: Vec<aws_sdk_eventbridge::types::Tag> = ownership_tags(&response)
        .into_iter()
        .filter_map(|(k, v)| {
            aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect();
    events
        .put_rule()
        .name(&name)
        .event_pattern(text(&desired, "event_pattern"))
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .description(format!("guardform response {response}: GuardDuty findings"))
        .set_tags((change.action == Action::Create).then_some(tags.clone()))
        .send()
        .await
        .map_err(|e| AwsError::new(context("writing"), e))?;
    if change.action != Action::Create {
        events
            .tag_resource()
            .resource_arn(rule_arn(region, admin, &response))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| AwsError::new(context("tagging"), e))?;
    }
    Ok(())
}
