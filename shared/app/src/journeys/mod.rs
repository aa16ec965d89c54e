//! # Layout
//! Journeys: versioned definitions a marketer writes in YAML or JSON, checked when saved and
//! frozen when published, and the seed journeys the product ships with.
//! - [`definitions`]: the journey store and its staff routes (create, new version, publish,
//!   read as JSON or YAML, install a seed with its Vietnamese templates).

pub mod definitions;
