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
