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
