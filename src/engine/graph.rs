//! The dependency graph of a plan's changes and its walk: a unit of work (one change, or one
//! batch of changes a kind runs in one call) starts when everything it depends on is done, at
//! most `parallelism` at a time. A change whose dependency did not succeed is skipped, with the
//! first cause; a dependency cycle (a kind's bug, never the user's) fails the changes in it
//! rather than hanging.

use crate::engine::outcome::{ChangeResult, Outcome, Reporter};
use crate::engine::plan::Plan;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;

/// Units of work and the edges between them.
pub struct Graph {
    /// Each unit's changes (indexes into the plan's changes), in plan order.
    units: Vec<Vec<usize>>,
    /// Each change's dependencies (indexes of changes in the plan).
    depends: Vec<Vec<usize>>,
    /// Units each unit waits for.
    waits_for: Vec<BTreeSet<usize>>,
    /// Each unit's batch key and how many units of that key may run at once (0: any).
    limits: Vec<Option<(String, usize)>>,
}

impl Graph {
    /// Builds the graph of `plan`; `describe(i)` gives change `i`'s dependency addresses and
    /// its batch (key and size), if any.
    pub fn build(
        plan: &Plan,
        describe: impl Fn(usize) -> (Vec<String>, Option<(String, usize, usize)>),
    ) -> Graph {
        let index: BTreeMap<&str, usize> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.as_str(), i))
            .collect();
        let mut depends = Vec::with_capacity(plan.changes.len());
        let mut units: Vec<Vec<usize>> = Vec::new();
        let mut open_batches: BTreeMap<String, usize> = BTreeMap::new();
        let mut unit_of = Vec::with_capacity(plan.changes.len());
        let mut limits: Vec<Option<(String, usize)>> = Vec::new();
        for i in 0..plan.changes.len() {
            let (addresses, batch) = describe(i);
            let mut deps: Vec<usize> = addresses
                .iter()
                .filter_map(|a| index.get(a.as_str()).copied())
                .filter(|&d| d != i)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            depends.push(deps);
            let unit = match batch {
                Some((key, size, at_once)) => match open_batches.get(&key) {
                    Some(&u) if units[u].len() < size.max(1) => u,
                    _ => {
                        open_batches.insert(key.clone(), units.len());
                        units.push(Vec::new());
                        limits.push((at_once > 0).then_some((key, at_once)));
                        units.len() - 1
                    }
                },
                None => {
                    units.push(Vec::new());
                    limits.push(None);
                    units.len() - 1
                }
            };
            units[unit].push(i);
            unit_of.push(unit);
        }
        let waits_for = units
            .iter()
            .enumerate()
            .map(|(u, changes)| {
                changes
                    .iter()
                    .flat_map(|&c| depends[c].iter().map(|&d| unit_of[d]))
                    .filter(|&w| w != u)
                    .collect()
            })
            .collect();
        Graph {
            units,
            depends,
            waits_for,
            limits,
        }
    }

    /// How many units of work there are.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Why change `i` cannot run, if one of its dependencies did not succeed.
    fn blocked(
        &self,
        plan: &Plan,
        i: usize,
        outcomes: &BTreeMap<String, Outcome>,
    ) -> Option<String> {
        self.depends[i].iter().find_map(|&d| {
            let address = &plan.changes[d].address;
            match outcomes.get(address) {
                Some(Outcome::Failed { .. }) => Some(format!("depends on {address}, which failed")),
                Some(Outcome::Skipped { reason }) => Some(reason.clone()),
                _ => None,
            }
        })
    }

    /// Walks the graph; `execute(changes)` runs one unit and returns one outcome per change.
    pub async fn run<F, Fut>(
        &self,
        plan: &Plan,
        parallelism: usize,
        reporter: &dyn Reporter,
        execute: F,
    ) -> BTreeMap<String, Outcome>
    where
        F: Fn(Vec<usize>) -> Fut,
        Fut: Future<Output = Vec<Outcome>>,
    {
        let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
        let mut waiting: Vec<usize> = self.waits_for.iter().map(BTreeSet::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.units.len()];
        for (u, waits) in self.waits_for.iter().enumerate() {
            for &w in waits {
                dependents[w].push(u);
            }
        }
        let mut ready: VecDeque<usize> =
            (0..self.units.len()).filter(|&u| waiting[u] == 0).collect();
        let mut running = FuturesUnordered::new();
        let mut busy: BTreeMap<&str, usize> = BTreeMap::new();
        let mut done = 0;
        let record = |outcomes: &mut BTreeMap<String, Outcome>, i: usize, outcome: Outcome| {
            let change = &plan.changes[i];
            reporter.finished(&ChangeResult {
                address: change.address.clone(),
                action: change.action,
                outcome: outcome.clone(),
            });
            outcomes.insert(change.address.clone(), outcome);
        };
        loop {
            while running.len() < parallelism.max(1)
                && let Some(position) = ready.iter().position(|&u| match &self.limits[u] {
                    Some((key, at_once)) => busy.get(key.as_str()).copied().unwrap_or(0) < *at_once,
                    None => true,
                })
            {
                let unit = ready.remove(position).unwrap_or_default();
                if let Some((key, _)) = &self.limits[unit] {
                    *busy.entry(key.as_str()).or_default() += 1;
                }
                let mut runnable = Vec::new();
                for &i in &self.units[unit] {
                    match self.blocked(plan, i, &outcomes) {
                        Some(reason) => record(&mut outcomes, i, Outcome::Skipped { reason }),
                        None => runnable.push(i),
                    }
                }
                for &i in &runnable {
                    reporter.started(&plan.changes[i].address, plan.changes[i].action);
                }
                let work = (!runnable.is_empty()).then(|| execute(runnable.clone()));
                running.push(async move {
                    let results = match work {
                        Some(work) => work.await,
                        None => Vec::new(),
                    };
                    (unit, runnable, results)
                });
            }
            let Some((unit, runnable, results)) = running.next().await else {
                break;
            };
            if let Some((key, _)) = &self.limits[unit]
                && let Some(count) = busy.get_mut(key.as_str())
            {
                *count -= 1;
            }
            let mut results = results.into_iter();
            for i in runnable {
                let outcome = results.next().unwrap_or(Outcome::Failed {
                    error: "the kind returned no outcome for this change".to_string(),
                });
                record(&mut outcomes, i, outcome);
            }
            done += 1;
            for &d in &dependents[unit] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push_back(d);
                }
            }
        }
        if done < self.units.len() {
            for (unit, changes) in self.units.iter().enumerate() {
                if waiting[unit] > 0 {
                    for &i in changes {
                        record(
                            &mut outcomes,
                            i,
                            Outcome::Failed {
                                error: "guardform bug: a dependency cycle between changes"
                                    .to_string(),
                            },
                        );
                    }
                }
            }
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::outcome::Silent;
    use crate::engine::plan::{Action, Change, ManifestRef, Plan, Targets};
    use std::sync::Mutex;

    fn change(address: &str) -> Change {
        Change {
            address: address.to_string(),
            kind: address.split('[').next().unwrap().to_string(),
            action: Action::Create,
            account: None,
            region: "r".into(),
            before: Default::default(),
            after: Default::default(),
            reason: String::new(),
            requires: None,
            inputs: Default::default(),
            content: None,
        }
    }

    fn plan(addresses: &[&str]) -> Plan {
        Plan::new(
            ManifestRef {
                path: "m".into(),
                digest: "d".into(),
            },
            "f".into(),
            Targets::default(),
            vec![],
            addresses.iter().map(|a| change(a)).collect(),
            |_| 0,
        )
    }

    /// a → b → c, d alone, e1..e5 batched by three.
    fn edges(plan: &Plan, i: usize) -> (Vec<String>, Option<(String, usize, usize)>) {
        let address = plan.changes[i].address.as_str();
        match address {
            "t[b]" => (vec!["t[a]".into()], None),
            "t[c]" => (vec!["t[b]".into(), "t[missing]".into()], None),
            a if a.starts_with("t[e") => (vec!["t[a]".into()], Some(("e".into(), 3, 1))),
            _ => (vec![], None),
        }
    }

    #[tokio::test]
    async fn dependencies_run_first_and_batches_group() {
        let plan = plan(&[
            "t[a]", "t[b]", "t[c]", "t[d]", "t[e1]", "t[e2]", "t[e3]", "t[e4]", "t[e5]",
        ]);
        let graph = Graph::build(&plan, |i| edges(&plan, i));
        assert_eq!(
            graph.len(),
            6,
            "a, b, c, d, and e in two batches of at most three"
        );
        let order = Mutex::new(Vec::new());
        let outcomes = graph
            .run(&plan, 4, &Silent, |units| {
                let names: Vec<String> = units
                    .iter()
                    .map(|&i| plan.changes[i].address.clone())
                    .collect();
                order.lock().unwrap().push(names.join(","));
                let n = units.len();
                async move { vec![Outcome::Applied; n] }
            })
            .await;
        let order = order.into_inner().unwrap();
        let at = |name: &str| order.iter().position(|o| o.contains(name)).unwrap();
        assert!(at("t[a]") < at("t[b]") && at("t[b]") < at("t[c]"));
        assert!(at("t[a]") < at("t[e1]"));
        assert!(order.contains(&"t[e1],t[e2],t[e3]".to_string()));
        assert!(order.contains(&"t[e4],t[e5]".to_string()));
        assert!(outcomes.values().all(|o| *o == Outcome::Applied));
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_with_the_first_cause() {
        let plan = plan(&["t[a]", "t[b]", "t[c]", "t[d]"]);
        let graph = Graph::build(&plan, |i| edges(&plan, i));
        let outcomes = graph
            .run(&plan, 2, &Silent, |units| {
                let failed = plan.changes[units[0]].address == "t[a]";
                async move {
                    vec![if failed {
                        Outcome::failed("boom")
                    } else {
                        Outcome::Applied
                    }]
                }
            })
            .await;
        assert_eq!(outcomes["t[a]"], Outcome::failed("boom"));
        let because = Outcome::Skipped {
            reason: "depends on t[a], which failed".into(),
        };
        assert_eq!(outcomes["t[b]"], because);
        assert_eq!(
            outcomes["t[c]"], because,
            "the first cause, not the middle link"
        );
        assert_eq!(outcomes["t[d]"], Outcome::Applied);
    }

    #[tokio::test]
    async fn a_cycle_fails_instead_of_hanging() {
        let plan = plan(&["t[x]", "t[y]"]);
        let graph = Graph::build(&plan, |i| {
            let other = if i == 0 { "t[y]" } else { "t[x]" };
            (vec![other.to_string()], None)
        });
        let outcomes = graph
            .run(&plan, 2, &Silent, |_| async { vec![Outcome::Applied] })
            .await;
        assert!(
            outcomes
                .values()
                .all(|o| matches!(o, Outcome::Failed { .. }))
        );
    }
}
