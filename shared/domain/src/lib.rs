//! # Layout
//! Nhịp's pure domain: types and rules with no I/O, no async and no AWS types.
//! - [`ids`]: typed, time-ordered identifiers (ULIDs) that validate on parse.
//! - [`time`]: instants in UTC, business time in Asia/Ho_Chi_Minh, minute buckets for due work.
//! - [`event`]: the domain-event envelope exchanged on the events queue.
//! - [`identifiers`]: Vietnamese identifiers that validate on parse (mobile phone, e-mail, CCCD,
//!   CMND, tax code).
//! - [`person`]: names (NFC, diacritic folding for search, the given name used to address
//!   someone) and gender.
//! - [`compliance`]: advertising rules (Decree 91/2020/NĐ-CP): hours and 24-hour limits per
//!   channel, customer agreements, `[QC]` labels, opt-out text and refusal replies.
//! - [`calendar`]: Vietnam's working calendar: working hours and days, the Labour Code's public
//!   holidays (Tết and Giỗ Tổ from the lunar calendar in UTC+07:00) with compensatory days, and
//!   time counted in working hours and days for service levels and call windows.
//! - [`template`]: message templates per channel in Liquid: compile, save-time check against
//!   sample data, strict rendering (HTML-escaped e-mail bodies, Vietnamese filters), SMS segment
//!   counts and unaccented text, how to address a customer.
//! - [`customer`]: the customer model: lifecycle, classification, source, consents.
//! - [`channel`]: the one enumeration of message channels, mapped onto consent channels and
//!   Decree 91's regulated channels.
//! - [`card`]: payment card numbers: the Luhn check, and what looks like a full card number.
//! - [`journey`]: journeys as versioned data (YAML or JSON): the model, save-time validation,
//!   and the pure rules the engine calls (wait ends, conditions, A/B splits, goals).
//! - [`installment`]: instalment plans (trả góp): schedules exact to the đồng with a flat
//!   conversion fee or interest on a reducing balance, and where each instalment stands after
//!   payments.
//! - [`ladder`]: reminder ladders: the days around a due date (D-5 … D+3) on which reminders go
//!   out.
//! - [`occasions`]: greeting occasions: birthdays and the solar and lunar holidays (Tết, Giỗ
//!   Tổ, Trung Thu in Vietnam's lunar calendar), with a once-a-year key per occasion.

pub mod calendar;
pub mod card;
pub mod channel;
pub mod compliance;
pub mod customer;
pub mod event;
pub mod identifiers;
pub mod ids;
pub mod installment;
pub mod journey;
pub mod ladder;
pub mod occasions;
pub mod person;
pub mod template;
pub mod time;
