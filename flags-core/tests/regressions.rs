//! Bugs found by fuzzing, pinned. Each reproducer lives in
//! `flags-core/fuzz/regressions/`.

use std::fs;
use std::path::Path;

use flags_core::Snapshot;

/// Keys and values with a newline or a terminal escape were quoted raw in
/// messages, so one diagnostic spanned several lines (or recoloured a
/// terminal). Every diagnostic must stay one printable line.
#[test]
fn messages_stay_on_one_line_with_control_characters_in_file_content() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).expect("regressions directory") {
        let path = entry.expect("entry").path();
        let bytes = fs::read(&path).expect("readable");
        let Err(err) = Snapshot::from_slice(&bytes) else {
            continue;
        };
        for d in err.diagnostics() {
            let line = d.to_string();
            assert!(
                !line.chars().any(char::is_control),
                "{}: control character in {line:?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "expected the fuzz reproducers to be rejected");
    let err = Snapshot::from_slice(b"{\"version\":1,\"flags\":{},\"x\\u001b[31m\\n\":1}")
        .expect_err("unknown field");
    assert_eq!(
        err.to_string(),
        "<input>:1:25: [\"x\\u001b[31m\\n\"]: unknown field \"x\\u001b[31m\\n\" (expected one of: $schema, version, kill_all, pilots, flags)"
    );
}
