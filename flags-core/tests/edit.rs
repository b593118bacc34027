//! Text-preserving edits, by example: every edit leaves a valid file that
//! means what was asked, and every byte outside the edited span as it was.
//! The model-based property test is in `edit_model.rs`.

#[path = "support/edit.rs"]
mod support;

use flags_core::Context;
use flags_core::edit::{Document, format_percentage, parse_percentage};
use support::*;

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

// ------------------------------------------------------ pause and resume

const RAMPED: &str = concat!(
    "{\n",
    "  \"version\": 1,\n",
    "  \"flags\": {\n",
    "    \"dual_write\": {\n",
    "      \"ramp\": [\n",
    "        { \"at\": \"2026-11-21T00:00:00Z\", \"percentage\": 10 },\n",
    "        { \"at\": \"2026-11-22T00:00:00Z\", \"percentage\": 100 }\n",
    "      ],\n",
    "      \"owner\": \"community\"\n",
    "    },\n",
    "    \"fixed\": { \"percentage\": 5 }\n",
    "  }\n",
    "}\n",
);

#[test]
fn pause_freezes_a_ramp_and_resume_lifts_it() {
    let mut d = doc(RAMPED);
    d.pause("dual_write", "2026-11-21T06:00:00Z")
        .expect("pause");
    assert_eq!(
        d.text(),
        // After the last member that comes before it in documentation
        // order (`owner`).
        RAMPED.replace(
            "\"owner\": \"community\"\n",
            "\"owner\": \"community\",\n      \"paused_at\": \"2026-11-21T06:00:00Z\"\n"
        )
    );
    let flag = d.snapshot().flag("dual_write").expect("flag");
    // 10% + 90% * 6/24, by hand; the unpaused ramp is at 55% at noon.
    assert_eq!(flag.basis_points_at(at("2026-11-21T12:00:00Z")), 3250);
    assert_eq!(flag.basis_points_at(at("2026-11-21T03:00:00Z")), 2125);
    // A later pause keeps the earlier one: the ramp never grows while paused.
    d.pause("dual_write", "2026-11-21T09:00:00Z")
        .expect("pause");
    assert!(d.text().contains("\"paused_at\": \"2026-11-21T06:00:00Z\""));
    // An earlier one moves it back.
    d.pause("dual_write", "2026-11-21T04:00:00+00:00")
        .expect("pause");
    assert!(
        d.text()
            .contains("\"paused_at\": \"2026-11-21T04:00:00+00:00\"")
    );
    d.resume("dual_write").expect("resume");
    assert_eq!(d.text(), RAMPED);
    // Resuming what is not paused changes nothing.
    d.resume("dual_write").expect("resume");
    assert_eq!(d.text(), RAMPED);
}

#[test]
fn pause_needs_a_ramp_and_a_valid_time() {
    let mut d = doc(RAMPED);
    let err = d
        .pause("fixed", "2026-11-21T06:00:00Z")
        .expect_err("no ramp");
    assert_eq!(
        err.to_string(),
        "flag \"fixed\" has no ramp to pause: pausing freezes a ramp (kill it instead)"
    );
    let err = d.pause("dual_write", "now").expect_err("bad time");
    assert!(
        err.to_string().contains("invalid pause time \"now\""),
        "{err}"
    );
    assert_eq!(d.text(), RAMPED);
}

#[test]
fn a_new_rollout_lifts_a_pause() {
    let mut d = doc(RAMPED);
    d.pause("dual_write", "2026-11-21T06:00:00Z")
        .expect("pause");
    d.set_percentage("dual_write", 3250).expect("set");
    let flag = d.snapshot().flag("dual_write").expect("flag");
    assert_eq!(flag.paused_at(), None);
    assert!(!d.text().contains("paused_at"), "{}", d.text());
    let mut d = doc(RAMPED);
    d.pause("dual_write", "2026-11-21T06:00:00Z")
        .expect("pause");
    let points = [
        ("2026-11-21T00:00:00Z".to_owned(), 1000),
        ("2026-11-22T00:00:00Z".to_owned(), 10_000),
    ];
    // The same ramp again: only the pause goes.
    d.set_ramp("dual_write", &points).expect("set");
    assert_eq!(d.text(), RAMPED);
}

#[test]
fn a_guard_is_read_as_written() {
    let text = r#"{"version": 1, "flags": {"f": {"percentage": 5, "guard": {"query": "sum(rate(e[1m]))", "below": -2.5e1, "for": "90s", "action": "kill"}}}}"#;
    let d = doc(text);
    let guard = d
        .snapshot()
        .flag("f")
        .and_then(|f| f.guard())
        .expect("guard");
    assert_eq!(guard.query(), "sum(rate(e[1m]))");
    assert_eq!(guard.threshold(), flags_core::Threshold::Below(-25.0));
    assert_eq!(guard.threshold_text(), "-2.5e1");
    assert_eq!(guard.hold_for(), std::time::Duration::from_secs(90));
    assert_eq!(guard.action(), flags_core::GuardAction::Kill);
    assert!(guard.crossed(-25.5));
    assert!(!guard.crossed(-25.0));
    assert!(!guard.crossed(f64::NAN));
}

// ------------------------------------------------------ migration stages

/// A migration flag laid out on several lines, one on one line, and a
/// compact one: `set_stage` replaces values in place and inserts missing
/// members in documentation order (stages, stage, next, pilot_stage, safe)
/// in the layout of their siblings.
#[test]
fn set_stage_writes_in_the_layout_of_the_migration_object() {
    use flags_core::Stage;
    use flags_core::edit::StageChange;
    let text = "{\n  \"version\": 1,\n  \"flags\": {\n    \"orders\": {\n      \"migration\": {\n        \"stages\": 6,\n        \"stage\": \"dualwrite\",\n        \"safe\": \"off\"\n      },\n      \"percentage\": 10\n    },\n    \"writes\": { \"migration\": { \"stages\": 4, \"stage\": \"off\" } },\n    \"tiny\": {\"migration\":{\"stage\":\"off\",\"stages\":2}}\n  }\n}\n";
    let mut d = doc(text);
    let change = StageChange {
        next: Some(Stage::Shadow),
        pilot_stage: Some(Stage::Live),
        safe: Some(Stage::DualWrite),
        ..StageChange::default()
    };
    d.set_stage("orders", &change).expect("edit");
    assert_eq!(
        d.text(),
        text.replace(
            "\"stage\": \"dualwrite\",\n        \"safe\": \"off\"",
            "\"stage\": \"dualwrite\",\n        \"next\": \"shadow\",\n        \"pilot_stage\": \"live\",\n        \"safe\": \"dualwrite\""
        )
    );
    let m = d
        .snapshot()
        .flag("orders")
        .and_then(|f| f.migration())
        .expect("a migration flag");
    assert_eq!(
        (m.stage(), m.next(), m.pilot_stage(), m.safe()),
        (
            Stage::DualWrite,
            Stage::Shadow,
            Stage::Live,
            Stage::DualWrite
        )
    );

    let before = d.text().to_owned();
    let change = StageChange {
        next: Some(Stage::Live),
        ..StageChange::default()
    };
    d.set_stage("writes", &change).expect("edit");
    assert_eq!(
        d.text(),
        before.replace(
            "\"stage\": \"off\" } }",
            "\"stage\": \"off\", \"next\": \"live\" } }"
        )
    );
    let before = d.text().to_owned();
    let change = StageChange {
        stage: Some(Stage::Complete),
        ..StageChange::default()
    };
    d.set_stage("tiny", &change).expect("edit");
    assert_eq!(
        d.text(),
        before.replace("{\"stage\":\"off\",", "{\"stage\":\"complete\",")
    );
    // The same again: nothing changes, byte for byte.
    let before = d.text().to_owned();
    d.set_stage("tiny", &change).expect("no change");
    assert_eq!(d.text(), before);
}

#[test]
fn set_stage_refuses_what_would_make_the_file_invalid_and_changes_nothing() {
    use flags_core::Stage;
    use flags_core::edit::StageChange;
    let text = r#"{"version": 1, "flags": {"m": {"migration": {"stages": 4, "stage": "shadow", "next": "live"}}, "plain": {}}}"#;
    let mut d = doc(text);
    let cases = [
        (
            "m",
            StageChange {
                stage: Some(Stage::Complete),
                ..StageChange::default()
            },
            "flags.m.migration.next: next \"live\" comes before stage \"complete\"",
        ),
        (
            "m",
            StageChange {
                next: Some(Stage::DualWrite),
                ..StageChange::default()
            },
            "flags.m.migration.next: stage \"dualwrite\" is not one of the 4 stages",
        ),
        (
            "m",
            StageChange {
                safe: Some(Stage::Live),
                ..StageChange::default()
            },
            "flags.m.migration.safe: safe stage \"live\" is one where the new system answers",
        ),
        (
            "plain",
            StageChange {
                next: Some(Stage::Live),
                ..StageChange::default()
            },
            "flag \"plain\" is not a migration flag",
        ),
        (
            "m",
            StageChange::default(),
            "nothing to change: give a stage, next, pilot_stage or safe",
        ),
        (
            "n",
            StageChange {
                next: Some(Stage::Live),
                ..StageChange::default()
            },
            "no flag named \"n\"; did you mean \"m\"?",
        ),
    ];
    for (flag, change, message) in cases {
        let err = d.set_stage(flag, &change).expect_err(message);
        assert!(err.to_string().contains(message), "{err}");
        assert_eq!(d.text(), text);
    }
    let err = d.rollback("plain").expect_err("not a migration");
    assert!(err.to_string().contains("is not a migration flag"), "{err}");
}

#[test]
fn rollback_writes_next_and_pilot_stage_as_the_stage_and_is_idempotent() {
    let text = r#"{"version": 1, "flags": {"m": {"migration": {"stages": 6, "stage": "shadow", "pilot_stage": "rampdown"}, "percentage": 100}}}"#;
    let mut d = doc(text);
    d.rollback("m").expect("edit");
    assert_eq!(
        d.text(),
        text.replace(
            r#""pilot_stage": "rampdown""#,
            r#""next": "shadow", "pilot_stage": "shadow""#
        )
    );
    let m = d
        .snapshot()
        .flag("m")
        .and_then(|f| f.migration())
        .expect("m");
    assert!(m.is_held());
    let before = d.text().to_owned();
    d.rollback("m").expect("nothing to do");
    assert_eq!(d.text(), before);
}
