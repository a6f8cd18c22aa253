//! Names and ARNs of what guardform creates for a response; ownership is on the resources as
//! tags (and, for roles, the `/guardform/` path).

/// The tag naming the response a resource belongs to.
pub const RESPONSE_TAG_KEY: &str = "guardform:response";
/// The IAM path of guardform's roles.
pub const ROLE_PATH: &str = "/guardform/";
/// The target id guardform uses.
pub const TARGET_ID: &str = "guardform";
/// The Lambda permission statement id guardform uses.
pub const STATEMENT_ID: &str = "guardform-events";

/// What stands for the rule's Region in an ARN of the manifest (`send_to`, `dlq`).
pub const REGION_PLACEHOLDER: &str = "${region}";

/// `arn` with the rule's Region in place of `${region}`.
pub fn in_region(arn: &str, region: &str) -> String {
    arn.replace(REGION_PLACEHOLDER, region)
}

/// The service, Region and account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6).then(|| (parts[2], parts[3], parts[4]))
}

/// The prefix of every rule, function, queue and role name guardform gives.
pub const NAME_PREFIX: &str = "guardform-";

/// `guardform-<name>`: the rule, function and role name of a response.
pub fn resource_name(response: &str) -> String {
    format!("guardform-{response}")
}

/// The dead-letter queue guardform creates for a response.
pub fn queue_name(response: &str) -> String {
    format!("guardform-{response}-dlq")
}

/// The EventBridge rule ARN.
pub fn rule_arn(region: &str, account: &str, response: &str) -> String {
    format!(
        "arn:aws:events:{region}:{account}:rule/{}",
        resource_name(response)
    )
}

/// The Lambda function ARN.
pub fn function_arn(region: &str, account: &str, response: &str) -> String {
    format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        resource_name(response)
    )
}

/// The IAM role ARN.
pub fn role_arn(account: &str, response: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role{ROLE_PATH}{}",
        resource_name(response)
    )
}

/// The dead-letter queue ARN guardform creates.
pub fn queue_arn(region: &str, account: &str, response: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{}", queue_name(response))
}
