//! `events.target[ADMIN/REGION/NAME]`: the rule's target (the response's function, an SNS
//! topic or another event bus), with its retry policy and dead-letter queue.

use super::common::{Prepared, Target, deleted, desired_of, number, push, response_of};
use super::names::{
    TARGET_ID, arn_parts, function_arn, in_region, queue_arn, resource_name, role_arn,
};
use super::state::ResponsesState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::responses::section::ResponseAction;
use crate::kinds::{string, text};
use serde_json::{Value, json};

/// The type name.
pub const TYPE: &str = "events.target";

/// The address of a response's rule target.
pub fn address(admin: &str, region: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{}]", resource_name(response))
}

/// How EventBridge reaches a target from a rule in a Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Same account and Region (or an event bus of the same account and Region).
    Direct,
    /// Another account, or an event bus in another Region: EventBridge needs a role.
    WithRole,
    /// Not possible: only event buses may be in another Region than the rule.
    Refused(String),
}

/// How the rule in `region` of `admin` reaches `target`.
pub fn delivery(target: &str, admin: &str, region: &str) -> Delivery {
    let Some((service, target_region, account)) = arn_parts(target) else {
        return Delivery::Direct;
    };
    let bus = service == "events";
    if !bus && target_region != region {
        return Delivery::Refused(format!(
            "{target} is in {target_region}, but an EventBridge rule in {region} can send only to targets in its own Region (or to an event bus)"
        ));
    }
    if account != admin || target_region != region {
        Delivery::WithRole
    } else {
        Delivery::Direct
    }
}

/// The `send_to` target of a response in `region`, with `${region}` filled in.
pub fn send_to(prepared: &Prepared<'_>, region: &str) -> Option<String> {
    match &prepared.spec.action {
        ResponseAction::Sns(arn) | ResponseAction::EventBus(arn) => Some(in_region(arn, region)),
        ResponseAction::Run(_) => None,
    }
}

/// Why the response's target or dead-letter queue cannot work from `region`, if so.
pub fn conflicts(prepared: &Prepared<'_>, admin: &str, region: &str) -> Vec<String> {
    let response = prepared.spec.name.as_str();
    let hint = "hint: write the ARN with `${region}` (e.g. arn:aws:sns:${region}:ACCOUNT:NAME) and create it in every targeted Region, or send to an event bus";
    let mut found = Vec::new();
    if let Some(target) = send_to(prepared, region)
        && let Delivery::Refused(why) = delivery(&target, admin, region)
    {
        found.push(format!("response `{response}`: {why}.\n  {hint}"));
    }
    if let Some(dlq) = &prepared.spec.dlq {
        let dlq = in_region(dlq, region);
        if let Some((_, queue_region, _)) = arn_parts(&dlq)
            && queue_region != region
        {
            found.push(format!(
                "response `{response}`: the dead-letter queue {dlq} is in {queue_region}, but EventBridge needs it in the rule's Region, {region}.\n  {hint}"
            ));
        }
    }
    found
}

/// The rule's target.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    let response = prepared.spec.name.as_str();
    let target_arn = match (&prepared.spec.action, prepared.bundle) {
        (ResponseAction::Run(_), Some(_)) => function_arn(region, admin, response),
        (ResponseAction::Sns(_), _) | (ResponseAction::EventBus(_), _) => {
            send_to(prepared, region).unwrap_or_default()
        }
        (ResponseAction::Run(_), None) => return,
    };
    let dlq = prepared
        .spec
        .dlq
        .as_ref()
        .map(|dlq| in_region(dlq, region))
        .unwrap_or_else(|| queue_arn(region, admin, response));
    let mut desired = Attributes::new();
    if delivery(&target_arn, admin, region) == Delivery::WithRole {
        desired.insert("role_arn".into(), string(role_arn(admin, response)));
    }
    desired.insert("arn".into(), string(target_arn));
    desired.insert(
        "retry.maximum_attempts".into(),
        json!(prepared.spec.maximum_retry_attempts),
    );
    desired.insert(
        "retry.maximum_event_age".into(),
        json!(prepared.spec.maximum_event_age_seconds),
    );
    desired.insert("dead_letter_arn".into(), string(dlq));
    let rule = state.rules.get(&resource_name(response));
    let live = rule.and_then(|r| r.target.as_ref()).map(|t| {
        let optional = |v: Option<i32>| v.map(|v| json!(v)).unwrap_or(Value::Null);
        let mut attributes = Attributes::new();
        attributes.insert("arn".into(), string(t.arn.clone()));
        if let Some(role) = &t.role_arn {
            attributes.insert("role_arn".into(), string(role.clone()));
        }
        attributes.insert(
            "retry.maximum_attempts".into(),
            optional(t.maximum_retry_attempts),
        );
        attributes.insert(
            "retry.maximum_event_age".into(),
            optional(t.maximum_event_age_seconds),
        );
        attributes.insert(
            "dead_letter_arn".into(),
            t.dead_letter_arn.clone().map(string).unwrap_or(Value::Null),
        );
        attributes
    });
    let reasons = if rule.is_some() && live.is_none() {
        ("the rule's target is missing", "")
    } else {
        (
            "the rule sends findings here",
            "the target differs from the manifest",
        )
    };
    push(
        changes,
        Target {
            kind: TYPE,
            address: address(admin, region, response),
            region,
            admin,
            response,
            reasons,
        },
        &desired,
        live.as_ref(),
    );
}

/// Writes (or removes) the target.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let response = response_of(change);
    let name = resource_name(&response);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);

    let events = aws.eventbridge(admin, region);
    if change.action == Action::Delete {
        // The rule is already gone, and its targets with it.
        let removed = events
            .remove_targets()
            .rule(&name)
            .ids(TARGET_ID)
            .send()
            .await;
        return deleted(
            removed,
            |e| e.is_resource_not_found_exception(),
            context("removing"),
        );
    }
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id(TARGET_ID)
        .arn(text(&desired, "arn"))
        .retry_policy(
            aws_sdk_eventbridge::types::RetryPolicy::builder()
                .maximum_retry_attempts(number(&desired, "retry.maximum_attempts", 8))
                .maximum_event_age_in_seconds(number(&desired, "retry.maximum_event_age", 3600))
                .build(),
        )
        .dead_letter_config(
            aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                .arn(text(&desired, "dead_letter_arn"))
                .build(),
        )
        .set_role_arn(
            desired
                .get("role_arn")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .build()
        .map_err(|e| AwsError::message(context("building"), e.to_string()))?;
    let output = events
        .put_targets()
        .rule(&name)
        .targets(target)
        .send()
        .await
        .map_err(|e| AwsError::new(context("writing"), e))?;
    if output.failed_entry_count() > 0 {
        let reasons: Vec<String> = output
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.error_code().unwrap_or_default(),
                    f.error_message().unwrap_or_default()
                )
            })
            .collect();
        return Err(AwsError::message(context("writing"), reasons.join("; ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_eventbridge_can_deliver() {
        let admin = "222222222222";
        assert_eq!(
            delivery("arn:aws:sns:eu-west-1:222222222222:t", admin, "eu-west-1"),
            Delivery::Direct
        );
        assert_eq!(
            delivery("arn:aws:sns:eu-west-1:333333333333:t", admin, "eu-west-1"),
            Delivery::WithRole,
            "another account needs a role"
        );
        assert!(matches!(
            delivery("arn:aws:sns:eu-west-1:222222222222:t", admin, "us-east-1"),
            Delivery::Refused(_)
        ));
        assert_eq!(
            delivery(
                "arn:aws:events:eu-west-1:222222222222:event-bus/b",
                admin,
                "us-east-1"
            ),
            Delivery::WithRole,
            "a bus in another Region is reached with a role"
        );
        assert_eq!(
            delivery(
                "arn:aws:events:us-east-1:222222222222:event-bus/b",
                admin,
                "us-east-1"
            ),
            Delivery::Direct
        );
        assert_eq!(
            in_region("arn:aws:sns:${region}:1:t", "eu-west-2"),
            "arn:aws:sns:eu-west-2:1:t"
        );
    }
}
