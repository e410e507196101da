//! CloudWatch metrics as Embedded Metric Format log lines: one JSON line per invocation on
//! stdout, which CloudWatch Logs turns into metrics with no extra API call. Pure.
//!
//! Namespace `AlpacaLambdaBot`, dimension sets `[FunctionName]` and
//! `[FunctionName, Outcome]`, so skips are counted by reason and errors by stage. The
//! `CyclesFinished` metric feeds the template's dead-man's-switch alarm.

use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{CycleReport, Kind, OutcomeStatus};

pub const NAMESPACE: &str = "AlpacaLambdaBot";

/// The outcome label: `ordered_buy`, `skipped_market_closed`, `error_order`, …
pub fn outcome_label(report: &CycleReport) -> String {
    match &report.kind {
        Kind::Ordered { side } => format!("ordered_{}", side.as_str()),
        Kind::Held => "skipped_hold".into(),
        Kind::MarketClosed => "skipped_market_closed".into(),
        Kind::Duplicate => "skipped_duplicate".into(),
        Kind::Skipped => "skipped_other".into(),
        Kind::DryRun { .. } => "dry_run".into(),
        Kind::Failed { stage, .. } => format!("error_{}", stage.as_str()),
    }
}

/// The EMF line of one invocation.
pub fn emf_line(
    function_name: &str,
    report: &CycleReport,
    notify_failed: bool,
    duration: Duration,
    timestamp_ms: u64,
) -> String {
    let failed = report.is_failure();
    let status = report.status();
    let skipped = !failed && status == OutcomeStatus::Skipped;
    let count = |yes: bool| if yes { 1 } else { 0 };
    let line: Value = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"], ["FunctionName", "Outcome"]],
                "Metrics": [
                    {"Name": "Cycles", "Unit": "Count"},
                    {"Name": "CyclesFinished", "Unit": "Count"},
                    {"Name": "Orders", "Unit": "Count"},
                    {"Name": "Skips", "Unit": "Count"},
                    {"Name": "Errors", "Unit": "Count"},
                    {"Name": "NotifyFailures", "Unit": "Count"},
                    {"Name": "CycleDuration", "Unit": "Milliseconds"}
                ]
            }]
        },
        "FunctionName": function_name,
        "Outcome": outcome_label(report),
        "Symbol": report.symbol,
        "Slot": report.slot,
        "Cycles": 1,
        "CyclesFinished": count(!failed),
        "Orders": count(status == OutcomeStatus::Ordered),
        "Skips": count(skipped),
        "Errors": count(failed),
        "NotifyFailures": count(notify_failed),
        "CycleDuration": duration.as_millis() as u64,
    });
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Side;
    use crate::report::Stage;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("an EMF line is one JSON object")
    }

    /// Every declared metric has a numeric value and every dimension a string value: the EMF
    /// specification's two rules that CloudWatch enforces by dropping the line.
    fn assert_valid_emf(line: &Value) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert!(line["_aws"]["Timestamp"].is_u64());
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "metric {name} has no numeric value");
        }
        for set in directive["Dimensions"].as_array().unwrap() {
            for dimension in set.as_array().unwrap() {
                let name = dimension.as_str().unwrap();
                assert!(
                    line[name].is_string(),
                    "dimension {name} has no string value"
                );
            }
        }
    }

    #[test]
    fn an_order_counts_as_a_finished_cycle_and_an_order() {
        let report = CycleReport::new(Kind::Ordered { side: Side::Buy }, "x", "SPY", true, "s");
        let line = parse(&emf_line(
            "bot-fn",
            &report,
            false,
            Duration::from_millis(312),
            1,
        ));
        assert_valid_emf(&line);
        assert_eq!(line["FunctionName"], "bot-fn");
        assert_eq!(line["Outcome"], "ordered_buy");
        assert_eq!(
            (
                line["CyclesFinished"].as_u64(),
                line["Orders"].as_u64(),
                line["Errors"].as_u64()
            ),
            (Some(1), Some(1), Some(0))
        );
        assert_eq!(line["CycleDuration"], 312);
    }

    #[test]
    fn skips_by_reason_and_errors_by_stage() {
        let closed = CycleReport::new(Kind::MarketClosed, "x", "SPY", true, "s");
        let line = parse(&emf_line("f", &closed, true, Duration::ZERO, 1));
        assert_valid_emf(&line);
        assert_eq!(line["Outcome"], "skipped_market_closed");
        assert_eq!(
            (line["Skips"].as_u64(), line["NotifyFailures"].as_u64()),
            (Some(1), Some(1))
        );

        let failed = CycleReport::failed(Stage::Bars, "boom".into(), "SPY", true, "s");
        let line = parse(&emf_line("f", &failed, false, Duration::ZERO, 1));
        assert_valid_emf(&line);
        assert_eq!(line["Outcome"], "error_bars");
        assert_eq!(
            (line["Errors"].as_u64(), line["CyclesFinished"].as_u64()),
            (Some(1), Some(0))
        );
    }
}
