//! Deep Security IP lists synced into GuardDuty, against the fake Deep Security Manager
//! (tests/dsm/) over verified TLS and the AWS emulator. The API key is a sentinel that must
//! never appear in anything guardform prints or saves.

mod common;

use common::{Dsm, Emulator, Run, run_guardform};
use std::path::Path;

const KEY: &str = "sentinel-ds-key-7f3a9c1e-do-not-print";

fn manifest(dsm: &Dsm, extra: &str) -> String {
    format!(
        r#"version: 1
organization: {{ delegated_admin: "222222222222" }}
accounts: {{ include: {{ all: true }} }}
regions: {{ include: [eu-west-1, us-east-1] }}
storage: {{ bucket: "s3://acme-guardduty-lists/guardform" }}
ip_lists:
  - name: ds-blocklist
    kind: threat
    source:
      deep_security:
        url: {url}
        ip_list: GuardDuty Blocklist
        api_key_env: DS_API_KEY
        ca_file: {ca}
{extra}  - name: office-egress
    kind: trusted
    source:
      deep_security: {{ url: "{url}", ip_list: 35, api_key_env: DS_API_KEY, ca_file: "{ca}" }}
"#,
        url = dsm.url,
        ca = dsm.ca_file.display(),
    )
}

fn run(emulator: &Emulator, dir: &Path, args: &[&str], key: &str, all: &mut Vec<Run>) -> usize {
    let run = run_guardform(
        dir,
        args,
        &[
            ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
            ("DS_API_KEY", key),
        ],
    );
    all.push(run);
    all.len() - 1
}

const PY: &str = r#"
import boto3, os
E = os.environ["ENDPOINT"]
sts = boto3.client("sts", endpoint_url=E, region_name="us-east-1")
c = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/OrganizationAccountAccessRole", RoleSessionName="test")["Credentials"]
kw = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
def show(region):
    g = boto3.client("guardduty", endpoint_url=E, region_name=region, **kw)
    s3 = boto3.client("s3", endpoint_url=E, region_name="us-east-1", **kw)
    d = g.list_detectors()["DetectorIds"][0]
    for i in g.list_threat_intel_sets(DetectorId=d)["ThreatIntelSetIds"]:
        t = g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=i)
        bucket, key = t["Location"].split("amazonaws.com/", 1)[1].split("/", 1)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        print(region, t["Name"], t["Status"], body.replace("\n", ","))
"#;

#[test]
fn deep_security_list_changes_flow_into_guardduty_and_the_key_never_shows() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dsm = Dsm::start(KEY, true, "api-secret-key");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guardform.yaml"), manifest(&dsm, "")).unwrap();
    let mut runs = Vec::new();

    let plan = run(
        &emulator,
        dir.path(),
        &["plan", "--out", "ds.plan"],
        KEY,
        &mut runs,
    );
    runs[plan].expect_code(0);
    let stdout = &runs[plan].stdout;
    assert!(
        stdout.contains("Deep Security https://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 11 of Deep Security")
            && stdout.contains("`not-an-ip`: not an IP address"),
        "{stdout}"
    );
    assert!(
        stdout.contains("10.1.0.0/255.0.255.0`: netmask 255.0.255.0 is not contiguous"),
        "{stdout}"
    );
    let apply = run(&emulator, dir.path(), &["apply", "ds.plan"], KEY, &mut runs);
    runs[apply].expect_code(0);
    let clean = run(
        &emulator,
        dir.path(),
        &["plan", "--detailed-exitcode"],
        KEY,
        &mut runs,
    );
    runs[clean].expect_code(0);
    let live = emulator.boto3(&format!("{PY}\nshow('eu-west-1')"));
    assert_eq!(
        live.trim(),
        "eu-west-1 ds-blocklist ACTIVE 192.0.2.10/31,192.0.2.12/30,192.0.2.16/30,192.0.2.20,198.51.100.0/24,203.0.113.7,203.0.113.64/26,203.0.113.200,2001:db8::1,2001:db8:abcd::/48,"
    );

    // Deep Security's list changes: a plan saved before is stale, the plan shows the entry
    // diff, a sync applies it.
    let before = run(
        &emulator,
        dir.path(),
        &["plan", "--out", "before.plan"],
        KEY,
        &mut runs,
    );
    runs[before].expect_code(0);
    dsm.control("PUT", "/_test/iplists/34", r#"{"name": "GuardDuty Blocklist", "items": ["203.0.113.7", "198.51.100.0/24", "192.0.2.99 #new scanner"]}"#);
    let stale = run(
        &emulator,
        dir.path(),
        &["apply", "before.plan"],
        KEY,
        &mut runs,
    );
    runs[stale].expect_code(1);
    assert!(
        runs[stale].stderr.contains("saved plan is stale"),
        "{}",
        runs[stale].stderr
    );
    let json = run(&emulator, dir.path(), &["plan", "--json"], KEY, &mut runs);
    let json: serde_json::Value = serde_json::from_str(&runs[json].stdout).unwrap();
    let object = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "s3.object")
        .unwrap();
    assert_eq!(object["content"]["added"], 1);
    assert_eq!(object["content"]["removed"], 8);
    assert_eq!(object["content"]["lines"].as_array().unwrap().len(), 9);
    let plan = run(
        &emulator,
        dir.path(),
        &["plan", "--detailed-exitcode"],
        KEY,
        &mut runs,
    );
    runs[plan].expect_code(2);
    let stdout = &runs[plan].stdout;
    assert!(stdout.contains("entries: +1 −8"), "{stdout}");
    assert!(stdout.contains("        +192.0.2.99\n"), "{stdout}");
    assert!(stdout.contains("        -2001:db8::1\n"), "{stdout}");
    let sync = run(
        &emulator,
        dir.path(),
        &["sync", "ip-lists", "--auto-approve"],
        KEY,
        &mut runs,
    );
    runs[sync].expect_code(0);
    assert!(
        runs[sync]
            .stdout
            .contains("Resources: 1 added, 2 changed, 1 destroyed."),
        "{}",
        runs[sync].stdout
    );
    let clean = run(
        &emulator,
        dir.path(),
        &["plan", "--detailed-exitcode"],
        KEY,
        &mut runs,
    );
    runs[clean].expect_code(0);
    let live = emulator.boto3(&format!("{PY}\nshow('us-east-1')"));
    assert_eq!(
        live.trim(),
        "us-east-1 ds-blocklist ACTIVE 192.0.2.99,198.51.100.0/24,203.0.113.7,"
    );

    // Deep Security was asked the documented way.
    let requests: serde_json::Value =
        serde_json::from_str(&dsm.control("GET", "/_test/requests", "")).unwrap();
    let first = &requests["requests"][0];
    let headers: Vec<(String, String)> = serde_json::from_value(first["headers"].clone()).unwrap();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("api-secret-key").as_deref(), Some(KEY));
    assert_eq!(header("api-version").as_deref(), Some("v1"));
    assert!(
        requests["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/api/iplists/search")
    );
    assert!(
        requests["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/api/iplists/35")
    );

    // A wrong key: a clear error naming the manager, the list and the variable, not the key.
    let wrong = run(
        &emulator,
        dir.path(),
        &["plan"],
        "wrong-key-0b5e",
        &mut runs,
    );
    runs[wrong].expect_code(1);
    let stderr = runs[wrong].stderr.clone();
    assert!(
        stderr.contains(&format!(
            "Deep Security manager {} refused the API key in DS_API_KEY (HTTP 401)",
            dsm.url
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-key-0b5e"), "{stderr}");

    // No key at all.
    let none = run(&emulator, dir.path(), &["plan"], "", &mut runs);
    runs[none].expect_code(1);
    assert!(
        runs[none]
            .stderr
            .contains("environment variable DS_API_KEY is not set"),
        "{}",
        runs[none].stderr
    );

    // The sentinel key never appears in anything guardform printed or saved.
    for (index, run) in runs.iter().enumerate() {
        assert!(
            !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
            "run {index} printed the key"
        );
    }
    let saved = std::fs::read_to_string(dir.path().join("ds.plan")).unwrap();
    assert!(!saved.contains(KEY), "the saved plan contains the key");
}

#[test]
fn tls_is_verified_and_cloud_one_auth_works() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dsm = Dsm::start(KEY, true, "apikey");
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    // Without the manager's CA, TLS verification fails, clearly.
    let untrusted = manifest(&dsm, "").replace(
        &format!("        ca_file: {}\n", dsm.ca_file.display()),
        "        auth_header: authorization\n",
    );
    std::fs::write(dir.path().join("guardform.yaml"), &untrusted).unwrap();
    let plan = run(&emulator, dir.path(), &["plan"], KEY, &mut runs);
    runs[plan].expect_code(1);
    assert!(
        runs[plan]
            .stderr
            .contains(&format!("cannot reach {}/api/iplists/search", dsm.url)),
        "{}",
        runs[plan].stderr
    );
    assert!(
        runs[plan].stderr.to_lowercase().contains("certificate"),
        "{}",
        runs[plan].stderr
    );
    // With it, and Cloud One's `Authorization: ApiKey` header, the lists are read.
    let trusted = manifest(&dsm, "        auth_header: authorization\n").replace(
        "api_key_env: DS_API_KEY, ca_file",
        "api_key_env: DS_API_KEY, auth_header: authorization, ca_file",
    );
    std::fs::write(dir.path().join("guardform.yaml"), &trusted).unwrap();
    let plan = run(&emulator, dir.path(), &["plan"], KEY, &mut runs);
    runs[plan].expect_code(0);
    assert!(
        runs[plan]
            .stdout
            .contains("+ guardduty.threat_intel_set[222222222222/eu-west-1/ds-blocklist]"),
        "{}",
        runs[plan].stdout
    );
    // A list Deep Security does not have.
    std::fs::write(
        dir.path().join("guardform.yaml"),
        trusted.replace("ip_list: GuardDuty Blocklist", "ip_list: No Such List"),
    )
    .unwrap();
    let plan = run(&emulator, dir.path(), &["plan"], KEY, &mut runs);
    runs[plan].expect_code(1);
    assert!(
        runs[plan].stderr.contains(&format!(
            "IP list `ds-blocklist`: Deep Security manager {} has no IP list `No Such List`",
            dsm.url
        )),
        "{}",
        runs[plan].stderr
    );
    for run in &runs {
        assert!(!run.stdout.contains(KEY) && !run.stderr.contains(KEY));
    }
}

/// A plain-HTTP "manager" on loopback that answers any request with `body` (streamed in
/// chunks, so a huge answer costs the server nothing).
fn huge_manager(items: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let head = b"{\"ID\":7,\"name\":\"huge\",\"items\":[\"1.2.3.4\"";
            let item = b",\"1.2.3.4\"";
            let rest = items.saturating_sub(1);
            let length = head.len() + item.len() * rest + 2;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head);
            let chunk: Vec<u8> = item.repeat(100_000);
            let mut sent = 0;
            while sent < rest {
                let n = (rest - sent).min(100_000);
                if stream.write_all(&chunk[..n * item.len()]).is_err() {
                    break;
                }
                sent += n;
            }
            let _ = stream.write_all(b"]}");
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_reply_of_ten_million_items_is_refused_fast_and_small() {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    // 10 million items: past the HTTP cap (40 MB); 1 million: under it, past the reply cap
    // (16 MB) is not reached either, so the item count refuses it.
    for (items, expected) in [
        (10_000_000, "larger than 40 MB"),
        (
            1_000_000,
            "1000000 items for IP list `7`; GuardDuty takes at most 250,000",
        ),
    ] {
        refused(&emulator, items, expected);
    }
}

fn refused(emulator: &Emulator, items: usize, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = huge_manager(items);
    std::fs::write(
        dir.path().join("guardform.yaml"),
        format!(
            "version: 1\norganization: {{ delegated_admin: \"222222222222\" }}\naccounts: {{ include: {{ all: true }} }}\nregions: {{ include: [eu-west-1] }}\nstorage: {{ bucket: \"s3://acme-guardduty-lists/guardform\" }}\nip_lists:\n  - name: ds-blocklist\n    kind: threat\n    source:\n      deep_security: {{ url: \"{url}\", ip_list: 7, api_key_env: DS_API_KEY }}\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_guardform"))
        .arg("plan")
        .current_dir(dir.path())
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("DS_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Exit status: 1"), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    let rss = common::peak_rss_mib(&stderr);
    assert!(rss < 300.0, "peak RSS {rss:.0} MiB");
    assert!(seconds < 5.0, "took {seconds:.1} s");
    assert!(!stderr.contains(KEY), "the key was printed");
}
