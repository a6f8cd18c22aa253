//! `lambda.function[ADMIN/REGION/NAME]`: a `run` response's function, built from its bundle
//! (deterministic zip: the code hash is the plan's), with the response's settings as
//! environment variables and secrets as ARNs only.

use super::common::{
    Prepared, Target, deleted, desired_of, number, owner, ownership, ownership_tags, push, removal,
    response_of, tags_of,
};
use super::names::{function_arn, resource_name, role_arn};
use super::state::ResponsesState;
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::plan::{Action, Change};
use crate::kinds::responses::section::ResponseAction;
use crate::kinds::{string, text};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The type name.
pub const TYPE: &str = "lambda.function";

/// The address of a response's function.
pub fn address(admin: &str, region: &str, response: &str) -> String {
    format!("{TYPE}[{admin}/{region}/{}]", resource_name(response))
}

/// The function of a `run` response.
pub fn plan(
    prepared: &Prepared<'_>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    let (ResponseAction::Run(run), Some(bundle)) = (&prepared.spec.action, prepared.bundle) else {
        return;
    };
    let response = prepared.spec.name.as_str();
    let name = resource_name(response);
    let origin = format!("{} ({})", bundle.spec.name, bundle.origin);
    let mut desired = ownership(response);
    desired.insert("runtime".into(), string(bundle.spec.runtime.clone()));
    desired.insert("handler".into(), string(bundle.spec.handler.clone()));
    desired.insert("role".into(), string(role_arn(admin, response)));
    desired.insert(
        "memory".into(),
        json!(run.memory.unwrap_or(bundle.spec.memory)),
    );
    desired.insert(
        "timeout".into(),
        json!(run.timeout.unwrap_or(bundle.spec.timeout)),
    );
    desired.insert("code_sha256".into(), string(bundle.code_sha256()));
    desired.insert("bundle".into(), string(origin.clone()));
    for (key, value) in &run.env {
        desired.insert(format!("env.{key}"), string(value.clone()));
    }
    for (key, arn) in &run.secrets {
        desired.insert(format!("env.{key}_SECRET_ARN"), string(arn.clone()));
    }
    let function = state.functions.get(&name);
    let live = function.map(|f| {
        let mut attributes = tags_of(&f.tags);
        attributes.insert("runtime".into(), string(f.runtime.clone()));
        attributes.insert("handler".into(), string(f.handler.clone()));
        attributes.insert("role".into(), string(f.role.clone()));
        attributes.insert("memory".into(), json!(f.memory));
        attributes.insert("timeout".into(), json!(f.timeout));
        attributes.insert("code_sha256".into(), string(f.code_sha256.clone()));
        attributes.insert("bundle".into(), string(origin.clone()));
        for (key, value) in &f.env {
            attributes.insert(format!("env.{key}"), string(value.clone()));
        }
        attributes
    });
    // Variables the function has but the manifest does not set are removed.
    let mut desired_with_removals = desired.clone();
    if let Some(f) = function {
        for key in f.env.keys() {
            desired_with_removals
                .entry(format!("env.{key}"))
                .or_insert(Value::Null);
        }
    }
    let reason_update = match live
        .as_ref()
        .map(|l| l.get("code_sha256") != desired.get("code_sha256"))
    {
        Some(true) => "the bundle's code changed",
        _ => "the function's configuration differs from the manifest",
    };
    push(
        changes,
        Target {
            kind: TYPE,
            address: address(admin, region, response),
            region,
            admin,
            response,
            reasons: ("the response runs this function", reason_update),
        },
        &desired_with_removals,
        live.as_ref(),
    );
}

/// Functions guardform made for responses the manifest no longer has.
pub fn plan_removals(
    wanted: &BTreeSet<&str>,
    admin: &str,
    region: &str,
    state: &ResponsesState,
    changes: &mut Vec<Change>,
) {
    for (name, function) in &state.functions {
        if let Some(response) = owner(&function.tags).filter(|r| !wanted.contains(r)) {
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

/// Creates, updates (code, configuration, tags) or deletes the function. `zip` is the bundle's.
pub async fn apply(
    aws: &Aws,
    admin: &str,
    change: &Change,
    zip: Option<&[u8]>,
) -> Result<(), AwsError> {
    let region = change.region.as_str();
    let response = response_of(change);
    let name = resource_name(&response);
    let desired = desired_of(change);
    let context = |what: &str| format!("{what} {}", change.address);

    let lambda = aws.lambda(admin, region);
    if change.action == Action::Delete {
        // Already gone (another run removed it): the change is made.
        return deleted(
            lambda.delete_function().function_name(&name).send().await,
            |e| e.is_resource_not_found_exception(),
            context("deleting"),
        );
    }
    let mut environment = aws_sdk_lambda::types::Environment::builder();
    for (key, value) in &desired {
        if let (Some(variable), Some(value)) = (key.strip_prefix("env."), value.as_str()) {
            environment = environment.variables(variable, value);
        }
    }
    let environment = environment.build();
    let memory = number(&desired, "memory", 128);
    let timeout = number(&desired, "timeout", 60);
    let zip = zip.map(<[u8]>::to_vec).unwrap_or_default();
    if change.action == Action::Create {
        // A role created moments ago may not be assumable by Lambda yet (IAM is
        // eventually consistent): retry that one error for a while.
        let mut attempt = 0;
        loop {
            let tags: std::collections::HashMap<String, String> =
                ownership_tags(&response).into_iter().collect();
            let result = lambda
                .create_function()
                .function_name(&name)
                .runtime(aws_sdk_lambda::types::Runtime::from(text(
                    &desired, "runtime",
                )))
                .role(text(&desired, "role"))
                .handler(text(&desired, "handler"))
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_smithy_types::Blob::new(zip.clone()))
                        .build(),
                )
                .description(format!("guardform response {response}"))
                .timeout(timeout)
                .memory_size(memory)
                .environment(environment.clone())
                .set_tags(Some(tags))
                .send()
                .await;
            match result {
                Ok(_) => break,
                Err(error)
                    if attempt < 15
                        && error.as_service_error().is_some_and(|e| {
                            e.is_invalid_parameter_value_exception()
                                && format!("{e:?}").contains("assume")
                        }) =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                Err(error) => return Err(AwsError::new(context("creating"), error)),
            }
        }
        wait_for_function(&lambda, &name, &change.address).await?;
        return Ok(());
    }
    if change.after.contains_key("code_sha256") {
        lambda
            .update_function_code()
            .function_name(&name)
            .zip_file(aws_smithy_types::Blob::new(zip))
            .send()
            .await
            .map_err(|e| AwsError::new(context("updating the code of"), e))?;
        wait_for_function(&lambda, &name, &change.address).await?;
    }
    let configuration = change.after.keys().any(|k| {
        matches!(
            k.as_str(),
            "runtime" | "handler" | "role" | "memory" | "timeout"
        ) || k.starts_with("env.")
    });
    if configuration {
        lambda
            .update_function_configuration()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::from(text(
                &desired, "runtime",
            )))
            .role(text(&desired, "role"))
            .handler(text(&desired, "handler"))
            .timeout(timeout)
            .memory_size(memory)
            .environment(environment)
            .send()
            .await
            .map_err(|e| AwsError::new(context("updating the configuration of"), e))?;
        wait_for_function(&lambda, &name, &change.address).await?;
    }
    if change.after.keys().any(|k| k.starts_with("tags.")) {
        lambda
            .tag_resource()
            .resource(function_arn(region, admin, &response))
            .set_tags(Some(ownership_tags(&response).into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::new(context("tagging"), e))?;
    }
    Ok(())
}

/// Waits until a function can take the next change (State Active, no update in progress).
async fn wait_for_function(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    context: &str,
) -> Result<(), AwsError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let config = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new(format!("reading {context}"), e))?;
        let state = config
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Active".to_string());
        let update = config
            .last_update_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Successful".to_string());
        if state == "Failed" || update == "Failed" {
            return Err(AwsError::message(
                format!("deploying {context}"),
                config
                    .state_reason()
                    .or(config.last_update_status_reason())
                    .unwrap_or("Lambda reports Failed")
                    .to_string(),
            ));
        }
        if state == "Active" && update != "InProgress" {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(AwsError::message(
                format!("deploying {context}"),
                format!("still {state}/{update} after 180 s"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
