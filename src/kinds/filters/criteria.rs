//! Finding criteria: the attributes GuardDuty filters on, the operators, and the criteria as
//! the one document guardform compares (the API's `findingCriteria.criterion`, keys sorted).

use serde_json::{Map, Value, json};

/// What an attribute's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Text,
    /// 12-digit account ids.
    Account,
    Region,
    /// Numbers (severity 1.0–8.9 and up; confidence; ports).
    Number,
    /// `true` / `false`.
    Boolean,
    /// A time: ISO 8601 in the manifest, epoch milliseconds in the API.
    Timestamp,
}

/// The attributes GuardDuty documents for finding criteria (API Reference, `FindingCriteria`
/// of ListFindings / CreateFilter), with the type of their values.
pub const ATTRIBUTES: &[(&str, ValueType)] = &[
    ("accountId", ValueType::Account),
    ("region", ValueType::Region),
    ("confidence", ValueType::Number),
    ("id", ValueType::Text),
    ("resource.accessKeyDetails.accessKeyId", ValueType::Text),
    ("resource.accessKeyDetails.principalId", ValueType::Text),
    ("resource.accessKeyDetails.userName", ValueType::Text),
    ("resource.accessKeyDetails.userType", ValueType::Text),
    (
        "resource.instanceDetails.iamInstanceProfile.id",
        ValueType::Text,
    ),
    ("resource.instanceDetails.imageId", ValueType::Text),
    ("resource.instanceDetails.instanceId", ValueType::Text),
    (
        "resource.instanceDetails.networkInterfaces.ipv6Addresses",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.privateIpAddresses.privateIpAddress",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.publicDnsName",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.publicIp",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.securityGroups.groupId",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.securityGroups.groupName",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.subnetId",
        ValueType::Text,
    ),
    (
        "resource.instanceDetails.networkInterfaces.vpcId",
        ValueType::Text,
    ),
    ("resource.instanceDetails.tags.key", ValueType::Text),
    ("resource.instanceDetails.tags.value", ValueType::Text),
    ("resource.resourceType", ValueType::Text),
    ("service.action.actionType", ValueType::Text),
    ("service.action.awsApiCallAction.api", ValueType::Text),
    (
        "service.action.awsApiCallAction.callerType",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.remoteIpDetails.city.cityName",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.remoteIpDetails.country.countryName",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.remoteIpDetails.organization.asn",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.remoteIpDetails.organization.asnOrg",
        ValueType::Text,
    ),
    (
        "service.action.awsApiCallAction.serviceName",
        ValueType::Text,
    ),
    ("service.action.dnsRequestAction.domain", ValueType::Text),
    (
        "service.action.dnsRequestAction.domainWithSuffix",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.blocked",
        ValueType::Boolean,
    ),
    (
        "service.action.networkConnectionAction.connectionDirection",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.localPortDetails.port",
        ValueType::Number,
    ),
    (
        "service.action.networkConnectionAction.protocol",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.remoteIpDetails.country.countryName",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.remoteIpDetails.organization.asn",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.remoteIpDetails.organization.asnOrg",
        ValueType::Text,
    ),
    (
        "service.action.networkConnectionAction.remotePortDetails.port",
        ValueType::Number,
    ),
    ("service.additionalInfo.threatListName", ValueType::Text),
    ("service.archived", ValueType::Boolean),
    ("service.ebsVolumeScanDetails.scanId", ValueType::Text),
    ("service.resourceRole", ValueType::Text),
    ("severity", ValueType::Number),
    ("type", ValueType::Text),
    ("updatedAt", ValueType::Timestamp),
];

/// The manifest's operators and the API's names for them. The list operators take up to
/// [`MAX_VALUES`] values; the comparisons one number or time.
pub const OPERATORS: &[(&str, &str)] = &[
    ("equals", "equals"),
    ("not_equals", "notEquals"),
    ("gt", "greaterThan"),
    ("gte", "greaterThanOrEqual"),
    ("lt", "lessThan"),
    ("lte", "lessThanOrEqual"),
    ("matches", "matches"),
    ("not_matches", "notMatches"),
];

/// Values GuardDuty takes in one `equals` / `not_equals` (API Reference, `Condition`).
pub const MAX_VALUES: usize = 50;

/// Whether the operator takes a list of values (else one number or time).
pub fn takes_list(operator: &str) -> bool {
    matches!(
        operator,
        "equals" | "not_equals" | "matches" | "not_matches"
    )
}

/// The type of `attribute`'s values, when GuardDuty documents it.
pub fn value_type(attribute: &str) -> Option<ValueType> {
    ATTRIBUTES
        .iter()
        .find(|(name, _)| *name == attribute)
        .map(|(_, t)| *t)
}

/// Attributes that only narrow by how bad, how sure, when, where or whether archived: an
/// `archive` filter on these alone hides whole bands of findings.
pub const BROAD: &[&str] = &[
    "severity",
    "confidence",
    "updatedAt",
    "region",
    "service.archived",
];

/// Whether criteria on these attributes would archive every finding of a band.
pub fn broad<'a>(attributes: impl IntoIterator<Item = &'a str>) -> bool {
    attributes.into_iter().all(|a| BROAD.contains(&a))
}

/// One condition's value as the API takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    List(Vec<String>),
    Number(i64),
}

/// The criteria document: `{attribute: {apiOperator: value}}`, keys sorted (serde_json's map
/// is ordered), lists in the manifest's order.
pub fn document(criteria: &[(String, Vec<(String, Operand)>)]) -> Value {
    let mut out = Map::new();
    for (attribute, conditions) in criteria {
        let mut condition = Map::new();
        for (operator, operand) in conditions {
            let api = api_operator(operator).unwrap_or(operator);
            let value = match operand {
                Operand::List(values) => json!(values),
                Operand::Number(n) => json!(n),
            };
            condition.insert(api.to_string(), value);
        }
        out.insert(attribute.clone(), Value::Object(condition));
    }
    Value::Object(out)
}

/// The API's name for a manifest operator.
pub fn api_operator(operator: &str) -> Option<&'static str> {
    OPERATORS
        .iter()
        .find(|(name, _)| *name == operator)
        .map(|(_, api)| *api)
}

/// The document of criteria as GuardDuty returns them (deprecated `eq`/`neq`/`gt`... read as
/// their current names: filters made by other tools may still use them).
#[allow(deprecated)]
pub fn document_of(criteria: &aws_sdk_guardduty::types::FindingCriteria) -> Value {
    let mut out = Map::new();
    for (attribute, c) in criteria.criterion().into_iter().flatten() {
        let mut condition = Map::new();
        let lists = [
            ("equals", c.equals(), c.eq()),
            ("notEquals", c.not_equals(), c.neq()),
            ("matches", c.matches(), &[][..]),
            ("notMatches", c.not_matches(), &[][..]),
        ];
        for (name, current, deprecated) in lists {
            let values = if current.is_empty() {
                deprecated
            } else {
                current
            };
            if !values.is_empty() {
                condition.insert(name.into(), json!(values));
            }
        }
        let numbers = [
            ("greaterThan", c.greater_than(), c.gt().map(i64::from)),
            (
                "greaterThanOrEqual",
                c.greater_than_or_equal(),
                c.gte().map(i64::from),
            ),
            ("lessThan", c.less_than(), c.lt().map(i64::from)),
            (
                "lessThanOrEqual",
                c.less_than_or_equal(),
                c.lte().map(i64::from),
            ),
        ];
        for (name, current, deprecated) in numbers {
            if let Some(n) = current.or(deprecated) {
                condition.insert(name.into(), json!(n));
            }
        }
        out.insert(attribute.clone(), Value::Object(condition));
    }
    Value::Object(out)
}

/// The SDK's criteria from a document made by [`document`].
pub fn finding_criteria(document: &Value) -> aws_sdk_guardduty::types::FindingCriteria {
    let mut criteria = aws_sdk_guardduty::types::FindingCriteria::builder();
    for (attribute, condition) in document.as_object().into_iter().flatten() {
        let mut c = aws_sdk_guardduty::types::Condition::builder();
        for (operator, value) in condition.as_object().into_iter().flatten() {
            let list = || -> Option<Vec<String>> {
                Some(
                    value
                        .as_array()?
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                )
            };
            c = match operator.as_str() {
                "equals" => c.set_equals(list()),
                "notEquals" => c.set_not_equals(list()),
                "matches" => c.set_matches(list()),
                "notMatches" => c.set_not_matches(list()),
                "greaterThan" => c.set_greater_than(value.as_i64()),
                "greaterThanOrEqual" => c.set_greater_than_or_equal(value.as_i64()),
                "lessThan" => c.set_less_than(value.as_i64()),
                "lessThanOrEqual" => c.set_less_than_or_equal(value.as_i64()),
                _ => c,
            };
        }
        criteria = criteria.criterion(attribute.clone(), c.build());
    }
    criteria.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_round_trips_through_the_sdk_types() {
        let criteria = vec![
            (
                "type".to_string(),
                vec![(
                    "equals".to_string(),
                    Operand::List(vec!["Recon:EC2/PortProbeUnprotectedPort".into()]),
                )],
            ),
            (
                "severity".to_string(),
                vec![("lt".to_string(), Operand::Number(4))],
            ),
        ];
        let doc = document(&criteria);
        assert_eq!(
            doc,
            json!({"severity": {"lessThan": 4}, "type": {"equals": ["Recon:EC2/PortProbeUnprotectedPort"]}})
        );
        assert_eq!(document_of(&finding_criteria(&doc)), doc);
    }

    #[test]
    #[allow(deprecated)]
    fn deprecated_operators_read_as_their_current_names() {
        let sdk = aws_sdk_guardduty::types::FindingCriteria::builder()
            .criterion(
                "severity",
                aws_sdk_guardduty::types::Condition::builder()
                    .gte(7)
                    .eq("8")
                    .build(),
            )
            .build();
        assert_eq!(
            document_of(&sdk),
            json!({"severity": {"equals": ["8"], "greaterThanOrEqual": 7}})
        );
    }

    #[test]
    fn only_bands_are_broad() {
        assert!(broad(["severity"]));
        assert!(broad(std::iter::empty()));
        assert!(broad(["severity", "updatedAt"]));
        assert!(!broad(["severity", "type"]));
    }
}
