//! Normalized JSON output of a snapshot: what a server hands to SDKs that
//! evaluate locally. Parsing the output gives an equivalent snapshot.
//!
//! Normal form: compact; fields in the order of `docs/flag-file.md`; only
//! fields that were set (plus `version` and `kill_all`); flags sorted by
//! key; id lists sorted and without repeats; percentages in their shortest
//! decimal form; ramp times as written.

use crate::decimal::format_basis_points;
use crate::json_path::push_json_string;
use crate::model::{Flag, IdSet, Rollout, Snapshot, Targets, Test};

impl Snapshot {
    /// The snapshot as normalized, compact JSON (a valid flag file).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 128 * self.flags.len());
        out.push_str("{\"version\":1,\"kill_all\":");
        out.push_str(if self.kill_all { "true" } else { "false" });
        if !self.pilots.is_empty() {
            out.push_str(",\"pilots\":");
            targets(&mut out, &self.pilots);
        }
        out.push_str(",\"flags\":{");
        for (i, flag) in self.flags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, &flag.key);
            out.push(':');
            write_flag(&mut out, flag);
        }
        out.push_str("}}");
        out
    }
}

impl Flag {
    /// The flag's normalized JSON object (as it appears in
    /// [`Snapshot::to_json`]): equal strings mean equal behaviour.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        write_flag(&mut out, self);
        out
    }
}

fn write_flag(out: &mut String, flag: &Flag) {
    out.push('{');
    let mut w = Fields::new(out);
    if let Some(d) = &flag.description {
        w.string("description", d);
    }
    if let Some(o) = &flag.owner {
        w.string("owner", o);
    }
    if let Some(m) = &flag.migration {
        let out = w.key("migration");
        out.push_str("{\"stages\":");
        out.push_str(&m.stages.len().to_string());
        out.push_str(",\"stage\":\"");
        out.push_str(m.stage.as_str());
        out.push('"');
        for (name, stage) in [
            ("next", m.next),
            ("pilot_stage", m.pilot_stage),
            ("safe", m.safe),
        ] {
            if let Some(stage) = stage {
                out.push_str(",\"");
                out.push_str(name);
                out.push_str("\":\"");
                out.push_str(stage.as_str());
                out.push('"');
            }
        }
        out.push('}');
    }
    if flag.killed {
        w.raw("killed", "true");
    }
    if !flag.requires.is_empty() {
        let out = w.key("requires");
        out.push('[');
        for (j, c) in flag.requires.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"attribute\":");
            push_json_string(out, &c.attribute);
            let (op, operand) = match &c.test {
                Test::In(ids) => ("in", Operand::List(ids)),
                Test::NotIn(ids) => ("not_in", Operand::List(ids)),
                Test::SemverGte(v) => ("semver_gte", Operand::Version(v.as_str())),
                Test::SemverLt(v) => ("semver_lt", Operand::Version(v.as_str())),
            };
            out.push_str(",\"op\":\"");
            out.push_str(op);
            match operand {
                Operand::List(ids) => {
                    out.push_str("\",\"values\":");
                    id_list(out, ids);
                }
                Operand::Version(v) => {
                    out.push_str("\",\"value\":");
                    push_json_string(out, v);
                }
            }
            out.push('}');
        }
        out.push(']');
    }
    if !flag.deny.is_empty() {
        targets(w.key("deny"), &flag.deny);
    }
    if !flag.pilots.is_empty() {
        targets(w.key("pilots"), &flag.pilots);
    }
    match &flag.rollout {
        Rollout::Unset => {}
        Rollout::Percentage(bp) => w.raw("percentage", &format_basis_points(*bp)),
        Rollout::Ramp(points) => {
            let out = w.key("ramp");
            out.push('[');
            for (j, p) in points.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str("{\"at\":");
                push_json_string(out, &p.at_text);
                out.push_str(",\"percentage\":");
                out.push_str(&format_basis_points(p.bp));
                out.push('}');
            }
            out.push(']');
        }
    }
    if let Some(b) = &flag.bucket_by {
        w.string("bucket_by", b);
    }
    if let Some(s) = &flag.salt {
        w.string("salt", s);
    }
    if !flag.variants.is_empty() {
        let out = w.key("variants");
        out.push('[');
        for (j, v) in flag.variants.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            push_json_string(out, &v.name);
            out.push_str(",\"weight\":");
            out.push_str(&format_basis_points(v.weight));
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
}

enum Operand<'a> {
    List(&'a IdSet),
    Version(&'a str),
}

/// Writes `"name":value` members separated by commas.
struct Fields<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Fields<'o> {
    fn new(out: &'o mut String) -> Self {
        Self { out, first: true }
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_string(self.out, name);
        self.out.push(':');
        self.out
    }

    fn string(&mut self, name: &str, value: &str) {
        push_json_string(self.key(name), value);
    }

    fn raw(&mut self, name: &str, value: &str) {
        self.key(name).push_str(value);
    }
}

/// Writes `{"attribute": [ids...], ...}` (also what change detection
/// compares of the file-wide `pilots`).
pub(crate) fn targets(out: &mut String, targets: &Targets) {
    out.push('{');
    for (i, (attribute, ids)) in targets.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, attribute);
        out.push(':');
        id_list(out, ids);
    }
    out.push('}');
}

fn id_list(out: &mut String, ids: &IdSet) {
    out.push('[');
    // Stored in sorted order.
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, id);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field() {
        let text = r#"{
          "$schema": "./schema/flags.schema.json",
          "version": 1, "kill_all": false,
          "pilots": {"user_id": ["3", "1", "2", "1"]},
          "flags": {
            "z.last": {"percentage": 12.50},
            "orders_reads": {"migration": {"safe": "dualwrite", "next": "live", "stage": "shadow", "stages": 6},
                             "owner": "orders", "percentage": 10},
            "orders_writes": {"migration": {"stages": 2, "stage": "off"}},
            "community_dual_write": {
              "description": "Dual-write \"posts\"", "owner": "communities", "killed": true,
              "requires": [
                {"attribute": "app_version", "op": "semver_gte", "value": "3.2.0"},
                {"attribute": "tenant_id", "op": "not_in", "values": ["legacy"]}
              ],
              "deny": {"user_id": ["666"]},
              "pilots": {"user_id": ["7"], "tenant_id": ["acme"]},
              "ramp": [{"at": "2026-11-21T00:00:00Z", "percentage": 10},
                       {"at": "2026-11-22T00:00:00+01:00", "percentage": 1e2}],
              "bucket_by": "user_id", "salt": "cdw",
              "variants": [{"name": "control", "weight": 50}, {"name": "treatment", "weight": 50.00}]
            }
          }
        }"#;
        let first = Snapshot::from_slice(text.as_bytes()).expect("valid");
        let json = first.to_json();
        assert_eq!(
            json,
            concat!(
                r#"{"version":1,"kill_all":false,"pilots":{"user_id":["1","2","3"]},"flags":{"#,
                r#""community_dual_write":{"description":"Dual-write \"posts\"","owner":"communities","killed":true,"#,
                r#""requires":[{"attribute":"app_version","op":"semver_gte","value":"3.2.0"},"#,
                r#"{"attribute":"tenant_id","op":"not_in","values":["legacy"]}],"#,
                r#""deny":{"user_id":["666"]},"pilots":{"user_id":["7"],"tenant_id":["acme"]},"#,
                r#""ramp":[{"at":"2026-11-21T00:00:00Z","percentage":10},{"at":"2026-11-22T00:00:00+01:00","percentage":100}],"#,
                r#""bucket_by":"user_id","salt":"cdw","#,
                r#""variants":[{"name":"control","weight":50},{"name":"treatment","weight":50}]},"#,
                r#""orders_reads":{"owner":"orders","migration":{"stages":6,"stage":"shadow","next":"live","safe":"dualwrite"},"percentage":10},"#,
                r#""orders_writes":{"migration":{"stages":2,"stage":"off"}},"#,
                r#""z.last":{"percentage":12.5}}}"#
            )
        );
        let second = Snapshot::from_slice(json.as_bytes()).expect("normalized output is valid");
        assert_eq!(second.to_json(), json);
    }
}
