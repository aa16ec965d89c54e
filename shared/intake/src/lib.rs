//! # Layout
//! Public lead intake: the routes served without a staff token to the organisation's website,
//! its landing pages and its call centre. A lead becomes a customer record (`nhip-crm`), and
//! the consents a form gave are asked to be confirmed by a message (`nhip-messaging`).
//! - [`forms`]: `POST /v1/intake/leads` (JSON or a plain HTML form, CORS for the configured
//!   origins, rate limits, a honeypot) and the double opt-in page.
//! - [`leads`]: recording a lead from either, and publishing its event.
//! - [`telephony`]: the call centre's HMAC-signed incoming-call webhook and the caller's card.

pub mod forms;
pub mod leads;
pub mod telephony;
