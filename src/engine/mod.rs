//! The engine: reads, plans and applies resource kinds it knows only through the [`Kind`]
//! trait. It owns the plan value, the order of work (a dependency graph between changes, not an
//! order of types), concurrency under `--parallelism`, batching, and honest outcomes; each kind
//! owns its AWS calls. Nothing here knows GuardDuty: the context `C` a kind is handed is
//! whatever the caller builds (the `kinds` module's).

pub mod graph;
pub mod outcome;
pub mod plan;
pub mod render;

use futures_util::future::join_all;
use outcome::{ApplyReport, Outcome, Reporter};
use plan::{Change, Plan};
use serde::Serialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, for the object-safe [`Kind`] trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a kind could not read the world (its own error type, kept with its causes).
pub type ReadError = Box<dyn std::error::Error + Send + Sync>;

/// What a kind read: kept for planning and applying, fingerprinted for saved plans.
pub trait State: Any + Send + Sync {
    /// Writes the state as JSON to `out` (a hasher): what a saved plan's fingerprint covers,
    /// streamed so a large organization's state is never held twice.
    fn fingerprint(&self, out: &mut dyn std::io::Write);
    /// For the kind that made it to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Serialize + Any + Send + Sync> State for T {
    fn fingerprint(&self, out: &mut dyn std::io::Write) {
        let _ = serde_json::to_writer(out, self);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The state a kind made, as its own type. Panics only on a registry bug (a kind handed
/// another kind's state), which no input can cause.
pub fn state_of<T: Any>(state: &dyn State) -> &T {
    state
        .as_any()
        .downcast_ref::<T>()
        .expect("the engine hands each kind the state it read")
}

/// What a kind's plan step found.
#[derive(Debug, Default)]
pub struct Planned {
    pub changes: Vec<Change>,
    /// Notes for the plan's reader (what was left alone and why).
    pub notes: Vec<String>,
    /// Conflicts no plan can resolve; any makes planning fail, all reported at once.
    pub conflicts: Vec<String>,
}

/// Changes of one kind that may run in one call: those with the same `key`, at most `size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub key: String,
    pub size: usize,
    /// How many units of this key may run at once (0: no limit beyond `--parallelism`), so
    /// one account and Region never gets more calls at once than its API limits allow.
    pub at_once: usize,
}

/// One top-level manifest entry `guardform init` writes: what a kind read, as the manifest
/// would say it, with comments for what cannot be said exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct InitEntry {
    /// The top-level manifest key (`detector`, `ip_lists`, ...).
    pub key: String,
    /// Its value, as YAML would hold it.
    pub value: serde_json::Value,
    /// Comment lines written above the key (what differs, what the first plan changes).
    pub comments: Vec<String>,
}

/// A resource kind (or a group of closely related kinds that share their reads).
pub trait Kind<C>: Send + Sync {
    /// The kind's name, for its state in the fingerprint.
    fn name(&self) -> &'static str;
    /// The resource types it plans (address prefixes such as `guardduty.detector`), in the
    /// order a plan lists them.
    fn types(&self) -> &'static [&'static str];
    /// Reads what exists: everything this kind owns in its scope, whatever the manifest says.
    fn read<'a>(&'a self, context: &'a C) -> BoxFuture<'a, Result<Box<dyn State>, ReadError>>;
    /// Compares what the manifest wants with what was read (pure: no network).
    fn plan(&self, context: &C, state: &dyn State) -> Planned;
    /// Addresses `change` must wait for (of any kind; those not in the plan are ignored). A
    /// change whose dependency fails is skipped.
    fn depends_on(&self, change: &Change, plan: &Plan) -> Vec<String>;
    /// Changes with the same batch run together (e.g. members, 50 to a call).
    fn batch(&self, _change: &Change) -> Option<Batch> {
        None
    }
    /// Makes `changes` (one, or one batch); returns one outcome per change, in order.
    fn apply<'a>(
        &'a self,
        context: &'a C,
        state: &'a dyn State,
        changes: &'a [&'a Change],
    ) -> BoxFuture<'a, Vec<Outcome>>;
    /// For `guardform init`: the manifest entries that reproduce what was read (read with a
    /// manifest that names nothing of this kind). Kinds with nothing to adopt write nothing.
    fn init(&self, _context: &C, _state: &dyn State) -> Vec<InitEntry> {
        Vec::new()
    }
    /// After every change has run: clean-up that depends on the outcomes; messages for people.
    fn finish<'a>(
        &'a self,
        _context: &'a C,
        _state: &'a dyn State,
        _plan: &'a Plan,
        _outcomes: &'a BTreeMap<String, Outcome>,
    ) -> BoxFuture<'a, Vec<Result<String, String>>> {
        Box::pin(async { Vec::new() })
    }
}

/// The kinds, in the order plans list them.
pub struct Registry<C> {
    kinds: Vec<Box<dyn Kind<C>>>,
}

/// What every kind read, in registry order.
pub struct States(Vec<Box<dyn State>>);

impl States {
    /// Writes the fingerprint material to `out`: each kind's name and state.
    pub fn fingerprint<C>(&self, registry: &Registry<C>, out: &mut dyn std::io::Write) {
        for (kind, state) in registry.kinds.iter().zip(&self.0) {
            let _ = out.write_all(kind.name().as_bytes());
            state.fingerprint(out);
        }
    }

    /// The state of the kind named `name`.
    pub fn get<C>(&self, registry: &Registry<C>, name: &str) -> Option<&dyn State> {
        registry
            .kinds
            .iter()
            .position(|k| k.name() == name)
            .map(|i| self.0[i].as_ref())
    }
}

impl<C: Sync> Registry<C> {
    /// A registry of `kinds`, in plan order.
    pub fn new(kinds: Vec<Box<dyn Kind<C>>>) -> Registry<C> {
        Registry { kinds }
    }

    /// The position of a resource type in plan order (unknown types last).
    pub fn rank(&self, type_name: &str) -> usize {
        self.kinds
            .iter()
            .flat_map(|k| k.types().iter())
            .position(|t| *t == type_name)
            .unwrap_or(usize::MAX)
    }

    /// The kind that plans `type_name`.
    fn kind_of(&self, type_name: &str) -> Option<usize> {
        self.kinds
            .iter()
            .position(|k| k.types().contains(&type_name))
    }

    /// Every type of the kind named `name`.
    pub fn types_of(&self, name: &str) -> &'static [&'static str] {
        self.kinds
            .iter()
            .find(|k| k.name() == name)
            .map(|k| k.types())
            .unwrap_or(&[])
    }

    /// Reads every kind, all at once; the first error wins.
    pub async fn read(&self, context: &C) -> Result<States, ReadError> {
        let reads = join_all(self.kinds.iter().map(|kind| kind.read(context))).await;
        reads.into_iter().collect::<Result<Vec<_>, _>>().map(States)
    }

    /// Every kind's `init` entries, in registry order.
    pub fn init(&self, context: &C, states: &States) -> Vec<InitEntry> {
        self.kinds
            .iter()
            .zip(&states.0)
            .flat_map(|(kind, state)| kind.init(context, state.as_ref()))
            .collect()
    }

    /// Every kind's plan, put together.
    pub fn plan(&self, context: &C, states: &States) -> Planned {
        let mut all = Planned::default();
        for (kind, state) in self.kinds.iter().zip(&states.0) {
            let planned = kind.plan(context, state.as_ref());
            all.changes.extend(planned.changes);
            all.notes.extend(planned.notes);
            all.conflicts.extend(planned.conflicts);
        }
        all
    }

    /// Applies `plan`: every change once its dependencies are done, at most `parallelism`
    /// units of work at a time; then each kind's clean-up.
    pub async fn apply(
        &self,
        context: &C,
        states: &States,
        plan: &Plan,
        parallelism: usize,
        reporter: Arc<dyn Reporter>,
    ) -> ApplyReport {
        reporter.begin(plan.changes.len());
        let kinds: Vec<Option<usize>> =
            plan.changes.iter().map(|c| self.kind_of(&c.kind)).collect();
        let nodes = graph::Graph::build(plan, |index| {
            let change = &plan.changes[index];
            match kinds[index] {
                Some(k) => (
                    self.kinds[k].depends_on(change, plan),
                    self.kinds[k]
                        .batch(change)
                        .map(|b| (format!("{k}/{}", b.key), b.size, b.at_once)),
                ),
                None => (Vec::new(), None),
            }
        });
        let outcomes = nodes
            .run(plan, parallelism, reporter.as_ref(), |indexes| {
                let changes: Vec<&Change> = indexes.iter().map(|&i| &plan.changes[i]).collect();
                let kind = indexes.first().and_then(|&i| kinds[i]);
                async move {
                    match kind {
                        Some(k) => {
                            self.kinds[k]
                                .apply(context, states.0[k].as_ref(), &changes)
                                .await
                        }
                        None => changes
                            .iter()
                            .map(|c| Outcome::failed(format!("no kind plans {}", c.kind)))
                            .collect(),
                    }
                }
            })
            .await;
        let mut afterwards = Vec::new();
        for (kind, state) in self.kinds.iter().zip(&states.0) {
            afterwards.extend(kind.finish(context, state.as_ref(), plan, &outcomes).await);
        }
        reporter.end();
        let mut outcomes = outcomes;
        let results = plan
            .changes
            .iter()
            .map(|change| outcome::ChangeResult {
                address: change.address.clone(),
                action: change.action,
                outcome: outcomes.remove(&change.address).unwrap_or(Outcome::Failed {
                    error: "apply stopped before this change ran".to_string(),
                }),
            })
            .collect();
        ApplyReport {
            results,
            afterwards,
        }
    }
}
