//! Reads guardform's response wiring in the delegated administrator account: every rule,
//! function and queue with guardform's name prefix (`guardform-`) and every role under
//! `/guardform/`, whether or not the manifest still names their response; their tags say which
//! response they belong to.

use super::bundles;
use super::documents::canonical_text;
use super::names::{NAME_PREFIX, ROLE_PATH, STATEMENT_ID, TARGET_ID};
use super::state::{
    FunctionState, QueueState, ResponsesKindState, ResponsesState, RoleState, RuleState,
    TargetState,
};
use crate::cloud::aws::{Aws, AwsError};
use crate::engine::ReadError;
use crate::kinds::Context;
use crate::kinds::responses::section::ResponseAction;
use serde_json::Value;
use std::collections::BTreeMap;

/// Loads the bundles of the manifest's responses, and reads the wiring in every Region and
/// the roles. Without `responses`, reading only finds leftovers to remove: a caller whose role
/// may not read EventBridge, Lambda or IAM gets a note instead of an error.
pub async fn read(context: &Context) -> Result<ResponsesKindState, ReadError> {
    let manifest = &context.manifest;
    let mut state = ResponsesKindState::default();
    let responses = super::section::of(manifest);
    for spec in responses {
        if let ResponseAction::Run(run) = &spec.action {
            let bundle = bundles::find(&run.bundle, &context.manifest_dir)
                .map_err(|e| format!("response `{}`: {e}", spec.name))?;
            if let Some(note) = bundles::override_note(&bundle, &run.bundle, &spec.name) {
                state.notes.push(note);
            }
            state.loaded.insert(spec.name.clone(), bundle);
        }
    }
    state.bundles = state
        .loaded
        .iter()
        .map(|(name, bundle)| (name.clone(), bundle.code_sha256().to_string()))
        .collect();
    let (aws, admin) = (
        context.aws.as_ref(),
        context.discovery.delegated_admin.as_str(),
    );
    let names: Vec<String> = responses.iter().map(|r| r.name.clone()).collect();
    let wiring = async {
        let regions =
            crate::kinds::each_region(context, |region| observe_region(aws, admin, region)).await?;
        Ok::<_, AwsError>((
            regions,
            observe_roles(aws, admin).await?,
            super::boundary::read(aws, admin).await?,
        ))
    };
    match wiring.await {
        Ok((regions, roles, boundary)) => {
            state.regions = regions;
            state.roles = roles;
            state.boundary = boundary;
        }
        Err(error)
            if names.is_empty()
                && error
                    .code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("AccessDenied")) =>
        {
            state.notes.push(format!("response wiring was not read ({error}); the manifest has no `responses`, so nothing depends on it"));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(state)
}

/// The inline policy `guardform` of role `name` (canonical), or `None` when it has none.
pub async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<Option<String>, AwsError> {
    match iam
        .get_role_policy()
        .role_name(name)
        .policy_name("guardform")
        .send()
        .await
    {
        Ok(output) => Ok(Some(canonical_text(output.policy_document()))),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(AwsError::new(
            format!("reading the policy of IAM role {name}"),
            error,
        )),
    }
}

/// Reads guardform's roles (path `/guardform/`) in `account`.
pub async fn observe_roles(
    aws: &Aws,
    account: &str,
) -> Result<BTreeMap<String, RoleState>, AwsError> {
    let iam = aws.iam(account);
    let mut roles = BTreeMap::new();
    let mut pages = iam
        .list_roles()
        .path_prefix(ROLE_PATH)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| AwsError::new(format!("listing guardform's IAM roles in {account}"), e))?;
        for role in page.roles() {
            let name = role.role_name().to_string();
            let full = iam
                .get_role()
                .role_name(&name)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("reading IAM role {name}"), e))?;
            let tags = full
                .role()
                .map(|r| {
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let trust = full
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .map(canonical_text)
                .unwrap_or_default();
            let policy = inline_policy(&iam, &name).await?;
            let boundary = full
                .role()
                .and_then(|r| r.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string);
            roles.insert(
                name,
                RoleState {
                    trust,
                    policy,
                    tags,
                    boundary,
                },
            );
        }
    }
    Ok(roles)
}

/// Reads guardform's rules (name prefix `guardform-`) with their tags and targets, and every
/// function and queue with guardform's name prefix, in one Region: what guardform owns is found
/// whatever the manifest says now (ownership is decided from the tags when planning).
pub async fn observe_region(
    aws: &Aws,
    account: &str,
    region: &str,
) -> Result<ResponsesState, AwsError> {
    let context = format!("{account}/{region}");
    Ok(ResponsesState {
        rules: read_rules(&aws.eventbridge(account, region), &context).await?,
        functions: read_functions(&aws.lambda(account, region), &context).await?,
        queues: read_queues(&aws.sqs(account, region), &context).await?,
    })
}

/// The target with guardform's id, as read.
fn target_state(targets: &[aws_sdk_eventbridge::types::Target]) -> Option<TargetState> {
    targets
        .iter()
        .find(|t| t.id() == TARGET_ID)
        .map(|t| TargetState {
            arn: t.arn().to_string(),
            role_arn: t.role_arn().map(str::to_string),
            maximum_retry_attempts: t.retry_policy().and_then(|r| r.maximum_retry_attempts()),
            maximum_event_age_seconds: t
                .retry_policy()
                .and_then(|r| r.maximum_event_age_in_seconds()),
            dead_letter_arn: t
                .dead_letter_config()
                .and_then(|d| d.arn())
                .map(str::to_string),
        })
}

/// Rules named `guardform-*`, with their tags and guardform's target.
async fn read_rules(
    events: &aws_sdk_eventbridge::Client,
    context: &str,
) -> Result<BTreeMap<String, RuleState>, AwsError> {
    let mut rules = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let page = events
            .list_rules()
            .name_prefix(NAME_PREFIX)
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| AwsError::new(format!("listing EventBridge rules in {context}"), e))?;
        for rule in page.rules() {
            let Some(name) = rule.name() else { continue };
            let tags = events
                .list_tags_for_resource()
                .resource_arn(rule.arn().unwrap_or_default())
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(format!("reading the tags of rule {name} in {context}"), e)
                })?
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            let targets = events
                .list_targets_by_rule()
                .rule(name)
                .send()
                .await
                .map_err(|e| {
                    AwsError::new(
                        format!("reading the targets of rule {name} in {context}"),
                        e,
                    )
                })?;
            rules.insert(
                name.to_string(),
                RuleState {
                    pattern: rule.event_pattern().map(canonical_text).unwrap_or_default(),
                    state: rule
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    tags,
                    target: target_state(targets.targets()),
                },
            );
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(rules);
        }
    }
}

/// guardform's EventBridge statement of a function's resource policy: (principal, source ARN).
fn permission_of(policy: &str) -> Option<(String, String)> {
    let doc: Value = serde_json::from_str(policy).ok()?;
    let statements = doc.get("Statement")?.as_array()?;
    let statement = statements
        .iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(STATEMENT_ID))?;
    let text = |pointer: &str| {
        statement
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some((
        text("/Principal/Service"),
        text("/Condition/ArnLike/AWS:SourceArn"),
    ))
}

/// Functions named `guardform-*`, with their configuration, tags and invoke permission.
async fn read_functions(
    lambda: &aws_sdk_lambda::Client,
    context: &str,
) -> Result<BTreeMap<String, FunctionState>, AwsError> {
    let mut names = Vec::new();
    let mut pages = lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(format!("listing functions in {context}"), e))?;
        names.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|name| name.starts_with(NAME_PREFIX))
                .map(str::to_string),
        );
    }
    let mut functions = BTreeMap::new();
    for name in names {
        let output = match lambda.get_function().function_name(&name).send().await {
            Ok(output) => output,
            // Deleted since it was listed.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                continue;
            }
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading function {name} in {context}"),
                    error,
                ));
            }
        };
        let permission = match lambda.get_policy().function_name(&name).send().await {
            Ok(policy) => policy.policy().and_then(permission_of),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading the policy of function {name} in {context}"),
                    error,
                ));
            }
        };
        let config = output.configuration();
        functions.insert(
            name,
            FunctionState {
                runtime: config
                    .and_then(|c| c.runtime())
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                handler: config
                    .and_then(|c| c.handler())
                    .unwrap_or_default()
                    .to_string(),
                role: config
                    .and_then(|c| c.role())
                    .unwrap_or_default()
                    .to_string(),
                memory: config.and_then(|c| c.memory_size()).unwrap_or_default(),
                timeout: config.and_then(|c| c.timeout()).unwrap_or_default(),
                code_sha256: config
                    .and_then(|c| c.code_sha256())
                    .unwrap_or_default()
                    .to_string(),
                env: config
                    .and_then(|c| c.environment())
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                tags: output
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                permission,
            },
        );
    }
    Ok(functions)
}

/// Queues named `guardform-*`, with their policy, encryption and tags.
async fn read_queues(
    sqs: &aws_sdk_sqs::Client,
    context: &str,
) -> Result<BTreeMap<String, QueueState>, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let mut urls = Vec::new();
    let mut pages = sqs
        .list_queues()
        .queue_name_prefix(NAME_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(format!("listing queues in {context}"), e))?;
        urls.extend(page.queue_urls().iter().cloned());
    }
    let mut queues = BTreeMap::new();
    for url in urls {
        let queue = url.rsplit('/').next().unwrap_or_default().to_string();
        let attributes = match sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(Name::All)
            .send()
            .await
        {
            Ok(attributes) => attributes,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_queue_does_not_exist()) =>
            {
                continue;
            }
            Err(error) => {
                return Err(AwsError::new(
                    format!("reading queue {queue} in {context}"),
                    error,
                ));
            }
        };
        let get = |name: Name| attributes.attributes().and_then(|a| a.get(&name)).cloned();
        let tags = sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| {
                AwsError::new(format!("reading the tags of queue {queue} in {context}"), e)
            })?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        queues.insert(
            queue,
            QueueState {
                policy: get(Name::Policy)
                    .map(|p| canonical_text(&p))
                    .unwrap_or_default(),
                encrypted: get(Name::SqsManagedSseEnabled).as_deref() == Some("true")
                    || get(Name::KmsMasterKeyId).is_some_and(|k| !k.is_empty()),
                tags,
            },
        );
    }
    Ok(queues)
}
