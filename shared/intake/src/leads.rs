//! Recording a lead from a public channel (the web form, the call centre): the customer
//! record is upserted by `nhip-crm` and its `lead.*` event published, so journeys hear it.

use axum::http::StatusCode;
use nhip_core::deps::Deps;
use nhip_core::http::ApiError;
use nhip_crm::customers::leads::{self, Lead, Upserted};
use nhip_crm::customers::repo::{SaveError, save_error};

/// Why a lead was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The customer record could not be saved.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// The customer and its timeline entry are stored; only the event is missing. The client
    /// is told to retry, which arrives as a resubmission and publishes again.
    #[error("the lead event was not published")]
    Unpublished,
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Save(error) => save_error(error),
            RecordError::Unpublished => unavailable(),
        }
    }
}

/// Upserts the lead and publishes its event.
pub async fn record_lead(deps: &Deps, lead: &Lead) -> Result<Upserted, RecordError> {
    let recorded = leads::upsert(deps, lead).await?;
    let customer = recorded.customer.id;
    tracing::info!(%customer, outcome = ?recorded.outcome, via = lead.via, "lead recorded");
    if let Err(error) =
        nhip_core::events::publish(deps, std::slice::from_ref(&recorded.event)).await
    {
        tracing::error!(%error, %customer, "publishing the lead event failed");
        return Err(RecordError::Unpublished);
    }
    Ok(recorded)
}

/// The answer while the service is busy.
pub(crate) fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The service is busy; try again in a moment.",
    )
}
