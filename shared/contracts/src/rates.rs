//! A product's rates: the base rate and the fee tiers an investment contract takes when it is
//! signed (seed 002: "lãi suất cơ bản 6%", "phí 10%, 20%"). Only an admin changes them; each
//! change is kept (who, when, old → new) beside the rates in force, in the same transaction,
//! and applies to contracts signed after it: a contract copies its terms at signing.
//!
//! Storage: `RATES#<product>` / `CURRENT` (the rates in force, versioned) and
//! `RATES#<product>` / `HIST#<instant>#<version>` (each change), so the history is one Query.
//! A product with no rates stored has the defaults (6 %; 10 % and 20 %) at version 0.

use chrono::{DateTime, Utc};
use nhip_core::auth::Principal;
use nhip_core::deps::Deps;
use nhip_core::keys;
use nhip_crm::holdings::{Product, ProductKind};
use nhip_ports::store::{Condition, Index, Query, StoreError, WriteOp};
use serde::{Deserialize, Serialize};

/// Highest base rate accepted: 50 % a year.
const MAX_BASE_BP: u32 = 5_000;
/// Most fee tiers.
const MAX_TIERS: usize = 10;

/// One fee tier a contract may be signed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeeTier {
    /// Slug, unique within the product (`phi-10`).
    #[schema(example = "phi-10")]
    pub code: String,
    /// What staff pick, in Vietnamese.
    #[schema(example = "Phí 10%")]
    pub label: String,
    /// The fee, in basis points (1000 = 10 %).
    #[schema(example = 1000, maximum = 10000)]
    pub fee_bp: u32,
}

/// The rates of an investment product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// The base rate, in basis points a year (600 = 6 %).
    #[schema(example = 600, maximum = 5000)]
    pub base_rate_bp: u32,
    /// The fee tiers, in the order staff see them (1 to 10).
    pub fee_tiers: Vec<FeeTier>,
}

impl Default for Rates {
    fn default() -> Self {
        let tier = |code: &str, label: &str, fee_bp| FeeTier {
            code: code.into(),
            label: label.into(),
            fee_bp,
        };
        Rates {
            base_rate_bp: 600,
            fee_tiers: vec![
                tier("phi-10", "Phí 10%", 1000),
                tier("phi-20", "Phí 20%", 2000),
            ],
        }
    }
}

impl Rates {
    /// The first problem, as `(field, message)`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.base_rate_bp > MAX_BASE_BP {
            return Err(("base_rate_bp", "Lãi suất cơ bản từ 0 đến 50%.".into()));
        }
        if self.fee_tiers.is_empty() || self.fee_tiers.len() > MAX_TIERS {
            return Err(("fee_tiers", format!("Cần từ 1 đến {MAX_TIERS} mức phí.")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for tier in &self.fee_tiers {
            if nhip_crm::holdings::fields::normalise_code(&tier.code).as_deref()
                != Some(tier.code.as_str())
            {
                return Err((
                    "fee_tiers",
                    format!(
                        "Mã mức phí \"{}\" không hợp lệ: chữ thường không dấu, số và dấu gạch ngang.",
                        tier.code
                    ),
                ));
            }
            if !seen.insert(tier.code.as_str()) {
                return Err((
                    "fee_tiers",
                    format!("Mã mức phí \"{}\" bị trùng.", tier.code),
                ));
            }
            let label = tier.label.trim().chars().count();
            if label == 0 || label > 60 {
                return Err(("fee_tiers", "Tên mức phí từ 1 đến 60 ký tự.".into()));
            }
            if tier.fee_bp > 10_000 {
                return Err(("fee_tiers", "Mức phí từ 0 đến 100%.".into()));
            }
        }
        Ok(())
    }

    /// The tier with this code.
    pub fn tier(&self, code: &str) -> Option<&FeeTier> {
        self.fee_tiers.iter().find(|t| t.code == code)
    }
}

/// The rates in force and who set them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RatesInForce {
    /// The product.
    pub product: String,
    /// The rates.
    pub rates: Rates,
    /// Their version (0: the defaults, never changed).
    pub version: u64,
    /// Who set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
}

/// One change of a product's rates, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RatesChange {
    /// The version it made.
    pub version: u64,
    /// Who.
    pub changed_by: String,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// The rates before.
    pub old: Rates,
    /// The rates after.
    pub new: Rates,
}

/// Why rates could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum RatesError {
    /// Not an admin.
    #[error("only an admin changes rates")]
    Forbidden,
    /// No such product.
    #[error("no such product")]
    NoProduct,
    /// Not an investment product.
    #[error("the product is not an investment product")]
    NotInvestment,
    /// A value is out of range: the field and the Vietnamese message.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// Changed since it was read.
    #[error("the rates are at version {0}")]
    Stale(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The investment product with this code (normalised).
pub async fn investment_product(deps: &Deps, code: &str) -> Result<Product, RatesError> {
    let code = nhip_crm::holdings::fields::normalise_code(code).ok_or(RatesError::NoProduct)?;
    let product = nhip_crm::holdings::repo::product(&*deps.store, &code)
        .await?
        .ok_or(RatesError::NoProduct)?;
    if product.kind != ProductKind::Investment {
        return Err(RatesError::NotInvestment);
    }
    Ok(product)
}

/// The rates in force for product `code` (already normalised): the defaults at version 0 when
/// none were ever set.
pub async fn in_force(deps: &Deps, code: &str) -> Result<RatesInForce, StoreError> {
    let Some(item) = deps.store.get(&keys::product_rates(code)).await? else {
        return Ok(RatesInForce {
            product: code.to_owned(),
            rates: Rates::default(),
            version: 0,
            changed_by: None,
            changed_at: None,
        });
    };
    nhip_core::records::from_item(item, "product_rates")
}

/// Changes product `code`'s rates if they are still at `version`: admins only; the change goes
/// to the history in the same write.
pub async fn change(
    deps: &Deps,
    principal: &Principal,
    code: &str,
    version: u64,
    rates: Rates,
) -> Result<RatesInForce, RatesError> {
    if !principal.is_admin() {
        return Err(RatesError::Forbidden);
    }
    let product = investment_product(deps, code).await?;
    rates
        .check()
        .map_err(|(field, message)| RatesError::Invalid(field, message))?;
    let current = in_force(deps, &product.code).await?;
    if current.version != version {
        return Err(RatesError::Stale(current.version));
    }
    let now = deps.clock.now();
    let new = RatesInForce {
        product: product.code.clone(),
        rates,
        version: version + 1,
        changed_by: Some(principal.user.clone()),
        changed_at: Some(now),
    };
    let change = RatesChange {
        version: new.version,
        changed_by: principal.user.clone(),
        changed_at: now,
        old: current.rates,
        new: new.rates.clone(),
    };
    let ops = vec![
        WriteOp::Put {
            item: nhip_core::records::to_item(
                keys::product_rates(&product.code),
                "product_rates",
                &new,
            )?,
            condition: if version == 0 {
                Condition::NotExists
            } else {
                Condition::version_is(version)
            },
        },
        WriteOp::Put {
            item: nhip_core::records::to_item(
                keys::product_rates_change(&product.code, now, new.version),
                "product_rates_change",
                &change,
            )?,
            condition: Condition::NotExists,
        },
    ];
    match deps.store.transact(ops).await {
        Ok(()) => Ok(new),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            let current = in_force(deps, &product.code).await?;
            Err(RatesError::Stale(current.version))
        }
        Err(other) => Err(other.into()),
    }
}

/// Every change of product `code`'s rates, newest first (at most 200).
pub async fn history(deps: &Deps, code: &str) -> Result<Vec<RatesChange>, StoreError> {
    let page = deps
        .store
        .query(
            Query::partition(Index::Primary, format!("RATES#{code}"))
                .sk(nhip_ports::store::SortKey::BeginsWith("HIST#".into()))
                .descending()
                .limit(200),
        )
        .await?;
    page.items
        .into_iter()
        .map(|item| nhip_core::records::from_item::<RatesChange>(item, "product_rates_change"))
        .collect()
}
