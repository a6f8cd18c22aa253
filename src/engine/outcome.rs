//! What happened to each change of an applied plan, and the progress callbacks the binary
//! implements.

use crate::engine::plan::Action;
use serde::Serialize;

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The change was made.
    Applied,
    /// Nothing had to be done: the world already was as planned (another run got there first).
    NoOp,
    /// The change was tried and failed, with AWS's reason.
    Failed { error: String },
    /// The change was not tried, because of what `reason` says (a dependency that failed).
    Skipped { reason: String },
}

impl Outcome {
    /// True when the resource is now as planned.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::NoOp)
    }

    /// A failure with a displayable error.
    pub fn failed(error: impl std::fmt::Display) -> Outcome {
        Outcome::Failed {
            error: error.to_string(),
        }
    }
}

/// The result of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    pub address: String,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Progress callbacks; the binary draws bars or prints lines, the library only calls these.
pub trait Reporter: Send + Sync {
    /// Apply starts with this many changes.
    fn begin(&self, total: usize);
    /// A change is about to be worked on.
    fn started(&self, _address: &str, _action: Action) {}
    /// A change is done.
    fn finished(&self, result: &ChangeResult);
    /// Apply is over.
    fn end(&self);
}

/// A reporter that shows nothing.
pub struct Silent;

impl Reporter for Silent {
    fn begin(&self, _total: usize) {}
    fn finished(&self, _result: &ChangeResult) {}
    fn end(&self) {}
}

/// Every change's result, in plan order, and what the kinds said after the apply.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub results: Vec<ChangeResult>,
    /// Messages from the kinds' clean-up after the apply (`Ok`: done; `Err`: a warning, the
    /// apply itself stands).
    pub afterwards: Vec<Result<String, String>>,
}

impl ApplyReport {
    /// How many changes were applied (or found done), failed and skipped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for result in &self.results {
            match result.outcome {
                Outcome::Applied | Outcome::NoOp => counts.0 += 1,
                Outcome::Failed { .. } => counts.1 += 1,
                Outcome::Skipped { .. } => counts.2 += 1,
            }
        }
        counts
    }

    /// True when every change was applied.
    pub fn succeeded(&self) -> bool {
        let (_, failed, skipped) = self.counts();
        failed == 0 && skipped == 0
    }
}
