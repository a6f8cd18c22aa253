//! `guardform policy` against what guardform really calls: every AWS call of real runs (plan,
//! apply, plan again, `sync ip-lists`, `report`) of the fullest example manifest, recorded by
//! account with `--stats-out`, must be allowed by the policy printed for that account's
//! principal; `plan`'s policy and calls are read-only.

mod common;

use common::Emulator;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The principal's policy document, by account (`caller` for the caller's own account).
fn printed(dir: &Path, wanted: &str) -> Vec<Value> {
    let run = common::run_guardform(dir, &["policy", "--for", wanted], &[]);
    run.expect_code(0);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    document["policies"].as_array().unwrap().clone()
}

fn allowed(policy: &Value) -> BTreeSet<String> {
    policy["policy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Every call of a run that its principal's printed policy does not allow.
fn uncovered(calls: &Value, policies: &[Value], admin: &str) -> Vec<String> {
    let caller = calls["caller_account"].as_str().unwrap();
    let mut missing = Vec::new();
    for call in calls["calls"].as_array().unwrap() {
        let account = call["account"].as_str().unwrap();
        let principal = if account == "caller" || account == caller {
            "caller".to_string()
        } else if account == admin {
            "administrator".to_string()
        } else {
            format!("account {account}")
        };
        let Some(policy) = policies
            .iter()
            .find(|p| p["principal"] == principal.as_str())
        else {
            missing.push(format!("{principal}: no policy printed (called {call})"));
            continue;
        };
        let granted = allowed(policy);
        for action in guardform::policy::iam_actions(
            call["service"].as_str().unwrap(),
            call["operation"].as_str().unwrap(),
        ) {
            if !granted.contains(&action) {
                missing.push(format!("{principal} ({account}): {action}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    missing
}

#[test]
fn printed_policies_allow_every_call_guardform_makes_and_plan_only_reads() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "12"]);
    let dir = tempfile::tempdir().unwrap();
    common::copy_example(dir.path(), "full.yaml", "guardform.yaml");
    let admin = "222222222222";
    let runs: [(&str, &[&str]); 6] = [
        ("plan", &["plan"]),
        ("apply", &["apply", "--auto-approve"]),
        ("plan", &["plan"]),
        // init reads what plan reads, and the Regions of the caller's account.
        ("plan", &["init", "--out", "init.yaml"]),
        ("sync", &["sync", "ip-lists", "--auto-approve"]),
        ("plan", &["report", "--out", "report.html"]),
    ];
    let mut problems = Vec::new();
    for (index, (wanted, args)) in runs.iter().enumerate() {
        let out = dir.path().join(format!("calls-{index}.json"));
        let mut all: Vec<&str> = args.to_vec();
        let out_text = out.to_str().unwrap().to_string();
        all.extend(["--stats-out", out_text.as_str()]);
        emulator.guardform(dir.path(), &all).expect_code(0);
        let calls: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert!(!calls["calls"].as_array().unwrap().is_empty());
        let policies = printed(dir.path(), wanted);
        for missing in uncovered(&calls, &policies, admin) {
            problems.push(format!("`guardform {}`: {missing}", args.join(" ")));
        }
        if *wanted == "plan" {
            for policy in &policies {
                for action in allowed(policy) {
                    assert!(
                        guardform::policy::is_read(&action),
                        "`policy --for plan` grants {action} to {}",
                        policy["principal"]
                    );
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "calls the printed policies do not allow:\n{}",
        problems.join("\n")
    );
}
