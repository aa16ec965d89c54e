//! Nhịp's one integration-test binary.
//! - `console`: the staff console over HTTP: sign-in through an identity provider, sessions.
//! - `contract`: one suite per port, each case run once per adapter (sqlite and dynamodb for
//!   the item store; local and sqs for queues). The AWS adapters run against moto's server,
//!   whose address the test command passes in `NHIP_TEST_AWS_ENDPOINT`.
//! - `customers`: the customer core through its HTTP routes (intake dedupe, authorization
//!   matrix, search, interactions).
//! - `functions`: each Lambda handler invoked with the fixtures in `events/`.
//! - `intake`: the public intake as an anonymous caller: known customers' phones, the double
//!   opt-in, the rate limit.
//! - `openapi`: the served OpenAPI document walked against the router it describes.
//! - `runner`: the local runner started as `nhip-local` starts it.
//! - `support`: what every suite shares: fresh adapters, the emulator, fixtures, and the one
//!   HTTP harness (`support::Api`) the suites call the API through; suites with steps of
//!   their own (intake, messaging, journey_engine, telephony) wrap it.

mod console;
mod contract;
mod contracts;
mod customers;
mod events_in;
mod functions;
mod holdings;
mod import;
mod intake;
mod journey_engine;
mod journeys;
mod messaging;
mod next_actions;
mod openapi;
mod privacy;
mod runner;
mod scopes;
mod support;
mod telephony;
mod work;
