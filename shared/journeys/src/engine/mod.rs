//! The journey engine: enrollments and the journey worker that moves them one step at a time.
//!
//! # The enrollment
//! `CUS#<customer>` / `ENR#<journey>#<enrollment>` holds where one customer is in one journey:
//! the version it started on, the current step and whether it is still to be entered
//! (`entering`) or waiting there (`waiting`, until `wake_at` or an event), the anchors
//! conditions measure from (entry times and visit counts per step), the message each send step
//! produced (for engagement branches) and the trigger's data. `seq` counts its transitions and
//! is the optimistic-concurrency version: every change is written on condition that `seq` is
//! still what was read. `CUS#<customer>` / `ENRON#<journey>` marks the one enrollment of that
//! journey the customer is active in; in a journey that runs once per subject (`trigger.per`:
//! an instalment plan, a contract), `ENRON#<journey>#<subject>` marks each subject's, and the
//! enrollment records its `subject`.
//!
//! # One step
//! A step job (`steps` queue, function `journey-worker`) names an enrollment and either the
//! `seq` it was made for (the next step is due) or an event (a goal, a stop, what a waiting
//! step listens for). The worker reads the enrollment, decides, then:
//! 1. writes the **step record** `CUS#<customer>` / `JSTEP#<enrollment>#<seq>` create-only:
//!    the idempotency item, written before any side effect, holding the decision. A
//!    redelivered job, or a timeout racing an event, finds it and replays that decision;
//! 2. performs the step's side effect under keys derived from the enrollment, step and visit
//!    (`journey#<enrollment>#<step>#<visit>`): the message id, the ticket id and the
//!    notification's cause, so repeating it adds nothing;
//! 3. writes the enrollment on condition `seq` is unchanged;
//! 4. hands on: the next step's job to the `steps` queue, or a due-work item at the wake-up
//!    time (the scheduler sends its job then). A job one behind the enrollment (a
//!    redelivery after a crash between 3 and 4) hands on again; the next job's `seq` check
//!    drops the spare.
//!
//! A step costs one read, two conditional writes and one queue send (or one due-work put), plus
//! the side effect; the counters add one update each.
//!
//! # Layout
//! - `enrollment`: the enrollment model ([`Enrollment`], [`EnrollmentStatus`], [`Phase`]), how
//!   one starts ([`Start`], [`new_enrollment`], [`enrollment_id`]), its item (with the sparse
//!   `gsi3` entry of the journey's active list) and its reads ([`of_customer`],
//!   [`active_of_journey`]).
//! - `decision`: what a job makes the enrollment do ([`Decision`]): the rules of each step on
//!   entry, on timeout and on an event, goals and stops, over what [`events_since`] and the
//!   customer's record answer (read through a `Lookups` trait, so the rules are unit-tested
//!   without a store).
//! - `effects`: the side effect of entering a step (a send, a ticket, an update of the
//!   customer, a notification), keyed by the enrollment, step and visit.
//! - `worker`: the `steps` queue's consumer ([`handle_batch`], [`run`], [`JobOutcome`]): the
//!   step record, the enrollment write under its `seq`, the hand-on ([`hand_on`],
//!   [`enqueue`]), the marker's release and the `journey.step` and end events.

mod decision;
mod effects;
mod enrollment;
mod worker;

pub(crate) use decision::needs_history;
pub use decision::{Decision, events_since};
pub use enrollment::{
    Enrollment, EnrollmentStatus, KIND, Phase, Start, active_of_journey, enrollment_id,
    new_enrollment, of_customer,
};
pub use worker::{JobOutcome, STEP_KIND, enqueue, hand_on, handle_batch, run};
