//! guardform: Amazon GuardDuty, declared once for a whole AWS Organization.
//!
//! Data flows through the modules in this order:
//! - [`manifest`]: reads and checks the YAML manifest (every problem at once, with positions).
//! - [`discover`]: asks Organizations and the Account API which accounts and Regions are targeted.
//! - [`observe`]: reads live GuardDuty state through the administrator's batch APIs.
//! - [`diff`]: what the manifest means for the discovered organization, compared (purely)
//!   with observed state into a [`plan::Plan`].
//! - [`plan`]: the plan as a value: saved, loaded, fingerprinted.
//! - [`render`]: the plan for people (Terraform-style) and for machines (versioned JSON).
//! - [`apply`]: executes a plan in dependency order, concurrently, and reports per resource.
//!
//! IP lists come in beside discovery: [`sources`] reads each list (inline, file, URL, S3, or
//! [`deep_security`] over [`http`]) and [`iplist`] normalises it into the file GuardDuty reads.
//!
//! Responses (EventBridge rules on findings, and the Lambdas, roles and queues behind them) are
//! built from [`bundles`] by [`responses`], which also reads and diffs them.
//!
//! Around them: [`aws`] builds SDK clients per account and Region (assumed roles, one HTTP
//! client, call statistics); [`catalog`] lists what AWS accepts; [`diagnostic`] renders input
//! problems; [`commands`] are the thin entry points the binary calls.

#![recursion_limit = "256"]

pub mod apply;
pub mod aws;
pub mod bundles;
pub mod catalog;
pub mod commands;
pub mod deep_security;
pub mod diagnostic;
pub mod diff;
pub mod discover;
pub mod http;
pub mod iplist;
pub mod manifest;
pub mod observe;
pub mod plan;
pub mod render;
pub mod responses;
pub mod sources;
