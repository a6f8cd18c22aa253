//! Response wiring: for every `responses` entry, in the delegated administrator account in
//! every targeted Region, an EventBridge rule on GuardDuty findings, its target (a Lambda built
//! from a bundle, an SNS topic or another event bus) with a retry policy and a dead-letter
//! queue, and for Lambdas the function, its invoke permission for EventBridge and an IAM role
//! (global) with a least-privilege policy from the bundle's own declaration.

pub mod boundary;
pub mod bundles;
pub mod check;
pub mod common;
pub mod documents;
pub mod function;
pub mod names;
pub mod permission;
pub mod queue;
pub mod read;
pub mod role;
pub mod rule;
pub mod section;
pub mod state;
pub mod target;

use super::Context;
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Action, Change, Plan};
use crate::engine::{BoxFuture, Kind, Planned, ReadError, State, state_of};
use crate::kinds::responses::section::ResponseAction;
use common::{Prepared, response_of};
use state::{ResponsesKindState, ResponsesState};
use std::collections::BTreeSet;

/// The response kinds.
pub struct Responses;

/// The regional types in the order a response's resources are created (deleted in reverse).
const SEQUENCE: [&str; 5] = [
    queue::TYPE,
    function::TYPE,
    permission::TYPE,
    rule::TYPE,
    target::TYPE,
];

/// The address of a response's regional resource of type `kind`.
fn regional_address(kind: &str, admin: &str, region: &str, response: &str) -> String {
    match kind {
        queue::TYPE => queue::address(admin, region, response),
        _ => format!(
            "{kind}[{admin}/{region}/{}]",
            names::resource_name(response)
        ),
    }
}

impl Kind<Context> for Responses {
    fn name(&self) -> &'static str {
        "responses"
    }

    fn types(&self) -> &'static [&'static str] {
        &[
            boundary::TYPE,
            role::TYPE,
            queue::TYPE,
            function::TYPE,
            permission::TYPE,
            rule::TYPE,
            target::TYPE,
        ]
    }

    fn read<'a>(
        &'a self,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>> {
        Box::pin(async move { Ok(Box::new(read::read(context).await?) as Box<dyn State>) })
    }

    /// `init` names guardform's response wiring but writes no `responses:`: a response's
    /// bundle, environment and secrets are not read back from Lambda.
    fn init(&self, _context: &Context, state: &dyn State) -> Vec<crate::engine::InitEntry> {
        let state: &ResponsesKindState = state_of(state);
        let rules: BTreeSet<&str> = state
            .regions
            .values()
            .flat_map(|r| r.rules.keys().map(String::as_str))
            .collect();
        if rules.is_empty() {
            return Vec::new();
        }
        vec![crate::engine::InitEntry {
            key: "responses".into(),
            value: serde_json::Value::Null,
            comments: vec![
                format!(
                    "guardform's response wiring exists ({}), but init does not write `responses:`",
                    rules.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "(bundles, env and secrets are not read back): add them from the manifest that made them,".into(),
                "or the first plan removes them (with --allow-destroy).".into(),
            ],
        }]
    }

    fn plan(&self, context: &Context, state: &dyn State) -> Planned {
        let state: &ResponsesKindState = state_of(state);
        let admin = context.discovery.delegated_admin.as_str();
        let mut planned = Planned {
            notes: state.notes.clone(),
            ..Planned::default()
        };
        let changes = &mut planned.changes;
        let conflicts = &mut planned.conflicts;
        let empty = ResponsesState::default();
        let responses = section::of(&context.manifest);
        for spec in responses {
            let prepared = Prepared {
                spec,
                bundle: state.loaded.get(&spec.name),
            };
            role::plan(
                &prepared,
                admin,
                &context.discovery.organization.id,
                &context.discovery.regions,
                &state.roles,
                changes,
            );
            for region in &context.discovery.regions {
                let live = state.regions.get(region).unwrap_or(&empty);
                conflicts.extend(target::conflicts(&prepared, admin, region));
                queue::plan(&prepared, admin, region, live, changes);
                if matches!(spec.action, ResponseAction::Run(_)) && prepared.bundle.is_none() {
                    continue;
                }
                function::plan(&prepared, admin, region, live, changes);
                permission::plan(&prepared, admin, region, live, changes);
                rule::plan(&prepared, admin, region, live, changes);
                target::plan(&prepared, admin, region, live, changes);
            }
        }
        let wanted: BTreeSet<&str> = responses.iter().map(|r| r.name.as_str()).collect();
        for region in &context.discovery.regions {
            let Some(live) = state.regions.get(region) else {
                continue;
            };
            rule::plan_removals(&wanted, admin, region, live, changes);
            function::plan_removals(&wanted, admin, region, live, changes);
            queue::plan_removals(&wanted, admin, region, live, changes);
        }
        role::plan_removals(&wanted, admin, &state.roles, changes);
        // The boundary is needed while any role of guardform's is wanted or left.
        let removed: Vec<&str> = changes
            .iter()
            .filter(|c| c.kind == role::TYPE && c.action == Action::Delete)
            .map(|c| c.address.as_str())
            .collect();
        let needed = changes
            .iter()
            .any(|c| c.kind == role::TYPE && c.action != Action::Delete)
            || state
                .roles
                .keys()
                .any(|name| !removed.contains(&role::address_of_name(admin, name).as_str()));
        if let Some(c) = boundary::plan(admin, needed, &state.boundary) {
            changes.insert(0, c);
        }
        planned
    }

    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String> {
        let response = response_of(change);
        let admin = plan.targets.delegated_admin.as_str();
        if change.kind == boundary::TYPE {
            // The boundary goes once every role is gone; it comes before any role.
            if change.action != Action::Delete {
                return Vec::new();
            }
            return plan
                .changes
                .iter()
                .filter(|c| c.kind == role::TYPE)
                .map(|c| c.address.clone())
                .collect();
        }
        if change.kind == role::TYPE {
            // A role goes last, once nothing of its response is left in any Region.
            if change.action != Action::Delete {
                return vec![boundary::address(admin)];
            }
            return plan
                .changes
                .iter()
                .filter(|c| c.kind != role::TYPE && response_of(c) == response)
                .map(|c| c.address.clone())
                .collect();
        }
        let position = SEQUENCE.iter().position(|k| *k == change.kind).unwrap_or(0);
        let before: Vec<&str> = if change.action == Action::Delete {
            SEQUENCE[position + 1..].to_vec()
        } else {
            SEQUENCE[..position].to_vec()
        };
        let mut on: Vec<String> = before
            .into_iter()
            .map(|kind| regional_address(kind, admin, &change.region, &response))
            .collect();
        if change.action != Action::Delete {
            on.push(role::address(admin, &response));
        }
        on
    }

    fn apply<'a>(
        &'a self,
        context: &'a Context,
        state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let state: &ResponsesKindState = state_of(state);
            let aws = context.aws.as_ref();
            let admin = context.discovery.delegated_admin.as_str();
            crate::kinds::each(changes, |change| async move {
                match change.kind.as_str() {
                    boundary::TYPE => boundary::apply(aws, admin, change).await,
                    role::TYPE => role::apply(aws, admin, change).await,
                    queue::TYPE => queue::apply(aws, admin, change).await,
                    function::TYPE => {
                        let zip = state.loaded.get(&response_of(change)).map(|b| b.zip());
                        function::apply(aws, admin, change, zip).await
                    }
                    permission::TYPE => permission::apply(aws, admin, change).await,
                    rule::TYPE => rule::apply(aws, admin, change).await,
                    _ => target::apply(aws, admin, change).await,
                }
            })
            .await
        })
    }
}
