//! Every exported function that returns a pointer and can answer NULL says
//! so, in its own documentation (the header's comment) and in
//! `docs/c-abi.md`; none of them promises "never NULL".
//!
//! "Can answer NULL" is read from the code: the body of the function names
//! a null pointer (`null_mut()` or `null()`), as the panic boundary's answer
//! or as the answer to a bad argument. A function whose every answer is a
//! static string (`flags_library_version`, ...) is free to promise more.

use std::fs;
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An exported function: its name, its `///` documentation, whether it
/// returns a pointer, and whether its body can answer NULL.
struct Exported {
    name: String,
    doc: String,
    returns_pointer: bool,
    answers_null: bool,
}

/// The exported functions of one source file, in order.
fn exported(source: &str) -> Vec<Exported> {
    let lines: Vec<&str> = source.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "#[unsafe(no_mangle)]")
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let item = lines[start + 1..end].join("\n");
        let signature = item.split('{').next().unwrap_or_default();
        let Some(name) = signature
            .split("extern \"C\" fn ")
            .nth(1)
            .and_then(|rest| rest.split('(').next())
        else {
            continue;
        };
        let doc: Vec<&str> = lines[..start]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("///"))
            .map(|l| l.trim_start_matches("///").trim())
            .collect();
        let body = &item[signature.len()..];
        out.push(Exported {
            name: name.trim().to_owned(),
            doc: doc.into_iter().rev().collect::<Vec<_>>().join(" "),
            returns_pointer: signature.contains("-> *"),
            answers_null: body.contains("null_mut()") || body.contains("null()"),
        });
    }
    out
}

#[test]
fn pointer_returning_functions_that_can_answer_null_say_so() {
    let mut sources: Vec<PathBuf> = fs::read_dir(crate_dir().join("src"))
        .expect("src/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    sources.sort();
    let functions: Vec<Exported> = sources.iter().flat_map(|p| exported(&read(p))).collect();
    assert!(
        functions.len() >= 22,
        "found only {} exported functions",
        functions.len()
    );

    let c_abi = read(&crate_dir().join("../docs/c-abi.md"));
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for f in functions.iter().filter(|f| f.returns_pointer) {
        if !f.answers_null {
            continue;
        }
        checked.push(f.name.as_str());
        if !f.doc.contains("NULL") {
            problems.push(format!(
                "{}: its documentation never says when it is NULL",
                f.name
            ));
        }
        if f.doc.to_lowercase().contains("never null") {
            problems.push(format!("{}: documented never NULL: {:?}", f.name, f.doc));
        }
        let row = c_abi
            .lines()
            .find(|l| l.starts_with("| `") && l.contains(&format!(" *{}(", f.name)))
            .unwrap_or_else(|| panic!("docs/c-abi.md has no row for {}", f.name));
        if !row.contains("NULL") || row.to_lowercase().contains("never null") {
            problems.push(format!("docs/c-abi.md, {}: {row}", f.name));
        }
    }
    // The three that do today; a new one joins the check by itself.
    for name in [
        "flags_source_shared",
        "flags_context_new",
        "flags_context_parse",
    ] {
        assert!(checked.contains(&name), "{name} not checked: {checked:?}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
