//! The holdings routes end to end.
