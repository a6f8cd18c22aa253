//! `guardform schema`, checked for real: a standard validator (check-jsonschema, pinned in
//! tests/emulator/requirements.txt) judges every example and bad manifest, and one manifest
//! per rule of `guardform validate`, with the printed schema, and must judge them as
//! `guardform validate` does. What a schema cannot see (one field's value compared with
//! another's, names unique across a list, files that must exist) is listed in [`UNSEEN`] and
//! [`unseen_cases`], with the reason, and the schema must accept exactly those.

mod common;

use common::{python, root, run_guardform};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The least manifest `validate` accepts; cases add to it or change it.
const MINIMAL: &str = "version: 1\norganization:\n  delegated_admin: \"222222222222\"\naccounts:\n  include: { all: true }\nregions:\n  include: [eu-west-1]\n";

/// Bad fixtures whose every problem is beyond JSON Schema, and why: the schema accepts them.
const UNSEEN: &[(&str, &str)] = &[(
    "admin-excluded.yaml",
    "the delegated administrator is excluded: `accounts.exclude.ids` holds the value of `organization.delegated_admin`",
)];

/// How both must judge a manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Valid,
    Invalid,
    /// `validate` rejects it for a reason a JSON Schema cannot state: the schema accepts it.
    Unseen(&'static str),
}

/// MINIMAL with `extra` appended (sections after the core).
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// MINIMAL with `from` replaced by `to` (which must occur).
fn changed(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "`{from}` is not in MINIMAL");
    MINIMAL.replace(from, to)
}

/// A filter with these criteria (and other keys).
fn filter(criteria: &str) -> String {
    with(&format!(
        "filters:\n  - name: a-filter\n    criteria: {criteria}\n"
    ))
}

/// An IP list entry, with storage.
fn ip_list(entry: &str) -> String {
    with(&format!(
        "storage: {{ bucket: \"s3://lists-bucket/prefix\" }}\nip_lists:\n  - {entry}\n"
    ))
}

/// A response entry.
fn response(entry: &str) -> String {
    with(&format!("responses:\n  - {entry}\n"))
}

/// A `malware_protection_s3` entry.
fn malware(entry: &str) -> String {
    with(&format!("malware_protection_s3:\n  - {entry}\n"))
}

/// An `export:` section.
fn export(body: &str) -> String {
    with(&format!("export: {body}\n"))
}

const BUCKET: &str = "bucket: { account: \"333333333333\", name: findings-bucket }";
const KEY: &str = "kms_key: { account: \"222222222222\", alias: guardform-findings }";

/// Manifests both must accept: every optional key, the forms each value may take.
fn valid_cases() -> Vec<(&'static str, String)> {
    let long_filter = (0..50)
        .map(|i| format!("v{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("version-quoted", changed("version: 1", "version: \"1\"")),
        (
            "account-id-unquoted",
            changed("\"222222222222\"", "222222222222"),
        ),
        (
            "organization-every-key",
            changed(
                "  delegated_admin: \"222222222222\"\n",
                "  delegated_admin: \"222222222222\"\n  management_account: \"111111111111\"\n  member_role: Guard+form=,.@_-Role\n  account_roles: { \"333333333333\": \"arn:aws:iam::333333333333:role/Admin\", 444444444444: \"arn:aws-us-gov:iam::444444444444:role/x/y\" }\n  auto_enable: NONE\n",
            ),
        ),
        (
            "auto-enable-per-feature",
            changed(
                "  delegated_admin: \"222222222222\"\n",
                "  delegated_admin: \"222222222222\"\n  auto_enable:\n    default: ALL\n    S3_DATA_EVENTS: NONE\n    EKS_RUNTIME_MONITORING: { auto_enable: NEW, additional: { EKS_ADDON_MANAGEMENT: NONE } }\n    LAMBDA_NETWORK_LOGS: { auto_enable: NEW, additional: ~ }\n",
            ),
        ),
        (
            "account-selectors",
            changed(
                "  include: { all: true }\n",
                "  include: { all: false, ids: [\"333333333333\", 444444444444], ous: [ou-ab12-34cd5678, Workloads/Prod, 2024], tags: { env: prod, tier: 1 } }\n  exclude: { ids: [\"555555555555\"], ous: [Sandbox], tags: { guardduty: opt-out } }\n",
            ),
        ),
        (
            "selector-tags-only",
            changed("{ all: true }", "{ tags: { env: prod } }\n  exclude: ~"),
        ),
        (
            "regions-all-enabled",
            changed(
                "include: [eu-west-1]",
                "include: all-enabled\n  exclude: [ap-east-1, us-gov-west-1]",
            ),
        ),
        (
            "regions-unknown-and-twice",
            changed(
                "[eu-west-1]",
                "[eu-west-1, eu-west-1, xx-north-7, cn-north-1]\n  exclude: ~",
            ),
        ),
        (
            "empty-optional-sections",
            with(
                "detector:\nprofiles:\nassign:\nfilters:\nmalware_protection_s3:\nip_lists:\nresponses:\n",
            ),
        ),
        (
            "detector-every-key",
            with(
                "detector:\n  finding_publishing_frequency: SIX_HOURS\n  features:\n    S3_DATA_EVENTS: enabled\n    EKS_AUDIT_LOGS: disabled\n    RUNTIME_MONITORING: { status: enabled, additional: { EC2_AGENT_MANAGEMENT: disabled } }\n    LAMBDA_NETWORK_LOGS: { status: disabled, additional: ~ }\n    EBS_MALWARE_PROTECTION: { status: enabled, additional: {} }\n  tags: { owner: security, cost-center: 4711, Guardform: yes }\n  malware_scan: { keep_snapshots: with_finding, include_tags: { scan: \"\" }, exclude_tags: {} }\n",
            ),
        ),
        (
            "detector-empty-values",
            with("detector:\n  features: ~\n  tags: ~\n  malware_scan: ~\n"),
        ),
        (
            "profiles-and-assign",
            with(
                "profiles:\n  dev_1:\n    features: { RUNTIME_MONITORING: disabled }\n    regions: { exclude: [eu-west-1] }\n  empty: ~\n  regions-only: { regions: ~, features: ~ }\nassign:\n  - { profile: dev_1, ous: [Workloads/Dev] }\n  - { profile: empty, accounts: [\"333333333333\", 444444444444], ous: ~ }\n",
            ),
        ),
        (
            "filters-every-form",
            with(&format!(
                "filters:\n  - name: every.form_1\n    description: 4711\n    action: noop\n    adopt: true\n    allow_broad: false\n    criteria:\n      type: {{ equals: Recon:EC2/Portscan, not_equals: [a, 1, true], matches: [\"*\"] }}\n      accountId: {{ equals: [\"333333333333\", 444444444444] }}\n      region: {{ not_equals: eu-west-1 }}\n      severity: {{ gte: 7, lt: \"9\", equals: [8.5, \"4\"] }}\n      service.archived: {{ equals: [false, \"true\"] }}\n      updatedAt: {{ gte: \"2026-01-01T00:00:00Z\", lt: 1767225600000, equals: [\"1767225600000\"] }}\n      id: {{ equals: [{long_filter}] }}\n  - name: broad-on-purpose\n    action: archive\n    allow_broad: true\n    criteria: {{ severity: {{ lt: 4 }} }}\n  - name: archive-named\n    action: archive\n    criteria: {{ severity: {{ lt: 4 }}, type: {{ equals: [x] }} }}\n"
            )),
        ),
        (
            "export-alias",
            export(
                "{ bucket: { account: 333333333333, name: a.b-c, prefix: guardduty/findings }, kms_key: { account: \"222222222222\", alias: alias/team/findings }, region: eu-west-1, adopt: true }",
            ),
        ),
        (
            "export-arn",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ arn: \"arn:aws:kms:eu-west-1:222222222222:key/1234abcd\" }}, region: eu-west-1 }}"
            )),
        ),
        (
            "malware-s3",
            with(
                "malware_protection_s3:\n  - { account: \"400000000001\", bucket: uploads-001, region: eu-west-1, prefixes: [a/, b, c, d, e], tag_objects: false }\n  - { account: 400000000001, bucket: uploads-002, prefixes: ~ }\n",
            ),
        ),
        (
            "ip-lists-every-source",
            with(
                "storage: { bucket: \"s3://lists-bucket\", region: eu-west-1 }\nip_lists:\n  - { name: office egress_1, kind: trusted, allow_broad: true, adopt: true, source: { inline: [\"203.0.113.0/26\", 10] } }\n  - { name: feed, kind: threat, format: STIX, source: { url: \"https://feeds.example.com/stix.xml\" } }\n  - { name: local, kind: threat, format: OTX_CSV, source: { url: \"http://127.0.0.1:8080/x\" } }\n  - { name: s3, kind: threat, format: TXT, source: { s3: \"s3://other-bucket/lists/x.txt\" } }\n  - { name: ds, kind: threat_entities, source: { deep_security: { url: \"https://dsm.example.com:4119\", ip_list: 17, api_key_env: DS_API_KEY, ca_file: ca.pem, auth_header: authorization } } }\n  - { name: partners, kind: trusted_entities, source: { inline: [\"*.partner.example\"] } }\n",
            ),
        ),
        ("ip-lists-empty-without-storage", with("ip_lists: []\n")),
        (
            "responses-every-key",
            with(
                "responses:\n  - name: to-bus\n    when: { severity: { min: 4.5, max: 8 }, types: [\"Recon:EC2/*\", \"Backdoor:*\", \"Trojan:EC2/DNSDataExfiltration\"], resource_types: [Instance, S3Bucket] }\n    send_to: { event_bus: \"arn:aws:events:us-east-1:999999999999:event-bus/central\" }\n    dlq: \"arn:aws:sqs:eu-west-1:222222222222:dlq\"\n    retry: { maximum_attempts: 0, maximum_event_age: 86400 }\n  - name: notify_2\n    when: { labels: [LOW, CRITICAL] }\n    run: { bundle: slack-notify, env: { MIN_SEVERITY: 7 }, secrets: { SLACK_WEBHOOK_URL: \"arn:aws:secretsmanager:us-east-1:222222222222:secret:hook-AbCdEf\" }, timeout: 900, memory: 10240 }\n  - name: every-finding\n    when: ~\n    send_to: { sns: \"arn:aws:sns:${region}:222222222222:soc\" }\n    retry: ~\n",
            ),
        ),
    ]
}

/// Manifests both must reject, each for one rule of `validate`.
fn invalid_cases() -> Vec<(&'static str, String)> {
    let tags = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}: v"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lists = |kind: &str, n: usize| {
        (0..n)
            .map(|i| format!("{{ name: t{i}, kind: {kind}, source: {{ file: t.txt }} }}"))
            .collect::<Vec<_>>()
            .join("\n  - ")
    };
    let many = |n: usize, item: &dyn Fn(usize) -> String| (0..n).map(item).collect::<String>();
    vec![
        // The core.
        ("version-2", changed("version: 1", "version: 2")),
        ("version-missing", changed("version: 1\n", "")),
        (
            "organization-null",
            changed(
                "organization:\n  delegated_admin: \"222222222222\"",
                "organization:",
            ),
        ),
        ("unknown-top-level-key", with("detectors: {}\n")),
        (
            "unknown-key-organization",
            changed("  delegated_admin", "  admin: x\n  delegated_admin"),
        ),
        (
            "unknown-key-accounts",
            changed(
                "  include: { all: true }",
                "  include: { all: true }\n  exclud: {}",
            ),
        ),
        (
            "unknown-key-include",
            changed("{ all: true }", "{ all: true, id: [] }"),
        ),
        (
            "exclude-has-no-all",
            changed("{ all: true }", "{ all: true }\n  exclude: { all: true }"),
        ),
        (
            "unknown-key-regions",
            changed("include: [eu-west-1]", "include: [eu-west-1]\n  skip: []"),
        ),
        (
            "account-id-11-digits",
            changed("\"222222222222\"", "\"22222222222\""),
        ),
        (
            "account-id-unquoted-11-digits",
            changed("\"222222222222\"", "22222222222"),
        ),
        (
            "account-id-letters",
            changed("\"222222222222\"", "\"22222222222a\""),
        ),
        (
            "account-id-list",
            changed("\"222222222222\"", "[\"222222222222\"]"),
        ),
        (
            "delegated-admin-missing",
            changed(
                "  delegated_admin: \"222222222222\"",
                "  member_role: Admin",
            ),
        ),
        (
            "member-role-arn",
            changed(
                "  delegated_admin",
                "  member_role: arn:aws:iam::222222222222:role/Admin\n  delegated_admin",
            ),
        ),
        (
            "account-roles-key",
            changed(
                "  delegated_admin",
                "  account_roles: { \"3333\": \"arn:aws:iam::3333:role/A\" }\n  delegated_admin",
            ),
        ),
        (
            "account-roles-value",
            changed(
                "  delegated_admin",
                "  account_roles: { \"333333333333\": Admin }\n  delegated_admin",
            ),
        ),
        (
            "account-roles-list",
            changed(
                "  delegated_admin",
                "  account_roles: [a]\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-word",
            changed(
                "  delegated_admin",
                "  auto_enable: SOME\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-bool",
            changed(
                "  delegated_admin",
                "  auto_enable: true\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-unknown-feature",
            changed(
                "  delegated_admin",
                "  auto_enable: { default: NEW, EKS_AUDIT_LOG: ALL }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-default-word",
            changed(
                "  delegated_admin",
                "  auto_enable: { default: SOME }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-unknown-additional",
            changed(
                "  delegated_admin",
                "  auto_enable: { RUNTIME_MONITORING: { auto_enable: NEW, additional: { EC2_AGENT: NONE } } }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-additional-of-none",
            changed(
                "  delegated_admin",
                "  auto_enable: { S3_DATA_EVENTS: { auto_enable: NEW, additional: { EKS_ADDON_MANAGEMENT: NONE } } }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-feature-no-auto-enable",
            changed(
                "  delegated_admin",
                "  auto_enable: { S3_DATA_EVENTS: { additional: {} } }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-unknown-key",
            changed(
                "  delegated_admin",
                "  auto_enable: { S3_DATA_EVENTS: { auto_enable: NEW, status: x } }\n  delegated_admin",
            ),
        ),
        (
            "auto-enable-both-runtimes",
            changed(
                "  delegated_admin",
                "  auto_enable: { RUNTIME_MONITORING: NEW, EKS_RUNTIME_MONITORING: NONE }\n  delegated_admin",
            ),
        ),
        ("include-empty", changed("{ all: true }", "{}")),
        ("include-null", changed("{ all: true }", "~")),
        (
            "include-all-false",
            changed("{ all: true }", "{ all: false }"),
        ),
        (
            "include-empty-lists",
            changed("{ all: true }", "{ ids: [], ous: [], tags: {} }"),
        ),
        ("include-all-yes", changed("{ all: true }", "{ all: yes }")),
        (
            "include-ids-scalar",
            changed("{ all: true }", "{ ids: \"333333333333\" }"),
        ),
        (
            "include-ou-empty",
            changed("{ all: true }", "{ ous: [\" \"] }"),
        ),
        (
            "exclude-bad-id",
            changed(
                "{ all: true }",
                "{ all: true }\n  exclude: { ids: [\"1\"] }",
            ),
        ),
        (
            "tag-key-aws",
            changed("{ all: true }", "{ tags: { \"aws:env\": prod } }"),
        ),
        (
            "tag-key-empty",
            changed("{ all: true }", "{ tags: { \"\": prod } }"),
        ),
        (
            "tag-value-too-long",
            changed(
                "{ all: true }",
                &format!("{{ tags: {{ env: {} }} }}", "x".repeat(257)),
            ),
        ),
        (
            "tag-value-list",
            changed("{ all: true }", "{ tags: { env: [a] } }"),
        ),
        ("regions-empty", changed("[eu-west-1]", "[]")),
        (
            "regions-null",
            changed("  include: [eu-west-1]\n", "  include: ~\n"),
        ),
        ("regions-scalar", changed("[eu-west-1]", "eu-west-1")),
        (
            "regions-all-enabled-typo",
            changed("[eu-west-1]", "all_enabled"),
        ),
        ("region-shape", changed("[eu-west-1]", "[eu-west]")),
        ("region-upper-case", changed("[eu-west-1]", "[EU-WEST-1]")),
        ("region-zone", changed("[eu-west-1]", "[eu-west-1a]")),
        (
            "regions-exclude-bad",
            changed("[eu-west-1]", "[eu-west-1]\n  exclude: [west]"),
        ),
        // detector:
        ("detector-unknown-key", with("detector: { tagz: {} }\n")),
        ("detector-list", with("detector: []\n")),
        (
            "frequency",
            with("detector: { finding_publishing_frequency: HOURLY }\n"),
        ),
        (
            "frequency-number",
            with("detector: { finding_publishing_frequency: 15 }\n"),
        ),
        (
            "feature-unknown",
            with("detector: { features: { EKS_AUDIT_LOG: enabled } }\n"),
        ),
        (
            "feature-status-on",
            with("detector: { features: { S3_DATA_EVENTS: on } }\n"),
        ),
        (
            "feature-status-true",
            with("detector: { features: { S3_DATA_EVENTS: true } }\n"),
        ),
        (
            "feature-status-null",
            with("detector: { features: { S3_DATA_EVENTS: ~ } }\n"),
        ),
        (
            "feature-no-status",
            with("detector: { features: { S3_DATA_EVENTS: { additional: {} } } }\n"),
        ),
        (
            "feature-unknown-key",
            with("detector: { features: { S3_DATA_EVENTS: { status: enabled, auto: x } } }\n"),
        ),
        (
            "feature-unknown-additional",
            with(
                "detector: { features: { RUNTIME_MONITORING: { status: enabled, additional: { EC2_AGENT: enabled } } } }\n",
            ),
        ),
        (
            "feature-additional-status",
            with(
                "detector: { features: { RUNTIME_MONITORING: { status: enabled, additional: { EC2_AGENT_MANAGEMENT: on } } } }\n",
            ),
        ),
        (
            "features-both-runtimes",
            with(
                "detector: { features: { RUNTIME_MONITORING: enabled, EKS_RUNTIME_MONITORING: disabled } }\n",
            ),
        ),
        (
            "features-list",
            with("detector: { features: [S3_DATA_EVENTS] }\n"),
        ),
        (
            "detector-50-tags",
            with(&format!("detector: {{ tags: {{ {} }} }}\n", tags(50))),
        ),
        (
            "detector-guardform-tag",
            with("detector: { tags: { \"guardform:managed\": \"false\" } }\n"),
        ),
        (
            "malware-scan-keep",
            with("detector: { malware_scan: { keep_snapshots: always } }\n"),
        ),
        (
            "malware-scan-both-tags",
            with(
                "detector: { malware_scan: { include_tags: { a: b }, exclude_tags: { c: d } } }\n",
            ),
        ),
        (
            "malware-scan-unknown-key",
            with("detector: { malware_scan: { tags: {} } }\n"),
        ),
        // profiles: and assign:
        ("profile-default", with("profiles: { default: {} }\n")),
        ("profile-name", with("profiles: { \"dev team\": {} }\n")),
        (
            "profile-unknown-key",
            with("profiles: { dev: { detector: {} } }\n"),
        ),
        (
            "profile-feature-unknown",
            with("profiles: { dev: { features: { S3: enabled } } }\n"),
        ),
        (
            "profile-region",
            with("profiles: { dev: { regions: { exclude: [eu] } } }\n"),
        ),
        (
            "profile-regions-unknown-key",
            with("profiles: { dev: { regions: { include: [eu-west-1] } } }\n"),
        ),
        (
            "assign-nothing",
            with("profiles: { dev: {} }\nassign: [{ profile: dev }]\n"),
        ),
        (
            "assign-empty-lists",
            with("profiles: { dev: {} }\nassign: [{ profile: dev, ous: [], accounts: [] }]\n"),
        ),
        (
            "assign-no-profile",
            with("profiles: { dev: {} }\nassign: [{ ous: [Dev] }]\n"),
        ),
        (
            "assign-account",
            with("profiles: { dev: {} }\nassign: [{ profile: dev, accounts: [\"1234\"] }]\n"),
        ),
        (
            "assign-unknown-key",
            with("profiles: { dev: {} }\nassign: [{ profile: dev, ous: [Dev], ou: [x] }]\n"),
        ),
        // filters:
        (
            "filter-name-spaces",
            with("filters:\n  - { name: a b c, criteria: { type: { equals: [x] } } }\n"),
        ),
        (
            "filter-name-short",
            with("filters:\n  - { name: ab, criteria: { type: { equals: [x] } } }\n"),
        ),
        (
            "filter-no-name",
            with("filters:\n  - { criteria: { type: { equals: [x] } } }\n"),
        ),
        (
            "filter-description",
            with(&format!(
                "filters:\n  - {{ name: abc, description: {}, criteria: {{ type: {{ equals: [x] }} }} }}\n",
                "d".repeat(513)
            )),
        ),
        (
            "filter-action",
            with(
                "filters:\n  - { name: abc, action: suppress, criteria: { type: { equals: [x] } } }\n",
            ),
        ),
        (
            "filter-adopt-yes",
            with("filters:\n  - { name: abc, adopt: yes, criteria: { type: { equals: [x] } } }\n"),
        ),
        (
            "filter-unknown-key",
            with("filters:\n  - { name: abc, rank: 1, criteria: { type: { equals: [x] } } }\n"),
        ),
        ("filter-no-criteria", with("filters:\n  - { name: abc }\n")),
        ("filter-criteria-null", filter("~")),
        ("filter-attribute", filter("{ serverity: { gte: 7 } }")),
        ("filter-operator", filter("{ type: { contains: [x] } }")),
        ("filter-no-condition", filter("{ type: {} }")),
        (
            "filter-condition-null",
            filter("{ type: ~, severity: { gte: 7 } }"),
        ),
        ("filter-gt-on-text", filter("{ type: { gt: 3 } }")),
        ("filter-lt-word", filter("{ severity: { lt: high } }")),
        ("filter-gte-fraction", filter("{ severity: { gte: 7.5 } }")),
        ("filter-gte-list", filter("{ severity: { gte: [7] } }")),
        (
            "filter-account",
            filter("{ accountId: { equals: [\"1234\"] } }"),
        ),
        (
            "filter-region",
            filter("{ region: { equals: [eu-west-9x] } }"),
        ),
        (
            "filter-boolean",
            filter("{ service.archived: { equals: [yes] } }"),
        ),
        (
            "filter-number-word",
            filter("{ severity: { equals: [high] } }"),
        ),
        (
            "filter-time-words",
            filter("{ updatedAt: { gte: \"last tuesday\" } }"),
        ),
        ("filter-time-negative", filter("{ updatedAt: { gte: -1 } }")),
        ("filter-text-empty", filter("{ type: { equals: [\"\"] } }")),
        (
            "filter-51-values",
            filter(&format!(
                "{{ type: {{ equals: [{}] }} }}",
                (0..51)
                    .map(|i| format!("v{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
        ("filter-no-values", filter("{ type: { equals: [] } }")),
        (
            "filter-values-mapping",
            filter("{ type: { equals: { a: b } } }"),
        ),
        (
            "filter-archive-broad",
            with(
                "filters:\n  - { name: abc, action: archive, criteria: { severity: { lt: 4 }, region: { equals: [eu-west-1] } } }\n",
            ),
        ),
        (
            "filter-archive-empty",
            with(
                "filters:\n  - { name: abc, action: archive, allow_broad: false, criteria: {} }\n",
            ),
        ),
        (
            "filters-101",
            with(&format!(
                "filters:\n{}",
                many(101, &|i| format!(
                    "  - {{ name: f{i:03}, criteria: {{ type: {{ equals: [x] }} }} }}\n"
                ))
            )),
        ),
        ("filters-mapping", with("filters: { name: abc }\n")),
        // export:
        ("export-null", with("export:\n")),
        ("export-no-key", export(&format!("{{ {BUCKET} }}"))),
        ("export-no-bucket", export(&format!("{{ {KEY} }}"))),
        (
            "export-unknown-key",
            export(&format!("{{ {BUCKET}, {KEY}, owner: x }}")),
        ),
        (
            "export-bucket-unknown-key",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: findings-bucket, owner: x }}, {KEY} }}"
            )),
        ),
        (
            "export-bucket-account",
            export(&format!(
                "{{ bucket: {{ account: \"3333\", name: findings-bucket }}, {KEY} }}"
            )),
        ),
        (
            "export-bucket-name",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: Findings_Bucket }}, {KEY} }}"
            )),
        ),
        (
            "export-bucket-no-name",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\" }}, {KEY} }}"
            )),
        ),
        (
            "export-prefix-slash",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: findings-bucket, prefix: /gd }}, {KEY} }}"
            )),
        ),
        (
            "export-prefix-trailing",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: findings-bucket, prefix: gd/ }}, {KEY} }}"
            )),
        ),
        (
            "export-prefix-double",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: findings-bucket, prefix: a//b }}, {KEY} }}"
            )),
        ),
        (
            "export-prefix-awslogs",
            export(&format!(
                "{{ bucket: {{ account: \"333333333333\", name: findings-bucket, prefix: x/AWSLogs }}, {KEY} }}"
            )),
        ),
        (
            "export-key-both",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ alias: x, arn: \"arn:aws:kms:eu-west-1:222222222222:key/1\" }} }}"
            )),
        ),
        (
            "export-key-arn-and-account",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ account: \"222222222222\", arn: \"arn:aws:kms:eu-west-1:222222222222:key/1\" }} }}"
            )),
        ),
        (
            "export-key-no-alias",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ account: \"222222222222\" }} }}"
            )),
        ),
        (
            "export-key-no-account",
            export(&format!("{{ {BUCKET}, kms_key: {{ alias: x }} }}")),
        ),
        (
            "export-key-alias-aws",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ account: \"222222222222\", alias: alias/aws/guardduty }} }}"
            )),
        ),
        (
            "export-key-alias-only-prefix",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ account: \"222222222222\", alias: alias/ }} }}"
            )),
        ),
        (
            "export-key-alias-chars",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ account: \"222222222222\", alias: \"a b\" }} }}"
            )),
        ),
        (
            "export-key-arn-alias",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ arn: \"arn:aws:kms:eu-west-1:222222222222:alias/x\" }} }}"
            )),
        ),
        (
            "export-key-arn-s3",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ arn: \"arn:aws:s3:::bucket\" }} }}"
            )),
        ),
        (
            "export-region",
            export(&format!("{{ {BUCKET}, {KEY}, region: mars-west }}")),
        ),
        (
            "export-adopt-word",
            export(&format!("{{ {BUCKET}, {KEY}, adopt: yes }}")),
        ),
        // malware_protection_s3:
        (
            "malware-bucket-name",
            malware("{ account: \"400000000001\", bucket: Uploads }"),
        ),
        (
            "malware-no-bucket",
            malware("{ account: \"400000000001\" }"),
        ),
        ("malware-no-account", malware("{ bucket: uploads }")),
        (
            "malware-account",
            malware("{ account: \"4\", bucket: uploads }"),
        ),
        (
            "malware-region",
            malware("{ account: \"400000000001\", bucket: uploads, region: mars }"),
        ),
        (
            "malware-6-prefixes",
            malware("{ account: \"400000000001\", bucket: uploads, prefixes: [a, b, c, d, e, f] }"),
        ),
        (
            "malware-empty-prefix",
            malware("{ account: \"400000000001\", bucket: uploads, prefixes: [\"\"] }"),
        ),
        (
            "malware-long-prefix",
            malware(&format!(
                "{{ account: \"400000000001\", bucket: uploads, prefixes: [{}] }}",
                "p".repeat(1025)
            )),
        ),
        (
            "malware-tag-objects",
            malware("{ account: \"400000000001\", bucket: uploads, tag_objects: \"true\" }"),
        ),
        (
            "malware-unknown-key",
            malware("{ account: \"400000000001\", bucket: uploads, plan: x }"),
        ),
        // ip_lists: and storage:
        (
            "ip-list-name",
            ip_list("{ name: office!, kind: trusted, source: { inline: [\"192.0.2.1\"] } }"),
        ),
        (
            "ip-list-no-name",
            ip_list("{ kind: trusted, source: { inline: [\"192.0.2.1\"] } }"),
        ),
        (
            "ip-list-kind",
            ip_list("{ name: a, kind: entities, source: { inline: [\"192.0.2.1\"] } }"),
        ),
        (
            "ip-list-no-kind",
            ip_list("{ name: a, source: { inline: [\"192.0.2.1\"] } }"),
        ),
        (
            "ip-list-format",
            ip_list("{ name: a, kind: threat, format: CSV, source: { file: x.txt } }"),
        ),
        ("ip-list-no-source", ip_list("{ name: a, kind: threat }")),
        (
            "ip-list-two-sources",
            ip_list(
                "{ name: a, kind: threat, source: { file: x.txt, url: \"https://x.example/l\" } }",
            ),
        ),
        (
            "ip-list-empty-source",
            ip_list("{ name: a, kind: threat, source: {} }"),
        ),
        (
            "ip-list-unknown-source",
            ip_list("{ name: a, kind: threat, source: { http: x } }"),
        ),
        (
            "ip-list-unknown-key",
            ip_list("{ name: a, kind: threat, enabled: true, source: { file: x.txt } }"),
        ),
        (
            "ip-list-http",
            ip_list("{ name: a, kind: threat, source: { url: \"http://x.example/l\" } }"),
        ),
        (
            "ip-list-http-localhost-lookalike",
            ip_list("{ name: a, kind: threat, source: { url: \"http://localhost.example/l\" } }"),
        ),
        (
            "ip-list-s3-no-key",
            ip_list("{ name: a, kind: threat, source: { s3: \"s3://lists-bucket/\" } }"),
        ),
        (
            "ip-list-s3-bucket",
            ip_list("{ name: a, kind: threat, source: { s3: \"s3://Bad_Bucket/x.txt\" } }"),
        ),
        (
            "ip-list-stix-inline",
            ip_list("{ name: a, kind: threat, format: STIX, source: { inline: [\"192.0.2.1\"] } }"),
        ),
        (
            "ip-list-ds-no-env",
            ip_list(
                "{ name: a, kind: threat, source: { deep_security: { url: \"https://dsm.example.com\", ip_list: x } } }",
            ),
        ),
        (
            "ip-list-ds-api-key",
            ip_list(
                "{ name: a, kind: threat, source: { deep_security: { url: \"https://dsm.example.com\", ip_list: x, api_key_env: K, api_key: \"0123456789abcdef\" } } }",
            ),
        ),
        (
            "ip-list-ds-env-name",
            ip_list(
                "{ name: a, kind: threat, source: { deep_security: { url: \"https://dsm.example.com\", ip_list: x, api_key_env: ds_key } } }",
            ),
        ),
        (
            "ip-list-ds-header",
            ip_list(
                "{ name: a, kind: threat, source: { deep_security: { url: \"https://dsm.example.com\", ip_list: x, api_key_env: K, auth_header: bearer } } }",
            ),
        ),
        (
            "ip-list-ds-http",
            ip_list(
                "{ name: a, kind: threat, source: { deep_security: { url: \"http://dsm.example.com\", ip_list: x, api_key_env: K } } }",
            ),
        ),
        (
            "ip-list-ds-stix",
            ip_list(
                "{ name: a, kind: threat, format: STIX, source: { deep_security: { url: \"https://dsm.example.com\", ip_list: x, api_key_env: K } } }",
            ),
        ),
        (
            "ip-lists-two-trusted",
            ip_list(
                "{ name: a, kind: trusted, source: { file: a.txt } }\n  - { name: b, kind: trusted, source: { file: b.txt } }",
            ),
        ),
        (
            "ip-lists-two-trusted-entities",
            ip_list(
                "{ name: a, kind: trusted_entities, source: { file: a.txt } }\n  - { name: b, kind: trusted_entities, source: { file: b.txt } }",
            ),
        ),
        ("ip-lists-seven-threat", ip_list(&lists("threat", 7))),
        (
            "ip-lists-seven-threat-entities",
            ip_list(&lists("threat_entities", 7)),
        ),
        (
            "ip-lists-no-storage",
            with("ip_lists:\n  - { name: a, kind: threat, source: { file: a.txt } }\n"),
        ),
        (
            "storage-bucket",
            with("storage: { bucket: \"lists-bucket\" }\n"),
        ),
        (
            "storage-bucket-name",
            with("storage: { bucket: \"s3://Lists\" }\n"),
        ),
        (
            "storage-no-bucket",
            with("storage: { region: eu-west-1 }\n"),
        ),
        ("storage-null", with("storage:\n")),
        (
            "storage-region",
            with("storage: { bucket: \"s3://lists-bucket\", region: eu }\n"),
        ),
        // responses:
        (
            "response-name",
            response(
                "{ name: \"to slack\", when: {}, send_to: { sns: \"arn:aws:sns:eu-west-1:222222222222:t\" } }",
            ),
        ),
        (
            "response-no-name",
            response("{ when: {}, send_to: { sns: \"arn:aws:sns:eu-west-1:222222222222:t\" } }"),
        ),
        (
            "response-no-when",
            response("{ name: a, send_to: { sns: \"arn:aws:sns:eu-west-1:222222222222:t\" } }"),
        ),
        ("response-no-action", response("{ name: a, when: {} }")),
        (
            "response-both-actions",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify }, send_to: { sns: \"arn:aws:sns:eu-west-1:222222222222:t\" } }",
            ),
        ),
        (
            "response-unknown-key",
            response("{ name: a, when: {}, rule: x, run: { bundle: slack-notify } }"),
        ),
        (
            "response-when-unknown-key",
            response("{ name: a, when: { account: x }, run: { bundle: slack-notify } }"),
        ),
        (
            "response-severity-high",
            response("{ name: a, when: { severity: { min: 11 } }, run: { bundle: slack-notify } }"),
        ),
        (
            "response-severity-word",
            response(
                "{ name: a, when: { severity: { min: high } }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-severity-unknown-key",
            response(
                "{ name: a, when: { severity: { above: 4 } }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-label",
            response("{ name: a, when: { labels: [SEVERE] }, run: { bundle: slack-notify } }"),
        ),
        (
            "response-severity-and-labels",
            response(
                "{ name: a, when: { severity: { min: 7 }, labels: [HIGH] }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-type-two-stars",
            response(
                "{ name: a, when: { types: [\"Recon:*/PortProbe*\"] }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-type-inner-star",
            response(
                "{ name: a, when: { types: [\"Recon:EC2/*Probe\"] }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-type-shape",
            response("{ name: a, when: { types: [Recon] }, run: { bundle: slack-notify } }"),
        ),
        (
            "response-type-no-family",
            response(
                "{ name: a, when: { types: [\"Recon:EC2\"] }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-resource-type",
            response(
                "{ name: a, when: { resource_types: [Instances] }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-run-no-bundle",
            response("{ name: a, when: {}, run: { timeout: 10 } }"),
        ),
        (
            "response-run-unknown-key",
            response("{ name: a, when: {}, run: { bundle: slack-notify, image: x } }"),
        ),
        (
            "response-timeout",
            response("{ name: a, when: {}, run: { bundle: slack-notify, timeout: 901 } }"),
        ),
        (
            "response-memory",
            response("{ name: a, when: {}, run: { bundle: slack-notify, memory: 64 } }"),
        ),
        (
            "response-timeout-quoted",
            response("{ name: a, when: {}, run: { bundle: slack-notify, timeout: \"60\" } }"),
        ),
        (
            "response-severity-quoted",
            response(
                "{ name: a, when: { severity: { min: \"4\" } }, run: { bundle: slack-notify } }",
            ),
        ),
        (
            "response-timeout-fraction",
            response("{ name: a, when: {}, run: { bundle: slack-notify, timeout: 60.5 } }"),
        ),
        (
            "response-retry-fraction",
            response(
                "{ name: a, when: {}, send_to: { sns: \"arn:aws:sns:us-east-1:222222222222:soc\" }, retry: { maximum_attempts: 2.5 } }",
            ),
        ),
        (
            "response-secret-not-arn",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify, secrets: { SLACK_WEBHOOK_URL: not-an-arn } } }",
            ),
        ),
        (
            "response-secret-ssm",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify, secrets: { SLACK_WEBHOOK_URL: \"arn:aws:ssm:eu-west-1:222222222222:parameter/x\" } } }",
            ),
        ),
        (
            "response-env-list",
            response("{ name: a, when: {}, run: { bundle: slack-notify, env: [A] } }"),
        ),
        (
            "response-send-to-both",
            response(
                "{ name: a, when: {}, send_to: { sns: \"arn:aws:sns:eu-west-1:222222222222:t\", event_bus: \"arn:aws:events:eu-west-1:222222222222:event-bus/x\" } }",
            ),
        ),
        (
            "response-send-to-empty",
            response("{ name: a, when: {}, send_to: {} }"),
        ),
        (
            "response-sns-not-arn",
            response("{ name: a, when: {}, send_to: { sns: soc-topic } }"),
        ),
        (
            "response-event-bus-sqs",
            response(
                "{ name: a, when: {}, send_to: { event_bus: \"arn:aws:sqs:eu-west-1:222222222222:q\" } }",
            ),
        ),
        (
            "response-dlq",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify }, dlq: \"arn:aws:sns:eu-west-1:222222222222:t\" }",
            ),
        ),
        (
            "response-retry-attempts",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify }, retry: { maximum_attempts: 186 } }",
            ),
        ),
        (
            "response-retry-age",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify }, retry: { maximum_event_age: 59 } }",
            ),
        ),
        (
            "response-retry-unknown-key",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify }, retry: { attempts: 1 } }",
            ),
        ),
    ]
}

/// Manifests `validate` rejects for a reason beyond JSON Schema: the schema accepts them.
fn unseen_cases() -> Vec<(&'static str, String, &'static str)> {
    let account = "{ account: \"400000000001\", region: eu-west-1, bucket: ";
    vec![
        (
            "regions-all-excluded",
            changed("[eu-west-1]", "[eu-west-1]\n  exclude: [eu-west-1]"),
            "every included Region is also excluded: one list's items compared with another's",
        ),
        (
            "account-role-of-another-account",
            changed(
                "  delegated_admin",
                "  account_roles: { \"333333333333\": \"arn:aws:iam::444444444444:role/A\" }\n  delegated_admin",
            ),
            "a role ARN must name the account that is its key: a value compared with its key",
        ),
        (
            "assign-unknown-profile",
            with("profiles: { dev: {} }\nassign: [{ profile: prod, ous: [Prod] }]\n"),
            "`assign.profile` must be a key of `profiles`: values compared with keys",
        ),
        (
            "assign-account-twice",
            with(
                "profiles: { a: {}, b: {} }\nassign:\n  - { profile: a, accounts: [\"333333333333\"] }\n  - { profile: b, accounts: [\"333333333333\"] }\n",
            ),
            "an account assigned two profiles: values compared across list items",
        ),
        (
            "assign-ou-twice",
            with(
                "profiles: { a: {}, b: {} }\nassign:\n  - { profile: a, ous: [Dev] }\n  - { profile: b, ous: [Dev] }\n",
            ),
            "an OU assigned two profiles: values compared across list items",
        ),
        (
            "filter-name-twice",
            with(
                "filters:\n  - { name: twice, criteria: { type: { equals: [a] } } }\n  - { name: twice, criteria: { type: { equals: [b] } } }\n",
            ),
            "filter names are unique: one key compared across list items (uniqueItems compares whole items)",
        ),
        (
            "ip-list-name-twice",
            ip_list(
                "{ name: a, kind: threat, source: { file: a.txt } }\n  - { name: a, kind: threat, source: { file: b.txt } }",
            ),
            "IP list names are unique: one key compared across list items",
        ),
        (
            "malware-bucket-twice",
            with(&format!(
                "malware_protection_s3:\n  - {account}uploads }}\n  - {{ account: \"400000000002\", bucket: uploads }}\n"
            )),
            "one plan per bucket: one key compared across list items",
        ),
        (
            "malware-11-buckets",
            with(&format!(
                "malware_protection_s3:\n{}",
                (0..11)
                    .map(|i| format!("  - {account}uploads-{i:02} }}\n"))
                    .collect::<String>()
            )),
            "at most 10 buckets per account and Region: items counted by the values of two keys",
        ),
        (
            "export-key-in-another-region",
            export(&format!(
                "{{ {BUCKET}, kms_key: {{ arn: \"arn:aws:kms:us-east-1:222222222222:key/1\" }}, region: eu-west-1 }}"
            )),
            "the KMS key must be in the export Region: part of one value compared with another",
        ),
        (
            "response-severity-min-above-max",
            response(
                "{ name: a, when: { severity: { min: 8, max: 4 } }, run: { bundle: slack-notify } }",
            ),
            "`severity.min` above `severity.max`: one number compared with another",
        ),
        (
            "response-name-twice",
            with(
                "responses:\n  - { name: a, when: {}, run: { bundle: slack-notify } }\n  - { name: a, when: {}, run: { bundle: archive-findings, env: { BUCKET: b } } }\n",
            ),
            "response names are unique: one key compared across list items",
        ),
        (
            "response-unknown-bundle",
            response("{ name: a, when: {}, run: { bundle: slack-notfy } }"),
            "the bundle must exist (built in, or a folder beside the manifest): a file, not the manifest's shape",
        ),
        (
            "response-env-the-bundle-does-not-read",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify, env: { VERBOSE: \"true\" } } }",
            ),
            "`env` names what the bundle declares: a file beside the manifest (or built in), not the manifest's shape",
        ),
        (
            "response-env-secret",
            response(
                "{ name: a, when: {}, run: { bundle: slack-notify, env: { HOOK: \"https://hooks.slack.com/services/T0/B0/0123456789abcdef\" } } }",
            ),
            "an environment value shaped like a secret (token prefixes, credentials in URLs, high entropy): heuristics, not a pattern worth putting in an editor's schema",
        ),
    ]
}

/// Writes `guardform schema` to `dir` and returns its path.
fn schema_file(dir: &Path) -> PathBuf {
    let run = run_guardform(&root(), &["schema"], &[]);
    assert_eq!(run.code, 0, "guardform schema: {}", run.stderr);
    let path = dir.join("guardform.schema.json");
    std::fs::write(&path, &run.stdout).unwrap();
    path
}

/// check-jsonschema from the test venv; missing, it is an error, never a skip.
fn check_jsonschema() -> PathBuf {
    python();
    let path = root().join(".venv/bin/check-jsonschema");
    assert!(
        path.exists(),
        "{} is missing: it is pinned in tests/emulator/requirements.txt (scripts/setup-venv installs it)",
        path.display()
    );
    path
}

/// check-jsonschema's verdict on each file: `None` when valid, else its errors. Files are
/// checked in one run; a file it could not parse is checked again alone (after a parse
/// error, ruamel.yaml may fail the next file too).
fn schema_verdicts(schema: &Path, files: &[PathBuf]) -> BTreeMap<PathBuf, Option<String>> {
    let run = |files: &[PathBuf]| {
        let output = Command::new(check_jsonschema())
            .args([
                "--output-format",
                "json",
                "--color",
                "never",
                "--schemafile",
            ])
            .arg(schema)
            .args(files)
            .output()
            .expect("running check-jsonschema");
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
                panic!(
                    "check-jsonschema printed no JSON report ({error}): {}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        let mut found: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
        for error in report["errors"].as_array().into_iter().flatten() {
            let detail = error["best_deep_match"]["message"]
                .as_str()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            found
                .entry(PathBuf::from(error["filename"].as_str().unwrap()))
                .or_default()
                .push(format!(
                    "{}: {}{detail}",
                    error["path"].as_str().unwrap_or("$"),
                    error["message"].as_str().unwrap_or_default()
                ));
        }
        let mut unparsed = Vec::new();
        for error in report["parse_errors"].as_array().into_iter().flatten() {
            unparsed.push(PathBuf::from(error["filename"].as_str().unwrap()));
        }
        let status_ok = report["status"] == "ok";
        assert_eq!(
            status_ok,
            output.status.success() && found.is_empty() && unparsed.is_empty(),
            "check-jsonschema's report and exit code disagree: {report}"
        );
        (found, unparsed)
    };
    let (found, unparsed) = run(files);
    let mut verdicts: BTreeMap<PathBuf, Option<String>> = files
        .iter()
        .map(|file| {
            (
                file.clone(),
                found.get(file).map(|errors| errors.join("\n")),
            )
        })
        .collect();
    for file in unparsed {
        let (found, unparsed) = run(std::slice::from_ref(&file));
        let verdict = if unparsed.is_empty() {
            found.get(&file).map(|errors| errors.join("\n"))
        } else {
            Some("not YAML check-jsonschema can read".to_string())
        };
        verdicts.insert(file, verdict);
    }
    verdicts
}

/// `guardform validate -m FILE`: `None` when valid, else its errors.
fn validate_verdict(file: &Path) -> Option<String> {
    let run = run_guardform(
        file.parent().unwrap(),
        &["validate", "-m", file.to_str().unwrap()],
        &[],
    );
    match run.code {
        0 => None,
        1 => Some(run.stderr),
        other => panic!(
            "validate -m {}: exit {other}\n{}",
            file.display(),
            run.stderr
        ),
    }
}

/// Every way `files` were judged otherwise than `expected` says, one line each.
fn disagreements(schema: &Path, cases: &[(PathBuf, Expect)]) -> Vec<String> {
    let files: Vec<PathBuf> = cases.iter().map(|(file, _)| file.clone()).collect();
    let verdicts = schema_verdicts(schema, &files);
    let mut problems = Vec::new();
    for (file, expect) in cases {
        let by_schema = &verdicts[file];
        let by_validate = validate_verdict(file);
        let name = file.file_name().unwrap().to_string_lossy();
        let (validate_ok, schema_ok) = match expect {
            Expect::Valid => (by_validate.is_none(), by_schema.is_none()),
            Expect::Invalid => (by_validate.is_some(), by_schema.is_some()),
            Expect::Unseen(_) => (by_validate.is_some(), by_schema.is_none()),
        };
        if !validate_ok {
            problems.push(format!(
                "{name}: expected {expect:?}, but `guardform validate` {}",
                by_validate.map_or("accepts it".to_string(), |e| format!("rejects it:\n{e}"))
            ));
        }
        if !schema_ok {
            problems.push(format!(
                "{name}: expected {expect:?}, but the schema {}",
                by_schema
                    .as_ref()
                    .map_or("accepts it".to_string(), |e| format!(
                        "rejects it:\n  {}",
                        e.replace('\n', "\n  ")
                    ))
            ));
        }
    }
    problems
}

fn yaml_files(folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {folder}");
    files
}

#[test]
fn every_example_and_bad_manifest_is_judged_alike_by_the_schema_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_file(dir.path());
    let mut cases: Vec<(PathBuf, Expect)> = yaml_files("manifests")
        .into_iter()
        .map(|file| (file, Expect::Valid))
        .collect();
    let bad = yaml_files("tests/manifests/bad");
    for (name, _) in UNSEEN {
        assert!(
            bad.iter().any(|file| file.ends_with(name)),
            "UNSEEN names {name}, which is not in tests/manifests/bad"
        );
    }
    cases.extend(bad.into_iter().map(|file| {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expect = UNSEEN
            .iter()
            .find(|(unseen, _)| *unseen == name)
            .map_or(Expect::Invalid, |(_, reason)| Expect::Unseen(reason));
        (file, expect)
    }));
    let problems = disagreements(&schema, &cases);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn each_rule_of_validate_is_judged_alike_by_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_file(dir.path());
    let mut cases: Vec<(PathBuf, Expect)> = Vec::new();
    let mut write = |name: &str, source: &str, expect: Expect| {
        let path = dir.path().join(format!("{:03}-{name}.yaml", cases.len()));
        assert!(
            !cases
                .iter()
                .any(|(p, _)| p.file_name().unwrap().to_string_lossy()[4..]
                    == path.file_name().unwrap().to_string_lossy()[4..]),
            "case {name} twice"
        );
        std::fs::write(&path, source).unwrap();
        cases.push((path, expect));
    };
    for (name, source) in valid_cases() {
        write(name, &source, Expect::Valid);
    }
    for (name, source) in invalid_cases() {
        write(name, &source, Expect::Invalid);
    }
    for (name, source, reason) in unseen_cases() {
        write(name, &source, Expect::Unseen(reason));
    }
    let problems = disagreements(&schema, &cases);
    assert!(
        problems.is_empty(),
        "{} disagreements:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
