//! The privacy routes end to end.
