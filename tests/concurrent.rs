//! Two `guardform apply` runs of the same manifest at the same time (a CI job started twice, two
//! operators): both end (success, or a clearly reported failure such as a conflict; never a
//! panic or a hang), one more apply converges, the next plan is empty, and the emulator holds
//! exactly what the manifest declares, nothing orphaned or duplicated (checked with boto3).
//! Creations, removals and content updates are each raced.

mod common;

use common::ownership::{declared, manifest, members, write};
use common::{Emulator, Ended, Microburst, Run};
use std::time::{Duration, Instant};

/// Every call through microburst waits this long, so the two applies overlap for seconds.
const LATENCY_MS: u32 = 40;
/// A run that takes longer than this is hung.
const LIMIT: Duration = Duration::from_secs(120);

fn show_ended(label: &str, ended: &Ended) -> String {
    format!(
        "=== {label}: exit {:?}{} after {:.2}s\n--- stdout\n{}\n--- stderr\n{}",
        ended.code,
        if ended.killed {
            " (KILLED: still running at the time limit)"
        } else {
            ""
        },
        ended.elapsed.as_secs_f64(),
        ended.stdout,
        ended.stderr
    )
}

fn show_run(label: &str, run: &Run) -> String {
    format!(
        "=== {label}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    )
}

/// What one raced phase needs.
struct Phase<'a> {
    name: &'a str,
    manifest: String,
    full: bool,
    args: &'a [&'a str],
}

/// Runs two applies of `phase.manifest` at the same moment through `proxy`, then checks that
/// both ended cleanly, that one more apply converges, the next plan is empty, and the emulator
/// holds exactly what the manifest declares. Returns the problems with everything seen, if any.
fn race(
    emulator: &Emulator,
    proxy: &Microburst,
    members: &[String],
    phase: Phase<'_>,
) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    write(dir.path(), &phase.manifest);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let first = common::spawn_guardform(dir.path(), phase.args, &env, logs.path(), "first");
    let second = common::spawn_guardform(dir.path(), phase.args, &env, logs.path(), "second");
    let first = first.wait(LIMIT);
    let second = second.wait(LIMIT);
    eprintln!(
        "{}: the two applies exited {:?} and {:?} after {:.2}s and {:.2}s",
        phase.name,
        first.code,
        second.code,
        first.elapsed.as_secs_f64(),
        second.elapsed.as_secs_f64()
    );
    // What went wrong in each (a conflict is fine if reported), for the record.
    for (label, ended) in [("first", &first), ("second", &second)] {
        let failed = ended
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with("Apply finished with errors"));
        let errors = ended
            .stderr
            .lines()
            .filter(|l| l.starts_with("error") || l.starts_with("warning"));
        for line in failed.chain(errors) {
            eprintln!("  {label}: {}", line.trim_start());
        }
    }

    let mut problems = Vec::new();
    for (label, ended) in [("first", &first), ("second", &second)] {
        if ended.killed {
            problems.push(format!(
                "the {label} apply was still running after {}s (hung)",
                LIMIT.as_secs()
            ));
        }
        if !matches!(ended.code, Some(0) | Some(1)) {
            problems.push(format!(
                "the {label} apply exited {:?}, expected 0 or 1",
                ended.code
            ));
        }
        if ended.stderr.contains("panicked") {
            problems.push(format!("the {label} apply panicked"));
        }
        if ended.code == Some(1)
            && !ended.stdout.contains("Apply finished with errors")
            && !ended.stderr.contains("error: ")
        {
            problems.push(format!(
                "the {label} apply exited 1 without reporting an error (no `Apply finished with errors` on stdout, no `error: ` on stderr)"
            ));
        }
    }
    // Two applies that both report success have together brought the world in line.
    let settled = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    if first.code == Some(0) && second.code == Some(0) && settled.code != 0 {
        problems.push(format!(
            "both applies reported success, but the plan right after them exited {} (expected 0: No changes.)",
            settled.code
        ));
    }
    let converge = emulator.guardform(dir.path(), phase.args);
    if converge.code != 0 {
        problems.push(format!(
            "the apply after the race exited {}, expected 0",
            converge.code
        ));
    }
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    if plan.code != 0 {
        problems.push(format!(
            "`plan --detailed-exitcode` after it exited {}, expected 0 (No changes.)",
            plan.code
        ));
    }
    let declared = declared(phase.full, members);
    let found = common::owned_resources(emulator, &declared);
    problems.extend(common::ownership_problems(&found, &declared));
    (!problems.is_empty()).then(|| format!(
        "phase `{}`: {} problem(s):\n- {}\n\n{}\n\n{}\n\n{}\n\n{}\n\n{}\n\n=== found in the emulator\n{}",
        phase.name,
        problems.len(),
        problems.join("\n- "),
        show_ended("first apply", &first),
        show_ended("second apply", &second),
        show_run("plan right after both", &settled),
        show_run("the apply after the race", &converge),
        show_run("plan", &plan),
        serde_json::to_string_pretty(&found).unwrap()
    ))
}

#[test]
fn two_applies_at_once_end_cleanly_and_the_next_plan_is_empty() {
    let started = Instant::now();
    let emulator = Emulator::start();
    let seed = emulator.seed(&["--accounts", "5"]);
    let members = members(&seed);
    let proxy = Microburst::start(
        &emulator.endpoint,
        &format!("  - {{ service: \"*\", latency: {LATENCY_MS} }}\n"),
    );
    common::warm_up(&proxy.endpoint);
    let apply = ["apply", "--auto-approve"];
    let destroy = ["apply", "--auto-approve", "--allow-destroy"];
    let mut failures = Vec::new();

    // A fresh organization: both create everything.
    failures.extend(race(
        &emulator,
        &proxy,
        &members,
        Phase {
            name: "create",
            manifest: manifest(true, 0),
            full: true,
            args: &apply,
        },
    ));
    // Both remove a list and a response.
    failures.extend(race(
        &emulator,
        &proxy,
        &members,
        Phase {
            name: "remove",
            manifest: manifest(false, 0),
            full: false,
            args: &destroy,
        },
    ));
    // Both put them back, with new content for the other list, which moves from an IP set back
    // to an entity set (a replacement: destructive).
    failures.extend(race(
        &emulator,
        &proxy,
        &members,
        Phase {
            name: "restore with new list content",
            manifest: manifest(true, 1),
            full: true,
            args: &destroy,
        },
    ));
    eprintln!(
        "concurrent test took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of 3 raced phases went wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
