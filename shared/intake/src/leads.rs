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
        nhip_core::events::publish_recorded(deps, std::slice::from_ref(&recorded.event)).await
    {
        tracing::error!(%error, %customer, "publishing the lead event failed");
        return Err(RecordError::Unpublished);
    }
    if recorded.outcome == leads::Outcome::Created {
        ring_for_new_lead(deps, &recorded.customer).await;
    }
    Ok(recorded)
}

/// Rings the bell of whoever hears of a new lead (its team's manager, the intake owner, or
/// the admins), once per lead. A failure is logged, never fails the submission: the lead is
/// stored and waits in "KH mới chưa tư vấn" either way.
async fn ring_for_new_lead(deps: &Deps, customer: &nhip_crm::customers::model::Customer) {
    let watchers = match nhip_crm::staff::lead_watchers(
        &*deps.store,
        customer.team.as_deref(),
        deps.settings.intake_owner.as_deref(),
    )
    .await
    {
        Ok(watchers) => watchers,
        Err(error) => {
            tracing::warn!(%error, customer = %customer.id, "finding whom to tell of a new lead failed");
            return;
        }
    };
    let notice = nhip_crm::notifications::Notice {
        title: "KH mới chưa tư vấn".into(),
        body: customer.source.label().into(),
        customer_id: Some(customer.id),
        link: format!("/app/customers/{}", customer.id),
    };
    for watcher in watchers {
        let cause = format!("lead#{}", customer.id);
        if let Err(error) =
            nhip_crm::notifications::notify(deps, &watcher, &cause, notice.clone()).await
        {
            tracing::warn!(%error, customer = %customer.id, "ringing the bell for a new lead failed");
        }
    }
}

/// The answer while the service is busy.
pub(crate) fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The service is busy; try again in a moment.",
    )
}
