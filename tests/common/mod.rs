//! Test harness: a real AWS emulator (moto server + guardform's extension, see
//! tests/emulator/) per test on a free loopback port, a seeded organization, and the real
//! `guardform` binary run against it. Nothing here skips: a missing emulator fails loudly.

#![allow(dead_code)] // each test binary uses part of the harness

pub mod ownership;

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The emulator's Python, after making sure the venv is installed (once per test binary).
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let status = Command::new("bash")
                .arg(root().join("scripts/setup-venv"))
                .stdout(Stdio::null())
                .status()
                .expect("running scripts/setup-venv");
            assert!(
                status.success(),
                "scripts/setup-venv failed: the emulator cannot be installed"
            );
            let python = root().join(".venv/bin/python");
            assert!(
                python.exists(),
                "{} is missing after scripts/setup-venv",
                python.display()
            );
            python
        })
        .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A running emulator; stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get_ok(endpoint: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

impl Emulator {
    /// Starts moto server with guardform's extension and waits until it answers. A port taken
    /// between choosing and binding it is retried with another port.
    pub fn start() -> Emulator {
        Emulator::start_with_env(&[])
    }

    /// Starts the emulator with extra environment (the extension's switches).
    pub fn start_with_env(env: &[(&str, &str)]) -> Emulator {
        let python = python();
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let log = dir.path().join("emulator.log");
            let port = free_port();
            let log_file = std::fs::File::create(&log).expect("emulator log");
            let child = Command::new(&python)
                .arg(root().join("tests/emulator/server.py"))
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .envs(env.iter().copied())
                .stdout(log_file.try_clone().expect("log"))
                .stderr(log_file)
                .spawn()
                .expect("starting the emulator");
            let mut emulator = Emulator {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                log,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if http_get_ok(&emulator.endpoint, "/moto-api/data.json") {
                    return emulator;
                }
                if let Ok(Some(_)) = emulator.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            last_log = emulator.log();
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("the emulator did not start within 60 s:\n{last_log}");
    }

    /// The emulator's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Seeds an organization with `accounts` member accounts; returns the seed summary.
    pub fn seed(&self, args: &[&str]) -> Value {
        let output = Command::new(python())
            .arg(root().join("tests/emulator/seed.py"))
            .args(["--endpoint", &self.endpoint])
            .args(args)
            .output()
            .expect("running the seed tool");
        assert!(
            output.status.success(),
            "seed failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        serde_json::from_slice(&output.stdout).expect("seed prints JSON")
    }

    /// Runs a Python snippet with boto3 against the emulator (for out-of-band changes made the
    /// way another tool would). `ENDPOINT` is set in its environment.
    pub fn boto3(&self, script: &str) -> String {
        let output = Command::new(python())
            .arg("-c")
            .arg(script)
            .env("ENDPOINT", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("running python");
        assert!(
            output.status.success(),
            "python failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs guardform against the emulator as the management account.
    pub fn guardform(&self, dir: &Path, args: &[&str]) -> Run {
        run_guardform(dir, args, &[("AWS_ENDPOINT_URL", self.endpoint.as_str())])
    }
}

/// A finished guardform run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Python for `Emulator::boto3` scripts: `client(service, account, region)` acting as
/// `account` (the management account directly, others through sts:AssumeRole), as another
/// tool (or a person in the console) would, and `detector(account, region)`.
pub const PY_CLIENT: &str = r#"
import boto3, os, json
E = os.environ["ENDPOINT"]
def client(service, account="222222222222", region="eu-west-1"):
    creds = {}
    if account != "123456789012":
        sts = boto3.client("sts", endpoint_url=E, region_name="us-east-1")
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="oob")["Credentials"]
        creds = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    return boto3.client(service, endpoint_url=E, region_name=region, **creds)
def detector(account, region="eu-west-1"):
    return client("guardduty", account, region).list_detectors()["DetectorIds"][0]
"#;

/// Copies the example `manifests/NAME` into `dir` as `as_name`, with the list files beside it
/// (`lists/`), so its relative sources resolve; returns the manifest's text.
pub fn copy_example(dir: &Path, name: &str, as_name: &str) -> String {
    let source = std::fs::read_to_string(root().join("manifests").join(name)).unwrap();
    std::fs::write(dir.join(as_name), &source).unwrap();
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    for entry in std::fs::read_dir(root().join("manifests/lists")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join("lists").join(path.file_name().unwrap())).unwrap();
    }
    source
}

/// Runs the guardform binary in `dir` with fake credentials and extra environment.
pub fn run_guardform(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = guardform_command(dir, args, env)
        .output()
        .expect("running guardform");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Parses `--stats` output into (service.operation → calls).
pub fn stats(stderr: &str) -> std::collections::BTreeMap<String, u64> {
    stderr
        .lines()
        .skip_while(|l| !l.starts_with("AWS API calls:"))
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let name = parts.next()?.to_string();
            let calls = parts.next()?.parse().ok()?;
            Some((name, calls))
        })
        .collect()
}

/// microburst, the AWS fault-injection proxy, in front of an emulator; stopped when dropped.
pub struct Microburst {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Microburst {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Microburst {
    /// Starts microburst forwarding to `upstream` with the given YAML `rules:` list.
    pub fn start(upstream: &str, rules: &str) -> Microburst {
        python();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("microburst.yml");
        std::fs::write(
            &config,
            format!("upstream: {upstream}\nhost: 127.0.0.1\nport: {port}\nrules:\n{rules}"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("microburst.log")).unwrap();
        let child = Command::new(root().join(".venv/bin/microburst"))
            .arg("--config")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting microburst");
        let proxy = Microburst {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if http_get_ok(&proxy.endpoint, "/_microburst/stats") {
                return proxy;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log =
            std::fs::read_to_string(proxy._dir.path().join("microburst.log")).unwrap_or_default();
        panic!("microburst did not start within 30 s:\n{log}");
    }
}

/// The fake Trend Micro Deep Security Manager (tests/dsm/server.py); stopped when dropped.
pub struct Dsm {
    child: Child,
    /// `https://127.0.0.1:PORT` (or `http://` without TLS).
    pub url: String,
    /// The CA that signed the server's certificate (TLS only).
    pub ca_file: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Dsm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dsm {
    /// Starts the fake manager with its fixtures, checking requests for `api_key` sent the
    /// `auth` way (`api-secret-key` or `apikey`).
    pub fn start(api_key: &str, tls: bool, auth: &str) -> Dsm {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(python());
        command
            .arg(root().join("tests/dsm/server.py"))
            .args([
                "--port",
                "0",
                "--api-key",
                api_key,
                "--auth",
                auth,
                "--exit-on-stdin-eof",
            ])
            .arg("--fixtures")
            .arg(root().join("tests/dsm/fixtures.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if tls {
            command.arg("--tls").arg("--cert-dir").arg(dir.path());
        }
        let mut child = command
            .spawn()
            .expect("starting the fake Deep Security Manager");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the DSM's first line");
        let url = line
            .trim()
            .strip_prefix("dsm listening on ")
            .unwrap_or_else(|| panic!("the fake DSM did not start: {line:?}"))
            .to_string();
        Dsm {
            child,
            url,
            ca_file: dir.path().join("ca.pem"),
            dir,
        }
    }

    /// Sends a control request (`/_test/...`) and returns the body.
    pub fn control(&self, method: &str, path: &str, body: &str) -> String {
        let script = format!(
            "import urllib.request, ssl, sys\nctx = ssl.create_default_context(cafile={ca:?}) if {tls} else None\nreq = urllib.request.Request({url:?} + {path:?}, data={body:?}.encode() if {body:?} else None, method={method:?}, headers={{'Content-Type': 'application/json'}})\nprint(urllib.request.urlopen(req, context=ctx).read().decode())",
            ca = self.ca_file.display().to_string(),
            tls = if self.url.starts_with("https") {
                "True"
            } else {
                "False"
            },
            url = self.url,
        );
        let output = Command::new(python())
            .arg("-c")
            .arg(script)
            .output()
            .expect("python");
        assert!(
            output.status.success(),
            "control request failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let _ = &self.dir;
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Fake credentials and a Region for `command`, and nothing of the machine's own AWS set-up
/// (profile, config and credentials files, instance metadata), so no test reaches real AWS.
pub fn fake_aws(command: &mut Command) -> &mut Command {
    command
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/guardform-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/guardform-test-credentials",
        )
}

/// The `guardform` command `run_guardform` runs (same directory, fake credentials and
/// environment), for tests that spawn it themselves (to kill it, or to run two at once).
pub fn guardform_command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guardform"));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("AWS_ENDPOINT_URL")
        .env("NO_COLOR", "1");
    fake_aws(&mut command);
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Sends one real, signed call per service guardform uses through `endpoint` (e.g. a fresh
/// microburst, whose first request per service is slow while it loads the service's model), so
/// later timings measure guardform and the configured latency only.
pub fn warm_up(endpoint: &str) {
    let script = r#"
import boto3, os
E = os.environ["ENDPOINT"]
def c(service):
    return boto3.client(service, endpoint_url=E, region_name="us-east-1")
c("sts").get_caller_identity()
c("organizations").describe_organization()
c("guardduty").list_detectors()
c("s3").list_buckets()
c("events").list_rules()
c("lambda").list_functions()
c("sqs").list_queues()
c("iam").list_roles()
"#;
    let output = Command::new(python())
        .arg("-c")
        .arg(script)
        .env("ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("running python");
    assert!(
        output.status.success(),
        "warming up {endpoint} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the manifest declares, for [`ownership_problems`].
#[derive(Debug, Clone)]
pub struct Declared {
    pub admin: String,
    pub regions: Vec<String>,
    /// Accounts that must be `Enabled` members in every Region (and no others).
    pub members: Vec<String>,
    /// (list name, `trusted` | `threat`).
    pub lists: Vec<(String, String)>,
    /// (response name, whether it runs a function (`run:`) rather than `send_to:`).
    pub responses: Vec<(String, bool)>,
    /// The storage bucket and key prefix (without slashes), e.g. `guardform`.
    pub bucket: String,
    pub prefix: String,
}

/// Everything in the emulator that looks like guardform's, read with boto3 (not through
/// guardform): per Region, the administrator's (and the management account's) detectors, the
/// administrator's IP sets and threat intel sets with tags, status and location, members,
/// EventBridge rules / Lambda functions / SQS queues named `guardform-*` with tags (rules with
/// their targets, functions with their policy statements); IAM roles under `/guardform/` or
/// named `guardform-*`; the objects under the storage prefix. Returned as JSON.
pub fn owned_resources(emulator: &Emulator, declared: &Declared) -> Value {
    let params = serde_json::json!({
        "admin": declared.admin,
        "regions": declared.regions,
        "bucket": declared.bucket,
        "prefix": declared.prefix,
    });
    let script = format!(
        r#"
import boto3, os, json
from botocore.exceptions import ClientError
E = os.environ["ENDPOINT"]
P = json.loads(r'''{params}''')
ADMIN = P["admin"]
def client(service, account, region="us-east-1"):
    creds = {{}}
    if account != "123456789012":
        sts = boto3.client("sts", endpoint_url=E, region_name="us-east-1")
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{{account}}:role/OrganizationAccountAccessRole", RoleSessionName="inspect")["Credentials"]
        creds = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    return boto3.client(service, endpoint_url=E, region_name=region, **creds)
def pages(method, key, token_in="NextToken", token_out="NextToken", **kwargs):
    out = []
    while True:
        page = method(**kwargs)
        out.extend(page.get(key, []))
        token = page.get(token_out)
        if not token:
            return out
        kwargs[token_in] = token
out = {{"regions": {{}}}}
for region in P["regions"]:
    r = {{}}
    g = client("guardduty", ADMIN, region)
    detectors = pages(g.list_detectors, "DetectorIds")
    r["detectors"] = detectors
    r["management_detectors"] = pages(client("guardduty", "123456789012", region).list_detectors, "DetectorIds")
    sets, members = [], []
    for d in detectors:
        for i in pages(g.list_ip_sets, "IpSetIds", DetectorId=d):
            s = g.get_ip_set(DetectorId=d, IpSetId=i)
            sets.append(dict(kind="trusted", id=i, detector=d, name=s["Name"], status=s["Status"], location=s["Location"], tags=s.get("Tags", {{}})))
        for i in pages(g.list_threat_intel_sets, "ThreatIntelSetIds", DetectorId=d):
            s = g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=i)
            sets.append(dict(kind="threat", id=i, detector=d, name=s["Name"], status=s["Status"], location=s["Location"], tags=s.get("Tags", {{}})))
        for i in pages(g.list_trusted_entity_sets, "TrustedEntitySetIds", DetectorId=d):
            s = g.get_trusted_entity_set(DetectorId=d, TrustedEntitySetId=i)
            sets.append(dict(kind="trusted_entities", id=i, detector=d, name=s["Name"], status=s["Status"], location=s["Location"], tags=s.get("Tags", {{}})))
        for i in pages(g.list_threat_entity_sets, "ThreatEntitySetIds", DetectorId=d):
            s = g.get_threat_entity_set(DetectorId=d, ThreatEntitySetId=i)
            sets.append(dict(kind="threat_entities", id=i, detector=d, name=s["Name"], status=s["Status"], location=s["Location"], tags=s.get("Tags", {{}})))
        for m in pages(g.list_members, "Members", DetectorId=d, OnlyAssociated="false"):
            members.append(dict(account=m["AccountId"], status=m["RelationshipStatus"], detector=d))
    r["sets"], r["members"] = sets, members
    ev = client("events", ADMIN, region)
    rules = []
    for rule in pages(ev.list_rules, "Rules", NamePrefix="guardform-"):
        tags = {{t["Key"]: t["Value"] for t in ev.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}}
        targets = [dict(id=t["Id"], arn=t["Arn"]) for t in pages(ev.list_targets_by_rule, "Targets", Rule=rule["Name"])]
        rules.append(dict(name=rule["Name"], tags=tags, targets=targets))
    r["rules"] = rules
    lam = client("lambda", ADMIN, region)
    functions = []
    for f in pages(lam.list_functions, "Functions", token_in="Marker", token_out="NextMarker"):
        if not f["FunctionName"].startswith("guardform-"):
            continue
        full = lam.get_function(FunctionName=f["FunctionName"])
        try:
            sids = [s.get("Sid") for s in json.loads(lam.get_policy(FunctionName=f["FunctionName"])["Policy"])["Statement"]]
        except ClientError:
            sids = []
        functions.append(dict(name=f["FunctionName"], tags=full.get("Tags", {{}}), statements=sids))
    r["functions"] = functions
    sqs = client("sqs", ADMIN, region)
    queues = []
    for url in pages(sqs.list_queues, "QueueUrls", QueueNamePrefix="guardform-"):
        queues.append(dict(name=url.rsplit("/", 1)[1], tags=sqs.list_queue_tags(QueueUrl=url).get("Tags", {{}})))
    r["queues"] = queues
    out["regions"][region] = r
iam = client("iam", ADMIN)
roles = []
for role in pages(iam.list_roles, "Roles", token_in="Marker", token_out="Marker"):
    if role["Path"].startswith("/guardform/") or role["RoleName"].startswith("guardform-"):
        tags = {{t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}}
        roles.append(dict(name=role["RoleName"], path=role["Path"], tags=tags))
out["roles"] = roles
s3 = client("s3", ADMIN)
try:
    out["objects"] = [o["Key"] for o in pages(s3.list_objects_v2, "Contents", token_in="ContinuationToken", token_out="NextContinuationToken", Bucket=P["bucket"], Prefix=P["prefix"] + "/")]
    out["bucket"] = True
except ClientError as e:
    out["objects"], out["bucket"] = [], str(e)
print(json.dumps(out, indent=1, sort_keys=True))
"#,
        params = params
    );
    let text = emulator.boto3(&script);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("inspection output: {e}\n{text}"))
}

/// Checks what [`owned_resources`] found against what the manifest declares: nothing missing,
/// nothing extra, nothing duplicated, everything tagged as guardform's. One line per problem.
pub fn ownership_problems(found: &Value, declared: &Declared) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut problems = Vec::new();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let tag = |item: &Value, key: &str| -> Option<String> {
        item["tags"][key].as_str().map(str::to_string)
    };
    // Tags every response resource must carry.
    let response_tags = |what: &str, item: &Value, response: &str, problems: &mut Vec<String>| {
        if tag(item, "guardform:managed").as_deref() != Some("true")
            || tag(item, "guardform:response").as_deref() != Some(response)
        {
            problems.push(format!(
                "{what} is not tagged guardform:managed=true, guardform:response={response}: tags {}",
                item["tags"]
            ));
        }
    };
    let names_of = |items: &Value| -> Vec<String> {
        let mut names: Vec<String> = items
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let expected_rules = sorted(
        declared
            .responses
            .iter()
            .map(|(n, _)| format!("guardform-{n}"))
            .collect(),
    );
    let expected_functions = sorted(
        declared
            .responses
            .iter()
            .filter(|(_, run)| *run)
            .map(|(n, _)| format!("guardform-{n}"))
            .collect(),
    );
    let expected_queues = sorted(
        declared
            .responses
            .iter()
            .map(|(n, _)| format!("guardform-{n}-dlq"))
            .collect(),
    );
    let objects = strs(&found["objects"]);
    let folder_of = |key: &str| -> Option<String> {
        let rest = key.strip_prefix(&format!("{}/", declared.prefix))?;
        let (list, file) = rest.split_once('/')?;
        let hex = file.strip_suffix(".txt")?;
        (hex.len() >= 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) && !list.is_empty())
            .then(|| list.to_string())
    };

    for region in &declared.regions {
        let r = &found["regions"][region.as_str()];
        let at = format!("{}/{region}", declared.admin);
        let detectors = strs(&r["detectors"]);
        if detectors.len() != 1 {
            problems.push(format!(
                "{at}: {} detectors, expected exactly one: {detectors:?}",
                detectors.len()
            ));
        }
        let management = strs(&r["management_detectors"]);
        if management.len() > 1 {
            problems.push(format!(
                "123456789012/{region}: {} detectors: {management:?}",
                management.len()
            ));
        }

        // IP sets, threat intel sets and entity sets: exactly one per list, named as the list,
        // none extra.
        let sets = r["sets"].as_array().cloned().unwrap_or_default();
        let mut by_name: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for set in &sets {
            by_name
                .entry(set["name"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push(set);
        }
        for (name, kind) in &declared.lists {
            let matching = by_name.get(name).cloned().unwrap_or_default();
            if matching.len() != 1 {
                problems.push(format!(
                    "{at}: {} sets named `{name}`, expected exactly one: {matching:?}",
                    matching.len()
                ));
                continue;
            }
            let set = matching[0];
            if set["kind"].as_str() != Some(kind.as_str()) {
                problems.push(format!(
                    "{at}: set `{name}` is a {} list, expected {kind}",
                    set["kind"]
                ));
            }
            if tag(set, "guardform:managed").as_deref() != Some("true")
                || tag(set, "guardform:list").as_deref() != Some(name.as_str())
            {
                problems.push(format!(
                    "{at}: set `{name}` ({}) is not tagged guardform:managed=true, guardform:list={name}: tags {}",
                    set["id"], set["tags"]
                ));
            }
            if set["status"].as_str() != Some("ACTIVE") {
                problems.push(format!(
                    "{at}: set `{name}` is {}, not ACTIVE",
                    set["status"]
                ));
            }
            let location = set["location"].as_str().unwrap_or_default();
            let key = location
                .split_once(&format!("{}/", declared.bucket))
                .map(|(_, key)| key.to_string())
                .unwrap_or_default();
            if !objects.contains(&key) {
                problems.push(format!(
                    "{at}: set `{name}` points at {location}, which is not an object under s3://{}/{}/",
                    declared.bucket, declared.prefix
                ));
            } else if folder_of(&key).as_deref() != Some(name.as_str()) {
                problems.push(format!(
                    "{at}: set `{name}` points at another list's file {location}"
                ));
            }
        }
        for (name, matching) in &by_name {
            if !declared.lists.iter().any(|(n, _)| n == name) {
                problems.push(format!(
                    "{at}: {} set(s) named `{name}`, a list the manifest does not have: {matching:?}",
                    matching.len()
                ));
            }
        }

        // Members: every targeted account, Enabled, and no other.
        let members: Vec<&Value> = r["members"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let enabled: BTreeSet<String> = members
            .iter()
            .filter(|m| m["status"].as_str() == Some("Enabled"))
            .map(|m| m["account"].as_str().unwrap_or_default().to_string())
            .collect();
        let expected: BTreeSet<String> = declared.members.iter().cloned().collect();
        if enabled != expected || members.len() != expected.len() {
            problems.push(format!(
                "{at}: members {:?}, expected exactly {expected:?} Enabled",
                members
                    .iter()
                    .map(|m| format!(
                        "{}={}",
                        m["account"].as_str().unwrap_or_default(),
                        m["status"].as_str().unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
            ));
        }

        // Response wiring.
        let rules = names_of(&r["rules"]);
        if rules != expected_rules {
            problems.push(format!(
                "{at}: EventBridge rules guardform-* {rules:?}, expected exactly {expected_rules:?}"
            ));
        }
        for rule in r["rules"].as_array().cloned().unwrap_or_default() {
            let name = rule["name"].as_str().unwrap_or_default();
            let targets = rule["targets"].as_array().cloned().unwrap_or_default();
            if targets.len() != 1 {
                problems.push(format!(
                    "{at}: rule {name} has {} targets, expected exactly one: {targets:?}",
                    targets.len()
                ));
            }
            if let Some(response) = name.strip_prefix("guardform-")
                && expected_rules.iter().any(|n| n == name)
            {
                response_tags(
                    &format!("{at}: rule {name}"),
                    &rule,
                    response,
                    &mut problems,
                );
                if declared
                    .responses
                    .iter()
                    .any(|(n, run)| n == response && *run)
                {
                    let function =
                        format!("arn:aws:lambda:{region}:{}:function:{name}", declared.admin);
                    if targets
                        .iter()
                        .any(|t| t["arn"].as_str() != Some(function.as_str()))
                    {
                        problems.push(format!("{at}: rule {name} targets {targets:?}, expected its function {function}"));
                    }
                }
            }
        }
        let functions = names_of(&r["functions"]);
        if functions != expected_functions {
            problems.push(format!(
                "{at}: Lambda functions guardform-* {functions:?}, expected exactly {expected_functions:?}"
            ));
        }
        for function in r["functions"].as_array().cloned().unwrap_or_default() {
            let name = function["name"].as_str().unwrap_or_default();
            if expected_functions.iter().any(|n| n == name) {
                response_tags(
                    &format!("{at}: function {name}"),
                    &function,
                    &name["guardform-".len()..],
                    &mut problems,
                );
                let statements = strs(&function["statements"]);
                if statements.len() != 1 {
                    problems.push(format!(
                        "{at}: function {name} has {} resource policy statements, expected exactly one (EventBridge's): {statements:?}",
                        statements.len()
                    ));
                }
            }
        }
        let queues = names_of(&r["queues"]);
        if queues != expected_queues {
            problems.push(format!(
                "{at}: SQS queues guardform-* {queues:?}, expected exactly {expected_queues:?}"
            ));
        }
        for queue in r["queues"].as_array().cloned().unwrap_or_default() {
            let name = queue["name"].as_str().unwrap_or_default();
            if expected_queues.iter().any(|n| n == name) {
                let response = &name["guardform-".len()..name.len() - "-dlq".len()];
                response_tags(
                    &format!("{at}: queue {name}"),
                    &queue,
                    response,
                    &mut problems,
                );
            }
        }
    }

    // IAM roles (global): exactly one per `run:` response, under /guardform/, tagged.
    let roles = names_of(&found["roles"]);
    if roles != expected_functions {
        problems.push(format!(
            "{}: IAM roles under /guardform/ or named guardform-* {roles:?}, expected exactly {expected_functions:?}",
            declared.admin
        ));
    }
    for role in found["roles"].as_array().cloned().unwrap_or_default() {
        let name = role["name"].as_str().unwrap_or_default();
        if role["path"].as_str() != Some("/guardform/") {
            problems.push(format!(
                "{}: role {name} has path {}, expected /guardform/",
                declared.admin, role["path"]
            ));
        }
        if let Some(response) = name.strip_prefix("guardform-")
            && expected_functions.iter().any(|n| n == name)
        {
            response_tags(
                &format!("{}: role {name}", declared.admin),
                &role,
                response,
                &mut problems,
            );
        }
    }

    // List files: only the manifest's lists' folders, at most two versions each.
    if found["bucket"] != Value::Bool(true) {
        problems.push(format!(
            "bucket {} could not be listed: {}",
            declared.bucket, found["bucket"]
        ));
    }
    let mut folders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in &objects {
        match folder_of(key) {
            Some(list) => folders.entry(list).or_default().push(key.clone()),
            None => problems.push(format!(
                "s3://{}/{key} is not a list file `{}/<list>/<sha256 prefix>.txt`",
                declared.bucket, declared.prefix
            )),
        }
    }
    for (list, keys) in &folders {
        if !declared.lists.iter().any(|(n, _)| n == list) {
            problems.push(format!(
                "s3://{}/{}/{list}/ holds {} file(s) of a list the manifest no longer has: {keys:?}",
                declared.bucket,
                declared.prefix,
                keys.len()
            ));
        } else if keys.len() > 2 {
            problems.push(format!(
                "s3://{}/{}/{list}/ holds {} versions, expected at most the two latest: {keys:?}",
                declared.bucket,
                declared.prefix,
                keys.len()
            ));
        }
    }
    problems
}

/// A guardform process started with [`spawn_guardform`], its output going to files.
pub struct Spawned {
    pub child: Child,
    pub started: Instant,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// How a spawned guardform ended.
#[derive(Debug)]
pub struct Ended {
    /// The exit code, `None` when it was killed (or died of a signal).
    pub code: Option<i32>,
    /// Whether it was still running when it was killed.
    pub killed: bool,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
}

/// Starts guardform (as [`guardform_command`]) without waiting; stdout and stderr go to
/// `<log_dir>/<label>.stdout|stderr`.
pub fn spawn_guardform(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    log_dir: &Path,
    label: &str,
) -> Spawned {
    let stdout = log_dir.join(format!("{label}.stdout"));
    let stderr = log_dir.join(format!("{label}.stderr"));
    let child = guardform_command(dir, args, env)
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("starting guardform");
    Spawned {
        child,
        started: Instant::now(),
        stdout,
        stderr,
    }
}

impl Spawned {
    fn ended(mut self, killed: bool) -> Ended {
        let status = self.child.wait().expect("waiting for guardform");
        let elapsed = self.started.elapsed();
        Ended {
            code: status.code(),
            killed,
            elapsed,
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }

    /// Sends SIGKILL (if it is still running) and collects what it wrote.
    pub fn kill(mut self) -> Ended {
        let running = matches!(self.child.try_wait(), Ok(None));
        if running {
            self.child.kill().expect("SIGKILL guardform");
        }
        self.ended(running)
    }

    /// Waits until it exits; after `limit` it is killed (a hang) and `killed` is set.
    pub fn wait(mut self, limit: Duration) -> Ended {
        while self.started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.ended(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }
}

/// The last `n` lines of `text`, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The peak RSS in MiB that `/usr/bin/time -v` reported in `stderr` (panics if it did not).
pub fn peak_rss_mib(stderr: &str) -> f64 {
    let kib: f64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .expect("/usr/bin/time -v reports the peak RSS");
    kib / 1024.0
}
