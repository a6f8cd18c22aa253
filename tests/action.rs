//! The GitHub Action (action.yml and scripts/action/) and the workflows, tested here the way a
//! runner would use them: actionlint and GitHub's JSON Schemas on action.yml, .github/workflows/
//! and README's workflow examples; the scripts run end to end with the environment a runner
//! gives them, against the emulator, a fake release served on loopback and a fake GitHub API.
//! Every tool comes from the venv (tests/emulator/requirements.txt); a missing one fails.

mod common;

use common::{Emulator, python, root, run_guardform};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A tool installed into the venv by scripts/setup-venv; panics when it is not there.
fn venv_tool(name: &str) -> PathBuf {
    python();
    let tool = root().join(".venv/bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing: scripts/setup-venv installs it from tests/emulator/requirements.txt",
        tool.display()
    );
    tool
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// README's GitHub Actions workflow examples: the ```yaml blocks whose first line is a
/// `# .github/workflows/NAME` comment, as (NAME, text).
fn readme_workflows() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() != "```yaml" {
            continue;
        }
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        if let Some(name) = block
            .first()
            .and_then(|first| first.trim().strip_prefix("# .github/workflows/"))
        {
            found.push((name.trim().to_string(), block.join("\n") + "\n"));
        }
    }
    found
}

/// `uses: guardform/guardform@REF` → `uses: ./`, so that actionlint checks the example's `with:`
/// against this repository's action.yml.
fn use_local_action(workflow: &str) -> String {
    let mut out = String::new();
    let mut rest = workflow;
    while let Some(at) = rest.find("guardform/guardform@") {
        out.push_str(&rest[..at]);
        out.push_str("./");
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '}' || c == ',')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A repository-like tree for the linters: action.yml at its root, .github/workflows/ with the
/// repository's workflows and README's examples (README-NAME). Returns it and the workflow paths.
fn lint_tree() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tree = tempfile::tempdir().unwrap();
    let workflows = tree.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::create_dir(tree.path().join(".git")).unwrap();
    std::fs::copy(root().join("action.yml"), tree.path().join("action.yml")).unwrap();
    let scripts = tree.path().join("scripts/action");
    std::fs::create_dir_all(&scripts).unwrap();
    let mut paths = Vec::new();
    let mut own: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .expect(".github/workflows/ must exist")
        .map(|entry| entry.unwrap().path())
        .collect();
    own.sort();
    for path in own {
        let target = workflows.join(path.file_name().unwrap());
        std::fs::copy(&path, &target).unwrap();
        paths.push(target);
    }
    for (name, workflow) in readme_workflows() {
        let target = workflows.join(format!("README-{name}"));
        assert!(
            !target.exists(),
            "two README examples are named .github/workflows/{name}"
        );
        std::fs::write(&target, use_local_action(&workflow)).unwrap();
        paths.push(target);
    }
    (tree, paths)
}

fn actionlint(tree: &Path, files: &[PathBuf]) -> Output {
    Command::new(venv_tool("actionlint"))
        .arg("-no-color")
        .arg("-shellcheck")
        .arg(venv_tool("shellcheck"))
        .arg("-pyflakes=")
        .args(files)
        .current_dir(tree)
        .output()
        .expect("running actionlint")
}

#[test]
fn actionlint_passes_on_workflows_and_readme_examples() {
    let (tree, files) = lint_tree();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "ci.yml",
        "release.yml",
        "README-guardduty.yml",
        "README-deep-security-sync.yml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing among {names:?}"
        );
    }
    // Every README example installs guardform through the action, now checked as `uses: ./`.
    for (name, workflow) in readme_workflows() {
        assert!(
            workflow.contains("uses: guardform/guardform@"),
            "README's {name} does not use the action"
        );
        assert!(
            !workflow.contains("run: guardform"),
            "README's {name} runs a guardform the job never installed"
        );
    }
    let output = actionlint(tree.path(), &files);
    assert!(output.status.success(), "actionlint: {}", text(&output));

    // The check is live: an input action.yml does not declare, and a script error, are caught.
    let bogus = tree.path().join(".github/workflows/bogus.yml");
    std::fs::write(
        &bogus,
        "on: push\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./\n        with: { no-such-input: x }\n      - run: echo $UNQUOTED_VARIABLE\n",
    )
    .unwrap();
    let output = actionlint(tree.path(), &[bogus]);
    let report = text(&output);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("no-such-input"), "{report}");
    assert!(
        report.contains("SC2086"),
        "shellcheck did not run: {report}"
    );
}

#[test]
fn github_schemas_accept_the_action_and_the_workflows() {
    let (tree, files) = lint_tree();
    let check = |schema: &str, files: &[PathBuf]| {
        Command::new(venv_tool("check-jsonschema"))
            .args(["--builtin-schema", schema])
            .args(files)
            .output()
            .expect("running check-jsonschema")
    };
    let action = tree.path().join("action.yml");
    let output = check("vendor.github-actions", std::slice::from_ref(&action));
    assert!(output.status.success(), "action.yml: {}", text(&output));
    let output = check("vendor.github-workflows", &files);
    assert!(output.status.success(), "workflows: {}", text(&output));

    // The schema is really applied: an action that is not composite, JavaScript or Docker fails.
    let source = std::fs::read_to_string(&action).unwrap();
    assert!(source.contains("using: composite"));
    std::fs::write(&action, source.replace("using: composite", "using: bash")).unwrap();
    let output = check("vendor.github-actions", &[action]);
    assert!(!output.status.success(), "{}", text(&output));
}

#[test]
fn action_scripts_pass_shellcheck_and_pin_this_version() {
    let scripts = [
        root().join("scripts/action/install.sh"),
        root().join("scripts/action/run.sh"),
    ];
    let output = Command::new(venv_tool("shellcheck"))
        .args(&scripts)
        .output()
        .expect("running shellcheck");
    assert!(output.status.success(), "shellcheck: {}", text(&output));
    let output = Command::new(python())
        .args(["-m", "py_compile"])
        .arg(root().join("scripts/action/comment.py"))
        .output()
        .unwrap();
    assert!(output.status.success(), "comment.py: {}", text(&output));

    // The action installs this crate's version unless told otherwise (release.yml checks the
    // same before publishing a tag).
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let default = action
        .lines()
        .skip_while(|l| *l != "  version:")
        .find_map(|l| l.trim().strip_prefix("default:"))
        .expect("inputs.version has a default")
        .trim()
        .trim_matches('"');
    assert_eq!(default, env!("CARGO_PKG_VERSION"));
    // The scripts read the inputs from these variables, never from the script's text.
    for mapping in [
        "GUARDFORM_VERSION: ${{ inputs.version }}",
        "GUARDFORM_SHA256: ${{ inputs.sha256 }}",
        "GUARDFORM_COMMAND: ${{ inputs.command }}",
        "GUARDFORM_MANIFEST: ${{ inputs.manifest }}",
        "GUARDFORM_WORKING_DIRECTORY: ${{ inputs.working-directory }}",
        "GUARDFORM_ARGS: ${{ inputs.args }}",
        "GUARDFORM_BIN: ${{ steps.install.outputs.path }}",
        "GUARDFORM_MARKDOWN_FILE: ${{ steps.run.outputs.markdown-file }}",
        "GITHUB_TOKEN: ${{ inputs.github-token }}",
    ] {
        assert!(action.contains(mapping), "action.yml lacks `{mapping}`");
    }
    for line in action
        .lines()
        .filter(|l| l.trim_start().starts_with("run:"))
    {
        assert!(
            !line.contains("${{"),
            "an expression in a run script: {line}"
        );
    }
}

/// A child process that serves on loopback; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `command` (stdin and stdout piped) and takes the URL from its first line.
    fn start(mut command: Command, url_from_line: impl Fn(&str) -> Option<String>) -> Server {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting a loopback server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = url_from_line(&line).unwrap_or_else(|| panic!("server did not start: {line:?}"));
        Server { child, url }
    }

    /// `python -m http.server` on a free loopback port, serving `dir`.
    fn files(dir: &Path) -> Server {
        let mut command = Command::new(python());
        command
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir);
        Server::start(command, |line| {
            // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
            let port = line.split(" port ").nth(1)?.split_whitespace().next()?;
            Some(format!("http://127.0.0.1:{port}"))
        })
    }
}

/// The runner's names for this machine, and the release target the action picks for them.
fn runner_platform() -> (&'static str, &'static str, &'static str) {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        other => panic!("the action has no release for {other}"),
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        other => panic!("the action has no release for {other}"),
    };
    let target = match (os, arch) {
        ("Linux", "X64") => "x86_64-unknown-linux-musl",
        ("Linux", "ARM64") => "aarch64-unknown-linux-musl",
        ("macOS", "X64") => "x86_64-apple-darwin",
        _ => "aarch64-apple-darwin",
    };
    (os, arch, target)
}

fn sha256_hex(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `release/v{version}/guardform-{version}-{target}.tar.gz` holding `binary` as the
/// release workflow packages it, and returns the archive's path.
fn write_archive(release: &Path, version: &str, target: &str, binary: &Path) -> PathBuf {
    let name = format!("guardform-{version}-{target}");
    let stage = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stage.path().join(&name)).unwrap();
    std::fs::copy(binary, stage.path().join(&name).join("guardform")).unwrap();
    std::fs::copy(
        root().join("README.md"),
        stage.path().join(&name).join("README.md"),
    )
    .unwrap();
    let dir = release.join(format!("v{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let status = Command::new("bash")
        .arg("-c")
        .arg(r#"set -euo pipefail; tar -C "$1" -cf - "$2" | gzip -1 > "$3""#)
        .arg("bash")
        .arg(stage.path())
        .arg(&name)
        .arg(&archive)
        .status()
        .expect("running tar");
    assert!(status.success(), "packaging {name} failed");
    archive
}

fn write_sha256sums(release: &Path, version: &str, lines: &[(String, &Path)]) {
    let text: String = lines
        .iter()
        .map(|(sum, path)| format!("{sum}  {}\n", path.file_name().unwrap().to_string_lossy()))
        .collect();
    std::fs::write(release.join(format!("v{version}/SHA256SUMS")), text).unwrap();
}

/// A job's runner-provided files: RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("temp")).unwrap();
        Runner { dir }
    }

    fn temp(&self) -> PathBuf {
        self.dir.path().join("temp")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    /// The step outputs written so far (last value wins, as on GitHub).
    fn outputs(&self) -> BTreeMap<String, String> {
        self.read("output")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Clears the outputs and summary between steps.
    fn next_step(&self) {
        let _ = std::fs::remove_file(self.file("output"));
        let _ = std::fs::remove_file(self.file("summary"));
    }

    /// A script of the action, run by bash with what the runner sets and `env` (the step's
    /// `env:` in action.yml), in `dir`.
    fn script(&self, name: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
        let (os, arch, _) = runner_platform();
        let mut command = Command::new("bash");
        command
            .arg(root().join("scripts/action").join(name))
            .current_dir(dir)
            .stdin(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("GUARDFORM_") || key.starts_with("GITHUB_") || key == "AWS_PROFILE" {
                command.env_remove(key);
            }
        }
        command
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TEMP", self.temp())
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("GITHUB_EVENT_NAME", "pull_request");
        common::fake_aws(&mut command).envs(env.iter().copied());
        command.output().expect("running an action script")
    }
}

#[test]
fn action_installs_the_verified_release_then_plans_and_applies() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let version = env!("CARGO_PKG_VERSION");
    let (_, _, target) = runner_platform();

    // A release as release.yml publishes it, holding the binary under test.
    let release = tempfile::tempdir().unwrap();
    let archive = write_archive(
        release.path(),
        version,
        target,
        Path::new(env!("CARGO_BIN_EXE_guardform")),
    );
    write_sha256sums(
        release.path(),
        version,
        &[(sha256_hex(&archive), archive.as_path())],
    );
    let server = Server::files(release.path());

    // The checkout: the manifest in a sub-directory (input working-directory).
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir(checkout.path().join("infra")).unwrap();
    std::fs::copy(
        root().join("manifests/minimal.yaml"),
        checkout.path().join("infra/guardform.yaml"),
    )
    .unwrap();

    let runner = Runner::new();
    let install = runner.script(
        "install.sh",
        checkout.path(),
        &[
            ("GUARDFORM_VERSION", version),
            ("GUARDFORM_SHA256", ""),
            ("GUARDFORM_RELEASE_BASE_URL", &server.url),
        ],
    );
    assert!(install.status.success(), "install.sh: {}", text(&install));
    let stderr = String::from_utf8_lossy(&install.stderr);
    assert!(
        stderr.contains(&format!("sha256 {}", sha256_hex(&archive))),
        "{stderr}"
    );
    let installed = runner.outputs()["path"].clone();
    assert!(installed.starts_with(runner.temp().to_str().unwrap()));
    assert_eq!(
        runner.read("path").trim(),
        Path::new(&installed).parent().unwrap().to_str().unwrap()
    );

    let step = |command: &str| {
        runner.next_step();
        let output = runner.script(
            "run.sh",
            checkout.path(),
            &[
                ("GUARDFORM_BIN", installed.as_str()),
                ("GUARDFORM_COMMAND", command),
                ("GUARDFORM_MANIFEST", "guardform.yaml"),
                ("GUARDFORM_WORKING_DIRECTORY", "infra"),
                ("GUARDFORM_ARGS", "--parallelism 4"),
                ("GUARDFORM_APPLY_ARGS", ""),
                ("AWS_ENDPOINT_URL", &emulator.endpoint),
            ],
        );
        assert!(
            output.status.success(),
            "run.sh ({command}): {}",
            text(&output)
        );
        (runner.outputs(), runner.read("summary"), output)
    };

    // plan: changes (exit 2 is not a failure), the plan's summary line in the job summary.
    let (outputs, summary, _) = step("plan");
    assert_eq!(outputs["exitcode"], "2", "{outputs:?}");
    assert_eq!(outputs["has-changes"], "true");
    let plan_file = outputs["plan-file"].clone();
    assert!(Path::new(&plan_file).is_file(), "{plan_file}");
    let shown = run_guardform(
        &checkout.path().join("infra"),
        &["show", &plan_file],
        &[("AWS_ENDPOINT_URL", &emulator.endpoint)],
    );
    shown.expect_code(0);
    let summary_line = shown
        .stdout
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .expect("the plan has a summary line")
        .to_string();
    assert!(summary_line.contains("to add"), "{summary_line}");
    assert!(
        summary.contains("## guardform plan: `guardform.yaml`"),
        "{summary}"
    );
    assert!(
        summary.contains(&summary_line),
        "the job summary lacks `{summary_line}`:\n{summary}"
    );
    // The summary is `guardform show FILE --format markdown`: its summary line first, then
    // collapsed sections.
    let markdown = std::fs::read_to_string(&outputs["markdown-file"]).unwrap();
    assert_eq!(
        markdown.lines().next().unwrap(),
        format!("**{summary_line}**"),
        "{markdown}"
    );
    assert!(markdown.contains("<details>"), "{markdown}");
    assert!(summary.contains(markdown.trim()), "{summary}");

    // With `comment: true` on a pull request, that Markdown becomes the PR's comment.
    let (github, github_state) = github_api(runner.dir.path(), "t0ken", &Value::Array(vec![]));
    let event = runner.file("event.json");
    std::fs::write(&event, r#"{"pull_request": {"number": 7}}"#).unwrap();
    let output = comment_step(
        Path::new(&outputs["markdown-file"]),
        "true",
        &github.url,
        "t0ken",
        &event,
    );
    assert!(output.status.success(), "{}", text(&output));
    let comments = read_json(&github_state)["comments"].clone();
    assert_eq!(comments.as_array().unwrap().len(), 1, "{comments}");
    let comment_id = comments[0]["id"].clone();
    assert!(
        comments[0]["body"]
            .as_str()
            .unwrap()
            .contains(&format!("**{summary_line}**")),
        "{comments}"
    );

    // apply: plans again and applies exactly that plan.
    let (outputs, summary, output) = step("apply");
    assert_eq!(outputs["has-changes"], "true");
    assert!(
        summary.contains("### guardform apply: `guardform.yaml` (succeeded)"),
        "{summary}"
    );
    // What the plan said is what was applied, in the log and in the job summary.
    let to_add = summary_line
        .trim_start_matches("Plan: ")
        .split(' ')
        .next()
        .unwrap();
    let complete = format!("Apply complete! Resources: {to_add} added, 0 changed, 0 destroyed.");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&complete),
        "{}",
        text(&output)
    );
    assert!(summary.contains(&complete), "{summary}");

    // plan again: nothing left to do.
    let (outputs, summary, _) = step("plan");
    assert_eq!(outputs["exitcode"], "0", "{outputs:?}\n{summary}");
    assert_eq!(outputs["has-changes"], "false");
    assert!(summary.contains("**No changes.**"), "{summary}");
    assert!(!summary.contains("to add"), "{summary}");
    // ... and the PR's comment says so, in place.
    let output = comment_step(
        Path::new(&outputs["markdown-file"]),
        "false",
        &github.url,
        "t0ken",
        &event,
    );
    assert!(output.status.success(), "{}", text(&output));
    let comments = read_json(&github_state)["comments"].clone();
    assert_eq!(comments.as_array().unwrap().len(), 1, "{comments}");
    assert_eq!(comments[0]["id"], comment_id);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(
        body.contains("### guardform plan: `infra/guardform.yaml` (no changes)"),
        "{body}"
    );
    assert!(body.contains("**No changes.**"), "{body}");
    assert!(!body.contains("to add"), "{body}");

    // apply with no changes applies nothing and succeeds.
    let (outputs, _, output) = step("apply");
    assert_eq!(outputs["has-changes"], "false");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("No changes: nothing to apply."),
        "{}",
        text(&output)
    );

    // sync: the scheduled lists job; this manifest has no lists, so there is nothing to do.
    let (outputs, _, output) = step("sync");
    assert_eq!(outputs["exitcode"], "0", "{}", text(&output));
    assert!(!outputs.contains_key("plan-file"));

    // An invalid manifest stops the job at validate, before any plan.
    std::fs::write(
        checkout.path().join("infra/bad.yaml"),
        "version: 1\nbogus: 1\n",
    )
    .unwrap();
    runner.next_step();
    let output = runner.script(
        "run.sh",
        checkout.path(),
        &[
            ("GUARDFORM_BIN", installed.as_str()),
            ("GUARDFORM_COMMAND", "plan"),
            ("GUARDFORM_MANIFEST", "bad.yaml"),
            ("GUARDFORM_WORKING_DIRECTORY", "infra"),
            ("AWS_ENDPOINT_URL", &emulator.endpoint),
        ],
    );
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("guardform validate found problems"),
        "{}",
        text(&output)
    );
    assert!(!runner.outputs().contains_key("has-changes"));
}

/// A stand-in for a tampered binary: running it leaves `ran` beside it.
fn marker_binary(dir: &Path, version: &str) -> (PathBuf, PathBuf) {
    let ran = dir.join("ran");
    let binary = dir.join("guardform");
    std::fs::write(
        &binary,
        format!(
            "#!/bin/sh\ntouch '{}'\necho 'guardform {version}'\n",
            ran.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    (binary, ran)
}

#[test]
fn a_release_that_does_not_match_its_checksum_is_refused_and_never_run() {
    let version = "9.8.7";
    let (_, _, target) = runner_platform();
    let scratch = tempfile::tempdir().unwrap();
    let (binary, ran) = marker_binary(scratch.path(), version);
    let release = tempfile::tempdir().unwrap();

    // The genuine archive's checksum is published; then the archive is swapped for another.
    let genuine = write_archive(release.path(), version, target, &binary);
    let genuine_sum = sha256_hex(&genuine);
    write_sha256sums(
        release.path(),
        version,
        &[(genuine_sum.clone(), genuine.as_path())],
    );
    let archive = genuine;
    let mut tampered_binary = std::fs::read_to_string(&binary).unwrap();
    tampered_binary.push_str("# tampered\n");
    std::fs::write(scratch.path().join("tampered"), tampered_binary).unwrap();
    write_archive(
        release.path(),
        version,
        target,
        &scratch.path().join("tampered"),
    );
    let tampered_sum = sha256_hex(&archive);
    assert_ne!(genuine_sum, tampered_sum);
    let server = Server::files(release.path());

    let install = |sha256: &str, base: &str| {
        let runner = Runner::new();
        let output = runner.script(
            "install.sh",
            scratch.path(),
            &[
                ("GUARDFORM_VERSION", version),
                ("GUARDFORM_SHA256", sha256),
                ("GUARDFORM_RELEASE_BASE_URL", base),
            ],
        );
        let installed = runner.temp().join("guardform");
        (output, runner, installed)
    };
    let refused = |output: &Output, runner: &Runner, installed: &Path, why: &str| {
        let report = text(output);
        assert!(!output.status.success(), "{report}");
        assert!(report.contains(why), "expected `{why}`: {report}");
        assert!(!installed.exists(), "something was installed: {report}");
        assert!(runner.read("path").is_empty(), "{report}");
        assert!(!runner.outputs().contains_key("path"), "{report}");
        assert!(!ran.exists(), "the unverified binary ran: {report}");
    };

    // Against the release's SHA256SUMS.
    let (output, runner, installed) = install("", &server.url);
    refused(
        &output,
        &runner,
        &installed,
        &format!(
            "checksum mismatch for guardform-{version}-{target}.tar.gz: expected {genuine_sum} (SHA256SUMS of release v{version}), got {tampered_sum}"
        ),
    );

    // Against the pinned `sha256` input (upper case is accepted).
    let (output, runner, installed) = install(&genuine_sum.to_uppercase(), &server.url);
    refused(
        &output,
        &runner,
        &installed,
        &format!("expected {genuine_sum} (the 'sha256' input), got {tampered_sum}"),
    );

    // SHA256SUMS that does not name the archive.
    std::fs::write(
        release.path().join(format!("v{version}/SHA256SUMS")),
        format!("{tampered_sum}  guardform-{version}-other-target.tar.gz\n"),
    )
    .unwrap();
    let (output, runner, installed) = install("", &server.url);
    refused(
        &output,
        &runner,
        &installed,
        "has no line for guardform-9.8.7-",
    );

    // Malformed inputs and insecure URLs are refused before anything is downloaded.
    let (output, runner, installed) = install("not-a-checksum", &server.url);
    refused(
        &output,
        &runner,
        &installed,
        "must be 64 hexadecimal digits",
    );
    let (output, runner, installed) = install("", "http://example.com/releases");
    refused(
        &output,
        &runner,
        &installed,
        "must be https:// (or http:// on a loopback address)",
    );

    // The same archive with its own checksum pinned installs, and runs (the marker appears):
    // what kept it from running above was the check.
    let (output, runner, installed) = install(&tampered_sum, &server.url);
    assert!(output.status.success(), "{}", text(&output));
    assert!(installed.join(format!("{version}/bin/guardform")).is_file());
    assert!(ran.exists());
    assert_eq!(
        runner.outputs()["path"],
        installed
            .join(format!("{version}/bin/guardform"))
            .to_string_lossy()
    );
}

/// The fake GitHub API (tests/github/server.py) with `seed` comments.
fn github_api(dir: &Path, token: &str, seed: &Value) -> (Server, PathBuf) {
    let seed_file = dir.join("seed.json");
    std::fs::write(&seed_file, seed.to_string()).unwrap();
    let state = dir.join("state.json");
    let mut command = Command::new(python());
    command
        .arg(root().join("tests/github/server.py"))
        .args(["--token", token])
        .arg("--state")
        .arg(&state)
        .arg("--seed")
        .arg(&seed_file);
    let server = Server::start(command, |line| {
        line.trim()
            .strip_prefix("github listening on ")
            .map(str::to_string)
    });
    (server, state)
}

/// Runs scripts/action/comment.py as the action's comment step does, for a pull request of
/// acme/guardduty whose event is `event`, the manifest being infra/guardform.yaml.
fn comment_step(
    markdown: &Path,
    has_changes: &str,
    api: &str,
    token: &str,
    event: &Path,
) -> Output {
    Command::new(python())
        .arg(root().join("scripts/action/comment.py"))
        .env("GUARDFORM_MARKDOWN_FILE", markdown)
        .env("GUARDFORM_MANIFEST", "guardform.yaml")
        .env("GUARDFORM_WORKING_DIRECTORY", "infra")
        .env("GUARDFORM_HAS_CHANGES", has_changes)
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_API_URL", api)
        .env("GITHUB_REPOSITORY", "acme/guardduty")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_SHA", "0123456789abcdef0123")
        .output()
        .expect("running comment.py")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_pr_comment_is_created_once_then_updated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let marker = "<!-- guardform-plan manifest=infra/guardform.yaml -->";
    // 120 comments on the pull request (so the action's own lands on the second page), a
    // comment of someone else's about guardform, one for another manifest, and one with our
    // marker on another pull request.
    let mut seed: Vec<Value> = (1..=120)
        .map(|i| {
            serde_json::json!({"id": i, "issue": 7, "body": format!("LGTM {i}"), "user": {"login": "alice"}})
        })
        .collect();
    seed.push(serde_json::json!({"id": 500, "issue": 7, "body": "the guardform plan looks fine to me", "user": {"login": "bob"}}));
    seed.push(serde_json::json!({"id": 501, "issue": 7, "body": "<!-- guardform-plan manifest=other/guardform.yaml -->\nother", "user": {"login": "github-actions[bot]"}}));
    seed.push(serde_json::json!({"id": 502, "issue": 8, "body": format!("{marker}\nanother PR"), "user": {"login": "github-actions[bot]"}}));
    let seed = Value::Array(seed);
    let (server, state_file) = github_api(dir.path(), "t0ken", &seed);
    let state = || read_json(&state_file);

    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"pull_request": {"number": 7}}"#).unwrap();
    let markdown = dir.path().join("plan.md");
    let comment = |plan: &str, token: &str, event: &Path| {
        std::fs::write(&markdown, plan).unwrap();
        comment_step(&markdown, "true", &server.url, token, event)
    };
    let others = |state: &Value| -> Vec<Value> {
        state["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"].as_u64().unwrap() < 1000)
            .cloned()
            .collect()
    };

    // First run: lists every page, finds nothing of ours, creates the comment.
    let output = comment(
        "Plan: 3 to add, 0 to change, 0 to destroy.\n",
        "t0ken",
        &event,
    );
    assert!(output.status.success(), "{}", text(&output));
    let after_first = state();
    let methods: Vec<String> = after_first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            "GET /repos/acme/guardduty/issues/7/comments?per_page=100&page=1",
            "GET /repos/acme/guardduty/issues/7/comments?per_page=100&page=2",
            "POST /repos/acme/guardduty/issues/7/comments",
        ]
    );
    let created: Vec<&Value> = after_first["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_u64().unwrap() >= 1000)
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let id = created[0]["id"].as_u64().unwrap();
    let body = created[0]["body"].as_str().unwrap();
    assert!(body.starts_with(&format!("{marker}\n")), "{body}");
    assert!(
        body.contains("### guardform plan: `infra/guardform.yaml` (changes to apply)"),
        "{body}"
    );
    assert!(body.contains("Plan: 3 to add"), "{body}");
    assert!(
        body.contains("https://github.com/acme/guardduty/actions/runs/42"),
        "{body}"
    );
    assert_eq!(others(&after_first), seed.as_array().unwrap().clone());

    // Second run: the same comment is updated in place; nothing is created.
    let output = comment(
        "Plan: 1 to add, 1 to change, 0 to destroy.\n",
        "t0ken",
        &event,
    );
    assert!(output.status.success(), "{}", text(&output));
    let after_second = state();
    let requests = after_second["requests"].as_array().unwrap();
    let new: Vec<String> = requests[3..]
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        new,
        [
            "GET /repos/acme/guardduty/issues/7/comments?per_page=100&page=1".to_string(),
            "GET /repos/acme/guardduty/issues/7/comments?per_page=100&page=2".to_string(),
            format!("PATCH /repos/acme/guardduty/issues/comments/{id}"),
        ]
    );
    let ours: Vec<&Value> = after_second["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_u64().unwrap() >= 1000)
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["id"].as_u64().unwrap(), id);
    let body = ours[0]["body"].as_str().unwrap();
    assert!(body.contains("Plan: 1 to add, 1 to change"), "{body}");
    assert!(!body.contains("Plan: 3 to add"), "{body}");
    // Everyone else's comments, the other manifest's and the other PR's are untouched.
    assert_eq!(others(&after_second), seed.as_array().unwrap().clone());

    // Not a pull request: no call at all.
    let push_event = dir.path().join("push.json");
    std::fs::write(&push_event, r#"{"ref": "refs/heads/main"}"#).unwrap();
    let output = comment("Plan: 9 to add.\n", "t0ken", &push_event);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(state()["requests"].as_array().unwrap().len(), 6);

    // A token GitHub refuses fails the step, saying why.
    let output = comment("Plan: 9 to add.\n", "wrong", &event);
    assert!(!output.status.success());
    let report = text(&output);
    assert!(report.contains("answered 401"), "{report}");
    assert_eq!(others(&state()), seed.as_array().unwrap().clone());
}
