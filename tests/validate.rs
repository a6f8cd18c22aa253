//! `guardform validate`, offline: a corpus of bad manifests, each with its exact messages
//! (file:line:column, the line, what was expected, a hint) snapshotted; and exit codes.

mod common;

use common::{root, run_guardform};

#[test]
fn bad_manifests_report_every_problem_with_positions() {
    insta::glob!("manifests/bad/*.yaml", |path| {
        let relative = path.strip_prefix(root()).unwrap();
        let run = run_guardform(
            &root(),
            &["validate", "-m", relative.to_str().unwrap()],
            &[],
        );
        assert_eq!(
            run.code,
            1,
            "{}: expected exit 1\n{}",
            relative.display(),
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "nothing on stdout for an invalid manifest"
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("0123456789abcdef"),
            "a secret value was echoed: {}",
            run.stderr
        );
        insta::assert_snapshot!(run.stderr);
    });
}

#[test]
fn example_manifests_are_valid() {
    for name in ["minimal", "full", "prod-only"] {
        let path = format!("manifests/{name}.yaml");
        let run = run_guardform(&root(), &["validate", "-m", &path], &[]);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        assert!(run.stdout.contains("is valid"), "{}", run.stdout);
    }
}

#[test]
fn usage_errors_exit_1_never_2() {
    let run = run_guardform(
        &root(),
        &["plan", "--detailed-exitcode", "--no-such-flag"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = run_guardform(&root(), &["plan", "--parallelism", "0"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = run_guardform(&root(), &["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("plan"));
}

#[test]
fn missing_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_guardform(dir.path(), &["validate"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("error: cannot read manifest guardform.yaml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("No such file"), "{}", run.stderr);
}

#[test]
fn schema_is_json_and_names_every_feature() {
    let run = run_guardform(&root(), &["schema"], &[]);
    assert_eq!(run.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let features = schema["properties"]["detector"]["properties"]["features"]["properties"]
        .as_object()
        .unwrap();
    assert!(
        features.contains_key("RUNTIME_MONITORING") && features.contains_key("LAMBDA_NETWORK_LOGS")
    );
}

#[test]
fn show_rejects_files_that_are_not_plans() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.plan"), "{\"format_version\": \"9.0\"}").unwrap();
    let run = run_guardform(dir.path(), &["show", "x.plan"], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("has plan format 9.0"), "{}", run.stderr);
    std::fs::write(dir.path().join("y.plan"), "not json").unwrap();
    let run = run_guardform(dir.path(), &["show", "y.plan"], &[]);
    assert!(
        run.stderr.contains("y.plan is not a guardform plan file"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_endpoint_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("manifests/minimal.yaml"),
        dir.path().join("guardform.yaml"),
    )
    .unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    let env = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ];
    let run = run_guardform(dir.path(), &["plan"], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        "error: finding out who the caller is (sts:GetCallerIdentity): cannot reach http://127.0.0.1:9: connection refused\n  (run with -v for the AWS SDK's full error)"
    );
    let verbose = run_guardform(dir.path(), &["plan", "-v"], &env);
    assert_eq!(verbose.code, 1);
    assert!(
        verbose.stderr.contains("caused by: dispatch failure")
            && !verbose.stderr.contains("DispatchFailure("),
        "the chain under -v, each cause in words: {}",
        verbose.stderr
    );
}

/// Runs `guardform validate` on `text` under /usr/bin/time: (exit code, stderr, seconds, peak
/// RSS in MiB).
fn validate_hostile(name: &str, bytes: &[u8]) -> (i32, String, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let started = std::time::Instant::now();
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_guardform"))
        .args(["validate", "--no-color", "-m"])
        .arg(&path)
        .output()
        .expect("/usr/bin/time (Debian's `time` package) runs guardform");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let rss = common::peak_rss_mib(&stderr);
    let code = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exit status: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    (code, stderr, seconds, rss)
}

#[test]
fn hostile_manifests_end_fast_with_a_clear_error_and_bounded_memory() {
    let head = "version: 1\norganization: { delegated_admin: \"222222222222\" }\naccounts: { include: { all: true } }\nregions: { include: [eu-west-1] }\n";
    // "Billion laughs": nine levels of ten aliases each would be 10^9 nodes.
    let mut bomb = String::from("a0: &a0 [\"lol\"]\n");
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let deep_flow = format!(
        "{head}detector: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_block: String = (0..200)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect();
    let many_keys: String = (0..150_000).map(|i| format!("k{i}: v\n")).collect();
    let huge_scalar = format!(
        "{head}detector: {{ tags: {{ big: \"{}\" }} }}\n",
        "x".repeat(3_000_000)
    );
    let mut binary = b"version: 1\n".to_vec();
    binary.extend((0..=255u8).cycle().take(4096));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "alias-bomb.yaml",
            bomb.into_bytes(),
            "YAML nodes through aliases",
        ),
        (
            "deep-flow.yaml",
            deep_flow.into_bytes(),
            // The YAML parser's own limit comes first here; either is a clear, fast error.
            "recursion limit exceeded",
        ),
        (
            "deep-block.yaml",
            deep_block.into_bytes(),
            "nested deeper than 64 levels",
        ),
        (
            "many-keys.yaml",
            many_keys.into_bytes(),
            "150000 keys; guardform reads at most 10000 in one mapping",
        ),
        ("huge-scalar.yaml", huge_scalar.into_bytes(), "tag"),
        (
            "too-large.yaml",
            vec![b'#'; 5 * 1024 * 1024],
            "a manifest may have at most 4194304 bytes",
        ),
        ("binary.yaml", binary, "not UTF-8 text"),
    ];
    for (name, bytes, expected) in cases {
        let (code, stderr, seconds, rss) = validate_hostile(name, &bytes);
        assert_eq!(code, 1, "{name}: exit {code}\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: no `{expected}` in\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(seconds < 2.0, "{name}: took {seconds:.2} s");
        assert!(rss < 300.0, "{name}: peak RSS {rss:.0} MiB");
    }
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = run_guardform(&root(), &["completions", shell], &[]);
        run.expect_code(0);
        for command in ["plan", "apply", "report", "policy", "sync"] {
            assert!(run.stdout.contains(command), "{shell}: no `{command}`");
        }
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("guardform.bash");
            std::fs::write(&script, &run.stdout).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&script)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let man = run_guardform(&root(), &["man"], &[]);
    man.expect_code(0);
    assert!(man.stdout.starts_with(".ie"), "{}", &man.stdout[..80]);
    assert!(man.stdout.contains(".SH NAME") && man.stdout.contains(".SH SUBCOMMANDS"));
    let bad = run_guardform(&root(), &["completions", "tcsh"], &[]);
    assert_eq!(bad.code, 1, "a usage error exits 1");
}
