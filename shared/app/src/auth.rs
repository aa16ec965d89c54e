//! Staff authentication.
