//! Messaging: templates, the send pipeline with its compliance rules, channels and the
//! engagement signals that come back.

pub mod settings;
