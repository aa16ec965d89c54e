//! The import routes end to end.
