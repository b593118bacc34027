//! `POST /v1/migrations`: batches of migration records aggregated into the
//! `flags_migration_*` metrics of `/metrics`, in-process through
//! `app(state)`: scopes, drops, limits and bounded labels.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::app::*;
use flags_server::server::{AppState, Config};
use serde_json::{Value, json};

fn with_token(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    request
}

fn batch(records: &[Value]) -> String {
    json!({ "records": records }).to_string()
}

async fn send(state: &AppState, body: String) -> Reply {
    call(state, post("/v1/migrations", body)).await
}

async fn metrics_text(state: &AppState) -> String {
    let reply = call(state, get("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.text()
}

/// The value of the sample written exactly as `series` (name and labels),
/// or `None` when it is not there.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// Four migration flags and a flag that is not one.
const MIGRATIONS: &str = r#"{
  "version": 1,
  "flags": {
    "orders_reads": {"migration": {"stages": 6, "stage": "dualwrite", "next": "shadow"}, "percentage": 50},
    "orders_writes": {"migration": {"stages": 6, "stage": "dualwrite"}},
    "invoices": {"migration": {"stages": 4, "stage": "off", "next": "live"}, "percentage": 10},
    "accounts": {"migration": {"stages": 2, "stage": "off"}},
    "checkout": {"percentage": 50}
  }
}"#;

/// A compared read of `orders_reads` at shadow: old 1 ms, new 3 ms.
fn shadow_read(consistent: bool) -> Value {
    json!({"flag": "orders_reads", "stage": "shadow", "op": "read",
           "old": {"seconds": 0.001, "error": false},
           "new": {"seconds": 0.003, "error": false},
           "consistent": consistent})
}

#[tokio::test]
async fn a_batch_is_accepted_and_shows_in_the_metrics() {
    let (state, _source, _) = state_with(MIGRATIONS, &[]);
    let records = [
        shadow_read(true),
        shadow_read(true),
        shadow_read(false),
        json!({"flag": "orders_reads", "stage": "dualwrite", "op": "write",
               "old": {"seconds": 0.02, "error": false},
               "new": {"seconds": 0.7, "error": true, "timeout": true}}),
        json!({"flag": "orders_writes", "stage": "complete", "op": "read",
               "new": {"seconds": 0.0004, "error": false}, "consistent": null}),
    ];
    let reply = send(&state, batch(&records)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json(), json!({"accepted": 5, "dropped": 0}));

    let text = metrics_text(&state).await;
    assert_metrics(
        &text,
        &[
            "# TYPE flags_migration_ops_total counter",
            "# TYPE flags_migration_latency_seconds histogram",
            r#"flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 3"#,
            r#"flags_migration_ops_total{flag="orders_reads",stage="dualwrite",op="write"} 1"#,
            r#"flags_migration_ops_total{flag="orders_writes",stage="complete",op="read"} 1"#,
            r#"flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="true"} 2"#,
            r#"flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="false"} 1"#,
            r#"flags_migration_errors_total{flag="orders_reads",stage="dualwrite",op="write",side="new"} 1"#,
            // Three reads of 3 ms on the new side: above 2.5 ms, within 5 ms.
            r#"flags_migration_latency_seconds_bucket{flag="orders_reads",op="read",side="new",le="0.0025"} 0"#,
            r#"flags_migration_latency_seconds_bucket{flag="orders_reads",op="read",side="new",le="0.005"} 3"#,
            r#"flags_migration_latency_seconds_bucket{flag="orders_reads",op="read",side="new",le="+Inf"} 3"#,
            r#"flags_migration_latency_seconds_count{flag="orders_reads",op="read",side="new"} 3"#,
            r#"flags_migration_latency_seconds_bucket{flag="orders_reads",op="write",side="new",le="0.5"} 0"#,
            r#"flags_migration_latency_seconds_bucket{flag="orders_reads",op="write",side="new",le="1"} 1"#,
            r#"flags_migration_latency_seconds_bucket{flag="orders_writes",op="read",side="new",le="0.0005"} 1"#,
            r#"flags_migration_records_dropped_total{reason="unknown_flag"} 0"#,
        ],
    );
    let sum = sample(
        &text,
        r#"flags_migration_latency_seconds_sum{flag="orders_reads",op="read",side="old"}"#,
    )
    .expect("a sum");
    assert!((sum - 0.003).abs() < 1e-9, "{sum}");
    // No error on the old side, none at shadow.
    assert_eq!(
        sample(
            &text,
            r#"flags_migration_errors_total{flag="orders_reads",stage="dualwrite",op="write",side="old"}"#
        ),
        None
    );

    // A second batch adds to the first.
    let reply = send(&state, batch(&[shadow_read(false)])).await;
    assert_eq!(reply.json(), json!({"accepted": 1, "dropped": 0}));
    assert_metrics(
        &metrics_text(&state).await,
        &[
            r#"flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 4"#,
            r#"flags_migration_consistency_total{flag="orders_reads",stage="shadow",consistent="false"} 2"#,
        ],
    );
}

#[tokio::test]
async fn a_client_token_may_send_records_and_no_token_may_not() {
    let (state, _source, _) = state_with(MIGRATIONS, &["srv-token", "app-token client"]);
    let body = batch(&[shadow_read(true)]);
    for token in ["app-token", "srv-token"] {
        let reply = call(
            &state,
            with_token(post("/v1/migrations", body.clone()), token),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "{token}: {}",
            reply.text()
        );
    }
    let reply = call(&state, post("/v1/migrations", body.clone())).await;
    assert_eq!(
        json_error(&reply, StatusCode::UNAUTHORIZED),
        "a valid bearer token is required: Authorization: Bearer <token>"
    );
    let reply = call(&state, with_token(post("/v1/migrations", body), "wrong")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_metrics(
        &metrics_text(&state).await,
        &[r#"flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 2"#],
    );
}

#[tokio::test]
async fn records_of_unknown_flags_and_bad_records_are_dropped_and_counted() {
    let (state, _source, _) = state_with(MIGRATIONS, &[]);
    let old = json!({"seconds": 0.001, "error": false});
    let records = [
        shadow_read(true),
        json!({"flag": "no_such_flag", "stage": "shadow", "op": "read", "old": old}),
        json!({"flag": "checkout", "stage": "shadow", "op": "read", "old": old}),
        json!({"flag": "orders_reads", "stage": "shadows", "op": "read", "old": old}),
        json!({"flag": "orders_reads", "stage": "shadow", "op": "delete", "old": old}),
        json!({"flag": "orders_reads", "stage": "shadow", "op": "read"}),
        json!({"flag": "orders_reads", "stage": "off", "op": "read", "old": {"seconds": -1, "error": false}}),
        json!({"flag": "orders_reads", "stage": "off", "op": "write", "old": old, "consistent": true}),
        json!({"flag": "orders_reads", "stage": "off", "op": "read", "old": old, "colour": "red"}),
        json!("orders_reads"),
        json!({"stage": "off"}),
    ];
    let reply = send(&state, batch(&records)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json(), json!({"accepted": 1, "dropped": 10}));
    let text = metrics_text(&state).await;
    assert_metrics(
        &text,
        &[
            r#"flags_migration_records_dropped_total{reason="unknown_flag"} 2"#,
            r#"flags_migration_records_dropped_total{reason="bad_record"} 8"#,
            r#"flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 1"#,
        ],
    );
    assert!(!text.contains("no_such_flag"), "{text}");
    assert!(!text.contains("checkout"), "{text}");
    assert!(!text.contains("stage=\"off\""), "{text}");
}

#[tokio::test]
async fn batches_over_the_limits_are_refused_with_413() {
    let (state, _source, _) = state_with(MIGRATIONS, &[]);
    // 1,000 records (about 180 KiB, over the other endpoints' 64 KiB) are
    // one batch...
    let records: Vec<Value> = (0..1000).map(|i| shadow_read(i % 2 == 0)).collect();
    let body = batch(&records);
    assert!(body.len() > 64 * 1024, "{}", body.len());
    let reply = send(&state, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(reply.json(), json!({"accepted": 1000, "dropped": 0}));
    // ...1,001 are too many,
    let records: Vec<Value> = (0..1001).map(|_| shadow_read(true)).collect();
    let reply = send(&state, batch(&records)).await;
    assert_eq!(
        json_error(&reply, StatusCode::PAYLOAD_TOO_LARGE),
        "the batch holds 1001 records, more than 1000: send at most 1000 records and 1048576 bytes per request"
    );
    // ...and a body over 1 MiB is refused before it is read whole.
    let padding = " ".repeat(1024 * 1024);
    let reply = send(&state, format!("{{\"records\": []{padding}}}")).await;
    assert_eq!(
        json_error(&reply, StatusCode::PAYLOAD_TOO_LARGE),
        "the batch is larger than the limit of 1048576 bytes: send at most 1000 records and 1048576 bytes per request"
    );
    // Nothing of the refused batches was counted.
    assert_metrics(
        &metrics_text(&state).await,
        &[r#"flags_migration_ops_total{flag="orders_reads",stage="shadow",op="read"} 1000"#],
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_batch_is_400_with_a_clear_message() {
    let (state, _source, _) = state_with(MIGRATIONS, &[]);
    let expected = "; expected {\"records\": [{\"flag\": ..., \"stage\": ..., \"op\": ...}, ...]}";
    for (body, problem) in [
        (
            "{\"records\": [",
            "invalid batch: the body is not JSON: EOF while parsing a list at line 1 column 13",
        ),
        ("[]", "invalid batch: the body is not a JSON object"),
        (
            "{}",
            "invalid batch: missing field `records` at line 1 column 2",
        ),
        (
            "{\"records\": {}}",
            "invalid batch: invalid type: map, expected a sequence at line 1 column 12",
        ),
        (
            "{\"records\": [], \"extra\": 1}",
            "invalid batch: unknown field `extra`, expected `records` at line 1 column 23",
        ),
    ] {
        let reply = send(&state, body.to_owned()).await;
        assert_eq!(
            json_error(&reply, StatusCode::BAD_REQUEST),
            format!("{problem}{expected}"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn migration_labels_stay_bounded() {
    // Many flag names a client makes up: none becomes a label.
    let (state, _source, _) = state_with(MIGRATIONS, &[]);
    let records: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"flag": format!("made_up_{i}"), "stage": "off", "op": "read",
                        "old": {"seconds": 0.001, "error": false}})
        })
        .collect();
    let reply = send(&state, batch(&records)).await;
    assert_eq!(reply.json(), json!({"accepted": 0, "dropped": 1000}));
    let text = metrics_text(&state).await;
    assert!(!text.contains("made_up_"));
    assert_metrics(
        &text,
        &[r#"flags_migration_records_dropped_total{reason="unknown_flag"} 1000"#],
    );

    // And the server keeps at most `max_migration_flags` flags.
    let state = state_with_config(
        MIGRATIONS,
        Config {
            max_migration_flags: 2,
            ..Config::default()
        },
    );
    let records: Vec<Value> = [
        "orders_reads",
        "orders_writes",
        "invoices",
        "accounts",
        "orders_reads",
    ]
    .iter()
    .map(|flag| {
        json!({"flag": flag, "stage": "live", "op": "write",
                           "new": {"seconds": 0.001, "error": false}})
    })
    .collect();
    let reply = send(&state, batch(&records)).await;
    assert_eq!(reply.json(), json!({"accepted": 3, "dropped": 2}));
    let text = metrics_text(&state).await;
    let flags: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("flags_migration_"))
        .filter_map(|l| l.split("flag=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        flags,
        ["orders_writes", "orders_reads"].into_iter().collect()
    );
    assert_metrics(
        &text,
        &[
            r#"flags_migration_records_dropped_total{reason="too_many_flags"} 2"#,
            r#"flags_migration_ops_total{flag="orders_reads",stage="live",op="write"} 2"#,
        ],
    );
}
