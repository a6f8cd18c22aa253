//! guardform: Amazon GuardDuty, declared once for a whole AWS Organization.
//!
//! The modules, in the order data flows:
//! - [`manifest`]: reads and checks the YAML manifest (every problem at once, with positions);
//!   what AWS accepts ([`manifest::catalog`]) and how problems are shown
//!   ([`manifest::diagnostic`]).
//! - [`cloud`]: AWS access: SDK clients per account and Region with assumed roles, one HTTP
//!   client and call statistics ([`cloud::aws`]); which accounts and Regions the manifest
//!   targets ([`cloud::discover`]); HTTPS for list sources ([`cloud::http`]).
//! - [`kinds`]: the resource kinds, one folder each (GuardDuty organization, IP lists,
//!   responses), and the registry that lists them. A kind reads what it owns, plans its
//!   changes, says what they depend on and makes them.
//! - [`engine`]: knows no kind: the plan value, reading and planning every kind, and applying
//!   a plan as a dependency graph under `--parallelism`, with batching and honest outcomes;
//!   rendering the plan for people and machines.
//! - [`report`]: `guardform report`: coverage, findings and wiring as a versioned document
//!   and one self-contained HTML page, from the kinds' reads and a few of its own.
//! - [`policy`]: `guardform policy`: the IAM policies each principal needs for a manifest,
//!   from one table of the AWS calls guardform makes.
//! - [`cli`]: one thin function per command, called by the binary.

#![recursion_limit = "256"]

pub mod cli;
pub mod cloud;
pub mod engine;
pub mod kinds;
pub mod manifest;
pub mod policy;
pub mod report;
