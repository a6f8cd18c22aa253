//! The example manifests' plans, snapshotted as a user sees them: from nothing, after an apply
//! (no changes), and after every optional section is dropped (what guardform removes). These
//! snapshots pin the plans byte for byte while the code behind them changes shape.

mod common;

use common::{Emulator, root};

/// Ids that differ from run to run (detectors, sets, KMS keys) and digests.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sha256:[0-9a-f]{64}", "[sha256]"),
        (
            r#""guardform_version": "[^"]+""#,
            r#""guardform_version": "[version]""#,
        ),
        (r"\b[0-9a-f]{32}\b", "[id]"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[uuid]",
        ),
    ]
}

/// The manifest with every section after `detector:` removed (filters, export, lists, storage, responses).
fn core_only(text: &str) -> String {
    let mut kept = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        let top = !line.starts_with(' ') && !line.starts_with('#') && line.contains(':');
        if top {
            let key = line.split(':').next().unwrap_or_default();
            skipping = matches!(
                key,
                "filters" | "export" | "ip_lists" | "storage" | "responses"
            );
        }
        if !skipping {
            kept.push(line);
        }
    }
    kept.join("\n") + "\n"
}

#[test]
fn example_manifest_plans_are_stable() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("manifests"))
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            (path.extension().and_then(|e| e.to_str()) == Some("yaml"))
                .then(|| path.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 5, "manifests/ must hold the examples");
    for name in names {
        let emulator = Emulator::start();
        emulator.seed(&["--accounts", "6"]);
        let dir = tempfile::tempdir().unwrap();
        let source = common::copy_example(dir.path(), &name, "guardform.yaml");
        let stem = name.trim_end_matches(".yaml").to_string();

        let fresh = emulator.guardform(dir.path(), &["plan"]);
        fresh.expect_code(0);
        let json = emulator.guardform(dir.path(), &["plan", "--json"]);
        json.expect_code(0);
        emulator
            .guardform(dir.path(), &["plan", "--out", "fresh.plan"])
            .expect_code(0);
        let markdown =
            emulator.guardform(dir.path(), &["show", "fresh.plan", "--format", "markdown"]);
        markdown.expect_code(0);
        insta::with_settings!({filters => filters()}, {
            insta::assert_snapshot!(format!("{stem}-fresh"), fresh.stdout);
            insta::assert_snapshot!(format!("{stem}-fresh-json"), json.stdout);
            insta::assert_snapshot!(format!("{stem}-fresh-markdown"), markdown.stdout);
        });
        let summary = fresh
            .stdout
            .lines()
            .rfind(|l| l.starts_with("Plan:"))
            .unwrap();
        assert_eq!(
            markdown.stdout.lines().next(),
            Some(format!("**{summary}**").as_str()),
            "{name}: the Markdown starts with the summary line"
        );

        emulator
            .guardform(dir.path(), &["apply", "--auto-approve"])
            .expect_code(0);
        let clean = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
        clean.expect_code(0);
        assert!(
            clean.stdout.contains("No changes."),
            "{name}: {}",
            clean.stdout
        );

        let core = core_only(&source);
        if core != source {
            std::fs::write(dir.path().join("guardform.yaml"), &core).unwrap();
            let removed = emulator.guardform(dir.path(), &["plan", "--json"]);
            removed.expect_code(0);
            emulator
                .guardform(dir.path(), &["plan", "--out", "removed.plan"])
                .expect_code(0);
            let markdown = emulator.guardform(
                dir.path(),
                &["show", "removed.plan", "--format", "markdown"],
            );
            markdown.expect_code(0);
            assert!(
                markdown.stdout.contains("need `--allow-destroy` to apply"),
                "{name}: {}",
                markdown.stdout
            );
            insta::with_settings!({filters => filters()}, {
                insta::assert_snapshot!(format!("{stem}-sections-removed-json"), removed.stdout);
                insta::assert_snapshot!(format!("{stem}-sections-removed-markdown"), markdown.stdout);
            });
            emulator
                .guardform(dir.path(), &["apply", "--auto-approve", "--allow-destroy"])
                .expect_code(0);
            emulator
                .guardform(dir.path(), &["plan", "--detailed-exitcode"])
                .expect_code(0);
        }
    }
}
