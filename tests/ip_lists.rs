//! Trusted and threat IP lists end to end against the emulator: every source, content changes,
//! safety refusals, ownership, drift and `sync ip-lists`.

mod common;

use common::{Emulator, Run};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

const PY: &str = r#"
import boto3, os, json
E = os.environ["ENDPOINT"]
def client(service, account, region="eu-west-1"):
    creds = {}
    if account != "123456789012":
        sts = boto3.client("sts", endpoint_url=E, region_name="us-east-1")
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="oob")["Credentials"]
        creds = dict(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    return boto3.client(service, endpoint_url=E, region_name=region, **creds)
def detector(account="222222222222", region="eu-west-1"):
    return client("guardduty", account, region).list_detectors()["DetectorIds"][0]
def sets(region="eu-west-1"):
    g = client("guardduty", "222222222222", region)
    d = detector("222222222222", region)
    out = {}
    for i in g.list_ip_sets(DetectorId=d)["IpSetIds"]:
        s = g.get_ip_set(DetectorId=d, IpSetId=i); out[s["Name"]] = s
    for i in g.list_threat_intel_sets(DetectorId=d)["ThreatIntelSetIds"]:
        s = g.get_threat_intel_set(DetectorId=d, ThreatIntelSetId=i); out[s["Name"]] = s
    return out
def content(location):
    bucket, key = location.split("amazonaws.com/", 1)[1].split("/", 1)
    return client("s3", "222222222222", "us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
"#;

const HEAD: &str = r#"version: 1
organization: { delegated_admin: "222222222222" }
accounts: { include: { all: true } }
regions: { include: [eu-west-1, us-east-1] }
storage: { bucket: "s3://acme-guardduty-lists/guardform" }
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn setup(lists: &str) -> (Emulator, tempfile::TempDir) {
    let emulator = Emulator::start();
    emulator.seed(&["--accounts", "3"]);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "guardform.yaml",
        &format!("{HEAD}ip_lists:\n{lists}"),
    );
    (emulator, dir)
}

/// A plain-HTTP server on loopback serving `body` (shared, so tests can change it).
fn serve(body: Arc<Mutex<String>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let text = body.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    format!("http://127.0.0.1:{}/feed.txt", address.port())
}

fn lines<'a>(run: &'a Run, prefix: &str) -> Vec<&'a str> {
    run.stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(prefix))
        .collect()
}

#[test]
fn lists_from_inline_file_url_and_s3_are_uploaded_activated_and_converge() {
    let feed = Arc::new(Mutex::new(
        "# vendor feed\n198.51.100.0/24\n203.0.113.9 # scanner\n".to_string(),
    ));
    let url = serve(feed.clone());
    let lists = format!(
        "  - name: office-egress\n    kind: trusted\n    source: {{ inline: [\"203.0.113.0/24\", \"198.51.100.7\", \"10.1.2.3\"] }}\n  - name: file-feed\n    kind: threat\n    source: {{ file: lists/bad.txt }}\n  - name: url-feed\n    kind: threat\n    source: {{ url: \"{url}\" }}\n  - name: s3-feed\n    kind: threat\n    source: {{ s3: \"s3://intel-drop/feeds/s3-feed.txt\" }}\n"
    );
    let (emulator, dir) = setup(&lists);
    std::fs::create_dir(dir.path().join("lists")).unwrap();
    write(
        dir.path(),
        "lists/bad.txt",
        "192.0.2.10 - 192.0.2.20\n2001:db8::/48\nnot-an-ip\n",
    );
    emulator.boto3(&format!(
        "{PY}\ns3 = client('s3', '222222222222', 'us-east-1')\ns3.create_bucket(Bucket='intel-drop')\ns3.put_object(Bucket='intel-drop', Key='feeds/s3-feed.txt', Body=b'8.8.8.8\\n8.8.4.4\\n')"
    ));

    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(plan.stdout.contains("Note: IP list `file-feed`: line 3 of file lists/bad.txt rejected: `not-an-ip`: not an IP address, CIDR or range"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("dropped 1 private or non-routable entry"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("+ s3.bucket[acme-guardduty-lists]"),
        "{}",
        plan.stdout
    );
    assert_eq!(lines(&plan, "+ s3.object[").len(), 4, "{}", plan.stdout);
    assert_eq!(lines(&plan, "+ guardduty.ipset[").len(), 2);
    assert_eq!(lines(&plan, "+ guardduty.threat_intel_set[").len(), 6);

    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);

    let out = emulator.boto3(&format!(
        "{PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    s = sets(region)\n    print(region, sorted((n, v['Status'], v['Tags'].get('guardform:managed')) for n, v in s.items()))\nprint(repr(content(sets()['office-egress']['Location'])))\nprint(repr(content(sets()['url-feed']['Location'])))\nprint(repr(content(sets()['s3-feed']['Location'])))\nb = client('s3', '222222222222', 'us-east-1')\nprint(b.get_public_access_block(Bucket='acme-guardduty-lists')['PublicAccessBlockConfiguration']['BlockPublicPolicy'])"
    ));
    let out: Vec<&str> = out.lines().collect();
    assert_eq!(
        out[0],
        "eu-west-1 [('file-feed', 'ACTIVE', 'true'), ('office-egress', 'ACTIVE', 'true'), ('s3-feed', 'ACTIVE', 'true'), ('url-feed', 'ACTIVE', 'true')]"
    );
    assert!(out[1].starts_with("us-east-1 [('file-feed', 'ACTIVE'"));
    assert_eq!(out[2], "'198.51.100.7\\n203.0.113.0/24\\n'");
    assert_eq!(out[3], "'198.51.100.0/24\\n203.0.113.9\\n'");
    assert_eq!(out[4], "'8.8.4.4\\n8.8.8.8\\n'");
    assert_eq!(out[5], "True");

    // New content at the URL: the plan shows the entry diff, apply points the sets at a new
    // object, and the next plan is clean.
    *feed.lock().unwrap() = "198.51.100.0/24\n192.0.2.99\n".to_string();
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("entries: +1 −1\n        +192.0.2.99\n        -203.0.113.9"),
        "{}",
        plan.stdout
    );
    // The previous file goes in the same apply, once both sets point at the new one.
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 2 to change, 1 to destroy.")
            && plan
                .stdout
                .contains("(an earlier version of list `url-feed`, no longer used)"),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let now = emulator.boto3(&format!(
        "{PY}\ns = sets()['url-feed']\nprint(s['Status'], repr(content(s['Location'])))"
    ));
    assert_eq!(now.trim(), "ACTIVE '192.0.2.99\\n198.51.100.0/24\\n'");
}

#[test]
fn broad_and_oversized_trusted_lists_are_refused_before_anything_changes() {
    let (emulator, dir) =
        setup("  - name: office\n    kind: trusted\n    source: { inline: [\"0.0.0.0/0\"] }\n");
    let run = emulator.guardform(dir.path(), &["plan"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("IP list `office` (inline) is refused: trusted entries broader than /8"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("allow_broad: true"), "{}", run.stderr);

    let many: String = (0..2001u32)
        .map(|i| format!("{}\n", std::net::Ipv4Addr::from(0x0808_0000 + i * 2)))
        .collect();
    write(dir.path(), "many.txt", &many);
    write(
        dir.path(),
        "guardform.yaml",
        &format!(
            "{HEAD}ip_lists:\n  - name: office\n    kind: trusted\n    source: {{ file: many.txt }}\n"
        ),
    );
    let run = emulator.guardform(dir.path(), &["apply", "--auto-approve"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("2001 entries after normalisation; GuardDuty accepts at most 2000"),
        "{}",
        run.stderr
    );
    let admins = emulator.boto3(&format!("{PY}\nprint(client('guardduty', '123456789012').list_organization_admin_accounts()['AdminAccounts'])"));
    assert_eq!(
        admins.trim(),
        "[]",
        "a refused list must stop the whole apply before it changes anything"
    );

    // The same entries as a threat list are fine (limit 250,000).
    write(
        dir.path(),
        "guardform.yaml",
        &format!(
            "{HEAD}ip_lists:\n  - name: office\n    kind: threat\n    source: {{ file: many.txt }}\n"
        ),
    );
    emulator.guardform(dir.path(), &["plan"]).expect_code(0);

    // A 50 MB file (a hostile pull request, or a wrong path) is refused before it is read.
    let huge = std::fs::File::create(dir.path().join("huge.txt")).unwrap();
    huge.set_len(50 * 1024 * 1024).unwrap();
    write(
        dir.path(),
        "guardform.yaml",
        &format!(
            "{HEAD}ip_lists:\n  - name: office\n    kind: threat\n    source: {{ file: huge.txt }}\n"
        ),
    );
    let started = std::time::Instant::now();
    let run = emulator.guardform(dir.path(), &["plan"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("52428800 bytes; GuardDuty accepts list files of at most 35 MB"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed().as_secs_f64() < 5.0);
}

#[test]
fn a_same_named_set_guardform_does_not_own_is_left_alone_unless_adopted() {
    let (emulator, dir) = setup(
        "  - name: office-egress\n    kind: trusted\n    source: { inline: [\"203.0.113.0/24\"] }\n",
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // Someone else's set of the same name in us-east-1 (guardform's was removed out of band).
    emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222', 'us-east-1')\nd = detector('222222222222', 'us-east-1')\nfor i in g.list_ip_sets(DetectorId=d)['IpSetIds']:\n    g.delete_ip_set(DetectorId=d, IpSetId=i)\ns3 = client('s3', '222222222222', 'us-east-1')\ns3.put_object(Bucket='acme-guardduty-lists', Key='theirs.txt', Body=b'192.0.2.1\\n')\ng.create_ip_set(DetectorId=d, Name='office-egress', Format='TXT', Location='https://s3.amazonaws.com/acme-guardduty-lists/theirs.txt', Activate=True)"
    ));
    let run = emulator.guardform(dir.path(), &["plan"]);
    run.expect_code(1);
    assert!(run.stderr.contains("IP list `office-egress`: 222222222222/us-east-1 already has a GuardDuty IPSet named `office-egress` that guardform does not own"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: set `adopt: true`"),
        "{}",
        run.stderr
    );
    let theirs = emulator.boto3(&format!(
        "{PY}\nprint(sets('us-east-1')['office-egress']['Location'])"
    ));
    assert!(
        theirs.trim().ends_with("/theirs.txt"),
        "left alone: {theirs}"
    );

    write(
        dir.path(),
        "guardform.yaml",
        &format!(
            "{HEAD}ip_lists:\n  - name: office-egress\n    kind: trusted\n    adopt: true\n    source: {{ inline: [\"203.0.113.0/24\"] }}\n"
        ),
    );
    let plan = emulator.guardform(dir.path(), &["plan"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("adopting the existing set"),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

#[test]
fn drift_edit_in_place_deactivation_and_removal() {
    let (emulator, dir) = setup(
        "  - name: blocklist\n    kind: threat\n    source: { inline: [\"198.51.100.0/24\"] }\n",
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // Someone edits the list file in place and deactivates the set in eu-west-1.
    emulator.boto3(&format!(
        "{PY}\ns = sets()['blocklist']\nbucket, key = s['Location'].split('amazonaws.com/', 1)[1].split('/', 1)\nclient('s3', '222222222222', 'us-east-1').put_object(Bucket=bucket, Key=key, Body=b'8.8.8.8\\n')\ng = client('guardduty', '222222222222')\ng.update_threat_intel_set(DetectorId=detector(), ThreatIntelSetId=g.list_threat_intel_sets(DetectorId=detector())['ThreatIntelSetIds'][0], Activate=False)"
    ));
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("(the object was changed outside guardform: upload the list again)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("entries: +1 −1\n        -8.8.8.8\n        +198.51.100.0/24"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ status         = \"DEACTIVATING\" -> \"ACTIVE\""),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);

    // The list leaves the manifest: removing its sets is destructive.
    write(dir.path(), "guardform.yaml", HEAD);
    let plan = emulator.guardform(dir.path(), &["plan"]);
    assert_eq!(
        lines(&plan, "- guardduty.threat_intel_set[").len(),
        2,
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(1);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve", "--allow-destroy"])
        .expect_code(0);
    let left = emulator.boto3(&format!("{PY}\nprint(len(sets()), len(sets('us-east-1')))"));
    assert_eq!(left.trim(), "0 0");
}

#[test]
fn sync_ip_lists_touches_only_lists() {
    let (emulator, dir) = setup(
        "  - name: one\n    kind: threat\n    source: { inline: [\"198.51.100.1\"] }\n  - name: two\n    kind: threat\n    source: { inline: [\"198.51.100.2\"] }\n",
    );
    // Before GuardDuty is set up, sync refuses and says why.
    let run = emulator.guardform(dir.path(), &["sync", "ip-lists", "--auto-approve"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("run `guardform apply` first"),
        "{}",
        run.stderr
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);

    // Change both lists and the detector settings; sync --only one touches list `one` only.
    write(
        dir.path(),
        "guardform.yaml",
        &format!(
            "{HEAD}detector: {{ finding_publishing_frequency: ONE_HOUR }}\nip_lists:\n  - name: one\n    kind: threat\n    source: {{ inline: [\"198.51.100.11\"] }}\n  - name: two\n    kind: threat\n    source: {{ inline: [\"198.51.100.22\"] }}\n"
        ),
    );
    let run = emulator.guardform(
        dir.path(),
        &["sync", "ip-lists", "--only", "one", "--auto-approve"],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 1 added, 2 changed, 1 destroyed."),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("guardduty.detector"), "{}", run.stdout);
    let plan = emulator.guardform(dir.path(), &["plan"]);
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 4 to change, 1 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("/one]"), "{}", plan.stdout);
    // For scheduled jobs: 2 when changes were made, 0 when the lists were already in line.
    let run = emulator.guardform(
        dir.path(),
        &["sync", "ip-lists", "--auto-approve", "--detailed-exitcode"],
    );
    run.expect_code(2);
    let run = emulator.guardform(
        dir.path(),
        &["sync", "ip-lists", "--auto-approve", "--detailed-exitcode"],
    );
    run.expect_code(0);
    let run = emulator.guardform(dir.path(), &["sync", "ip-lists", "--only", "nope"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("--only nope: the manifest has no IP list of that name (it has: one, two)"),
        "{}",
        run.stderr
    );
}

#[test]
fn guardduty_limits_count_sets_guardform_does_not_own() {
    let (emulator, dir) = setup(
        "  - name: office\n    kind: trusted\n    source: { inline: [\"203.0.113.0/24\"] }\n",
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    // Someone else's trusted list under another name takes the Region's only IPSet slot.
    emulator.boto3(&format!(
        "{PY}\ng = client('guardduty', '222222222222', 'us-east-1')\nd = detector('222222222222', 'us-east-1')\nfor i in g.list_ip_sets(DetectorId=d)['IpSetIds']:\n    g.delete_ip_set(DetectorId=d, IpSetId=i)\nclient('s3', '222222222222', 'us-east-1').put_object(Bucket='acme-guardduty-lists', Key='legacy.txt', Body=b'192.0.2.1\\n')\ng.create_ip_set(DetectorId=d, Name='legacy', Format='TXT', Location='https://s3.amazonaws.com/acme-guardduty-lists/legacy.txt', Activate=True)"
    ));
    let run = emulator.guardform(dir.path(), &["plan"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("222222222222/us-east-1: GuardDuty allows 1 trusted IP list (IPSet) per account and Region; 1 not managed by guardform already exist(s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bucket_setting_that_cannot_be_read_is_an_error_not_drift() {
    let (emulator, dir) =
        setup("  - { name: office, kind: trusted, source: { inline: [\"203.0.113.9\"] } }\n");
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    for (operation, read) in [
        (
            "GetPublicAccessBlock",
            "reading the public access block of bucket acme-guardduty-lists",
        ),
        (
            "GetBucketEncryption",
            "reading the encryption of bucket acme-guardduty-lists",
        ),
    ] {
        let rules = format!(
            "  - {{ service: s3, operation: {operation}, error: {{ code: AccessDenied, message: \"Access Denied\", status: 403 }} }}\n"
        );
        let proxy = common::Microburst::start(&emulator.endpoint, &rules);
        let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
        let plan = common::run_guardform(dir.path(), &["plan", "--detailed-exitcode"], &env);
        plan.expect_code(1);
        assert!(
            plan.stderr.contains(read) && plan.stderr.contains("AccessDenied"),
            "{operation}: {}",
            plan.stderr
        );
        assert!(
            !plan.stdout.contains("s3.bucket["),
            "{operation}: a read that failed is not a change: {}",
            plan.stdout
        );
    }
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
}

const ENTITY_PY: &str = r#"
def entity_sets(kind, region="eu-west-1"):
    g = client("guardduty", "222222222222", region)
    d = detector("222222222222", region)
    ids = getattr(g, f"list_{kind}_entity_sets")(DetectorId=d)[f"{kind.capitalize()}EntitySetIds"]
    return {s["Name"]: s for s in (getattr(g, f"get_{kind}_entity_set")(DetectorId=d, **{f"{kind.capitalize()}EntitySetId": i}) for i in ids)}
"#;

#[test]
fn entity_lists_take_domains_and_moving_a_list_from_an_ip_set_is_a_replacement() {
    let office = |kind: &str| {
        format!(
            "  - name: office\n    kind: {kind}\n    source: {{ inline: [\"203.0.113.0/24\"] }}\n"
        )
    };
    let domains = "  - name: bad-domains\n    kind: threat_entities\n    source: { inline: [\"Evil.Example.\", \"*.phish.example\", \"bücher.example\", \"198.51.100.7\", \"bad_label.example\"] }\n";
    let (emulator, dir) = setup(&format!("{}{domains}", office("trusted")));
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(
        plan.stdout
            .contains("+ guardduty.threat_entity_set[222222222222/eu-west-1/bad-domains]"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("`bad_label.example`: `_` is not allowed in a host name"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("+ expected_bucket_owner  = \"222222222222\""),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let out = emulator.boto3(&format!(
        "{PY}{ENTITY_PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    s = entity_sets('threat', region)['bad-domains']\n    print(s['Status'], s['ExpectedBucketOwner'], s['Tags']['guardform:list'], repr(content(s['Location'])))"
    ));
    let expected = "ACTIVE 222222222222 bad-domains '198.51.100.7\\n*.phish.example\\nevil.example\\nxn--bcher-kva.example\\n'";
    assert_eq!(out.trim(), format!("{expected}\n{expected}"));

    // `office` becomes an entity list: one replacement per Region (the new set first, then the
    // old one), which needs --allow-destroy like any other.
    write(
        dir.path(),
        "guardform.yaml",
        &format!("{HEAD}ip_lists:\n{}{domains}", office("trusted_entities")),
    );
    let plan = emulator.guardform(dir.path(), &["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert_eq!(
        lines(&plan, "-/+ guardduty.trusted_entity_set[").len(),
        2,
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("(list `office` moves from an IPSet to a TrustedEntitySet"),
        "{}",
        plan.stdout
    );
    assert!(
        lines(&plan, "- guardduty.ipset[").is_empty(),
        "{}",
        plan.stdout
    );
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve"])
        .expect_code(1);
    emulator
        .guardform(dir.path(), &["apply", "--auto-approve", "--allow-destroy"])
        .expect_code(0);
    emulator
        .guardform(dir.path(), &["plan", "--detailed-exitcode"])
        .expect_code(0);
    let out = emulator.boto3(&format!(
        "{PY}{ENTITY_PY}\nfor region in ['eu-west-1', 'us-east-1']:\n    print(region, sorted(sets(region)), {{n: s['Status'] for n, s in entity_sets('trusted', region).items()}})"
    ));
    assert_eq!(
        out.trim(),
        "eu-west-1 [] {'office': 'ACTIVE'}\nus-east-1 [] {'office': 'ACTIVE'}"
    );
}
