//! "Thưởng tư vấn" (seed 002 IV): a consultant's contracts that became active in a month, each
//! counted toward their bonus, and officially once "Đã lấy HĐ về và scan" is ticked. A
//! consultant sees their own; a manager those of the people they oversee; an admin anyone's.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_contracts::bonus::{self, StatementError};
use nhip_core::deps::Deps;
use nhip_domain::time::vn_date;

use crate::format;
use crate::pages::care::Choice;
use crate::pages::{Shell, not_found, render};
use crate::session::{Staff, store_failure};

/// One contract on the statement.
pub struct BonusRow {
    pub reference: String,
    pub customer_id: String,
    pub customer: String,
    pub product: String,
    pub principal: String,
    pub active_on: String,
    pub renewal: bool,
    pub scanned: String,
}

#[derive(Template)]
#[template(path = "bonus.html")]
struct BonusPage {
    shell: Shell,
    consultants: Vec<Choice>,
    month: String,
    consultant: String,
    rows: Vec<BonusRow>,
    counted: String,
    official: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BonusQuery {
    consultant: String,
    month: String,
}

/// Whom the signed-in person may pick: themselves, and those they oversee.
async fn consultants(deps: &Deps, staff: &Staff, chosen: &str) -> Result<Vec<Choice>, Response> {
    let users = nhip_crm::staff::users(&*deps.store)
        .await
        .map_err(store_failure)?;
    let mut choices = Vec::new();
    for user in users {
        let mine = nhip_crm::staff::oversees(&*deps.store, &staff.principal, &user.username)
            .await
            .map_err(store_failure)?;
        if mine {
            choices.push(Choice {
                selected: user.username == chosen,
                value: user.username,
                label: user.display_name,
            });
        }
    }
    Ok(choices)
}

/// `GET /app/bonus`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<BonusQuery>,
) -> Response {
    let consultant = Some(query.consultant.trim().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| staff.user.username.clone());
    let month = Some(query.month.trim().to_owned())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| bonus::month_of(vn_date(deps.clock.now())));
    let statement = match bonus::statement(&deps, &staff.principal, &consultant, &month).await {
        Ok(statement) => statement,
        Err(StatementError::Store(error)) => return store_failure(error),
        Err(StatementError::Forbidden | StatementError::Month) => return not_found(),
    };
    let shell = match Shell::load(&deps, &staff, "/app/bonus").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let consultants = match consultants(&deps, &staff, &consultant).await {
        Ok(choices) => choices,
        Err(response) => return response,
    };
    let total =
        |t: bonus::Totals| format!("{} hợp đồng · {}", t.contracts, format::money(t.principal));
    render(&BonusPage {
        shell,
        consultants,
        month: statement.month.clone(),
        consultant: statement.consultant.clone(),
        counted: total(statement.counted),
        official: total(statement.official),
        rows: statement
            .items
            .into_iter()
            .map(|e| BonusRow {
                reference: e.reference.unwrap_or_default(),
                customer_id: e.customer_id,
                customer: e.customer_name,
                product: e.product,
                principal: format::money(e.principal),
                active_on: format::date(e.active_on),
                renewal: e.renewal,
                scanned: match (e.scanned_by, e.scanned_at) {
                    (Some(by), Some(at)) => format!("{by}, {}", format::date_time(at)),
                    _ => String::new(),
                },
            })
            .collect(),
    })
}
