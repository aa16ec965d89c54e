//! Placeholder, filled in by the telephony work.

use std::sync::Arc;

use axum::Router;

use crate::deps::Deps;

/// The routes.
pub fn router() -> Router<Arc<Deps>> {
    Router::new()
}
