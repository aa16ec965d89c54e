//! Names and gender.
