//! The telephony routes end to end.
