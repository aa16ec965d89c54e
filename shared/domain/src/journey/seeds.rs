//! The journeys shipped with Nhịp, one per seed use case, kept as YAML files in
//! `shared/domain/journeys/` and compiled in. Each file lists the templates it uses at the top.

use super::{Journey, JourneyErrors, parse_yaml};

/// A journey shipped with Nhịp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    /// The file name under `shared/domain/journeys/`.
    pub file: &'static str,
    /// Its YAML.
    pub yaml: &'static str,
}

impl Seed {
    /// The journey (not validated: templates are the organisation's).
    pub fn parse(&self) -> Result<Journey, JourneyErrors> {
        parse_yaml(self.yaml)
    }
}

/// The shipped journeys: installment invitation (seed 000), new-card onboarding (seed 001),
/// lead nurture e-mail series (seed 002).
pub const SEEDS: &[Seed] = &[
    Seed {
        file: "tra-gop-moi.yaml",
        yaml: include_str!("../../journeys/tra-gop-moi.yaml"),
    },
    Seed {
        file: "the-moi-kich-hoat.yaml",
        yaml: include_str!("../../journeys/the-moi-kich-hoat.yaml"),
    },
    Seed {
        file: "nuoi-duong-lead.yaml",
        yaml: include_str!("../../journeys/nuoi-duong-lead.yaml"),
    },
];
