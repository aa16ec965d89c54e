//! Vietnamese identifiers that validate on parse.
