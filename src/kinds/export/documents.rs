//! The bucket and key policy statements GuardDuty's export needs ("Exporting generated
//! findings to Amazon S3", GuardDuty User Guide), scoped to the administrator's detectors, and
//! how they are merged into a policy guardform did not write: its statements (by `Sid`) are
//! replaced, every other statement is kept as it is.

use serde_json::{Value, json};

pub use crate::kinds::canonical_text as canonical;

/// guardform's statements start with this `Sid`.
pub const SID_PREFIX: &str = "Guardform";

/// `aws:SourceArn` patterns for the administrator's detectors in `regions`: an account has at
/// most one detector per Region, so `detector/*` there is exactly the administrator's.
fn source_arns(admin: &str, regions: &[String]) -> Value {
    let arns: Vec<String> = regions
        .iter()
        .map(|r| format!("arn:aws:guardduty:{r}:{admin}:detector/*"))
        .collect();
    json!(arns)
}

fn guardduty_condition(admin: &str, regions: &[String]) -> Value {
    json!({
        "StringEquals": {"aws:SourceAccount": admin},
        "ArnLike": {"aws:SourceArn": source_arns(admin, regions)}
    })
}

/// The objects GuardDuty writes: `arn:aws:s3:::BUCKET[/PREFIX]/*`.
pub fn objects_arn(bucket: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        format!("arn:aws:s3:::{bucket}/*")
    } else {
        format!("arn:aws:s3:::{bucket}/{prefix}/*")
    }
}

/// guardform's bucket policy statements.
pub fn bucket_statements(
    bucket: &str,
    prefix: &str,
    admin: &str,
    regions: &[String],
) -> Vec<Value> {
    let condition = guardduty_condition(admin, regions);
    let objects = objects_arn(bucket, prefix);
    vec![
        json!({
            "Sid": format!("{SID_PREFIX}GuardDutyGetBucketLocation"),
            "Effect": "Allow",
            "Principal": {"Service": "guardduty.amazonaws.com"},
            "Action": "s3:GetBucketLocation",
            "Resource": format!("arn:aws:s3:::{bucket}"),
            "Condition": condition,
        }),
        json!({
            "Sid": format!("{SID_PREFIX}GuardDutyPutObject"),
            "Effect": "Allow",
            "Principal": {"Service": "guardduty.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": condition,
        }),
        json!({
            "Sid": format!("{SID_PREFIX}DenyUnencryptedUploads"),
            "Effect": "Deny",
            "Principal": {"Service": "guardduty.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        }),
        json!({
            "Sid": format!("{SID_PREFIX}DenyInsecureTransport"),
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }),
    ]
}

/// guardform's key policy statement: GuardDuty may make data keys for the export.
pub fn key_statements(admin: &str, regions: &[String]) -> Vec<Value> {
    vec![json!({
        "Sid": format!("{SID_PREFIX}GuardDutyGenerateDataKey"),
        "Effect": "Allow",
        "Principal": {"Service": "guardduty.amazonaws.com"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": guardduty_condition(admin, regions),
    })]
}

/// The statement KMS puts in a key's default policy: the key's account administers it through
/// IAM. guardform writes it in the policy of a key it creates (a key policy without it can
/// lock everyone out).
pub fn key_owner_statement(account: &str) -> Value {
    json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*",
    })
}

fn is_ours(statement: &Value) -> bool {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|sid| sid.starts_with(SID_PREFIX))
}

/// `live` (a policy document, or none) with guardform's statements replaced by `ours` and
/// every other statement kept, in order.
pub fn merged(live: Option<&str>, ours: &[Value]) -> Value {
    let parsed: Value = live
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let mut statements: Vec<Value> = match parsed.get("Statement") {
        Some(Value::Array(items)) => items.iter().filter(|s| !is_ours(s)).cloned().collect(),
        Some(single @ Value::Object(_)) if !is_ours(single) => vec![single.clone()],
        _ => Vec::new(),
    };
    statements.extend(ours.iter().cloned());
    let mut document = serde_json::Map::new();
    document.insert(
        "Version".into(),
        parsed
            .get("Version")
            .cloned()
            .unwrap_or_else(|| json!("2012-10-17")),
    );
    if let Some(id) = parsed.get("Id") {
        document.insert("Id".into(), id.clone());
    }
    document.insert("Statement".into(), Value::Array(statements));
    Value::Object(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_replaces_guardforms_statements_and_keeps_the_rest() {
        let regions = vec!["eu-west-1".to_string()];
        let live = json!({"Version": "2012-10-17", "Id": "theirs", "Statement": [
            {"Sid": "TheirReadOnly", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444444444444:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "GuardformGuardDutyPutObject", "Effect": "Allow", "Principal": {"Service": "guardduty.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/old/*"}
        ]})
        .to_string();
        let ours = bucket_statements("b", "guardduty", "222222222222", &regions);
        let document = merged(Some(&live), &ours);
        let statements = document["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1 + ours.len());
        assert_eq!(statements[0]["Sid"], "TheirReadOnly");
        assert_eq!(document["Id"], "theirs");
        assert_eq!(statements[2]["Resource"], "arn:aws:s3:::b/guardduty/*");
        assert_eq!(
            statements[2]["Condition"]["ArnLike"]["aws:SourceArn"],
            json!(["arn:aws:guardduty:eu-west-1:222222222222:detector/*"])
        );
        // Merging again changes nothing.
        assert_eq!(
            canonical(&merged(Some(&document.to_string()), &ours)),
            canonical(&document)
        );
    }
}
