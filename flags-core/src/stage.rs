//! The stages of a migration flag and what each one asks of a read and a
//! write: which system (old or new) runs, which one is authoritative, and
//! whether the other one is compared in the shadow. The six stages and the
//! two-, four- and six-stage sets are LaunchDarkly's (`docs/migrations.md`).

use std::fmt;

/// One stage of a migration, in the order a migration goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The migration has not started: the old system only.
    Off,
    /// Writes go to both (old first, authoritative); reads to the old one.
    DualWrite,
    /// Both run; the old one answers and the new one is compared.
    Shadow,
    /// Both run; the new one answers and the old one is compared.
    Live,
    /// Reads from the new system only; writes to both (new authoritative).
    RampDown,
    /// The migration is done: the new system only.
    Complete,
}

/// Which of the two systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The system being migrated from.
    Old,
    /// The system being migrated to.
    New,
}

impl Side {
    /// `old` or `new`: the name in JSON and in metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }

    /// The other side.
    pub const fn other(self) -> Side {
        match self {
            Side::Old => Side::New,
            Side::New => Side::Old,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one operation (a read or a write) does at a stage: the side whose
/// answer the caller gets, and whether the other side runs too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The side whose result (or error) the caller gets. It runs first.
    pub authoritative: Side,
    /// The other side runs as well (after the authoritative one, or beside
    /// it); its result never changes the caller's answer.
    pub both: bool,
    /// For reads: the two results are compared (the shadow read).
    pub compare: bool,
}

impl Stage {
    /// Every stage, in migration order.
    pub const ALL: [Stage; 6] = [
        Stage::Off,
        Stage::DualWrite,
        Stage::Shadow,
        Stage::Live,
        Stage::RampDown,
        Stage::Complete,
    ];

    /// The stages of a two-stage migration (the systems cannot run side by
    /// side).
    pub const TWO: [Stage; 2] = [Stage::Off, Stage::Complete];

    /// The stages of a four-stage migration (both systems can run at once;
    /// reads and writes move together).
    pub const FOUR: [Stage; 4] = [Stage::Off, Stage::Shadow, Stage::Live, Stage::Complete];

    /// The stages of a migration of `count` stages (2, 4 or 6).
    pub fn set(count: u32) -> Option<&'static [Stage]> {
        match count {
            2 => Some(&Stage::TWO),
            4 => Some(&Stage::FOUR),
            6 => Some(&Stage::ALL),
            _ => None,
        }
    }

    /// The name in the flag file, in JSON answers and in metric labels:
    /// `off`, `dualwrite`, `shadow`, `live`, `rampdown`, `complete`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Off => "off",
            Stage::DualWrite => "dualwrite",
            Stage::Shadow => "shadow",
            Stage::Live => "live",
            Stage::RampDown => "rampdown",
            Stage::Complete => "complete",
        }
    }

    /// The stage named `name` (as written by [`Stage::as_str`]).
    ///
    /// ```
    /// use flags_core::Stage;
    /// assert_eq!(Stage::from_name("shadow"), Some(Stage::Shadow));
    /// assert_eq!(Stage::from_name("Shadow"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The side that is authoritative for reads and writes at this stage.
    pub const fn authoritative(self) -> Side {
        match self {
            Stage::Off | Stage::DualWrite | Stage::Shadow => Side::Old,
            Stage::Live | Stage::RampDown | Stage::Complete => Side::New,
        }
    }

    /// What a read does at this stage.
    ///
    /// | stage     | reads from  | answers | compared |
    /// |-----------|-------------|---------|----------|
    /// | off       | old         | old     | no       |
    /// | dualwrite | old         | old     | no       |
    /// | shadow    | old and new | old     | yes      |
    /// | live      | new and old | new     | yes      |
    /// | rampdown  | new         | new     | no       |
    /// | complete  | new         | new     | no       |
    pub const fn read(self) -> Plan {
        let both = matches!(self, Stage::Shadow | Stage::Live);
        Plan {
            authoritative: self.authoritative(),
            both,
            compare: both,
        }
    }

    /// What a write does at this stage: `off` writes the old system only,
    /// `complete` the new one only, every other stage writes both, the
    /// authoritative side first.
    pub const fn write(self) -> Plan {
        Plan {
            authoritative: self.authoritative(),
            both: !matches!(self, Stage::Off | Stage::Complete),
            compare: false,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_are_in_order() {
        for stage in Stage::ALL {
            assert_eq!(Stage::from_name(stage.as_str()), Some(stage));
        }
        for count in [2, 4, 6] {
            let set = Stage::set(count).expect("2, 4 and 6 are sets");
            assert_eq!(set.len(), count as usize);
            assert!(set.windows(2).all(|w| w[0] < w[1]));
            assert_eq!((set[0], set[set.len() - 1]), (Stage::Off, Stage::Complete));
        }
        assert_eq!(Stage::set(3), None);
    }

    #[test]
    fn plans_follow_the_stage_table() {
        use Side::*;
        let reads: Vec<_> = Stage::ALL
            .iter()
            .map(|s| (s.read().authoritative, s.read().both))
            .collect();
        assert_eq!(
            reads,
            [
                (Old, false),
                (Old, false),
                (Old, true),
                (New, true),
                (New, false),
                (New, false)
            ]
        );
        let writes: Vec<_> = Stage::ALL.iter().map(|s| s.write().both).collect();
        assert_eq!(writes, [false, true, true, true, true, false]);
        assert!(Stage::ALL.iter().all(|s| !s.write().compare));
    }
}
