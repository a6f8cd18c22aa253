//! Trusted and threat IP lists: each list's source is read and normalised, its file uploaded to
//! an S3 bucket of the delegated administrator, and a GuardDuty set (IPSet or ThreatIntelSet)
//! in every targeted Region points at it.

pub mod bucket;
pub mod deep_security;
pub mod init;
pub mod normalize;
pub mod object;
pub mod read;
pub mod section;
pub mod sets;
pub mod sources;
pub mod state;

use super::Context;
use super::guardduty::{detector, organization_admin};
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Action, Change, Plan};
use crate::engine::{BoxFuture, Kind, Planned, ReadError, State, state_of};
use state::{IpListsState, StorageState};

/// The IP list kinds.
pub struct IpLists;

/// The kind's name (`guardform sync ip-lists` manages its types).
pub const NAME: &str = "ip_lists";

impl Kind<Context> for IpLists {
    fn name(&self) -> &'static str {
        NAME
    }

    fn types(&self) -> &'static [&'static str] {
        &[
            bucket::TYPE,
            object::TYPE,
            sets::IPSET,
            sets::THREAT_INTEL_SET,
            sets::TRUSTED_ENTITY_SET,
            sets::THREAT_ENTITY_SET,
        ]
    }

    fn read<'a>(
        &'a self,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>> {
        Box::pin(async move { Ok(Box::new(read::read(context).await?) as Box<dyn State>) })
    }

    fn init(&self, context: &Context, state: &dyn State) -> Vec<crate::engine::InitEntry> {
        init::init(context, state_of::<state::IpListsState>(state))
    }

    fn plan(&self, context: &Context, state: &dyn State) -> Planned {
        let state: &IpListsState = state_of(state);
        let manifest = &context.manifest;
        let admin = context.discovery.delegated_admin.as_str();
        let regions = &context.discovery.regions;
        let mut planned = Planned::default();
        for list in &state.lists {
            planned.notes.extend(list.notes.iter().cloned());
        }
        if let Some(storage) = &section::of(manifest).storage {
            if !state.lists.is_empty() {
                let empty = StorageState::default();
                let live = state.storage.as_ref().unwrap_or(&empty);
                planned
                    .changes
                    .extend(bucket::plan(storage, &state.bucket_region, admin, live));
            }
            for list in &state.lists {
                planned
                    .changes
                    .extend(object::plan(list, storage, admin, state));
                sets::plan(
                    manifest,
                    list,
                    admin,
                    regions,
                    state,
                    &mut planned.changes,
                    &mut planned.conflicts,
                );
            }
        }
        sets::plan_removals(
            manifest,
            admin,
            regions,
            state,
            &mut planned.changes,
            &mut planned.conflicts,
        );
        // After every set change: which files are still pointed at is known only then.
        if let Some(storage) = &state.storage_location {
            object::plan_removals(storage, admin, state, &mut planned.changes);
        }
        planned
    }

    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String> {
        let admin = plan.targets.delegated_admin.as_str();
        match change.kind.as_str() {
            bucket::TYPE => Vec::new(),
            object::TYPE if change.action == Action::Delete => sets::set_changes_of(
                change
                    .inputs
                    .get("list")
                    .map(String::as_str)
                    .unwrap_or_default(),
                plan,
            ),
            object::TYPE => vec![bucket::address(
                change
                    .inputs
                    .get("bucket")
                    .map(String::as_str)
                    .unwrap_or_default(),
            )],
            _ => [
                Some(organization_admin::address(&change.region)),
                Some(detector::address(admin, &change.region)),
                sets::object_dependency(change, plan),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    fn apply<'a>(
        &'a self,
        context: &'a Context,
        state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let state: &IpListsState = state_of(state);
            let aws = context.aws.as_ref();
            let admin = context.discovery.delegated_admin.as_str();
            crate::kinds::each(changes, |change| async move {
                match change.kind.as_str() {
                    bucket::TYPE => bucket::apply(aws, admin, change).await,
                    object::TYPE if change.action == Action::Delete => {
                        object::delete(aws, admin, change).await
                    }
                    object::TYPE => {
                        object::apply(
                            aws,
                            admin,
                            state,
                            section::of(&context.manifest).storage.as_ref(),
                            change,
                        )
                        .await
                    }
                    _ => sets::apply(aws, admin, context.list_timeout, change).await,
                }
            })
            .await
        })
    }
}
