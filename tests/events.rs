//! Every payload in events/ is an event the function accepts (CONTRACT §3).

use alpaca_lambda_bot::event::{EventSource, Invocation};

#[test]
fn every_event_file_is_accepted() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let invocation = Invocation::parse(&value)
            .unwrap_or_else(|e| panic!("{}: rejected: {e}", path.display()));
        seen.push(invocation.source);
    }
    for source in [
        EventSource::EventBridgeRule,
        EventSource::SchedulerDefault,
        EventSource::SchedulerInput,
        EventSource::Manual,
    ] {
        assert!(
            seen.contains(&source),
            "no events/ file of shape {source:?}"
        );
    }
}

#[test]
fn the_manual_dry_run_event_asks_for_a_dry_run() {
    let text = include_str!("../events/manual-dry-run.json");
    let invocation = Invocation::parse(&serde_json::from_str(text).unwrap()).unwrap();
    assert_eq!(invocation.overrides.dry_run, Some(true));
}
