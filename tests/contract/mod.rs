//! Port contract suites: each case is written once and run against every adapter.

mod queue;
mod store;
