//! Test harness: a real AWS emulator (moto server + guardform's extension, see
//! tests/emulator/) per test on a free loopback port, a seeded organization, and the real
//! `guardform` binary run against it. Nothing here skips: a missing emulator fails loudly.

#![allow(dead_code)] // each test binary uses part of the harness

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

/// Runs the guardform binary in `dir` with fake credentials and extra environment.
pub fn run_guardform(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guardform"));
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/guardform-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/guardform-test-credentials",
        )
        .env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("running guardform");
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
