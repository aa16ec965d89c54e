//! Global search: one box for a name (diacritics ignored), a phone number, an e-mail address,
//! a CCCD or a tax code (MST), in the caller's scope.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use nhip_core::deps::Deps;
use nhip_crm::customers::list::{self, Filters};
use nhip_crm::customers::model::Customer;
use nhip_domain::identifiers::{Cccd, Email, Phone, TaxCode};

use crate::pages::{Shell, render};
use crate::session::{Staff, store_failure};

/// A customer found.
pub struct Hit {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Main phone.
    pub phone: String,
    /// Main e-mail.
    pub email: String,
    /// Lifecycle.
    pub lifecycle: &'static str,
    /// Owner.
    pub owner: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    shell: Shell,
    query: String,
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// The lookups a search text may mean: every identifier it parses as, else a name.
fn lookups(text: &str) -> Vec<Filters> {
    let one = |set: fn(&mut Filters, String)| {
        let mut filters = Filters {
            limit: Some(50),
            ..Filters::default()
        };
        set(&mut filters, text.to_owned());
        filters
    };
    let mut found = Vec::new();
    if Email::parse(text).is_ok() {
        found.push(one(|f, t| f.email = Some(t)));
    }
    if Phone::parse(text).is_ok() {
        found.push(one(|f, t| f.phone = Some(t)));
    }
    if TaxCode::parse(text).is_ok() {
        found.push(one(|f, t| f.tax_code = Some(t)));
    }
    if Cccd::parse(text).is_ok() {
        found.push(one(|f, t| f.cccd = Some(t)));
    }
    if found.is_empty() {
        found.push(one(|f, t| f.name = Some(t)));
    }
    found
}

/// `GET /app/search?q=…`.
pub async fn page(
    State(deps): State<Arc<Deps>>,
    staff: Staff,
    Query(query): Query<SearchQuery>,
) -> Response {
    let mut shell = match Shell::load(&deps, &staff, "").await {
        Ok(shell) => shell,
        Err(response) => return response,
    };
    let text = query.q.trim().to_owned();
    shell.query = text.clone();
    let mut customers: Vec<Customer> = Vec::new();
    if !text.is_empty() {
        for filters in lookups(&text) {
            match list::list(&*deps.store, &staff.principal, &filters).await {
                Ok(listing) => {
                    for customer in listing.customers {
                        if !customers.iter().any(|c| c.id == customer.id) {
                            customers.push(customer);
                        }
                    }
                }
                Err(list::ListError::Store(error)) => return store_failure(error),
                Err(list::ListError::Invalid { .. }) => {}
            }
        }
    }
    let hits = customers
        .iter()
        .map(|customer| Hit {
            id: customer.id.to_string(),
            name: customer.full_name.clone(),
            phone: customer
                .phone()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            email: customer
                .email()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            lifecycle: customer.lifecycle.label(),
            owner: customer.owner.clone().unwrap_or_default(),
        })
        .collect();
    render(&SearchPage {
        shell,
        query: text,
        hits,
    })
}
