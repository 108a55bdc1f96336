//! The template's operations: every alarm watches a metric that AWS (or one of the
//! template's own log metric filters) really publishes, with the dimensions it is
//! published under, naming a resource of this stack; every function has its error and
//! throttle alarms and a log group with a retention; the API throttles by parameters.
//! (That the EAA sync's metric filters match the real binary's log line is checked by
//! scripts/invoke-events, which has that line.)

use std::collections::BTreeSet;

use serde_yaml_ng::{Mapping, Value as Yaml};

const TEMPLATE: &str = include_str!("../template.yaml");

/// The CloudWatch metrics the alarms may use, with the dimension sets AWS publishes each
/// under (AWS documentation: Lambda function metrics, SQS metrics, HTTP API metrics,
/// DynamoDB metrics and dimensions).
const AWS_METRICS: &[(&str, &str, &[&[&str]])] = &[
    ("AWS/Lambda", "Errors", &[&["FunctionName"]]),
    ("AWS/Lambda", "Throttles", &[&["FunctionName"]]),
    ("AWS/Lambda", "Invocations", &[&["FunctionName"]]),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", &[&["QueueName"]]),
    ("AWS/ApiGateway", "5xx", &[&["ApiId"], &["ApiId", "Stage"]]),
    ("AWS/ApiGateway", "Count", &[&["ApiId"], &["ApiId", "Stage"]]),
    ("AWS/DynamoDB", "ReadThrottleEvents", &[&["TableName"], &["GlobalSecondaryIndexName", "TableName"]]),
    ("AWS/DynamoDB", "WriteThrottleEvents", &[&["TableName"], &["GlobalSecondaryIndexName", "TableName"]]),
];

fn template() -> Yaml {
    serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML")
}

fn resources(doc: &Yaml) -> &Mapping {
    doc["Resources"].as_mapping().expect("Resources")
}

fn of_type<'a>(doc: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    resources(doc)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().expect("logical id"), r))
        .collect()
}

fn type_of<'a>(doc: &'a Yaml, logical_id: &str) -> Option<&'a str> {
    doc["Resources"][logical_id]["Type"].as_str()
}

/// An intrinsic function, short (`!Ref X`) or long (`{Ref: X}`, `{Fn::GetAtt: ..}`) form:
/// its name without `!` or `Fn::`, and its argument.
fn intrinsic(value: &Yaml) -> Option<(String, &Yaml)> {
    match value {
        Yaml::Tagged(tagged) => Some((tagged.tag.to_string().trim_start_matches('!').to_string(), &tagged.value)),
        Yaml::Mapping(map) if map.len() == 1 => {
            let (name, argument) = map.iter().next()?;
            Some((name.as_str()?.trim_start_matches("Fn::").to_string(), argument))
        }
        _ => None,
    }
}

fn reference(value: &Yaml) -> Option<&str> {
    match intrinsic(value)? {
        (name, Yaml::String(target)) if name == "Ref" => Some(target),
        _ => None,
    }
}

/// `!GetAtt X.Attr` or `{Fn::GetAtt: [X, Attr]}`.
fn get_att(value: &Yaml) -> Option<(String, String)> {
    match intrinsic(value)? {
        (name, Yaml::String(path)) if name == "GetAtt" => path.split_once('.').map(|(r, a)| (r.to_string(), a.to_string())),
        (name, Yaml::Sequence(parts)) if name == "GetAtt" => Some((parts[0].as_str()?.to_string(), parts[1].as_str()?.to_string())),
        _ => None,
    }
}

/// The metrics an alarm watches: its own, or those of its metric math.
fn watched(alarm: &Yaml) -> Vec<&Yaml> {
    let props = &alarm["Properties"];
    match props["Metrics"].as_sequence() {
        Some(metrics) => metrics.iter().filter(|m| m.get("MetricStat").is_some()).map(|m| &m["MetricStat"]["Metric"]).collect(),
        None => vec![props],
    }
}

/// The dimension value names the stack's resource that the dimension stands for.
fn check_dimension(doc: &Yaml, alarm: &str, name: &str, value: &Yaml) {
    let names = |kind: &str| reference(value).is_some_and(|target| type_of(doc, target) == Some(kind));
    let ok = match name {
        "FunctionName" => names("AWS::Serverless::Function"),
        "ApiId" => names("AWS::Serverless::HttpApi"),
        "TableName" => names("AWS::DynamoDB::Table"),
        "QueueName" => {
            get_att(value).is_some_and(|(queue, attribute)| attribute == "QueueName" && type_of(doc, &queue) == Some("AWS::SQS::Queue"))
        }
        "GlobalSecondaryIndexName" => {
            let indexes = doc["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"].as_sequence().expect("indexes");
            indexes.iter().any(|index| index["IndexName"] == *value)
        }
        other => panic!("{alarm}: dimension {other} is not one this test knows"),
    };
    assert!(ok, "{alarm}: dimension {name} = {value:?} does not name the resource it stands for");
}

/// The namespaces and names of the metrics the template's log metric filters publish.
fn filter_metrics(doc: &Yaml) -> Vec<(Yaml, String)> {
    of_type(doc, "AWS::Logs::MetricFilter")
        .into_iter()
        .flat_map(|(_, filter)| filter["Properties"]["MetricTransformations"].as_sequence().expect("transformations").iter())
        .map(|t| (t["MetricNamespace"].clone(), t["MetricName"].as_str().expect("metric name").to_string()))
        .collect()
}

#[test]
fn every_alarm_watches_a_published_metric_of_this_stack() {
    let doc = template();
    let alarms = of_type(&doc, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 20, "{} alarms", alarms.len());
    let custom = filter_metrics(&doc);
    for (name, alarm) in &alarms {
        let metrics = watched(alarm);
        assert!(!metrics.is_empty(), "{name} watches nothing");
        for metric in metrics {
            let metric_name = metric["MetricName"].as_str().unwrap_or_else(|| panic!("{name}: no MetricName"));
            let dimensions: Vec<(&str, &Yaml)> = metric["Dimensions"]
                .as_sequence()
                .map(|ds| ds.iter().map(|d| (d["Name"].as_str().expect("dimension name"), &d["Value"])).collect())
                .unwrap_or_default();
            match metric["Namespace"].as_str().filter(|ns| ns.starts_with("AWS/")) {
                Some(namespace) => {
                    let published = AWS_METRICS
                        .iter()
                        .find(|(ns, m, _)| *ns == namespace && *m == metric_name)
                        .unwrap_or_else(|| panic!("{name}: {namespace} {metric_name} is not a metric this test knows AWS to publish"));
                    let mut set: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
                    set.sort();
                    assert!(published.2.contains(&set.as_slice()), "{name}: {namespace} {metric_name} is not published by {set:?}");
                    for (dimension, value) in &dimensions {
                        check_dimension(&doc, name, dimension, value);
                    }
                }
                // A namespace of the stack's own: a metric one of its log metric filters publishes.
                None => {
                    assert!(
                        custom.iter().any(|(ns, m)| *ns == metric["Namespace"] && m == metric_name),
                        "{name}: {metric_name} is published by none of the template's metric filters"
                    );
                    assert!(dimensions.is_empty(), "{name}: the metric filters publish no dimensions");
                }
            }
        }
        // Metric math: the expression reads only the alarm's own metrics, one result.
        if let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() {
            let returned: Vec<_> = metrics.iter().filter(|m| m["ReturnData"].as_bool() != Some(false)).collect();
            assert_eq!(returned.len(), 1, "{name}: exactly one metric or expression is the alarm's value");
            let ids: BTreeSet<&str> = metrics.iter().filter_map(|m| m["Id"].as_str()).collect();
            let expression = returned[0]["Expression"].as_str().unwrap_or_default();
            for word in expression.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| w.chars().next().is_some_and(char::is_lowercase))
            {
                assert!(ids.contains(word), "{name}: the expression names {word}, not one of its metrics {ids:?}");
            }
        }
        // Notifies the topic when one is given.
        for actions in ["AlarmActions", "OKActions"] {
            let text = serde_yaml_ng::to_string(&alarm["Properties"][actions]).expect("actions");
            assert!(text.contains("HasAlarmTopic") && text.contains("AlarmTopicArn"), "{name}: {actions} {text}");
        }
    }
}

#[test]
fn the_alarms_cover_what_operations_must_hear_about() {
    let doc = template();
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    for (_, alarm) in of_type(&doc, "AWS::CloudWatch::Alarm") {
        for metric in watched(alarm) {
            let namespace = metric["Namespace"].as_str().filter(|ns| ns.starts_with("AWS/")).unwrap_or("stack").to_string();
            covered.insert((namespace, metric["MetricName"].as_str().unwrap_or_default().to_string()));
        }
    }
    for (namespace, metric) in [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("stack", "EaaSyncTargetErrors"),
        ("stack", "EaaSyncLeftForNextSchedule"),
        ("AWS/Lambda", "Invocations"),
    ] {
        assert!(covered.contains(&(namespace.to_string(), metric.to_string())), "no alarm on {namespace} {metric}");
    }
    // Each metric filter reads the EAA sync function's log group.
    for (name, filter) in of_type(&doc, "AWS::Logs::MetricFilter") {
        let group = reference(&filter["Properties"]["LogGroupName"]).expect("a log group of the stack");
        let function = &doc["Resources"]["EaaSyncFunction"]["Properties"]["LoggingConfig"]["LogGroup"];
        assert_eq!(reference(function), Some(group), "{name}");
    }
}

#[test]
fn every_function_has_its_alarms_and_a_retained_log_group() {
    let doc = template();
    let alarms = of_type(&doc, "AWS::CloudWatch::Alarm");
    let functions = of_type(&doc, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 7);
    for (function, resource) in functions {
        for metric in ["Errors", "Throttles"] {
            let alarmed = alarms.iter().any(|(_, alarm)| {
                watched(alarm).iter().any(|m| {
                    m["Namespace"].as_str() == Some("AWS/Lambda")
                        && m["MetricName"].as_str() == Some(metric)
                        && reference(&m["Dimensions"][0]["Value"]) == Some(function)
                })
            });
            assert!(alarmed, "{function}: no alarm on its {metric}");
        }
        let group = reference(&resource["Properties"]["LoggingConfig"]["LogGroup"]).unwrap_or_else(|| panic!("{function}: no log group"));
        let group = &doc["Resources"][group];
        assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{function}");
        assert_eq!(reference(&group["Properties"]["RetentionInDays"]), Some("LogRetentionDays"), "{function}");
    }
}

#[test]
fn the_api_throttles_its_default_route_by_parameters() {
    let doc = template();
    let settings = &doc["Resources"]["Api"]["Properties"]["DefaultRouteSettings"];
    assert_eq!(reference(&settings["ThrottlingRateLimit"]), Some("ApiRateLimit"));
    assert_eq!(reference(&settings["ThrottlingBurstLimit"]), Some("ApiBurstLimit"));
    // Sized for Entra's 25 requests/s per tenant (docs/ENTRA.md) times the expected tenants.
    let rate = doc["Parameters"]["ApiRateLimit"]["Default"].as_u64().expect("rate default");
    assert_eq!(rate % 25, 0, "{rate}");
    assert!(doc["Parameters"]["ApiBurstLimit"]["Default"].as_u64().is_some_and(|burst| burst >= rate));
}
