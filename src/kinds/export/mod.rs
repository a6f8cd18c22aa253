//! GuardDuty's findings export: a publishing destination per administrator detector in every
//! targeted Region, to an S3 bucket (typically in the log archive account) encrypted with a KMS
//! key, each with exactly the permissions GuardDuty needs, scoped to the administrator's
//! detectors.

pub mod bucket;
pub mod destination;
pub mod documents;
pub mod key;
pub mod read;
pub mod section;
pub mod state;

use super::Context;
use super::guardduty::{detector, organization_admin};
use crate::cloud::aws::Aws;
use crate::engine::outcome::Outcome;
use crate::engine::plan::{Change, Plan};
use crate::engine::{BoxFuture, Kind, Planned, ReadError, State, state_of};
use section::ExportSpec;
use state::ExportState;

/// The export kinds.
pub struct Export;

/// The bucket's and key's Region: the manifest's, or the home Region.
pub fn export_region(aws: &Aws, spec: &ExportSpec) -> String {
    spec.region.clone().unwrap_or_else(|| aws.home_region())
}

impl Kind<Context> for Export {
    fn name(&self) -> &'static str {
        "export"
    }

    fn types(&self) -> &'static [&'static str] {
        &[key::TYPE, bucket::TYPE, destination::TYPE]
    }

    fn read<'a>(
        &'a self,
        context: &'a Context,
    ) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>> {
        Box::pin(async move { Ok(Box::new(read::read(context).await?) as Box<dyn State>) })
    }

    /// `init` says what exports exist but writes no `export:`: the bucket's account and the
    /// key's alias are not in what GuardDuty reports, and a guessed section could move the
    /// findings.
    fn init(&self, _context: &Context, state: &dyn State) -> Vec<crate::engine::InitEntry> {
        let state: &ExportState = state_of(state);
        // Regions that export alike, said once.
        let mut alike: std::collections::BTreeMap<(&str, &str, bool), Vec<&str>> =
            Default::default();
        for (region, d) in &state.destinations {
            alike
                .entry((&d.destination_arn, &d.kms_key_arn, d.owned))
                .or_default()
                .push(region);
        }
        let mut comments = Vec::new();
        for ((destination, key, owned), regions) in alike {
            comments.push(format!(
                "{}: findings are exported to {destination} (KMS key {key}){}",
                regions.join(", "),
                if owned {
                    "; guardform made it, and without `export:` the first plan removes it (with --allow-destroy)"
                } else {
                    "; guardform leaves it alone until you add `export:` (README: Findings export)"
                }
            ));
        }
        if comments.is_empty() {
            return Vec::new();
        }
        vec![crate::engine::InitEntry {
            key: "export".into(),
            value: serde_json::Value::Null,
            comments,
        }]
    }

    fn plan(&self, context: &Context, state: &dyn State) -> Planned {
        let state: &ExportState = state_of(state);
        let spec = section::of(&context.manifest);
        let discovery = &context.discovery;
        let (admin, regions) = (discovery.delegated_admin.as_str(), &discovery.regions);
        let mut planned = Planned::default();
        if let Some(spec) = spec {
            planned.changes.extend(key::plan(
                spec,
                state,
                admin,
                regions,
                &mut planned.conflicts,
                &mut planned.notes,
            ));
            planned.changes.extend(bucket::plan(
                spec,
                state,
                admin,
                regions,
                &mut planned.notes,
            ));
        }
        for region in regions {
            planned.changes.extend(destination::plan(
                spec,
                state,
                admin,
                region,
                &mut planned.conflicts,
                &mut planned.notes,
            ));
        }
        planned
    }

    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String> {
        let admin = plan.targets.delegated_admin.as_str();
        let of_type = |kind: &str| -> Vec<String> {
            plan.changes
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.address.clone())
                .collect()
        };
        match change.kind.as_str() {
            key::TYPE => Vec::new(),
            bucket::TYPE => of_type(key::TYPE),
            _ => {
                let mut on = vec![
                    organization_admin::address(&change.region),
                    detector::address(admin, &change.region),
                ];
                on.extend(of_type(key::TYPE));
                on.extend(of_type(bucket::TYPE));
                on
            }
        }
    }

    fn apply<'a>(
        &'a self,
        context: &'a Context,
        _state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(async move {
            let aws = context.aws.as_ref();
            let admin = context.discovery.delegated_admin.as_str();
            let spec = section::of(&context.manifest);
            crate::kinds::each(changes, |change| async move {
                match (change.kind.as_str(), spec) {
                    (key::TYPE, _) => key::apply(aws, change).await,
                    (bucket::TYPE, Some(spec)) => bucket::apply(aws, spec, change).await,
                    (bucket::TYPE, None) => Err(crate::cloud::aws::AwsError::message(
                        "changing the export bucket",
                        "the manifest has no `export`",
                    )),
                    _ => destination::apply(aws, spec, admin, change).await,
                }
            })
            .await
        })
    }
}
