//! Text-preserving edits against a model: random sequences of edits on the
//! example in several layouts, each compared with the same edit made on a
//! JSON model of the file, and every byte outside the edited span checked.

#[path = "support/edit.rs"]
mod support;

use flags_core::edit::{Document, format_percentage};
use flags_core::{Snapshot, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::*;

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
