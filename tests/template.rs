//! Guards `template.yaml`: the properties that make the deployed bot safe and observable are
//! asserted here so that a later edit cannot drop them silently. `cfn-lint` and
//! `sam validate --lint` check that the template is valid; this test checks that it is *ours*.
//!
//! The template uses long-form intrinsics only (`Ref:`, `Fn::Sub:` ...), so it is plain YAML
//! and parses into a `serde_json::Value`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

const TEMPLATE: &str = "template.yaml";

fn load() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| {
        panic!("{TEMPLATE} is not plain YAML (short tags like !Ref are not allowed): {e}")
    })
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"]
        .as_object()
        .expect("template has no Resources mapping")
}

fn resources_of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(k, r)| (k.as_str(), r))
        .collect()
}

/// The one `AWS::Serverless::Function`.
fn function(t: &Value) -> (&str, &Value) {
    let fns = resources_of_type(t, "AWS::Serverless::Function");
    assert_eq!(
        fns.len(),
        1,
        "expected exactly one AWS::Serverless::Function, found {}",
        fns.len()
    );
    fns[0]
}

fn parameter<'a>(t: &'a Value, name: &str) -> &'a Value {
    let p = &t["Parameters"][name];
    assert!(p.is_object(), "parameter {name} is missing");
    p
}

/// A literal, or `{Ref: Parameter}` resolved to that parameter's default.
fn resolved(t: &Value, v: &Value) -> Value {
    match v.get("Ref").and_then(Value::as_str) {
        Some(name) if t["Parameters"].get(name).is_some() => parameter(t, name)["Default"].clone(),
        _ => v.clone(),
    }
}

/// A number, a numeric string, or a `Ref` to a parameter whose default is one.
fn resolved_u64(t: &Value, v: &Value, what: &str) -> u64 {
    let r = resolved(t, v);
    r.as_u64()
        .or_else(|| r.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{what} should be a number (or a Ref to one), found {v}"))
}

fn ref_to(id: &str) -> Value {
    json!({ "Ref": id })
}

fn get_att(id: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attr] })
}

fn one_or_many(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// Expands `Fn::If` into both branches and drops `AWS::NoValue`, so that a conditional
/// statement is checked whichever way its condition goes.
fn branches(v: &Value) -> Vec<Value> {
    if let Some(args) = v.get("Fn::If").and_then(Value::as_array) {
        assert_eq!(args.len(), 3, "malformed Fn::If: {v}");
        let mut out = branches(&args[1]);
        out.extend(branches(&args[2]));
        return out;
    }
    if v == &ref_to("AWS::NoValue") {
        return vec![];
    }
    vec![v.clone()]
}

/// The function's execution role, and every IAM statement attached to it (inline policies and
/// separate AWS::IAM::RolePolicy / AWS::IAM::Policy resources), conditions expanded.
fn role_statements(t: &Value) -> (String, Vec<Value>) {
    let (fn_id, f) = function(t);
    let props = &f["Properties"];
    assert!(
        props.get("Policies").is_none(),
        "{fn_id} must not use SAM `Policies` (they add broad managed policies); grant on BotRole"
    );
    let role_ref = &props["Role"];
    let role_id = role_ref["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| {
            panic!("{fn_id}.Role should be Fn::GetAtt [<role>, Arn], found {role_ref}")
        })
        .to_owned();
    let role = &resources(t)[&role_id];
    assert_eq!(
        role["Type"], "AWS::IAM::Role",
        "{role_id} should be an AWS::IAM::Role"
    );
    assert!(
        role["Properties"].get("ManagedPolicyArns").is_none(),
        "{role_id} must not attach managed policies (AWSLambdaBasicExecutionRole allows logs on *)"
    );

    let mut docs: Vec<Value> = one_or_many(&role["Properties"]["Policies"])
        .iter()
        .map(|p| p["PolicyDocument"].clone())
        .collect();
    for (_, r) in resources(t) {
        let ty = r["Type"].as_str().unwrap_or_default();
        let p = &r["Properties"];
        let attached = match ty {
            "AWS::IAM::RolePolicy" => p["RoleName"] == ref_to(&role_id),
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                one_or_many(&p["Roles"]).contains(&ref_to(&role_id))
            }
            _ => false,
        };
        if attached {
            docs.push(p["PolicyDocument"].clone());
        }
    }
    let statements = docs
        .iter()
        .flat_map(|d| one_or_many(&d["Statement"]))
        .flat_map(|s| branches(&s))
        .collect();
    (role_id, statements)
}

fn actions(statement: &Value) -> Vec<String> {
    one_or_many(&statement["Action"])
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap_or_else(|| panic!("non-string Action in {statement}"))
                .to_owned()
        })
        .collect()
}

/// The Lambda OnFailure destination queue's logical id.
fn failure_queue_id(t: &Value) -> String {
    let (fn_id, f) = function(t);
    let on_failure = &f["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
    on_failure["Destination"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| {
            panic!("{fn_id} OnFailure.Destination should be Fn::GetAtt [<queue>, Arn], found {on_failure}")
        })
        .to_owned()
}

/// Every schedule that invokes the function: SAM `ScheduleV2` events (as the event's
/// properties) and raw `AWS::Scheduler::Schedule` resources (flattened: schedule properties
/// plus the target's Input/RetryPolicy/DeadLetterConfig), with a name for messages.
fn schedules(t: &Value) -> Vec<(String, Value)> {
    let (fn_id, f) = function(t);
    let mut out = vec![];
    if let Some(events) = f["Properties"]["Events"].as_object() {
        for (name, e) in events {
            if e["Type"] == "ScheduleV2" {
                out.push((format!("{fn_id}.Events.{name}"), e["Properties"].clone()));
            }
        }
    }
    for (id, r) in resources_of_type(t, "AWS::Scheduler::Schedule") {
        let mut p = r["Properties"].clone();
        let target = p["Target"].clone();
        assert_eq!(
            target["Arn"],
            get_att(fn_id, "Arn"),
            "schedule {id} should target the bot function ({fn_id})"
        );
        for k in ["Input", "RetryPolicy", "DeadLetterConfig"] {
            p[k] = target[k].clone();
        }
        out.push((id.to_owned(), p));
    }
    out
}

/// A schedule's Input as JSON: a literal string, or a `Fn::Sub` string whose `${...}`
/// placeholders are replaced by "X" (they are parameter values such as a symbol).
fn input_json(name: &str, input: &Value) -> Value {
    let text = match input {
        Value::String(s) => s.clone(),
        other => {
            let sub = other["Fn::Sub"].as_str().unwrap_or_else(|| {
                panic!("{name}: Input should be a JSON string or Fn::Sub, found {other}")
            });
            let mut s = String::new();
            let mut rest = sub;
            while let Some(start) = rest.find("${") {
                s.push_str(&rest[..start]);
                let end = rest[start..].find('}').expect("unterminated ${ in Fn::Sub") + start;
                s.push('X');
                rest = &rest[end + 1..];
            }
            s.push_str(rest);
            s
        }
    };
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{name}: Input is not JSON ({e}): {text}"))
}

#[test]
fn template_is_sam_and_plain_yaml() {
    let t = load();
    assert_eq!(
        t["Transform"], "AWS::Serverless-2016-10-31",
        "Transform must be SAM's"
    );
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE)).unwrap();
    for (n, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        if code.trim_start().starts_with('#') {
            continue;
        }
        for tag in [
            "!Ref",
            "!Sub",
            "!GetAtt",
            "!If",
            "!Equals",
            "!Not",
            "!And",
            "!Or",
            "!Join",
            "!Select",
            "!Split",
            "!FindInMap",
            "!ImportValue",
            "!Condition",
            "!Base64",
            "!GetAZs",
            "!Cidr",
        ] {
            assert!(
                !code.contains(tag),
                "{TEMPLATE}:{}: short tag {tag}; use the long form (e.g. `Ref:`) so plain YAML parsers read it",
                n + 1
            );
        }
    }
}

#[test]
fn function_is_a_rust_arm64_al2023_cargo_lambda_build() {
    let t = load();
    let (id, f) = function(&t);
    let p = &f["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023", "{id}.Runtime");
    assert_eq!(
        p["Architectures"],
        json!(["arm64"]),
        "{id}.Architectures must be [arm64]"
    );
    assert_eq!(p["Handler"], "bootstrap", "{id}.Handler");
    assert_eq!(p["CodeUri"], ".", "{id}.CodeUri must be the crate root");
    assert_eq!(
        f["Metadata"]["BuildMethod"], "rust-cargolambda",
        "{id}.Metadata.BuildMethod"
    );
    assert_eq!(
        f["Metadata"]["BuildProperties"]["Binary"], "bootstrap",
        "{id}.Metadata.BuildProperties.Binary must name the bootstrap bin target"
    );
    assert_eq!(p["Timeout"], 30, "{id}.Timeout should be 30 s");
    assert_eq!(p["MemorySize"], 128, "{id}.MemorySize should be 128 MB");
    assert_eq!(
        p["ReservedConcurrentExecutions"], 1,
        "{id}.ReservedConcurrentExecutions must be 1: cycles never overlap"
    );
}

#[test]
fn logs_are_json_with_a_retention() {
    let t = load();
    let (id, f) = function(&t);
    assert_eq!(
        f["Properties"]["LoggingConfig"]["LogFormat"], "JSON",
        "{id}.LoggingConfig.LogFormat must be JSON"
    );
    let groups = resources_of_type(&t, "AWS::Logs::LogGroup");
    let expected_name = json!({ "Fn::Sub": format!("/aws/lambda/${{{id}}}") });
    let (gid, g) = groups
        .iter()
        .find(|(_, g)| g["Properties"]["LogGroupName"] == expected_name)
        .unwrap_or_else(|| panic!("no AWS::Logs::LogGroup named /aws/lambda/${{{id}}}"));
    assert_eq!(
        g["Properties"]["RetentionInDays"],
        ref_to("LogRetentionDays"),
        "{gid}.RetentionInDays should come from the LogRetentionDays parameter"
    );
    assert_eq!(
        parameter(&t, "LogRetentionDays")["Default"],
        30,
        "LogRetentionDays should default to 30"
    );
}

#[test]
fn async_failures_are_not_retried_and_land_in_an_encrypted_queue() {
    let t = load();
    let (id, f) = function(&t);
    let cfg = &f["Properties"]["EventInvokeConfig"];
    assert_eq!(
        cfg["MaximumRetryAttempts"], 0,
        "{id}.EventInvokeConfig.MaximumRetryAttempts must be 0"
    );
    let age = resolved_u64(
        &t,
        &cfg["MaximumEventAgeInSeconds"],
        "EventInvokeConfig.MaximumEventAgeInSeconds",
    );
    assert!(
        (60..=300).contains(&age),
        "{id}.EventInvokeConfig.MaximumEventAgeInSeconds should be small (60..=300), is {age}"
    );
    let on_failure = &cfg["DestinationConfig"]["OnFailure"];
    assert_eq!(
        on_failure["Type"], "SQS",
        "{id} OnFailure destination type must be SQS"
    );
    let q = failure_queue_id(&t);
    let queue = &resources(&t)[&q];
    assert_eq!(
        queue["Type"], "AWS::SQS::Queue",
        "OnFailure destination {q} must be the stack's own SQS queue"
    );
    assert_eq!(
        queue["Properties"]["MessageRetentionPeriod"], 1_209_600,
        "{q} should keep messages 14 days"
    );
    let p = &queue["Properties"];
    assert!(
        p["SqsManagedSseEnabled"] == true || p.get("KmsMasterKeyId").is_some(),
        "{q} must have server-side encryption enabled"
    );
}

#[test]
fn environment_matches_the_contract_with_safe_defaults() {
    let t = load();
    let (id, f) = function(&t);
    let vars = f["Properties"]["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{id} has no Environment.Variables"));
    // CONTRACT.md §2, plus the project's own variables. Value: the parameter default.
    let expected: &[(&str, Option<&str>)] = &[
        ("BOT_SECRET_ID", None),
        ("TRADE_SYMBOL", Some("SPY")),
        ("TRADE_QUANTITY", Some("1")),
        ("PAPER_TRADING", Some("true")),
        ("ALLOW_LIVE_TRADING", Some("false")),
        ("STRATEGY", Some("golden_cross")),
        ("SMA_SHORT_WINDOW", Some("40")),
        ("SMA_LONG_WINDOW", Some("100")),
        ("DRY_RUN", Some("false")),
        ("TRADING_ENABLED", Some("true")),
        ("NOTIFY_VERBOSITY", Some("normal")),
        ("MAX_EVENT_AGE_SECONDS", Some("300")),
        ("RUST_LOG", Some("info")),
    ];
    for (name, default) in expected {
        let v = vars
            .get(*name)
            .unwrap_or_else(|| panic!("{id} does not set environment variable {name}"));
        if let Some(default) = default {
            let r = resolved(&t, v);
            let r = r
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| r.to_string());
            assert_eq!(
                &r, default,
                "{name} should default to {default:?}, is {r:?} (from {v})"
            );
        }
    }
    for name in [
        "APCA_API_BASE_URL",
        "APCA_API_DATA_URL",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    ] {
        assert!(
            !vars.contains_key(name),
            "{id} must not set the test-only endpoint override {name}"
        );
    }
    let allowed = |var: &str| -> BTreeSet<String> {
        let p = vars[var]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{var} should come from a parameter"));
        one_or_many(&parameter(&t, p)["AllowedValues"])
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect()
    };
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    for b in [
        "PAPER_TRADING",
        "ALLOW_LIVE_TRADING",
        "DRY_RUN",
        "TRADING_ENABLED",
    ] {
        assert_eq!(
            allowed(b),
            set(&["true", "false"]),
            "{b}'s parameter should allow exactly true/false"
        );
    }
    assert_eq!(
        allowed("STRATEGY"),
        set(&["golden_cross", "buy_and_hold"]),
        "STRATEGY's allowed values"
    );
    assert_eq!(
        allowed("NOTIFY_VERBOSITY"),
        set(&["normal", "lesson", "quiet"]),
        "NOTIFY_VERBOSITY's allowed values"
    );
}

#[test]
fn the_function_may_read_exactly_one_secret_and_nothing_broadly() {
    let t = load();
    let (id, f) = function(&t);
    let (role_id, statements) = role_statements(&t);
    assert!(!statements.is_empty(), "{role_id} grants nothing?");

    for s in &statements {
        assert_eq!(
            s["Effect"], "Allow",
            "unexpected non-Allow statement on {role_id}: {s}"
        );
        for a in actions(s) {
            assert!(!a.contains('*'), "{role_id}: wildcard action {a:?} in {s}");
        }
        assert!(
            s.get("NotAction").is_none() && s.get("NotResource").is_none(),
            "{role_id}: NotAction/NotResource in {s}"
        );
        let res = one_or_many(&s["Resource"]);
        assert!(
            !res.is_empty(),
            "{role_id}: statement without Resource: {s}"
        );
        for r in res.iter().flat_map(branches) {
            if let Some(text) = r.as_str() {
                assert!(
                    !text.contains('*'),
                    "{role_id}: wildcard resource {text:?} in {s}"
                );
            }
            if let Some(sub) = r.get("Fn::Sub").and_then(Value::as_str) {
                assert!(
                    !sub.contains('*'),
                    "{role_id}: wildcard resource {sub:?} in {s}"
                );
            }
        }
    }

    let secret_statements: Vec<&Value> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("secretsmanager:")))
        .collect();
    assert_eq!(
        secret_statements.len(),
        1,
        "{role_id}: expected one Secrets Manager statement, found {secret_statements:?}"
    );
    let s = secret_statements[0];
    assert_eq!(
        actions(s),
        vec!["secretsmanager:GetSecretValue"],
        "{role_id}: the secret statement may only allow GetSecretValue"
    );
    let resource = &s["Resource"];
    assert!(
        !resource.is_array(),
        "{role_id}: the secret statement must name exactly one secret, found {resource}"
    );
    let secret = &f["Properties"]["Environment"]["Variables"]["BOT_SECRET_ID"];
    assert_eq!(
        resource, secret,
        "{role_id}: the secret statement must be scoped to BOT_SECRET_ID's secret"
    );
    for branch in branches(resource) {
        let r = branch["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("secret ARN should be a Ref, found {branch}"));
        let is_secret = resources(&t)
            .get(r)
            .is_some_and(|x| x["Type"] == "AWS::SecretsManager::Secret");
        assert!(
            is_secret || r == "ExistingSecretArn",
            "{id}: the secret ARN branch {r} is neither the stack's secret nor ExistingSecretArn"
        );
    }

    // KMS, when granted at all, only through Secrets Manager.
    for s in statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("kms:")))
    {
        assert_eq!(
            actions(s),
            vec!["kms:Decrypt"],
            "{role_id}: only kms:Decrypt may be granted: {s}"
        );
        assert!(
            s["Condition"]["StringEquals"]
                .get("kms:ViaService")
                .is_some(),
            "{role_id}: kms:Decrypt must be limited by kms:ViaService: {s}"
        );
    }

    // SQS only to the failure queue, and there: with an explicit role SAM adds no
    // statement for the OnFailure destination, so without this one failures are lost.
    let q = failure_queue_id(&t);
    let sqs: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("sqs:")))
        .collect();
    assert_eq!(sqs.len(), 1, "{role_id}: one SQS statement: {sqs:?}");
    for s in sqs {
        assert_eq!(
            actions(s),
            vec!["sqs:SendMessage"],
            "{role_id}: only sqs:SendMessage: {s}"
        );
        assert_eq!(
            s["Resource"],
            get_att(&q, "Arn"),
            "{role_id}: sqs:SendMessage only on {q}"
        );
    }
}

#[test]
fn schedules_run_in_new_york_time_with_bounded_retries_and_idempotency_context() {
    let t = load();
    let all = schedules(&t);
    assert!(
        all.iter().any(|(n, _)| n.contains(".Events.")),
        "the function needs a ScheduleV2 event"
    );
    for (name, p) in &all {
        assert_eq!(
            p["ScheduleExpressionTimezone"], "America/New_York",
            "{name}: timezone"
        );
        assert_eq!(
            p["FlexibleTimeWindow"]["Mode"], "OFF",
            "{name}: FlexibleTimeWindow.Mode must be OFF"
        );
        assert_eq!(
            p["State"],
            ref_to("ScheduleState"),
            "{name}: State should follow the ScheduleState parameter"
        );
        let retries = resolved_u64(
            &t,
            &p["RetryPolicy"]["MaximumRetryAttempts"],
            "RetryPolicy.MaximumRetryAttempts",
        );
        assert!(
            retries <= 2,
            "{name}: RetryPolicy.MaximumRetryAttempts should be at most 2, is {retries}"
        );
        let age = resolved_u64(
            &t,
            &p["RetryPolicy"]["MaximumEventAgeInSeconds"],
            "RetryPolicy.MaximumEventAgeInSeconds",
        );
        assert!(
            (60..=300).contains(&age),
            "{name}: RetryPolicy.MaximumEventAgeInSeconds should be 60..=300 (a late trade is worse than none), is {age}"
        );
        let input = input_json(name, &p["Input"]);
        assert_eq!(
            input["scheduled_time"], "<aws.scheduler.scheduled-time>",
            "{name}: Input must pass the scheduled time"
        );
        assert_eq!(
            input["schedule"], "<aws.scheduler.schedule-arn>",
            "{name}: Input must pass the schedule ARN"
        );
        // The parser rejects any other field, which would fail every scheduled invocation.
        for k in input.as_object().unwrap().keys() {
            assert!(
                alpaca_lambda_bot::event::INPUT_FIELDS.contains(&k.as_str()),
                "{name}: Input field {k:?} is not in CONTRACT §3.2"
            );
        }
    }
    let states: BTreeSet<String> = one_or_many(&parameter(&t, "ScheduleState")["AllowedValues"])
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        states,
        ["DISABLED", "ENABLED"].map(String::from).into(),
        "ScheduleState must allow ENABLED/DISABLED"
    );
    let cron = parameter(&t, "ScheduleExpression")["Default"]
        .as_str()
        .unwrap_or_default();
    assert!(
        cron.starts_with("cron(") && cron.contains("MON-FRI"),
        "default ScheduleExpression should be a weekday cron, is {cron:?}"
    );
}

#[test]
fn three_alarms_notify_the_topic() {
    let t = load();
    let (fn_id, _) = function(&t);
    let q = failure_queue_id(&t);
    let topics = resources_of_type(&t, "AWS::SNS::Topic");
    assert_eq!(topics.len(), 1, "expected one SNS topic for alarms");
    let topic = ref_to(topics[0].0);
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let find = |ns: &str, metric: &str| -> &Value {
        alarms
            .iter()
            .find(|(_, a)| {
                a["Properties"]["Namespace"] == ns && a["Properties"]["MetricName"] == metric
            })
            .map(|(_, a)| &a["Properties"])
            .unwrap_or_else(|| panic!("no alarm on {ns}/{metric}"))
    };
    let dim = |a: &Value, name: &str| -> Value {
        one_or_many(&a["Dimensions"])
            .into_iter()
            .find(|d| d["Name"] == name)
            .map(|d| d["Value"].clone())
            .unwrap_or(Value::Null)
    };

    let errors = find("AWS/Lambda", "Errors");
    assert_eq!(
        dim(errors, "FunctionName"),
        ref_to(fn_id),
        "Errors alarm must watch {fn_id}"
    );
    assert_eq!(
        errors["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
        "Errors alarm: >= 1"
    );
    assert_eq!(errors["Threshold"], 1, "Errors alarm threshold");
    let window =
        errors["Period"].as_u64().unwrap_or(0) * errors["EvaluationPeriods"].as_u64().unwrap_or(0);
    assert!(
        window > 0 && window <= 300,
        "Errors alarm should look at 5 minutes, looks at {window} s"
    );

    let queue = find("AWS/SQS", "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        dim(queue, "QueueName"),
        get_att(&q, "QueueName"),
        "queue alarm must watch {q}"
    );
    assert_eq!(
        queue["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
        "queue alarm: >= 1"
    );
    assert_eq!(queue["Threshold"], 1, "queue alarm threshold");

    // The namespace the function writes its metrics to.
    let dead_man = find(alpaca_lambda_bot::metrics::NAMESPACE, "CyclesFinished");
    assert_eq!(
        dim(dead_man, "FunctionName"),
        ref_to(fn_id),
        "CyclesFinished alarm must use dimension FunctionName = {fn_id}"
    );
    assert_eq!(
        dead_man["Statistic"], "Sum",
        "CyclesFinished alarm statistic"
    );
    assert_eq!(
        dead_man["ComparisonOperator"], "LessThanThreshold",
        "CyclesFinished alarm: Sum < 1"
    );
    assert_eq!(dead_man["Threshold"], 1, "CyclesFinished alarm threshold");
    assert_eq!(
        dead_man["TreatMissingData"], "breaching",
        "no data must count as no cycle"
    );
    let window = dead_man["Period"].as_u64().unwrap_or(0)
        * dead_man["EvaluationPeriods"].as_u64().unwrap_or(0);
    assert!(
        (66 * 3600..=7 * 86400).contains(&window),
        "CyclesFinished window must span a weekend (Fri 15:35 to Mon 09:35 = 66 h) and at most 7 days, is {window} s"
    );

    for (id, a) in &alarms {
        assert!(
            one_or_many(&a["Properties"]["AlarmActions"]).contains(&topic),
            "alarm {id} must notify the SNS topic"
        );
    }
    for (id, s) in resources_of_type(&t, "AWS::SNS::Subscription") {
        assert!(
            s.get("Condition").is_some(),
            "subscription {id} should exist only when AlarmEmail is set"
        );
    }
}

#[test]
fn stack_creates_the_secret_only_when_none_is_given_and_outputs_what_operators_need() {
    let t = load();
    let secrets = resources_of_type(&t, "AWS::SecretsManager::Secret");
    assert_eq!(
        secrets.len(),
        1,
        "expected one (conditional) AWS::SecretsManager::Secret"
    );
    let (sid, s) = secrets[0];
    let cond = s["Condition"]
        .as_str()
        .unwrap_or_else(|| panic!("{sid} must be conditional on ExistingSecretArn being empty"));
    assert_eq!(
        t["Conditions"][cond],
        json!({ "Fn::Equals": [{ "Ref": "ExistingSecretArn" }, ""] }),
        "condition {cond} should test ExistingSecretArn == \"\""
    );
    assert_eq!(
        parameter(&t, "ExistingSecretArn")["Default"],
        "",
        "ExistingSecretArn defaults to empty"
    );
    assert!(
        s["Properties"].get("GenerateSecretString").is_none(),
        "{sid}: a generated value is useless, the keys come from Alpaca"
    );
    for o in [
        "FunctionName",
        "FunctionArn",
        "SecretArn",
        "FailureQueueUrl",
        "AlarmTopicArn",
        "ScheduleName",
    ] {
        assert!(t["Outputs"].get(o).is_some(), "Outputs.{o} is missing");
    }
}
