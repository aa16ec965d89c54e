//! The customer model.
