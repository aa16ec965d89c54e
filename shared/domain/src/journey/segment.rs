//! The customer-list filter a segment trigger evaluates on a schedule ([`SegmentFilter`]): the
//! filters of the staff's customer list (same names, same meaning, combined with AND), minus
//! those that pick out one person (name, phone, e-mail, CCCD, tax code) and paging, plus
//! relative creation ages (`created_before_days`, `created_within_days`), which a saved
//! filter needs because "created 14 days ago" moves every day.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::{Classification, Lifecycle, Source, UsageStatus};

/// Which customers a segment trigger enrolls. Every field is optional; they combine with AND.
/// The app turns it into its customer-list query with [`SegmentFilter::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentFilter {
    /// Lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// Classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Owner (user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Created on or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<DateTime<Utc>>,
    /// Created on or before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<DateTime<Utc>>,
    /// Created at least this many days before the evaluation ("not converted 14 days after
    /// creation": `14`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before_days: Option<u32>,
    /// Created at most this many days before the evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_within_days: Option<u32>,
    /// Holds a product expiring on or after this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_from: Option<NaiveDate>,
    /// Holds a product expiring on or before this date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_to: Option<NaiveDate>,
    /// Holds a product with this usage status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_status: Option<UsageStatus>,
    /// Holds a product not (yet) used for this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Holds a product with at least this share of invoices left (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_ratio_min: Option<f64>,
    /// Holds a product with at most this share of invoices left (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_ratio_max: Option<f64>,
}

impl SegmentFilter {
    /// The filter as absolute customer-list filters at `now`: the relative ages folded into
    /// `created_to` / `created_from` (the tighter bound wins) and cleared. The remaining
    /// fields carry the customer list's own names.
    pub fn resolve(&self, now: DateTime<Utc>) -> SegmentFilter {
        let days_ago = |days: u32| {
            now.checked_sub_signed(TimeDelta::days(i64::from(days)))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let mut resolved = self.clone();
        if let Some(days) = self.created_before_days {
            let bound = days_ago(days);
            resolved.created_to = Some(self.created_to.map_or(bound, |t| t.min(bound)));
        }
        if let Some(days) = self.created_within_days {
            let bound = days_ago(days);
            resolved.created_from = Some(self.created_from.map_or(bound, |f| f.max(bound)));
        }
        resolved.created_before_days = None;
        resolved.created_within_days = None;
        resolved
    }

    /// Field problems, by field name under the filter, in Vietnamese.
    pub(super) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        for (field, ratio) in [
            ("remaining_ratio_min", self.remaining_ratio_min),
            ("remaining_ratio_max", self.remaining_ratio_max),
        ] {
            if ratio.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                problems.push((field, "tỷ lệ phải từ 0 đến 1".to_owned()));
            }
        }
        for (field, text) in [
            ("owner", &self.owner),
            ("team", &self.team),
            ("tag", &self.tag),
            ("reason", &self.reason),
        ] {
            if text.as_ref().is_some_and(|t| t.trim().is_empty()) {
                problems.push((field, "không được để trống".to_owned()));
            }
        }
        if let (Some(before), Some(within)) = (self.created_before_days, self.created_within_days)
            && before > within
        {
            problems.push((
                "created_within_days",
                "phải lớn hơn hoặc bằng created_before_days, nếu không sẽ không có khách hàng nào"
                    .to_owned(),
            ));
        }
        if *self == SegmentFilter::default() {
            problems.push((
                "",
                "bộ lọc trống sẽ đưa mọi khách hàng vào hành trình: cần ít nhất một điều kiện"
                    .to_owned(),
            ));
        }
        problems
    }
}
