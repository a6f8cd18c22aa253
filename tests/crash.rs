//! Crash safety: `guardform apply` killed with SIGKILL at pseudo-random moments (creations,
//! content updates and removals alike), then applied again to the end, converges: the next plan
//! is empty, and the emulator holds exactly what the manifest declares, nothing orphaned or
//! duplicated (checked with boto3, not through guardform).

mod common;

use common::ownership::{declared, manifest, members, write};
use common::{Emulator, Ended, Microburst};
use std::path::Path;
use std::time::{Duration, Instant};

/// The kill moments come from this seed, so a failing run can be repeated
/// (`GUARDFORM_CRASH_SEED=<hex>` tries another one).
const SEED: u64 = 0x5eed_c0de_2024_0917;
/// Killed applies; the last round's manifest is a full one (see `round_manifest`).
const ROUNDS: usize = 16;
/// Every call through microburst waits this long, so an apply lasts a few seconds.
const LATENCY_MS: u32 = 40;

/// Round `i`: every third round removes a list and a response; the trusted list's content
/// changes every other round. The last round is a full one.
fn round_manifest(i: usize) -> (bool, String) {
    let full = i % 3 != 2;
    (full, manifest(full, i / 2))
}

/// A 64-bit LCG (Knuth's MMIX constants): enough to spread the kill moments reproducibly.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A fresh organization behind microburst (latency on every call), warmed up.
fn environment() -> (Emulator, Microburst, Vec<String>) {
    let emulator = Emulator::start();
    let seed = emulator.seed(&["--accounts", "5"]);
    let proxy = Microburst::start(
        &emulator.endpoint,
        &format!("  - {{ service: \"*\", latency: {LATENCY_MS} }}\n"),
    );
    common::warm_up(&proxy.endpoint);
    (emulator, proxy, members(&seed))
}

fn describe(
    round: usize,
    full: bool,
    changes: Option<u32>,
    delay: Duration,
    ended: &Ended,
) -> String {
    format!(
        "round {round} ({} manifest, {}): {} after {:.2}s ({:.2}s after the plan); last stderr lines:\n    {}",
        if full { "full" } else { "reduced" },
        match changes {
            Some(n) => format!("{n} changes planned"),
            None => "no plan printed".to_string(),
        },
        if ended.killed {
            "KILLED".to_string()
        } else {
            format!("exited {:?} before the kill", ended.code)
        },
        ended.elapsed.as_secs_f64(),
        delay.as_secs_f64(),
        common::tail(&ended.stderr, 3).replace('\n', "\n    ")
    )
}

/// Polls the run's stdout until the plan is printed (the apply then starts changing things)
/// or the process exits; returns the plan's number of changes, `None` without a plan.
fn wait_for_plan(child: &mut common::Spawned, stdout: &Path) -> Option<u32> {
    loop {
        let text = std::fs::read_to_string(stdout).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.starts_with("Plan: ")) {
            // "Plan: 3 to add, 1 to change, 2 to destroy."
            return Some(
                line.split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u32>().ok())
                    .sum(),
            );
        }
        if !matches!(child.child.try_wait(), Ok(None))
            || child.started.elapsed() > Duration::from_secs(120)
        {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn apply_killed_at_any_moment_converges_with_nothing_orphaned_or_duplicated() {
    let started = Instant::now();
    let logs = tempfile::tempdir().unwrap();
    let apply = ["apply", "--auto-approve", "--allow-destroy"];

    // How long applying a plan takes per change, from uninterrupted applies on a separate
    // organization: a fresh one (everything), then a removal and a restoration like the
    // rounds' (their time per change is what the rounds' kill moments are spread over).
    let (per_change, longest) = {
        let (_emulator, proxy, _) = environment();
        let dir = tempfile::tempdir().unwrap();
        let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
        let mut timed = Vec::new();
        for (step, (full, variant)) in [(true, 0), (false, 1), (true, 2)].into_iter().enumerate() {
            write(dir.path(), &manifest(full, variant));
            let label = format!("timing-{step}");
            let mut child = common::spawn_guardform(dir.path(), &apply, &env, logs.path(), &label);
            let changes = wait_for_plan(&mut child, &logs.path().join(format!("{label}.stdout")))
                .expect("an uninterrupted apply prints its plan");
            let planned = child.started.elapsed();
            let run = child.wait(Duration::from_secs(120));
            assert_eq!(
                run.code,
                Some(0),
                "an uninterrupted apply failed:\n--- stdout\n{}\n--- stderr\n{}",
                run.stdout,
                run.stderr
            );
            eprintln!(
                "uninterrupted apply {step}: {:.2}s, {:.2}s of it applying the plan's {changes} changes",
                run.elapsed.as_secs_f64(),
                (run.elapsed - planned).as_secs_f64()
            );
            timed.push((run.elapsed - planned, changes));
        }
        let longest = timed.iter().map(|(d, _)| *d).max().unwrap();
        (
            (timed[1].0 + timed[2].0) / (timed[1].1 + timed[2].1),
            longest,
        )
    };

    let (emulator, proxy, members) = environment();
    let dir = tempfile::tempdir().unwrap();
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let seed = std::env::var("GUARDFORM_CRASH_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(SEED);
    eprintln!("kill moments from seed {seed:#x}");
    let mut lcg = Lcg(seed);
    let mut history = Vec::new();
    let mut interrupted = 0;
    for round in 0..ROUNDS {
        let (full, text) = round_manifest(round);
        write(dir.path(), &text);
        // The kill lands anywhere in the time applying this round's plan should take (its
        // changes at the measured time per change, at most the longest measured apply), after
        // the plan is printed, and a little beyond, so the clean-up at the end is hit too.
        let unit = lcg.unit();
        let label = format!("round-{round}");
        let mut child = common::spawn_guardform(dir.path(), &apply, &env, logs.path(), &label);
        let changes = wait_for_plan(&mut child, &logs.path().join(format!("{label}.stdout")));
        let delay = (per_change * changes.unwrap_or(0))
            .min(longest)
            .mul_f64(1.2 * unit);
        std::thread::sleep(delay);
        let ended = child.kill();
        interrupted += usize::from(changes.is_some() && ended.killed);
        let line = describe(round, full, changes, delay, &ended);
        eprintln!("{line}");
        assert!(
            !ended.stderr.contains("panicked"),
            "{line}\n--- stderr\n{}",
            ended.stderr
        );
        history.push(line);
    }
    assert!(
        interrupted * 2 >= ROUNDS,
        "only {interrupted} of {ROUNDS} applies were killed while applying their plan: the kill moments do not exercise anything\n{}",
        history.join("\n")
    );
    // The last round's manifest (a full one), applied to the end, converges.
    let (full, _) = round_manifest(ROUNDS - 1);
    assert!(full);
    let mut problems = Vec::new();
    let last = emulator.guardform(dir.path(), &apply);
    if last.code != 0 {
        problems.push(format!(
            "the apply after the last kill exited {}, expected 0",
            last.code
        ));
    }
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    if plan.code != 0 {
        problems.push(format!(
            "`plan --detailed-exitcode` after it exited {}, expected 0 (No changes.)",
            plan.code
        ));
    }
    let declared = declared(full, &members);
    let found = common::owned_resources(&emulator, &declared);
    problems.extend(common::ownership_problems(&found, &declared));
    eprintln!("crash test took {:.1}s", started.elapsed().as_secs_f64());
    if problems.is_empty() {
        return;
    }
    // Every run's full output stays on disk for a closer look.
    let logs = logs.keep();
    panic!(
        "{} problem(s) after {ROUNDS} killed applies (seed {seed:#x}):\n- {}\n\n=== rounds (full outputs in {})\n{}\n\n=== final apply (exit {})\n--- stdout\n{}\n--- stderr\n{}\n\n=== plan (exit {})\n--- stdout\n{}\n--- stderr\n{}\n\n=== found in the emulator\n{}",
        problems.len(),
        problems.join("\n- "),
        logs.display(),
        history.join("\n"),
        last.code,
        last.stdout,
        last.stderr,
        plan.code,
        plan.stdout,
        plan.stderr,
        serde_json::to_string_pretty(&found).unwrap()
    );
}
