//! `lambda.permission[ADMIN/REGION/NAME]`: EventBridge's permission to invoke a response's
//! function, for the response's rule only.

use super::common::{Prepared, Target, desired_of, push, response_of};
use super::names::{STATEMENT_ID, resource_name, rule_arn};
use super::state::ResponsesState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Attributes, Change};
use crate::kinds::responses::section::ResponseAction;
use crate::kinds::{string, text};

/// The type name.
pub const TYPE: &str = "lambda.permission";

/// The address of a response's invoke permission.
pub fn address(admin: &str, region: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{}]", resource_name(response))
}

/// The permission of a `run` response's function.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    let (ResponseAction::Run(_), Some(_)) = (&prepared.spec.action, prepared.bundle) else {
        return;
    };
    let response = prepared.spec.name.as_str();
    let mut desired = Attributes::new();
    desired.insert("principal".into(), string("events.amazonaws.com"));
    desired.insert(
        "source_arn".into(),
        string(rule_arn(region, admin, response)),
    );
    let live = state.functions.get(&resource_name(response)).map(|f| {
        let mut attributes = Attributes::new();
        if let Some((principal, source)) = &f.permission {
            attributes.insert("principal".into(), string(principal.clone()));
            attributes.insert("source_arn".into(), string(source.clone()));
        }
        attributes
    });
    let live = live.filter(|l| !l.is_empty());
    push(
        changes,
        Target {
            kind: TYPE,
            address: address(admin, region, response),
            region,
            admin,
            response,
            reasons: (
                "EventBridge may invoke the function for this rule only",
                "the invoke permission differs",
            ),
        },
        &desired,
        live.as_ref(),
    );
}

/// Grants (or replaces) the permission.
pub async fn apply(aws: &Aws, admin: &str, change: &Change) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let response = response_of(change);
    let name = resource_name(&response);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);

    let lambda = aws.lambda(admin, region);
    if change.action == Action::Update {
        let _ = lambda
            .remove_permission()
            .function_name(&name)
            .statement_id(STATEMENT_ID)
            .send()
            .await;
    }
    lambda
        .add_permission()
        .function_name(&name)
        .statement_id(STATEMENT_ID)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(text(&desired, "source_arn"))
        .source_account(admin)
        .send()
        .await
        .map_err(|e| AwsError::new(context("granting"), e))?;
    Ok(())
}
