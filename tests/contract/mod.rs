//! Port contract suites: each case is written once and run against every adapter.

mod blob;
mod bus;
mod channel;
mod queue;
mod secrets;
mod store;
mod zalo;
