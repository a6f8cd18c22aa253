//! `sqs.queue[ADMIN/REGION/NAME]`: a response's dead-letter queue (unless the manifest names
//! one): encrypted, and EventBridge may send to it from the response's rule only.

use super::common::{
    Prepared, Target, desired_of, owner, ownership, ownership_tags, push, removal, response_of,
    tags_of,
};
use super::documents::{canonical, queue_policy};
use super::names::queue_name;
use super::state::ResponsesState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change};
use crate::kinds::{string, text};
use std::collections::BTreeSet;

/// The type name.
pub const TYPE: &str = "sqs.queue";

/// The address of a response's queue.
pub fn address(admin: &str, region: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{}]", queue_name(response))
}

/// The dead-letter queue guardform creates when the manifest names none.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    if prepared.spec.dlq.is_some() {
        return;
    }
    let response = prepared.spec.name.as_str();
    let mut desired = ownership(response);
    desired.insert(
        "policy".into(),
        string(canonical(&queue_policy(region, admin, response))),
    );
    desired.insert("encryption".into(), string("enabled"));
    let live = state.queues.get(&queue_name(response)).map(|q| {
        let mut attributes = tags_of(&q.tags);
        attributes.insert("policy".into(), string(q.policy.clone()));
        attributes.insert(
            "encryption".into(),
            string(if q.encrypted { "enabled" } else { "none" }),
        );
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
                "dead-letter queue for findings EventBridge could not deliver",
                "the dead-letter queue's settings differ",
            ),
        },
        &desired,
        live.as_ref(),
    );
}

/// Queues guardform made for responses the manifest no longer has.
pub fn plan_removals(
    wanted: &BTreeSet<&str>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    for (name, queue) in &state.queues {
        if let Some(response) = owner(&queue.tags).filter(|r| !wanted.contains(r)) {
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
}

/// Creates, updates or deletes the queue.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let response = response_of(change);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);

    let sqs = aws.sqs(admin, region);
    let queue = queue_name(&response);
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    match change.action {
        Action::Delete => {
            let url = match sqs.get_queue_url().queue_name(&queue).send().await {
                Ok(url) => url,
                // Already gone (another run removed it): the change is made.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_queue_does_not_exist()) =>
                {
                    return Ok(());
                }
                Err(error) => return Err(AwsError::new(context("finding"), error)),
            };
            sqs.delete_queue()
                .queue_url(url.queue_url().unwrap_or_default())
                .send()
                .await
                .map_err(|e| AwsError::new(context("deleting"), e))?;
        }
        Action::Create => {
            let mut create = sqs
                .create_queue()
                .queue_name(&queue)
                .attributes(Name::Policy, text(&desired, "policy"))
                .attributes(Name::SqsManagedSseEnabled, "true")
                .attributes(Name::MessageRetentionPeriod, "1209600");
            for (k, v) in ownership_tags(&response) {
                create = create.tags(k, v);
            }
            create
                .send()
                .await
                .map_err(|e| AwsError::new(context("creating"), e))?;
        }
        _ => {
            let url = sqs
                .get_queue_url()
                .queue_name(&queue)
                .send()
                .await
                .map_err(|e| AwsError::new(context("finding"), e))?;
            let url = url.queue_url().unwrap_or_default().to_string();
            sqs.set_queue_attributes()
                .queue_url(&url)
                .attributes(Name::Policy, text(&desired, "policy"))
                .attributes(Name::SqsManagedSseEnabled, "true")
                .send()
                .await
                .map_err(|e| AwsError::new(context("updating"), e))?;
            let mut tag = sqs.tag_queue().queue_url(&url);
            for (k, v) in ownership_tags(&response) {
                tag = tag.tags(k, v);
            }
            tag.send()
                .await
                .map_err(|e| AwsError::new(context("tagging"), e))?;
        }
    }
    Ok(())
}
