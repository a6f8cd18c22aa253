//! GuardDuty filters (suppression rules and saved filters) in the delegated administrator's
//! detector, in every targeted Region: filters there apply to the members' findings.

pub mod criteria;
pub mod filter;
pub mod init;
pub mod read;
pub mod section;
pub mod state;

use super::Context;
use super::guardduty::{detector, organization_admin};
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Change, Plan};
use crate::engine::{Batch, BoxFuture, Kind, Planned, ReadError, State, state_of};
use state::{FiltersState, RegionFilters};

/// The filters kind.
pub struct Filters;

impl Kind<Context> for Filters {
    fn name(&self) -> &'static str {
        "filters"
    }

    fn types(&self) -> &'static [&'static str] {
        &[filter::TYPE]
    }

    fn read<'a>(
        &'a self,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>> {
        Box::pin(async move { Ok(Box::new(read::read(context).await?) as Box<dyn State>) })
    }

    fn init(&self, context: &Context, state: &dyn State) -> Vec<crate::engine::InitEntry> {
        init::init(context, state_of::<FiltersState>(state))
    }

    fn plan(&self, context: &Context, state: &dyn State) -> Planned {
        let state: &FiltersState = state_of(state);
        let specs = section::of(&context.manifest);
        let admin = context.discovery.delegated_admin.as_str();
        let mut planned = Planned::default();
        let empty = RegionFilters::default();
        for region in &context.discovery.regions {
            let live = state.regions.get(region).unwrap_or(&empty);
            filter::plan(
                specs,
                admin,
                region,
                live,
                &mut planned.changes,
                &mut planned.conflicts,
            );
            let foreign = live
                .filters
                .iter()
                .filter(|f| !filter::ours(specs, f))
                .count();
            if foreign > 0 {
                planned.notes.push(format!(
                    "{region}: {foreign} filter(s) guardform did not create are left alone in {admin}, ranked after guardform's"
                ));
            }
        }
        let archiving: Vec<&str> = specs
            .iter()
            .filter(|s| s.action == "ARCHIVE")
            .filter(|s| {
                planned.changes.iter().any(|c| {
                    c.inputs.get("name") == Some(&s.name)
                        && c.action != crate::engine::plan::Action::Delete
                })
            })
            .map(|s| s.name.as_str())
            .collect();
        if !archiving.is_empty() {
            planned.notes.push(format!(
                "archive filter(s) {} hide the findings they match: archived findings are not used by GuardDuty Extended Threat Detection",
                archiving.join(", ")
            ));
        }
        planned
    }

    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String> {
        let admin = plan.targets.delegated_admin.as_str();
        vec![
            organization_admin::address(&change.region),
            detector::address(admin, &change.region),
        ]
    }

    fn batch(&self, change: &Change) -> Option<Batch> {
        // A Region's filters run in one unit: their ranks depend on each other.
        Some(Batch {
            key: format!("{}/{}", filter::TYPE, change.region),
            size: usize::MAX,
            at_once: 1,
        })
    }

    fn apply<'a>(
        &'a self,
        context: &'a Context,
        _state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let admin = context.discovery.delegated_admin.as_str();
            filter::apply_region(&context.aws, admin, changes).await
        })
    }
}
