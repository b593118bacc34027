//! Text-preserving edits: every edit leaves a valid file that means what was
//! asked, and every byte outside the edited span as it was.

use flags_core::edit::{Document, format_percentage, parse_percentage};
use flags_core::{Context, Snapshot, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const EXAMPLE: &str = include_str!("../../examples/flags.json");

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("valid time")
}

fn doc(text: &str) -> Document {
    Document::parse(text).expect("valid flag file")
}

// ---------------------------------------------------------------- layouts

/// The example without any whitespace outside strings: one line.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// Leading pairs of spaces become tabs.
fn tabs(text: &str) -> String {
    text.lines()
        .map(|line| {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            format!("{}{}\n", "\t".repeat(spaces / 2), &line[spaces..])
        })
        .collect()
}

const EMPTY_FLAGS: &str = "{\n  \"version\": 1,\n  \"flags\": {}\n}\n";

const ONLY_FLAG: &str =
    "{\n  \"version\": 1,\n  \"flags\": {\n    \"solo\": { \"percentage\": 5 }\n  }\n}\n";

/// Escapes in keys and values, non-ASCII ids and descriptions.
const UNICODE: &str = r#"{
  "version": 1,
  "pilots": { "user_id": ["José", "\u65e5\u672c\u8a9e"] },
  "flags": {
    "cafe-menu": { "descr\u0069ption": "Menü für José 🚀", "pilots": { "user_id": ["🚀", "a\"b"] }, "percentage": 1.50 },
    "umlaut_free": { "owner": "日本語チーム", "ramp": [{ "at": "2026-11-21T00:00:00+09:00", "percentage": 0.5 }] }
  }
}
"#;

/// Odd but valid spacing: spaces before colons and commas.
const ODD_SPACING: &str = "{ \"version\" : 1 , \"kill_all\" : false , \"flags\" : { \"a\" : { \"percentage\" : 1.50 } , \"b\" : { \"killed\" : true } } }";

fn layouts() -> Vec<(&'static str, String)> {
    vec![
        ("example", EXAMPLE.to_owned()),
        ("compact", compact(EXAMPLE)),
        ("crlf", crlf(EXAMPLE)),
        ("tabs", tabs(EXAMPLE)),
        ("empty flags", EMPTY_FLAGS.to_owned()),
        ("only flag", ONLY_FLAG.to_owned()),
        ("unicode", UNICODE.to_owned()),
        ("odd spacing", ODD_SPACING.to_owned()),
        ("compact crlf tabs", crlf(&tabs(ONLY_FLAG))),
    ]
}

// ------------------------------------------------------ exact, by example

#[test]
fn set_percentage_replaces_only_the_number() {
    let mut d = doc(EXAMPLE);
    d.set_percentage("enrollment_service", 2500).expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace("\"percentage\": 12.5", "\"percentage\": 25")
    );
    let flag = d.snapshot().flag("enrollment_service").expect("flag");
    assert_eq!(flag.basis_points_at(at("2026-11-21T12:00:00Z")), 2500);
}

#[test]
fn set_percentage_writes_the_shortest_form() {
    for (bp, text) in [
        (1250, "12.5"),
        (1205, "12.05"),
        (1, "0.01"),
        (10_000, "100"),
        (0, "0"),
    ] {
        let mut d = doc(EXAMPLE);
        d.set_percentage("tenant_billing_v2", bp).expect("edit");
        assert_eq!(
            d.text(),
            EXAMPLE.replace("\"percentage\": 25", &format!("\"percentage\": {text}"))
        );
        assert_eq!(format_percentage(bp), text);
    }
}

#[test]
fn set_percentage_on_a_ramp_replaces_the_ramp_member() {
    let mut d = doc(EXAMPLE);
    d.set_percentage("community_dual_write", 5000)
        .expect("edit");
    let ramp = "\"ramp\": [\n        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n        { \"at\": \"2026-11-22T00:00:00Z\", \"percentage\": 100 }\n      ]";
    assert!(EXAMPLE.contains(ramp));
    assert_eq!(d.text(), EXAMPLE.replace(ramp, "\"percentage\": 50"));
    let flag = d.snapshot().flag("community_dual_write").expect("flag");
    assert!(!flag.is_ramp());
    assert_eq!(flag.percentage(), Some(5000));
}

#[test]
fn set_ramp_on_a_percentage_copies_the_ramp_layout_of_the_file() {
    let mut d = doc(EXAMPLE);
    let points = [
        ("2026-11-21T00:00:00Z".to_owned(), 1000),
        ("2026-11-22T00:00:00Z".to_owned(), 10_000),
    ];
    d.set_ramp("enrollment_service", &points).expect("edit");
    let expected = EXAMPLE.replace(
        "      \"percentage\": 12.5\n",
        "      \"ramp\": [\n        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n        { \"at\": \"2026-11-22T00:00:00Z\", \"percentage\": 100 }\n      ]\n",
    );
    assert_eq!(d.text(), expected);
    let flag = d.snapshot().flag("enrollment_service").expect("flag");
    assert_eq!(flag.basis_points_at(at("2026-11-21T12:00:00Z")), 5500);
    // Setting the same ramp again changes nothing.
    d.set_ramp("enrollment_service", &points).expect("edit");
    assert_eq!(d.text(), expected);
}

#[test]
fn set_ramp_replaces_an_existing_ramp_in_its_layout() {
    let mut d = doc(EXAMPLE);
    d.set_ramp(
        "community_dual_write",
        &[
            ("2026-12-01T00:00:00Z".to_owned(), 100),
            ("2026-12-02T00:00:00Z".to_owned(), 2500),
            ("2026-12-03T00:00:00+01:00".to_owned(), 10_000),
        ],
    )
    .expect("edit");
    let old = "      \"ramp\": [\n        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n        { \"at\": \"2026-11-22T00:00:00Z\", \"percentage\": 100 }\n      ],\n";
    let new = "      \"ramp\": [\n        { \"at\": \"2026-12-01T00:00:00Z\", \"percentage\": 1 },\n        { \"at\": \"2026-12-02T00:00:00Z\", \"percentage\": 25 },\n        { \"at\": \"2026-12-03T00:00:00+01:00\", \"percentage\": 100 }\n      ],\n";
    assert_eq!(d.text(), EXAMPLE.replace(old, new));
}

#[test]
fn ramps_are_checked_before_anything_is_written() {
    let mut d = doc(EXAMPLE);
    for (points, message) in [
        (vec![], "a ramp needs at least one point"),
        (
            vec![("tomorrow".to_owned(), 10)],
            "invalid ramp time \"tomorrow\": expected an RFC 3339 time with an offset, such as 2026-11-21T00:00:00Z",
        ),
        (
            vec![
                ("2026-11-22T00:00:00Z".to_owned(), 10),
                ("2026-11-21T00:00:00Z".to_owned(), 20),
            ],
            "ramp times must strictly increase: 2026-11-21T00:00:00Z is not after 2026-11-22T00:00:00Z",
        ),
        (
            vec![("2026-11-22T00:00:00Z".to_owned(), 10_001)],
            "ramp percentage 100.01 at 2026-11-22T00:00:00Z is out of range: expected 0 to 100",
        ),
    ] {
        let err = d
            .set_ramp("enrollment_service", &points)
            .expect_err("bad ramp");
        assert_eq!(err.to_string(), message);
        assert_eq!(d.text(), EXAMPLE);
    }
}

#[test]
fn add_pilots_creates_the_pilots_object_in_documentation_order() {
    let mut d = doc(EXAMPLE);
    d.add_pilots("enrollment_service", "user_id", &["7", "8", "7"])
        .expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace(
            "      \"owner\": \"enrollment\",\n      \"percentage\": 12.5",
            "      \"owner\": \"enrollment\",\n      \"pilots\": { \"user_id\": [\"7\", \"8\"] },\n      \"percentage\": 12.5"
        )
    );
    let s = d.snapshot();
    let now = at("2026-11-21T12:00:00Z");
    assert!(s.is_enabled(
        "enrollment_service",
        &Context::new(&[("user_id", "8")]),
        now
    ));
}

#[test]
fn add_pilots_appends_new_ids_and_keeps_existing_ones() {
    let mut d = doc(EXAMPLE);
    d.add_pilots("community_dual_write", "user_id", &["7", "9", "10"])
        .expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace(
            "\"pilots\": { \"user_id\": [\"7\"], \"tenant_id\"",
            "\"pilots\": { \"user_id\": [\"7\", \"9\", \"10\"], \"tenant_id\""
        )
    );
    // A new attribute goes at the end of the pilots object.
    d.add_pilots("community_dual_write", "country", &["NL"])
        .expect("edit");
    assert!(
        d.text()
            .contains("\"tenant_id\": [\"acme\"], \"country\": [\"NL\"] },"),
        "{}",
        d.text()
    );
    // Adding ids that are already there is a no-op, byte for byte.
    let before = d.text().to_owned();
    d.add_pilots("community_dual_write", "user_id", &["9", "7"])
        .expect("edit");
    assert_eq!(d.text(), before);
}

#[test]
fn remove_pilots_handles_first_middle_last_and_only() {
    let text = EXAMPLE.replace("[\"1\", \"2\", \"3\"]", "[\"1\"]").replace(
        "\"pilots\": { \"user_id\": [\"7\"]",
        "\"pilots\": { \"user_id\": [\"1\", \"2\", \"3\", \"4\", \"5\"]",
    );
    let mut d = doc(&text);
    let cases = [
        ("1", "[\"2\", \"3\", \"4\", \"5\"]"),
        ("3", "[\"2\", \"4\", \"5\"]"),
        ("5", "[\"2\", \"4\"]"),
    ];
    for (id, list) in cases {
        d.remove_pilots("community_dual_write", "user_id", &[id])
            .expect("edit");
        assert!(
            d.text().contains(&format!(
                "\"pilots\": {{ \"user_id\": {list}, \"tenant_id\""
            )),
            "{}",
            d.text()
        );
    }
    // Several runs at once, including the first item.
    let mut d2 = doc(&text);
    d2.remove_pilots("community_dual_write", "user_id", &["1", "2", "4"])
        .expect("edit");
    assert!(
        d2.text().contains("\"user_id\": [\"3\", \"5\"],"),
        "{}",
        d2.text()
    );
    // The last ids of an attribute: the list goes.
    d.remove_pilots("community_dual_write", "user_id", &["2", "4", "nobody"])
        .expect("edit");
    assert!(
        d.text()
            .contains("\"pilots\": { \"tenant_id\": [\"acme\"] },"),
        "{}",
        d.text()
    );
    // The last list: `pilots` goes.
    d.remove_pilots("community_dual_write", "tenant_id", &["acme"])
        .expect("edit");
    assert_eq!(
        d.text(),
        text.replace(
            "      \"pilots\": { \"user_id\": [\"1\", \"2\", \"3\", \"4\", \"5\"], \"tenant_id\": [\"acme\"] },\n",
            ""
        )
    );
    // Removing from a list that does not exist is a no-op.
    let before = d.text().to_owned();
    d.remove_pilots("community_dual_write", "tenant_id", &["acme"])
        .expect("edit");
    assert_eq!(d.text(), before);
}

#[test]
fn kill_and_unkill() {
    let mut d = doc(EXAMPLE);
    d.set_killed("community_dual_write", true).expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace("\"killed\": false", "\"killed\": true")
    );
    d.set_killed("community_dual_write", false).expect("edit");
    assert_eq!(d.text(), EXAMPLE);
    // A flag without `killed`: inserted after owner, removed never (false
    // where absent is a no-op).
    d.set_killed("enrollment_service", false).expect("edit");
    assert_eq!(d.text(), EXAMPLE);
    d.set_killed("enrollment_service", true).expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace(
            "\"owner\": \"enrollment\",\n",
            "\"owner\": \"enrollment\",\n      \"killed\": true,\n"
        )
    );
    let now = at("2026-11-21T12:00:00Z");
    let pilot = Context::new(&[("user_id", "1")]);
    assert!(!d.snapshot().is_enabled("enrollment_service", &pilot, now));
}

#[test]
fn kill_all_and_back() {
    let mut d = doc(EXAMPLE);
    d.set_kill_all(true).expect("edit");
    assert_eq!(
        d.text(),
        EXAMPLE.replace("\"kill_all\": false", "\"kill_all\": true")
    );
    assert!(d.snapshot().kill_all());
    d.set_kill_all(false).expect("edit");
    assert_eq!(d.text(), EXAMPLE);
    // Without a kill_all member: inserted after version.
    let mut d = doc(EMPTY_FLAGS);
    d.set_kill_all(true).expect("edit");
    assert_eq!(
        d.text(),
        "{\n  \"version\": 1,\n  \"kill_all\": true,\n  \"flags\": {}\n}\n"
    );
}

#[test]
fn create_in_an_empty_flags_object_indents_cleanly() {
    let mut d = doc(EMPTY_FLAGS);
    d.create_flag("checkout", Some("New checkout"), Some("payments"))
        .expect("edit");
    assert_eq!(
        d.text(),
        "{\n  \"version\": 1,\n  \"flags\": {\n    \"checkout\": {\n      \"description\": \"New checkout\",\n      \"owner\": \"payments\",\n      \"percentage\": 0\n    }\n  }\n}\n"
    );
    let flag = d.snapshot().flag("checkout").expect("created");
    assert_eq!(flag.percentage(), Some(0));
    assert_eq!(flag.owner(), Some("payments"));
    // And back.
    d.delete_flag("checkout").expect("edit");
    assert_eq!(d.text(), "{\n  \"version\": 1,\n  \"flags\": {}\n}\n");
}

#[test]
fn create_follows_the_siblings_and_the_key_order() {
    let mut d = doc(EXAMPLE);
    d.create_flag("search_v2", None, Some("search"))
        .expect("edit");
    // Sorted files stay sorted; the new flag is laid out like the others.
    assert_eq!(
        d.text(),
        EXAMPLE.replace(
            "    \"tenant_billing_v2\": {",
            "    \"search_v2\": {\n      \"owner\": \"search\",\n      \"percentage\": 0\n    },\n    \"tenant_billing_v2\": {"
        )
    );
    let mut d = doc(ONLY_FLAG);
    d.create_flag("alpha", None, None).expect("edit");
    assert_eq!(
        d.text(),
        ONLY_FLAG.replace(
            "    \"solo\"",
            "    \"alpha\": { \"percentage\": 0 },\n    \"solo\""
        )
    );
    let mut d = doc(&compact(EXAMPLE));
    d.create_flag("zeta", Some("Z \"quoted\""), None)
        .expect("edit");
    assert_eq!(
        d.text(),
        compact(EXAMPLE).replace(
            "\"percentage\":25}}}",
            "\"percentage\":25},\"zeta\":{\"description\":\"Z \\\"quoted\\\"\",\"percentage\":0}}}"
        )
    );
}

#[test]
fn create_refuses_existing_and_invalid_keys() {
    let mut d = doc(EXAMPLE);
    let err = d
        .create_flag("enrollment_service", None, None)
        .expect_err("exists");
    assert_eq!(
        err.to_string(),
        "flag \"enrollment_service\" already exists"
    );
    for bad in ["new checkout", "", "é", &"x".repeat(129)] {
        let err = d.create_flag(bad, None, None).expect_err("invalid key");
        assert!(
            err.to_string()
                .ends_with(": expected 1 to 128 characters of A-Z a-z 0-9 _ - ."),
            "{err}"
        );
    }
    assert_eq!(d.text(), EXAMPLE);
}

#[test]
fn delete_the_first_middle_last_and_only_flag() {
    let strip = |key: &str| {
        let mut d = doc(EXAMPLE);
        d.delete_flag(key).expect("edit");
        let s = d.snapshot();
        assert!(s.flag(key).is_none());
        assert_eq!(s.len(), 2);
        d.into_text()
    };
    let first = strip("community_dual_write");
    assert!(
        first.contains("  \"flags\": {\n    \"enrollment_service\": {"),
        "{first}"
    );
    let middle = strip("enrollment_service");
    assert!(
        middle.contains("    },\n    \"tenant_billing_v2\": {"),
        "{middle}"
    );
    let last = strip("tenant_billing_v2");
    assert!(
        last.ends_with("      \"percentage\": 12.5\n    }\n  }\n}\n"),
        "{last}"
    );
    let mut d = doc(ONLY_FLAG);
    d.delete_flag("solo").expect("edit");
    assert_eq!(d.text(), "{\n  \"version\": 1,\n  \"flags\": {}\n}\n");
}

#[test]
fn unknown_flags_are_named_with_the_nearest_key() {
    let mut d = doc(EXAMPLE);
    let cases: [(&str, &str); 3] = [
        (
            "enrolment_service",
            "no flag named \"enrolment_service\"; did you mean \"enrollment_service\"?",
        ),
        (
            "Tenant_Billing_V2",
            "no flag named \"Tenant_Billing_V2\"; did you mean \"tenant_billing_v2\"?",
        ),
        ("checkout", "no flag named \"checkout\""),
    ];
    for (key, message) in cases {
        assert_eq!(
            d.set_percentage(key, 100).expect_err("unknown").to_string(),
            message
        );
        assert_eq!(
            d.set_killed(key, true).expect_err("unknown").to_string(),
            message
        );
        assert_eq!(
            d.delete_flag(key).expect_err("unknown").to_string(),
            message
        );
        assert_eq!(
            d.add_pilots(key, "user_id", &["1"])
                .expect_err("unknown")
                .to_string(),
            message
        );
    }
    assert_eq!(d.text(), EXAMPLE);
}

#[test]
fn out_of_range_values_are_refused() {
    let mut d = doc(EXAMPLE);
    let err = d
        .set_percentage("enrollment_service", 10_001)
        .expect_err("range");
    assert_eq!(
        err.to_string(),
        "percentage 100.01 is out of range: expected 0 to 100"
    );
    let err = d
        .add_pilots("enrollment_service", "", &["1"])
        .expect_err("attribute");
    assert_eq!(err.to_string(), "attribute names must not be empty");
    assert_eq!(d.text(), EXAMPLE);
}

#[test]
fn invalid_files_are_refused_with_every_problem() {
    let err = Document::parse_named(
        "{\"version\": 1, \"flags\": {\"a\": {\"percentge\": 5}}}",
        "f.json",
    )
    .expect_err("invalid");
    assert_eq!(err.diagnostics().len(), 1);
    assert!(
        err.to_string()
            .starts_with("f.json:1:32: flags.a.percentge: unknown field"),
        "{err}"
    );
}

#[test]
fn percentages_as_operators_type_them() {
    for (text, bp) in [
        ("12.5", 1250),
        ("12.50", 1250),
        ("0.01", 1),
        ("100", 10_000),
        ("0", 0),
        ("7%", 700),
        (" 3.25 ", 325),
    ] {
        assert_eq!(parse_percentage(text).expect(text), bp, "{text}");
    }
    for (text, message) in [
        (
            "12.345",
            "invalid percentage \"12.345\": at most two decimals (0.01 is the smallest step)",
        ),
        (
            "100.5",
            "invalid percentage \"100.5\": expected a number from 0 to 100",
        ),
        (
            "-1",
            "invalid percentage \"-1\": expected a number from 0 to 100",
        ),
        (
            "1e2",
            "invalid percentage \"1e2\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
        (
            "",
            "invalid percentage \"\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
        (
            "12.",
            "invalid percentage \"12.\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
        (
            ".5",
            "invalid percentage \".5\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
        (
            "ten",
            "invalid percentage \"ten\": expected a number from 0 to 100 with at most two decimals, such as 12.5",
        ),
    ] {
        assert_eq!(parse_percentage(text).expect_err(text).to_string(), message);
    }
}

#[test]
fn tricky_layouts_keep_their_style() {
    // Compact: stays on one line, no spaces added.
    let mut d = doc(&compact(EXAMPLE));
    d.set_killed("enrollment_service", true).expect("edit");
    d.add_pilots("enrollment_service", "user_id", &["9"])
        .expect("edit");
    assert_eq!(
        d.text(),
        compact(EXAMPLE).replace(
            "\"owner\":\"enrollment\",\"percentage\":12.5",
            "\"owner\":\"enrollment\",\"killed\":true,\"pilots\":{\"user_id\":[\"9\"]},\"percentage\":12.5"
        )
    );
    // CRLF and tabs: new lines use both.
    let text = crlf(&tabs(EXAMPLE));
    let mut d = doc(&text);
    d.set_ramp(
        "tenant_billing_v2",
        &[
            ("2026-11-21T00:00:00Z".to_owned(), 0),
            ("2026-11-28T00:00:00Z".to_owned(), 10_000),
        ],
    )
    .expect("edit");
    assert_eq!(
        d.text(),
        text.replace(
            "\t\t\t\"percentage\": 25\r\n",
            "\t\t\t\"ramp\": [\r\n\t\t\t\t{ \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 0 },\r\n\t\t\t\t{ \"at\": \"2026-11-28T00:00:00Z\", \"percentage\": 100 }\r\n\t\t\t]\r\n"
        )
    );
    // Odd spacing: copied from the neighbours.
    let mut d = doc(ODD_SPACING);
    d.create_flag("c", None, None).expect("edit");
    d.set_killed("a", true).expect("edit");
    assert_eq!(
        d.text(),
        "{ \"version\" : 1 , \"kill_all\" : false , \"flags\" : { \"a\" : { \"killed\" : true , \"percentage\" : 1.50 } , \"b\" : { \"killed\" : true } , \"c\" : { \"percentage\" : 0 } } }"
    );
    // Unicode and escapes: offsets are bytes, and escaped keys are found.
    let text = UNICODE;
    let mut d = doc(text);
    d.add_pilots("cafe-menu", "user_id", &["日本語"])
        .expect("edit");
    d.set_percentage("cafe-menu", 200).expect("edit");
    assert_eq!(
        d.text(),
        text.replace(
            "[\"🚀\", \"a\\\"b\"] }, \"percentage\": 1.50",
            "[\"🚀\", \"a\\\"b\", \"日本語\"] }, \"percentage\": 2"
        )
    );
    let now = at("2026-11-21T12:00:00Z");
    assert!(
        d.snapshot()
            .is_enabled("cafe-menu", &Context::new(&[("user_id", "日本語")]), now)
    );
    d.set_percentage("umlaut_free", 300).expect("edit");
    assert!(
        d.text()
            .contains("{ \"owner\": \"日本語チーム\", \"percentage\": 3 }"),
        "{}",
        d.text()
    );
}

// ------------------------------------------------------------- properties

#[derive(Clone, Debug)]
enum Op {
    SetPercentage(usize, u32),
    SetRamp(usize, Vec<(i64, u32)>),
    AddPilots(usize, usize, Vec<usize>),
    RemovePilots(usize, usize, Vec<usize>),
    SetKilled(usize, bool),
    SetKillAll(bool),
    Create(usize, bool, bool),
    Delete(usize),
}

const IDS: &[&str] = &["1", "7", "8", "666", "José", "日本語", "🚀", "a\"b", "acme"];
const ATTRIBUTES: &[&str] = &["user_id", "tenant_id", "country"];
const NEW_KEYS: &[&str] = &["alpha", "checkout.v2", "zzz", "enrollment_service", "solo"];
const T0: i64 = 1_795_219_200_000;

fn op() -> impl Strategy<Value = Op> {
    let flag = 0usize..8;
    let bp = prop_oneof![Just(0u32), Just(10_000u32), 0u32..=10_000];
    let ids = prop::collection::vec(0..IDS.len(), 0..4);
    prop_oneof![
        (flag.clone(), bp.clone()).prop_map(|(f, bp)| Op::SetPercentage(f, bp)),
        (
            flag.clone(),
            prop::collection::vec((1i64..100_000_000, 0u32..=10_000), 1..4)
        )
            .prop_map(|(f, steps)| {
                let mut t = T0;
                let points = steps
                    .into_iter()
                    .map(|(dt, bp)| {
                        t += dt;
                        (t, bp)
                    })
                    .collect();
                Op::SetRamp(f, points)
            }),
        (flag.clone(), 0..ATTRIBUTES.len(), ids.clone())
            .prop_map(|(f, a, i)| Op::AddPilots(f, a, i)),
        (flag.clone(), 0..ATTRIBUTES.len(), ids).prop_map(|(f, a, i)| Op::RemovePilots(f, a, i)),
        (flag.clone(), any::<bool>()).prop_map(|(f, k)| Op::SetKilled(f, k)),
        any::<bool>().prop_map(Op::SetKillAll),
        (0..NEW_KEYS.len(), any::<bool>(), any::<bool>()).prop_map(|(k, d, o)| Op::Create(k, d, o)),
        flag.prop_map(Op::Delete),
    ]
}

fn millis_text(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).to_string()
}

/// The flag an op names: an existing key by index, or (past the end) a
/// key that does not exist.
fn pick(keys: &[String], i: usize) -> String {
    keys.get(i)
        .cloned()
        .unwrap_or_else(|| "no_such_flag".to_owned())
}

fn number(bp: u32) -> Value {
    serde_json::from_str(&format_percentage(bp)).expect("number")
}

/// What the file should mean after `op`: the same edit made on parsed
/// JSON. `None` when the edit must be refused.
fn model(value: &mut Value, keys: &[String], op: &Op) -> Option<()> {
    let root = value.as_object_mut()?;
    if let Op::SetKillAll(b) = op {
        root.insert("kill_all".into(), json!(b));
        return Some(());
    }
    let flags = root.get_mut("flags")?.as_object_mut()?;
    match op {
        Op::Create(k, d, o) => {
            let key = NEW_KEYS[*k];
            if flags.contains_key(key) {
                return None;
            }
            let mut flag = Map::new();
            if *d {
                flag.insert("description".into(), json!("Dual \"quoted\" é"));
            }
            if *o {
                flag.insert("owner".into(), json!("team"));
            }
            flag.insert("percentage".into(), json!(0));
            flags.insert(key.into(), Value::Object(flag));
            return Some(());
        }
        Op::Delete(f) => return flags.remove(&pick(keys, *f)).map(|_| ()),
        _ => {}
    }
    let index = match op {
        Op::SetPercentage(f, _)
        | Op::SetRamp(f, _)
        | Op::AddPilots(f, _, _)
        | Op::RemovePilots(f, _, _)
        | Op::SetKilled(f, _) => *f,
        _ => unreachable!(),
    };
    let flag = flags.get_mut(&pick(keys, index))?.as_object_mut()?;
    match op {
        Op::SetPercentage(_, bp) => {
            flag.remove("ramp");
            flag.insert("percentage".into(), number(*bp));
        }
        Op::SetRamp(_, points) => {
            flag.remove("percentage");
            let ramp = points
                .iter()
                .map(|(t, bp)| json!({"at": millis_text(*t), "percentage": number(*bp)}))
                .collect();
            flag.insert("ramp".into(), Value::Array(ramp));
        }
        Op::AddPilots(_, a, ids) => {
            let pilots = flag
                .entry("pilots")
                .or_insert_with(|| json!({}))
                .as_object_mut()?;
            let list = pilots
                .entry(ATTRIBUTES[*a])
                .or_insert_with(|| json!([]))
                .as_array_mut()?;
            for &i in ids {
                if !list.contains(&json!(IDS[i])) {
                    list.push(json!(IDS[i]));
                }
            }
            if list.is_empty() {
                pilots.remove(ATTRIBUTES[*a]);
            }
            if pilots.is_empty() {
                flag.remove("pilots");
            }
        }
        Op::RemovePilots(_, a, ids) => {
            if let Some(pilots) = flag.get_mut("pilots").and_then(Value::as_object_mut) {
                if let Some(list) = pilots.get_mut(ATTRIBUTES[*a]).and_then(Value::as_array_mut) {
                    list.retain(|id| !ids.iter().any(|&i| *id == json!(IDS[i])));
                    if list.is_empty() {
                        pilots.remove(ATTRIBUTES[*a]);
                    }
                }
                if pilots.is_empty() {
                    flag.remove("pilots");
                }
            }
        }
        Op::SetKilled(_, b) => {
            flag.insert("killed".into(), json!(b));
        }
        _ => unreachable!(),
    }
    Some(())
}

/// Applies `op` to the document.
fn apply(d: &mut Document, keys: &[String], op: &Op) -> Result<(), flags_core::Error> {
    let ids = |is: &[usize]| is.iter().map(|&i| IDS[i]).collect::<Vec<_>>();
    match op {
        Op::SetPercentage(f, bp) => d.set_percentage(&pick(keys, *f), *bp),
        Op::SetRamp(f, points) => {
            let points: Vec<(String, u32)> = points
                .iter()
                .map(|(t, bp)| (millis_text(*t), *bp))
                .collect();
            d.set_ramp(&pick(keys, *f), &points)
        }
        Op::AddPilots(f, a, is) => d.add_pilots(&pick(keys, *f), ATTRIBUTES[*a], &ids(is)),
        Op::RemovePilots(f, a, is) => d.remove_pilots(&pick(keys, *f), ATTRIBUTES[*a], &ids(is)),
        Op::SetKilled(f, b) => d.set_killed(&pick(keys, *f), *b),
        Op::SetKillAll(b) => d.set_kill_all(*b),
        Op::Create(k, desc, owner) => d.create_flag(
            NEW_KEYS[*k],
            desc.then_some("Dual \"quoted\" é"),
            owner.then_some("team"),
        ),
        Op::Delete(f) => d.delete_flag(&pick(keys, *f)),
    }
}

/// The byte range of the value of member `key` of the object at `obj`
/// (`obj` is the offset of its `{`), found by scanning the text.
fn member_value(text: &str, obj: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut i = obj + 1;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                let end = string_end(bytes, i);
                if depth == 0 {
                    let raw = &text[start..end];
                    let decoded: String = serde_json::from_str(raw).ok()?;
                    let mut j = end;
                    while bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if bytes[j] == b':' {
                        j += 1;
                        while bytes[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        let value_end = value_end(bytes, j);
                        if decoded == key {
                            return Some(j..value_end);
                        }
                        i = value_end;
                        continue;
                    }
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return None;
                }
                depth -= 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    loop {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
}

fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut depth = 0usize;
    loop {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' | b' ' | b'\t' | b'\r' | b'\n' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
}

fn root_at(text: &str) -> usize {
    text.find('{').expect("object")
}

/// The span of `text` an op may change: the flag's value, the `flags`
/// object, or (for kill_all) anything but the `flags` object.
fn allowed(text: &str, keys: &[String], op: &Op) -> (std::ops::Range<usize>, bool) {
    let flags = member_value(text, root_at(text), "flags").expect("flags");
    let flag = |i: usize| member_value(text, flags.start, &pick(keys, i)).expect("flag");
    match op {
        Op::SetKillAll(_) => (flags, false),
        Op::Create(..) | Op::Delete(_) => (flags, true),
        Op::SetPercentage(f, _)
        | Op::SetRamp(f, _)
        | Op::AddPilots(f, _, _)
        | Op::RemovePilots(f, _, _)
        | Op::SetKilled(f, _) => (flag(*f), true),
    }
}

/// The changed span of `old`, and the text that replaced it.
fn changed<'a>(old: &str, new: &'a str) -> (std::ops::Range<usize>, &'a str) {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix..old.len() - suffix, &new[prefix..new.len() - suffix])
}

/// What a file means: its normalized JSON, with object keys sorted (the
/// order of `pilots` attributes does not change what a file means) and
/// `"percentage": 0` dropped (no percentage means 0).
fn normalized(text: &str) -> Value {
    let json = Snapshot::from_slice(text.as_bytes())
        .expect("valid")
        .to_json();
    let mut value: Value = serde_json::from_str(&json).expect("normalized JSON");
    if let Some(flags) = value["flags"].as_object_mut() {
        for flag in flags.values_mut().filter_map(Value::as_object_mut) {
            if flag.get("percentage") == Some(&json!(0)) {
                flag.remove("percentage");
            }
        }
    }
    value
}

fn check_sequence(name: &str, text: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut d = doc(text);
    let mut meaning: Value = serde_json::from_str(text).expect("json");
    let one_line = !text.contains('\n');
    let crlf = text.contains("\r\n");
    let tabbed = text.lines().all(|l| !l.starts_with(' '));
    for op in ops {
        let keys: Vec<String> = d.snapshot().keys().map(str::to_owned).collect();
        let before = d.text().to_owned();
        let mut expected = meaning.clone();
        let allowed_result = model(&mut expected, &keys, op);
        let result = apply(&mut d, &keys, op);
        match (allowed_result, result) {
            (None, Err(_)) => {
                prop_assert_eq!(
                    d.text(),
                    before.as_str(),
                    "{}: a refused edit changes nothing",
                    name
                );
                continue;
            }
            (None, Ok(())) => {
                return Err(TestCaseError::fail(format!(
                    "{name}: {op:?} should be refused"
                )));
            }
            (Some(()), Err(e)) => {
                return Err(TestCaseError::fail(format!("{name}: {op:?} failed: {e}")));
            }
            (Some(()), Ok(())) => {}
        }
        meaning = expected;
        let after = d.text();
        // Valid, and means what the same edit on parsed JSON means.
        prop_assert_eq!(
            normalized(after),
            normalized(&meaning.to_string()),
            "{}: {:?}\n{}",
            name,
            op,
            after
        );
        // Everything outside the edited span is byte-identical.
        let (span, inserted) = changed(&before, after);
        let (region, inside) = allowed(&before, &keys, op);
        if span.is_empty() && inserted.is_empty() {
            continue;
        }
        if inside {
            prop_assert!(
                region.start <= span.start && span.end <= region.end,
                "{}: {:?} changed {:?} outside {:?}\n{}",
                name,
                op,
                span,
                region,
                after
            );
        } else {
            prop_assert!(
                span.end <= region.start || span.start >= region.end,
                "{}: {:?} changed the flags",
                name,
                op
            );
        }
        // New text has the style of the old.
        if one_line {
            prop_assert!(!after.contains('\n'), "{}: stays on one line", name);
        }
        if crlf {
            prop_assert!(
                !after.replace("\r\n", "").contains('\n'),
                "{}: CRLF everywhere",
                name
            );
        }
        if tabbed {
            prop_assert!(after.lines().all(|l| !l.starts_with(' ')), "{}: tabs", name);
        }
        // The new percentage is in effect.
        if let Op::SetPercentage(f, bp) = op {
            let flag = d.snapshot().flag(&pick(&keys, *f)).expect("flag");
            prop_assert_eq!(flag.basis_points_at(at("2030-01-01T00:00:00Z")), *bp);
        }
        if let Op::SetKilled(f, k) = op {
            prop_assert_eq!(
                d.snapshot().flag(&pick(&keys, *f)).expect("flag").killed(),
                *k
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn edits_are_valid_meant_and_local(layout in 0usize..9, ops in prop::collection::vec(op(), 1..8)) {
        let all = layouts();
        let (name, text) = &all[layout];
        check_sequence(name, text, &ops)?;
    }
}

#[test]
fn every_op_on_every_layout() {
    // A deterministic sweep next to the random one: each kind of edit on
    // each flag of each layout.
    for (name, text) in &layouts() {
        let n = Snapshot::from_slice(text.as_bytes()).expect("valid").len();
        for f in 0..=n {
            let ops = [
                Op::SetPercentage(f, 3333),
                Op::SetRamp(f, vec![(T0, 100), (T0 + 86_400_000, 10_000)]),
                Op::AddPilots(f, 0, vec![1, 4, 5]),
                Op::RemovePilots(f, 0, vec![1, 4]),
                Op::RemovePilots(f, 1, vec![8]),
                Op::SetKilled(f, true),
                Op::SetKilled(f, false),
                Op::SetKillAll(true),
                Op::Create(0, true, true),
                Op::Delete(f),
                Op::Delete(0),
            ];
            for op in &ops {
                check_sequence(name, text, std::slice::from_ref(op))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            check_sequence(name, text, &ops).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
