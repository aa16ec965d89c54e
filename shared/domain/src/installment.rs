//! Instalment plans (trả góp): a purchase or a card balance converted into monthly instalments,
//! the schedule shown to the customer exact to the đồng, and where a customer stands after
//! paying part of it. Pure: the terms in, the schedule out. No I/O.
//!
//! # The rules shown to customers
//! Amounts are whole đồng ([`i64`]); every rounding is half up (0,5 đồng rounds up), and every
//! schedule adds up exactly: the principal parts sum to the principal, and the amounts to the
//! principal plus the charges ([`total_owed`]).
//!
//! - **Due dates.** Instalment *k* (counted from 1) is due *k − 1* months after the first due
//!   date, counted from the first due date each time: a day the month does not have becomes its
//!   last day, and only for that month (first due 31/01: 28/02 or 29/02, then 31/03, 30/04, …).
//! - **Fixed conversion fee ([`Method::Flat`]).** The fee is `rate_bp` basis points of the
//!   principal, charged once (199 = 1,99 %), rounded to the đồng. The principal and the fee are
//!   each spread evenly: every instalment carries the whole-đồng share (the division rounded
//!   down) and the last one also the remainder. 10 000 000 đ over 3 months at 1,99 %: fee
//!   199 000 đ; 3 399 666 đ twice, then 3 399 668 đ.
//! - **Reducing balance ([`Method::ReducingBalance`]).** `rate_bp` is the annual interest rate
//!   in basis points (1 800 = 18 %/năm); the monthly rate is a twelfth of it. The monthly
//!   payment is the annuity `A = P·r / (1 − (1 + r)^−n)` (`P / n` at 0 %), rounded to the đồng.
//!   Each month's interest is the monthly rate on the balance still owed, rounded to the đồng;
//!   the rest of the payment repays principal (never less than nothing, never more than the
//!   balance). The last instalment repays the whole remaining balance with its interest, so it
//!   differs from `A` by a few đồng. 100 000 000 đ over 12 months at 12 %/năm: 8 884 879 đ a
//!   month, the first month's interest 1 000 000 đ, the last instalment 8 884 876 đ.
//! - **Payments ([`standing`]).** Money paid goes to the oldest instalment first; what is left
//!   over goes to the next one. A partly paid instalment past its due date is overdue.
//!
//! # Limits
//! Principal 1 to [`MAX_PRINCIPAL`] đồng (100 tỷ), 1 to [`MAX_MONTHS`] months, `rate_bp` 0 to
//! [`MAX_RATE_BP`] (100 % of the principal for the fee, 100 %/năm for interest).

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The largest principal, in đồng: 100 tỷ đồng.
pub const MAX_PRINCIPAL: i64 = 100_000_000_000;

/// The most monthly instalments a plan may have: ten years.
pub const MAX_MONTHS: u32 = 120;

/// The largest `rate_bp`: 100 % of the principal as a fee, or 100 %/năm as interest.
pub const MAX_RATE_BP: u32 = 10_000;

/// Basis points in a whole.
const BP: i128 = 10_000;

/// Basis points of an annual rate in a whole, times the twelve months of a year: the divisor
/// that turns `balance × rate_bp` into a month's interest.
const BP_MONTHS: i128 = 120_000;

/// How the charge for spreading a payment is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A one-off conversion fee, a share of the principal, spread over the instalments.
    Flat,
    /// Monthly interest on the balance still owed, with equal monthly payments (an annuity).
    ReducingBalance,
}

impl Method {
    /// Both methods.
    pub const ALL: [Method; 2] = [Method::Flat, Method::ReducingBalance];

    /// The wire form: `flat` or `reducing_balance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Flat => "flat",
            Method::ReducingBalance => "reducing_balance",
        }
    }

    /// The Vietnamese name shown to customers and staff.
    pub fn label(self) -> &'static str {
        match self {
            Method::Flat => "Phí chuyển đổi cố định",
            Method::ReducingBalance => "Dư nợ giảm dần",
        }
    }
}

/// The terms of an instalment plan, as the customer agreed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// The amount spread, in đồng: 1 to [`MAX_PRINCIPAL`].
    pub principal: i64,
    /// How many monthly instalments: 1 to [`MAX_MONTHS`].
    pub months: u32,
    /// How the charge is computed.
    pub method: Method,
    /// In basis points, 0 to [`MAX_RATE_BP`]: the one-off fee as a share of the principal for
    /// [`Method::Flat`] (199 = 1,99 %), the annual interest rate for
    /// [`Method::ReducingBalance`] (1 800 = 18 %/năm).
    pub rate_bp: u32,
    /// The due date of the first instalment.
    pub first_due: NaiveDate,
}

impl Terms {
    /// Checks the terms against the limits, reporting the first field out of them; the last
    /// due date must also be a date chrono can represent.
    pub fn validate(&self) -> Result<(), TermsError> {
        if !(1..=MAX_PRINCIPAL).contains(&self.principal) {
            return Err(TermsError::Principal {
                principal: self.principal,
            });
        }
        if !(1..=MAX_MONTHS).contains(&self.months) {
            return Err(TermsError::Months {
                months: self.months,
            });
        }
        if self.rate_bp > MAX_RATE_BP {
            return Err(TermsError::Rate {
                rate_bp: self.rate_bp,
            });
        }
        match self.due_on(self.months) {
            Some(_) => Ok(()),
            None => Err(TermsError::FirstDue {
                first_due: self.first_due,
            }),
        }
    }

    /// The due date of instalment `seq` (counted from 1), counted from the first due date.
    fn due_on(&self, seq: u32) -> Option<NaiveDate> {
        self.first_due
            .checked_add_months(Months::new(seq.saturating_sub(1)))
    }
}

/// Why terms were rejected. `field()` names the input field; `Display` is a Vietnamese sentence
/// for the customer or the agent, starting with that field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TermsError {
    /// A principal outside 1 to [`MAX_PRINCIPAL`] đồng.
    #[error("principal: số tiền trả góp phải từ 1 đến 100.000.000.000 đồng (nhận {principal})")]
    Principal {
        /// The principal given.
        principal: i64,
    },
    /// A number of months outside 1 to [`MAX_MONTHS`].
    #[error("months: kỳ hạn trả góp phải từ 1 đến 120 tháng (nhận {months})")]
    Months {
        /// The number of months given.
        months: u32,
    },
    /// A rate above [`MAX_RATE_BP`].
    #[error("rate_bp: phí hoặc lãi suất phải từ 0 đến 10.000 điểm cơ bản (100%) (nhận {rate_bp})")]
    Rate {
        /// The rate given, in basis points.
        rate_bp: u32,
    },
    /// A first due date so late that the last due date cannot be represented.
    #[error("first_due: ngày đến hạn đầu tiên {first_due} không hợp lệ")]
    FirstDue {
        /// The first due date given.
        first_due: NaiveDate,
    },
}

impl TermsError {
    /// The input field at fault: `principal`, `months`, `rate_bp` or `first_due`.
    pub fn field(&self) -> &'static str {
        match self {
            TermsError::Principal { .. } => "principal",
            TermsError::Months { .. } => "months",
            TermsError::Rate { .. } => "rate_bp",
            TermsError::FirstDue { .. } => "first_due",
        }
    }
}

/// One monthly instalment of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// Its place in the schedule, counted from 1.
    pub seq: u32,
    /// Its due date.
    pub due_on: NaiveDate,
    /// The principal it repays, in đồng.
    pub principal: i64,
    /// Its share of the fee ([`Method::Flat`]) or its interest ([`Method::ReducingBalance`]),
    /// in đồng.
    pub charge: i64,
    /// What the customer pays: `principal + charge`, in đồng.
    pub amount: i64,
    /// The principal still owed once it is paid, in đồng: 0 after the last.
    pub balance_after: i64,
}

/// The schedule of `terms`: one [`Instalment`] a month, by the rules of the module
/// documentation. Errs when the terms are out of the limits ([`Terms::validate`]).
pub fn schedule(terms: &Terms) -> Result<Vec<Instalment>, TermsError> {
    terms.validate()?;
    let parts = match terms.method {
        Method::Flat => flat_parts(terms),
        Method::ReducingBalance => reducing_parts(terms),
    };
    let mut balance = terms.principal;
    let mut instalments = Vec::with_capacity(parts.len());
    for (seq, (principal, charge)) in (1..).zip(parts) {
        let due_on = terms.due_on(seq).ok_or(TermsError::FirstDue {
            first_due: terms.first_due,
        })?;
        balance -= principal;
        instalments.push(Instalment {
            seq,
            due_on,
            principal,
            charge,
            amount: principal + charge,
            balance_after: balance,
        });
    }
    Ok(instalments)
}

/// What the customer pays over the whole plan: the sum of the instalments' amounts, the
/// principal plus the fee or the interest.
pub fn total_owed(terms: &Terms) -> Result<i64, TermsError> {
    Ok(schedule(terms)?.iter().map(|i| i.amount).sum())
}

/// `numerator / denominator` rounded half up, for a non-negative numerator and a positive
/// denominator.
fn round_half_up(numerator: i128, denominator: i128) -> i128 {
    (2 * numerator + denominator) / (2 * denominator)
}

/// An `i128` computed from amounts within the limits, back to `i64`.
fn to_dong(value: i128) -> i64 {
    i64::try_from(value).expect("amounts within the limits fit in i64")
}

/// The (principal, fee) parts of each instalment with a flat fee: even shares rounded down,
/// the remainders on the last.
fn flat_parts(terms: &Terms) -> Vec<(i64, i64)> {
    let fee = to_dong(round_half_up(
        i128::from(terms.principal) * i128::from(terms.rate_bp),
        BP,
    ));
    let principal = spread(terms.principal, terms.months);
    let fee = spread(fee, terms.months);
    principal.into_iter().zip(fee).collect()
}

/// `total` in `n` whole-đồng shares: `total / n` rounded down, the last taking the remainder.
fn spread(total: i64, n: u32) -> Vec<i64> {
    let n_i64 = i64::from(n);
    let share = total / n_i64;
    let mut shares = vec![share; n as usize];
    if let Some(last) = shares.last_mut() {
        *last = total - share * (n_i64 - 1);
    }
    shares
}

/// The monthly payment of an annuity, rounded half up to the đồng: `P·r / (1 − (1 + r)^−n)`
/// with `r` the monthly rate, or `P / n` at 0 %.
fn annuity_payment(principal: i64, months: u32, rate_bp: u32) -> i64 {
    if rate_bp == 0 {
        return to_dong(round_half_up(i128::from(principal), i128::from(months)));
    }
    let p = principal as f64;
    let n = f64::from(months);
    let r = f64::from(rate_bp) / BP_MONTHS as f64;
    // 1 − (1 + r)^−n without the cancellation of a tiny rate.
    let discount = -(-n * r.ln_1p()).exp_m1();
    (p * r / discount + 0.5).floor() as i64
}

/// The (principal, interest) parts of each instalment on a reducing balance: interest on the
/// balance, the rest of the annuity payment repaying principal, the last clearing the balance.
fn reducing_parts(terms: &Terms) -> Vec<(i64, i64)> {
    let payment = annuity_payment(terms.principal, terms.months, terms.rate_bp);
    let mut balance = terms.principal;
    let mut parts = Vec::with_capacity(terms.months as usize);
    for seq in 1..=terms.months {
        let interest = to_dong(round_half_up(
            i128::from(balance) * i128::from(terms.rate_bp),
            BP_MONTHS,
        ));
        let principal = if seq == terms.months {
            balance
        } else {
            (payment - interest).clamp(0, balance)
        };
        balance -= principal;
        parts.push((principal, interest));
    }
    parts
}

/// Where an instalment stands after the payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentState {
    /// Paid in full (or nothing to pay).
    Paid,
    /// Partly paid, not yet past its due date.
    Partial,
    /// Nothing paid, due today.
    Due,
    /// Not paid in full, past its due date.
    Overdue,
    /// Nothing paid, due later.
    Upcoming,
}

impl InstalmentState {
    /// The wire form: `paid`, `partial`, `due`, `overdue` or `upcoming`.
    pub fn as_str(self) -> &'static str {
        match self {
            InstalmentState::Paid => "paid",
            InstalmentState::Partial => "partial",
            InstalmentState::Due => "due",
            InstalmentState::Overdue => "overdue",
            InstalmentState::Upcoming => "upcoming",
        }
    }

    /// The Vietnamese name shown to customers and staff.
    pub fn label(self) -> &'static str {
        match self {
            InstalmentState::Paid => "Đã thanh toán",
            InstalmentState::Partial => "Thanh toán một phần",
            InstalmentState::Due => "Đến hạn",
            InstalmentState::Overdue => "Quá hạn",
            InstalmentState::Upcoming => "Chưa đến hạn",
        }
    }
}

/// Where one instalment stands after the payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The instalment's place in the schedule, counted from 1.
    pub seq: u32,
    /// Its due date.
    pub due_on: NaiveDate,
    /// Its amount, in đồng.
    pub amount: i64,
    /// How much of it the payments cover, in đồng.
    pub paid: i64,
    /// What is still to pay: `amount − paid`, in đồng.
    pub outstanding: i64,
    /// Its state on the day asked about.
    pub state: InstalmentState,
}

/// Where each instalment of `schedule` stands on `today` once `paid_total` đồng have been paid
/// on the plan. The money goes to the oldest instalment first, what is left over to the next
/// (so one and a half instalments' worth pays the first and half the second). Then, for each:
/// nothing outstanding is [`InstalmentState::Paid`]; otherwise past its due date is
/// [`InstalmentState::Overdue`], partly paid is [`InstalmentState::Partial`], due today is
/// [`InstalmentState::Due`] and later is [`InstalmentState::Upcoming`]. A negative total counts
/// as nothing paid; money beyond the schedule's total is not shown here.
pub fn standing(schedule: &[Instalment], paid_total: i64, today: NaiveDate) -> Vec<Standing> {
    let mut left = paid_total.max(0);
    schedule
        .iter()
        .map(|instalment| {
            let paid = left.min(instalment.amount.max(0));
            left -= paid;
            let outstanding = instalment.amount - paid;
            let state = if outstanding <= 0 {
                InstalmentState::Paid
            } else if instalment.due_on < today {
                InstalmentState::Overdue
            } else if paid > 0 {
                InstalmentState::Partial
            } else if instalment.due_on == today {
                InstalmentState::Due
            } else {
                InstalmentState::Upcoming
            };
            Standing {
                seq: instalment.seq,
                due_on: instalment.due_on,
                amount: instalment.amount,
                paid,
                outstanding,
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn terms(principal: i64, months: u32, method: Method, rate_bp: u32) -> Terms {
        Terms {
            principal,
            months,
            method,
            rate_bp,
            first_due: date(2026, 1, 31),
        }
    }

    /// (principal, charge, amount, balance_after) of each instalment.
    fn figures(schedule: &[Instalment]) -> Vec<(i64, i64, i64, i64)> {
        schedule
            .iter()
            .map(|i| (i.principal, i.charge, i.amount, i.balance_after))
            .collect()
    }

    #[test]
    fn a_flat_fee_that_divides_evenly() {
        // 12 000 000 đ at 1,99 %: fee 238 800 đ; 2 000 000 + 39 800 a month.
        let plan = terms(12_000_000, 6, Method::Flat, 199);
        let schedule = schedule(&plan).unwrap();
        assert_eq!(schedule.len(), 6);
        for (k, instalment) in schedule.iter().enumerate() {
            let balance = 12_000_000 - 2_000_000 * (k as i64 + 1);
            assert_eq!(
                figures(std::slice::from_ref(instalment)),
                [(2_000_000, 39_800, 2_039_800, balance)]
            );
        }
        assert_eq!(total_owed(&plan), Ok(12_238_800));
    }

    #[test]
    fn a_flat_fee_leaves_the_remainders_to_the_last_instalment() {
        // 10 000 000 đ at 1,99 %: fee 199 000 đ. 10 000 000 / 3 = 3 333 333 rest 1;
        // 199 000 / 3 = 66 333 rest 1.
        let plan = terms(10_000_000, 3, Method::Flat, 199);
        assert_eq!(
            figures(&schedule(&plan).unwrap()),
            [
                (3_333_333, 66_333, 3_399_666, 6_666_667),
                (3_333_333, 66_333, 3_399_666, 3_333_334),
                (3_333_334, 66_334, 3_399_668, 0),
            ]
        );
        assert_eq!(total_owed(&plan), Ok(10_199_000));
        // The fee rounds half up: 1 250 đ at 1,99 % is 24,875 đ, so 25 đ; 12 345 đ at 0,5 % is
        // 61,725 đ, so 62 đ.
        assert_eq!(total_owed(&terms(1_250, 1, Method::Flat, 199)), Ok(1_275));
        assert_eq!(total_owed(&terms(12_345, 1, Method::Flat, 50)), Ok(12_407));
    }

    #[test]
    fn a_reducing_balance_at_12_percent_a_year() {
        // r = 1 %/tháng: A = 100 000 000 × 0,01 / (1 − 1,01^−12) = 8 884 878,87 → 8 884 879.
        let plan = terms(100_000_000, 12, Method::ReducingBalance, 1_200);
        let schedule = schedule(&plan).unwrap();
        let figures = figures(&schedule);
        assert_eq!(figures[0], (7_884_879, 1_000_000, 8_884_879, 92_115_121));
        // 92 115 121 × 1 % = 921 151,21 → 921 151.
        assert_eq!(figures[1], (7_963_728, 921_151, 8_884_879, 84_151_393));
        assert!(figures[..11].iter().all(|f| f.2 == 8_884_879));
        // The last: the remaining 8 796 907 đ and 87 969 đ interest (87 969,07).
        assert_eq!(figures[11], (8_796_907, 87_969, 8_884_876, 0));
        assert_eq!(total_owed(&plan), Ok(106_618_545));
    }

    #[test]
    fn a_reducing_balance_at_zero_percent_is_the_principal_in_equal_parts() {
        let plan = terms(1_000_000, 3, Method::ReducingBalance, 0);
        assert_eq!(
            figures(&schedule(&plan).unwrap()),
            [
                (333_333, 0, 333_333, 666_667),
                (333_333, 0, 333_333, 333_334),
                (333_334, 0, 333_334, 0),
            ]
        );
        // 5 đ over 4 months: 1,25 → 1 đ a month, the last 2 đ.
        let tiny = terms(5, 4, Method::ReducingBalance, 0);
        let amounts: Vec<i64> = schedule(&tiny).unwrap().iter().map(|i| i.amount).collect();
        assert_eq!(amounts, [1, 1, 1, 2]);
    }

    #[test]
    fn a_payment_never_repays_more_than_the_balance() {
        // 3 đ over 4 months at 0 %: 0,75 → 1 đ a month, nothing left for the last.
        let plan = terms(3, 4, Method::ReducingBalance, 0);
        assert_eq!(
            figures(&schedule(&plan).unwrap()),
            [(1, 0, 1, 2), (1, 0, 1, 1), (1, 0, 1, 0), (0, 0, 0, 0)]
        );
    }

    #[test]
    fn due_dates_count_from_the_first_each_month() {
        let plan = terms(1_200_000, 5, Method::Flat, 0);
        let due: Vec<NaiveDate> = schedule(&plan).unwrap().iter().map(|i| i.due_on).collect();
        assert_eq!(
            due,
            [
                date(2026, 1, 31),
                date(2026, 2, 28),
                date(2026, 3, 31),
                date(2026, 4, 30),
                date(2026, 5, 31),
            ]
        );
        let leap = Terms {
            first_due: date(2028, 1, 31),
            ..plan
        };
        assert_eq!(schedule(&leap).unwrap()[1].due_on, date(2028, 2, 29));
    }

    #[test]
    fn terms_out_of_the_limits_name_their_field() {
        type Edit = fn(&mut Terms);
        let cases: [(Edit, &str); 6] = [
            (|t| t.principal = 0, "principal"),
            (|t| t.principal = MAX_PRINCIPAL + 1, "principal"),
            (|t| t.months = 0, "months"),
            (|t| t.months = MAX_MONTHS + 1, "months"),
            (|t| t.rate_bp = MAX_RATE_BP + 1, "rate_bp"),
            (|t| t.first_due = NaiveDate::MAX, "first_due"),
        ];
        for method in Method::ALL {
            for (edit, field) in cases {
                let mut bad = terms(1_000_000, 12, method, 199);
                edit(&mut bad);
                let error = schedule(&bad).unwrap_err();
                assert_eq!(error.field(), field, "{error}");
                assert!(error.to_string().starts_with(field), "{error}");
                assert_eq!(total_owed(&bad), Err(error));
            }
            let edges = [
                terms(MAX_PRINCIPAL, MAX_MONTHS, method, MAX_RATE_BP),
                terms(1, 1, method, MAX_RATE_BP),
                terms(1, MAX_MONTHS, method, 0),
            ];
            for plan in edges {
                assert!(schedule(&plan).is_ok(), "{plan:?}");
            }
        }
        assert_eq!(
            TermsError::Months { months: 0 }.to_string(),
            "months: kỳ hạn trả góp phải từ 1 đến 120 tháng (nhận 0)"
        );
    }

    #[test]
    fn methods_and_states_have_wire_forms_and_vietnamese_labels() {
        for method in Method::ALL {
            assert_eq!(
                serde_json::to_value(method).unwrap(),
                serde_json::Value::from(method.as_str())
            );
        }
        assert_eq!(Method::ReducingBalance.label(), "Dư nợ giảm dần");
        let overdue = InstalmentState::Overdue;
        assert_eq!(serde_json::to_value(overdue).unwrap(), "overdue");
        assert_eq!(overdue.label(), "Quá hạn");
        let plan: Terms = serde_json::from_value(serde_json::json!({
            "principal": 12_000_000,
            "months": 6,
            "method": "flat",
            "rate_bp": 199,
            "first_due": "2026-01-31"
        }))
        .unwrap();
        assert_eq!(plan, terms(12_000_000, 6, Method::Flat, 199));
    }

    /// The states of a standing, in order.
    fn states(standing: &[Standing]) -> Vec<InstalmentState> {
        standing.iter().map(|s| s.state).collect()
    }

    #[test]
    fn payments_fill_the_oldest_instalment_first() {
        use InstalmentState::*;
        // 2 039 800 đ a month, due 31/1, 28/2, 31/3, …: one and a half paid.
        let schedule = schedule(&terms(12_000_000, 6, Method::Flat, 199)).unwrap();
        let paid = 2_039_800 + 1_019_900;
        let before = standing(&schedule, paid, date(2026, 1, 15));
        assert_eq!(
            states(&before),
            [Paid, Partial, Upcoming, Upcoming, Upcoming, Upcoming]
        );
        assert_eq!(
            (before[1].paid, before[1].outstanding),
            (1_019_900, 1_019_900)
        );
        assert_eq!(before[2].paid, 0);
        // On the second due date it is still partly paid; the day after, overdue.
        let on_the_day = standing(&schedule, paid, date(2026, 2, 28));
        assert_eq!(states(&on_the_day)[1], Partial);
        let after = standing(&schedule, paid, date(2026, 3, 1));
        assert_eq!(states(&after)[..3], [Paid, Overdue, Upcoming]);
        // Nothing paid, on the third due date.
        let unpaid = standing(&schedule, 0, date(2026, 3, 31));
        assert_eq!(states(&unpaid)[..4], [Overdue, Overdue, Due, Upcoming]);
    }

    #[test]
    fn money_beyond_the_total_and_below_zero_is_ignored() {
        let schedule = schedule(&terms(10_000_000, 3, Method::Flat, 199)).unwrap();
        let all = standing(&schedule, 20_000_000, date(2027, 1, 1));
        assert!(all.iter().all(|s| s.state == InstalmentState::Paid));
        assert_eq!(all.iter().map(|s| s.paid).sum::<i64>(), 10_199_000);
        assert_eq!(all[2].paid, 3_399_668);
        let none = standing(&schedule, -5, date(2026, 1, 31));
        assert_eq!(none[0].state, InstalmentState::Due);
        assert_eq!(none[0].paid, 0);
    }

    fn any_terms() -> impl Strategy<Value = Terms> {
        (
            1..=MAX_PRINCIPAL,
            1..=MAX_MONTHS,
            prop_oneof![Just(Method::Flat), Just(Method::ReducingBalance)],
            prop_oneof![0..=MAX_RATE_BP, 0..=3_600u32],
            0..3_650u64,
        )
            .prop_map(|(principal, months, method, rate_bp, day)| Terms {
                principal,
                months,
                method,
                rate_bp,
                first_due: date(2024, 1, 1) + chrono::Days::new(day),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn schedules_add_up_exactly(plan in any_terms()) {
            let schedule = schedule(&plan).unwrap();
            prop_assert_eq!(schedule.len(), plan.months as usize);
            let principal: i64 = schedule.iter().map(|i| i.principal).sum();
            let charges: i64 = schedule.iter().map(|i| i.charge).sum();
            let amounts: i64 = schedule.iter().map(|i| i.amount).sum();
            prop_assert_eq!(principal, plan.principal);
            prop_assert_eq!(amounts, plan.principal + charges);
            prop_assert_eq!(total_owed(&plan).unwrap(), amounts);
            prop_assert_eq!(schedule.last().unwrap().balance_after, 0);
            let mut balance = plan.principal;
            for (k, instalment) in schedule.iter().enumerate() {
                prop_assert_eq!(instalment.seq as usize, k + 1);
                prop_assert!(instalment.principal >= 0 && instalment.charge >= 0);
                prop_assert_eq!(instalment.amount, instalment.principal + instalment.charge);
                prop_assert!(instalment.balance_after <= balance);
                balance = instalment.balance_after;
            }
        }

        #[test]
        fn a_flat_fee_is_the_rounded_rate_and_shares_differ_only_on_the_last(
            plan in any_terms().prop_map(|t| Terms { method: Method::Flat, ..t }),
        ) {
            let schedule = schedule(&plan).unwrap();
            let fee: i64 = schedule.iter().map(|i| i.charge).sum();
            let exact = i128::from(plan.principal) * i128::from(plan.rate_bp);
            // fee = round_half_up(exact / 10 000): |fee × 10 000 − exact| ≤ 5 000, ties up.
            let diff = i128::from(fee) * BP - exact;
            prop_assert!((-BP / 2 + 1..=BP / 2).contains(&diff), "{fee} {exact}");
            let n = schedule.len();
            prop_assert!(schedule[..n - 1].iter().all(|i| i.amount == schedule[0].amount));
            prop_assert!(schedule[n - 1].amount >= schedule[0].amount);
        }

        #[test]
        fn reducing_balance_interest_is_the_monthly_rate_on_the_balance(
            plan in any_terms().prop_map(|t| Terms { method: Method::ReducingBalance, ..t }),
        ) {
            let schedule = schedule(&plan).unwrap();
            let mut balance = plan.principal;
            for instalment in &schedule {
                let exact = i128::from(balance) * i128::from(plan.rate_bp);
                let diff = i128::from(instalment.charge) * BP_MONTHS - exact;
                prop_assert!((-BP_MONTHS / 2 + 1..=BP_MONTHS / 2).contains(&diff));
                balance = instalment.balance_after;
            }
        }

        #[test]
        fn standing_shares_out_exactly_what_was_paid(
            plan in any_terms(),
            share in 0.0f64..1.2,
            day in 0..4_000u64,
        ) {
            let schedule = schedule(&plan).unwrap();
            let total: i64 = schedule.iter().map(|i| i.amount).sum();
            let paid_total = (total as f64 * share) as i64;
            let today = date(2024, 1, 1) + chrono::Days::new(day);
            let standing = standing(&schedule, paid_total, today);
            let paid: i64 = standing.iter().map(|s| s.paid).sum();
            prop_assert_eq!(paid, paid_total.min(total));
            // Paid instalments come first, then at most one partly paid.
            let first_open = standing.iter().position(|s| s.outstanding > 0).unwrap_or(standing.len());
            prop_assert!(standing[first_open..].iter().skip(1).all(|s| s.paid == 0 || s.outstanding == 0));
            for s in &standing {
                prop_assert_eq!(s.paid + s.outstanding, s.amount);
                let late = s.due_on < today && s.outstanding > 0;
                prop_assert_eq!(s.state == InstalmentState::Overdue, late);
            }
        }
    }
}
