//! The checks a journey passes before it is saved. Every problem is collected (not just the
//! first), keyed by its field path, with a Vietnamese message that names the step.
//!
//! Besides the shape of each field, the step graph is checked:
//! - every reference (`start`, `next`, `yes`, `no`, `on_event`, `on_timeout`, a split arm,
//!   `message_step`, a condition's `step:`) names an existing step;
//! - every step is reachable from `start`;
//! - every loop takes time: going round it must pass an edge that waits, i.e. out of a `wait`
//!   for a duration or a local time, out of a `wait_for_event` (either way: it waits for an
//!   event that arrives after it is entered), or the `no` of a `branch_engagement`. A wait
//!   until a date does not count (a date already past waits nothing), nor does an engagement
//!   `yes` (taken at once when the message was already opened);
//! - every reachable step has a way to an `exit`, so no enrollment can stay forever: a loop
//!   needs a cap (a `branch_condition` on `visits`, a goal alone is not enough).
//!
//! `trigger.per` names a field of the trigger event's data (`a-z`, `0-9`, `_`; 1–64
//! characters); only an event trigger has it, which reading the document already enforces.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::condition::{Condition, Op, Since};
use super::parse::{JourneyErrors, Problems};
use super::span::Span;
use super::wait::WaitFor;
use super::{Journey, NotifyTarget, Reentry, Step, Trigger};
use crate::event::is_event_type;

/// The longest any wait, timeout, engagement window or SLA may be: 400 days.
pub const MAX_WAIT: Span = Span::from_days(400);

/// The shortest interval between two evaluations of a segment.
const MIN_SEGMENT_EVERY: Span = Span::from_hours(1);

/// The most steps a journey may have.
const MAX_STEPS: usize = 200;

/// How deep conditions may nest.
const MAX_CONDITION_DEPTH: usize = 12;

/// Longest name, title or label, in characters.
const MAX_TITLE: usize = 200;

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 2000;

/// The lookup `validate` uses for templates: the channel (`email`, `sms`, `zns`, `push`,
/// `webhook`) of the template with this code, or `None` when there is no such template.
pub type TemplateLookup<'a> = &'a dyn Fn(&str) -> Option<&'static str>;

/// Checks everything about `journey` that can be checked before it runs; `templates` gives the
/// channel of a template code. Collects every problem.
pub fn validate(
    journey: &Journey,
    templates: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<(), JourneyErrors> {
    let mut check = Checker {
        journey,
        templates,
        problems: Problems::default(),
    };
    check.header();
    check.steps();
    check.graph();
    check.problems.finish()
}

struct Checker<'a> {
    journey: &'a Journey,
    templates: &'a dyn Fn(&str) -> Option<&'static str>,
    problems: Problems,
}

/// Where a condition is evaluated: with the enrollment's history, or on an event alone
/// (triggers, goals and stop rules, evaluated as the event arrives).
#[derive(Clone, Copy, PartialEq, Eq)]
enum History {
    Available,
    None,
}

/// `a-z`, `0-9` and `-`, starting and ending with a letter or digit, `min..=max` long.
fn is_slug(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// The name of a field of an event's data that `trigger.per` may name: `a-z`, `0-9` and `_`,
/// 1–64 characters.
fn is_field_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A step named in a message.
fn step_name(id: &str) -> String {
    format!("Bước \"{id}\"")
}

impl Checker<'_> {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.add(field, message);
    }

    fn text(&mut self, field: &str, who: &str, text: &str, max: usize) {
        if text.trim().is_empty() {
            self.add(field, format!("{who}: không được để trống"));
        } else if text.chars().count() > max {
            self.add(field, format!("{who}: dài quá {max} ký tự"));
        }
    }

    /// A length of time that must be more than zero and at most `max`.
    fn span(&mut self, field: &str, who: &str, span: Span, min: Span, max: Span) {
        if span < min.max(Span::from_secs(1)) {
            let least = if min.is_zero() {
                "lớn hơn 0".to_owned()
            } else {
                format!("ít nhất {min}")
            };
            self.add(field, format!("{who}: thời lượng phải {least}"));
        } else if span > max {
            self.add(
                field,
                format!("{who}: thời lượng tối đa là {max}, không được chờ vô hạn"),
            );
        }
    }

    fn event_type(&mut self, field: &str, who: &str, kind: &str) {
        if !is_event_type(kind) {
            self.add(
                field,
                format!(
                    "{who}: loại sự kiện không hợp lệ; viết các từ thường nối bằng dấu chấm, ví dụ \"card.activated\""
                ),
            );
        }
    }

    fn header(&mut self) {
        let journey = self.journey;
        if !is_slug(&journey.key, 2, 64) {
            self.add(
                "key",
                "Mã hành trình chỉ gồm chữ thường không dấu, số và dấu gạch ngang (2–64 ký tự), ví dụ \"the-moi-kich-hoat\"",
            );
        }
        self.text("name", "Tên hành trình", &journey.name, MAX_TITLE);
        if let Some(description) = &journey.description
            && description.chars().count() > MAX_DESCRIPTION
        {
            self.add(
                "description",
                format!("Mô tả dài quá {MAX_DESCRIPTION} ký tự"),
            );
        }
        match &journey.trigger {
            Trigger::Event { event, when, per } => {
                self.event_type("trigger.event", "Điều kiện bắt đầu", event);
                if let Some(when) = when {
                    self.condition("trigger.when", "Điều kiện bắt đầu", when, History::None, 0);
                }
                if let Some(per) = per
                    && !is_field_name(per)
                {
                    self.add(
                        "trigger.per",
                        "Điều kiện bắt đầu: per là tên một trường trong dữ liệu sự kiện, chỉ gồm chữ thường không dấu, số và \"_\" (1–64 ký tự), ví dụ \"plan_id\"",
                    );
                }
            }
            Trigger::Segment { filter, every } => {
                for (field, message) in filter.problems() {
                    let path = if field.is_empty() {
                        "trigger.filter".to_owned()
                    } else {
                        format!("trigger.filter.{field}")
                    };
                    self.add(path, format!("Nhóm khách hàng: {message}"));
                }
                self.span(
                    "trigger.every",
                    "Tần suất xét nhóm khách hàng",
                    *every,
                    MIN_SEGMENT_EVERY,
                    MAX_WAIT,
                );
            }
            Trigger::Manual {} => {}
        }
        match &journey.reentry {
            Reentry::Once => {}
            Reentry::OncePer { interval } => self.span(
                "reentry.interval",
                "Khoảng cách giữa hai lần tham gia",
                *interval,
                Span::from_secs(1),
                Span::from_days(3650),
            ),
            Reentry::Unlimited { cap } => {
                if *cap == Some(0) {
                    self.add("reentry.cap", "Số lần tham gia tối đa phải từ 1 trở lên");
                }
            }
        }
        for (i, goal) in journey.goals.iter().enumerate() {
            let who = format!("Mục tiêu {}", i + 1);
            self.text(&format!("goals[{i}].name"), &who, &goal.name, MAX_TITLE);
            self.event_type(&format!("goals[{i}].event"), &who, &goal.event);
            if let Some(when) = &goal.when {
                self.condition(&format!("goals[{i}].when"), &who, when, History::None, 0);
            }
        }
        for (i, stop) in journey.stops.iter().enumerate() {
            let who = format!("Điều kiện dừng {}", i + 1);
            self.text(&format!("stops[{i}].name"), &who, &stop.name, MAX_TITLE);
            self.event_type(&format!("stops[{i}].event"), &who, &stop.event);
            if let Some(when) = &stop.when {
                self.condition(&format!("stops[{i}].when"), &who, when, History::None, 0);
            }
            if let Some(outcome) = &stop.outcome {
                self.outcome(&format!("stops[{i}].outcome"), &who, outcome);
            }
        }
        if !journey.steps.contains_key(&journey.start) {
            self.add(
                "start",
                format!(
                    "Bước bắt đầu \"{}\" không có trong danh sách bước",
                    journey.start
                ),
            );
        }
    }

    fn outcome(&mut self, field: &str, who: &str, outcome: &str) {
        if !is_slug(outcome, 1, 64) {
            self.add(
                field,
                format!("{who}: kết quả chỉ gồm chữ thường không dấu, số và dấu gạch ngang, ví dụ \"holdout\""),
            );
        }
    }

    fn steps(&mut self) {
        let journey = self.journey;
        if journey.steps.is_empty() {
            self.add("steps", "Hành trình chưa có bước nào");
        }
        if journey.steps.len() > MAX_STEPS {
            self.add("steps", format!("Hành trình có tối đa {MAX_STEPS} bước"));
        }
        for (id, step) in &journey.steps {
            let at = format!("steps.{id}");
            let who = step_name(id);
            if !is_slug(id, 1, 64) {
                self.add(
                    &at,
                    format!("{who}: mã bước chỉ gồm chữ thường không dấu, số và dấu gạch ngang (1–64 ký tự)"),
                );
            }
            for (field, target) in step.successors() {
                if !journey.steps.contains_key(target) {
                    self.add(
                        format!("{at}.{field}"),
                        format!("{who}: bước tiếp theo \"{target}\" không tồn tại"),
                    );
                }
            }
            self.step(&at, &who, id, step);
        }
    }

    fn step(&mut self, at: &str, who: &str, id: &str, step: &Step) {
        match step {
            Step::Send { targets, .. } => {
                if targets.is_empty() {
                    self.add(
                        format!("{at}.targets"),
                        format!("{who}: cần ít nhất một kênh gửi"),
                    );
                }
                let mut seen = BTreeSet::new();
                for (i, target) in targets.iter().enumerate() {
                    let channel = target.channel.as_str();
                    if !seen.insert(channel) {
                        self.add(
                            format!("{at}.targets[{i}].channel"),
                            format!("{who}: kênh {channel} xuất hiện hai lần"),
                        );
                    }
                    let field = format!("{at}.targets[{i}].template");
                    match (self.templates)(&target.template) {
                        None => self.add(
                            field,
                            format!("{who}: không có mẫu tin \"{}\"", target.template),
                        ),
                        Some(actual) if actual != channel => self.add(
                            field,
                            format!(
                                "{who}: mẫu tin \"{}\" dành cho kênh {actual}, không dùng được cho kênh {channel}",
                                target.template
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
            Step::Wait { wait, .. } => self.wait(&format!("{at}.wait"), who, wait),
            Step::WaitForEvent {
                event,
                when,
                timeout,
                ..
            } => {
                self.event_type(&format!("{at}.event"), who, event);
                if let Some(when) = when {
                    self.condition(&format!("{at}.when"), who, when, History::Available, 0);
                }
                self.span(
                    &format!("{at}.timeout"),
                    who,
                    *timeout,
                    Span::default(),
                    MAX_WAIT,
                );
            }
            Step::BranchEngagement {
                message_step,
                within,
                ..
            } => {
                let field = format!("{at}.message_step");
                match self.journey.step(message_step) {
                    None => self.add(
                        field,
                        format!("{who}: bước gửi tin \"{message_step}\" không tồn tại"),
                    ),
                    Some(Step::Send { .. }) if message_step != id => {
                        if !reachable_from(self.journey, message_step).contains(id) {
                            self.add(
                                field,
                                format!(
                                    "{who}: bước gửi tin \"{message_step}\" phải nằm trước bước này"
                                ),
                            );
                        }
                    }
                    Some(_) => self.add(
                        field,
                        format!("{who}: \"{message_step}\" không phải bước gửi tin (send)"),
                    ),
                }
                self.span(
                    &format!("{at}.within"),
                    who,
                    *within,
                    Span::default(),
                    MAX_WAIT,
                );
            }
            Step::BranchCondition { condition, .. } => {
                self.condition(
                    &format!("{at}.condition"),
                    who,
                    condition,
                    History::Available,
                    0,
                );
            }
            Step::Split { branches } => {
                let field = format!("{at}.branches");
                if branches.len() < 2 {
                    self.add(&field, format!("{who}: cần ít nhất hai nhánh"));
                }
                let mut total = 0u32;
                for (i, branch) in branches.iter().enumerate() {
                    total += u32::from(branch.percent);
                    if !(1..=100).contains(&branch.percent) {
                        self.add(
                            format!("{field}[{i}].percent"),
                            format!("{who}: tỷ lệ mỗi nhánh từ 1 đến 100%"),
                        );
                    }
                    if let Some(label) = &branch.label {
                        self.text(&format!("{field}[{i}].label"), who, label, MAX_TITLE);
                    }
                }
                if total != 100 {
                    self.add(
                        &field,
                        format!("{who}: tổng tỷ lệ các nhánh là {total}%, phải bằng 100%"),
                    );
                }
            }
            Step::Ticket { sla, title, .. } => {
                self.span(&format!("{at}.sla"), who, *sla, Span::default(), MAX_WAIT);
                self.text(&format!("{at}.title"), who, title, MAX_TITLE);
            }
            Step::Update {
                attributes,
                lifecycle,
                add_tags,
                remove_tags,
                ..
            } => {
                if attributes.is_empty()
                    && lifecycle.is_none()
                    && add_tags.is_empty()
                    && remove_tags.is_empty()
                {
                    self.add(at, format!("{who}: chưa có gì để cập nhật"));
                }
                for key in attributes.keys() {
                    if key.is_empty()
                        || key.len() > 64
                        || !key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    {
                        self.add(
                            format!("{at}.attributes"),
                            format!("{who}: tên thuộc tính chỉ gồm chữ không dấu, số, \"_\" và \"-\" (tối đa 64 ký tự)"),
                        );
                    }
                }
                for (field, tags) in [("add_tags", add_tags), ("remove_tags", remove_tags)] {
                    if tags
                        .iter()
                        .any(|t| t.trim().is_empty() || t.chars().count() > 64)
                    {
                        self.add(
                            format!("{at}.{field}"),
                            format!("{who}: nhãn không được để trống và tối đa 64 ký tự"),
                        );
                    }
                }
            }
            Step::Notify { to, title, .. } => {
                self.text(&format!("{at}.title"), who, title, MAX_TITLE);
                if let NotifyTarget::User(user) = to
                    && user.trim().is_empty()
                {
                    self.add(
                        format!("{at}.to"),
                        format!("{who}: cần tên người dùng nhận thông báo"),
                    );
                }
            }
            Step::Exit { outcome } => {
                if let Some(outcome) = outcome {
                    self.outcome(&format!("{at}.outcome"), who, outcome);
                }
            }
        }
    }

    fn wait(&mut self, at: &str, who: &str, wait: &WaitFor) {
        match wait {
            WaitFor::Duration { duration } => {
                self.span(
                    &format!("{at}.duration"),
                    who,
                    *duration,
                    Span::default(),
                    MAX_WAIT,
                );
            }
            WaitFor::UntilLocalTime { weekdays, .. } => {
                if weekdays.as_ref().is_some_and(Vec::is_empty) {
                    self.add(
                        format!("{at}.weekdays"),
                        format!("{who}: cần ít nhất một ngày trong tuần, hoặc bỏ trường này để chờ mọi ngày"),
                    );
                }
            }
            WaitFor::UntilDate {
                field,
                offset_days,
                max,
                ..
            } => {
                if !is_fact_path(field, true) {
                    self.add(
                        format!("{at}.field"),
                        format!("{who}: trường ngày phải là customer.…, holding.…, event.… hoặc enrolled_at, ví dụ \"holding.due_date\""),
                    );
                }
                if offset_days.unsigned_abs() > 366 {
                    self.add(
                        format!("{at}.offset_days"),
                        format!("{who}: số ngày lệch tối đa là 366"),
                    );
                }
                self.span(&format!("{at}.max"), who, *max, Span::default(), MAX_WAIT);
            }
        }
    }

    fn condition(
        &mut self,
        at: &str,
        who: &str,
        condition: &Condition,
        history: History,
        depth: usize,
    ) {
        if depth > MAX_CONDITION_DEPTH {
            self.add(
                at,
                format!("{who}: điều kiện lồng nhau quá {MAX_CONDITION_DEPTH} tầng"),
            );
            return;
        }
        match condition {
            Condition::All(items) | Condition::Any(items) => {
                let name = if matches!(condition, Condition::All(_)) {
                    "all"
                } else {
                    "any"
                };
                if items.is_empty() {
                    self.add(
                        format!("{at}.{name}"),
                        format!("{who}: danh sách điều kiện trống"),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    self.condition(&format!("{at}.{name}[{i}]"), who, item, history, depth + 1);
                }
            }
            Condition::Not(inner) => {
                self.condition(&format!("{at}.not"), who, inner, history, depth + 1);
            }
            Condition::Attribute { path, op, value } => {
                let at = format!("{at}.attribute");
                if !is_fact_path(path, false) {
                    self.add(
                        format!("{at}.path"),
                        format!("{who}: đường dẫn phải bắt đầu bằng customer., holding. hoặc event., ví dụ \"customer.attributes.han_muc\""),
                    );
                }
                let problem = match (op, value) {
                    (Op::Exists, Some(_)) => Some("phép exists không dùng value"),
                    (Op::Exists, None) => None,
                    (_, None) => Some("cần value để so sánh"),
                    (Op::In, Some(v)) if !v.is_array() => {
                        Some("phép in cần value là một danh sách")
                    }
                    (Op::Gt | Op::Gte | Op::Lt | Op::Lte, Some(v))
                        if !(v.is_number() || v.is_string()) =>
                    {
                        Some(
                            "phép so sánh lớn/nhỏ cần value là số hoặc chuỗi (ngày dạng YYYY-MM-DD)",
                        )
                    }
                    _ => None,
                };
                if let Some(problem) = problem {
                    self.add(format!("{at}.value"), format!("{who}: {problem}"));
                }
            }
            Condition::EventSeen {
                event,
                within,
                since,
                min_count,
                when,
            } => {
                let at = format!("{at}.event_seen");
                if history == History::None {
                    self.add(
                        &at,
                        format!("{who}: event_seen chỉ dùng được trong các bước, không dùng cho điều kiện bắt đầu, mục tiêu hay điều kiện dừng"),
                    );
                }
                self.event_type(&format!("{at}.event"), who, event);
                if let Some(within) = within {
                    self.span(
                        &format!("{at}.within"),
                        who,
                        *within,
                        Span::default(),
                        MAX_WAIT,
                    );
                }
                match since {
                    Some(Since::Step(step)) if !self.journey.steps.contains_key(step) => self.add(
                        format!("{at}.since"),
                        format!("{who}: mốc \"step:{step}\" chỉ tới bước không tồn tại"),
                    ),
                    Some(Since::Event(kind)) => {
                        self.event_type(&format!("{at}.since"), who, kind);
                    }
                    _ => {}
                }
                if *min_count == Some(0) {
                    self.add(
                        format!("{at}.min_count"),
                        format!("{who}: số lần tối thiểu phải từ 1 trở lên (dùng not để kiểm tra chưa có sự kiện)"),
                    );
                }
                if let Some(when) = when {
                    self.condition(&format!("{at}.when"), who, when, history, depth + 1);
                }
            }
            Condition::Lifecycle { is } => {
                if is.is_empty() {
                    self.add(
                        format!("{at}.lifecycle.is"),
                        format!("{who}: cần ít nhất một trạng thái khách hàng"),
                    );
                }
            }
            Condition::Tag { has } => {
                if has.trim().is_empty() {
                    self.add(
                        format!("{at}.tag.has"),
                        format!("{who}: nhãn không được để trống"),
                    );
                }
            }
            Condition::Visits { step, min } => {
                let at = format!("{at}.visits");
                if history == History::None {
                    self.add(&at, format!("{who}: visits chỉ dùng được trong các bước"));
                }
                if !self.journey.steps.contains_key(step) {
                    self.add(
                        format!("{at}.step"),
                        format!("{who}: bước \"{step}\" không tồn tại"),
                    );
                }
                if *min == 0 {
                    self.add(
                        format!("{at}.min"),
                        format!("{who}: số lần phải từ 1 trở lên"),
                    );
                }
            }
        }
    }

    fn graph(&mut self) {
        let journey = self.journey;
        if journey.steps.is_empty() {
            return;
        }
        if journey.steps.contains_key(&journey.start) {
            let reachable = reachable_from(journey, &journey.start);
            for id in journey
                .steps
                .keys()
                .filter(|id| !reachable.contains(id.as_str()))
            {
                self.add(
                    format!("steps.{id}"),
                    format!(
                        "{}: không tới được từ bước bắt đầu \"{}\"",
                        step_name(id),
                        journey.start
                    ),
                );
            }
            self.ends(&reachable);
        }
        self.loops_without_wait();
    }

    /// Every reachable step must have a way to an exit.
    fn ends(&mut self, reachable: &BTreeSet<&str>) {
        let journey = self.journey;
        let exits: Vec<&str> = journey
            .steps
            .iter()
            .filter(|(_, s)| matches!(s, Step::Exit { .. }))
            .map(|(id, _)| id.as_str())
            .collect();
        if exits.is_empty() {
            self.add(
                "steps",
                "Hành trình không có bước kết thúc (exit): khách hàng sẽ không bao giờ ra khỏi hành trình",
            );
            return;
        }
        let mut predecessors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, step) in &journey.steps {
            for (_, target) in step.successors() {
                predecessors.entry(target).or_default().push(id.as_str());
            }
        }
        let mut ending: BTreeSet<&str> = exits.iter().copied().collect();
        let mut queue: VecDeque<&str> = exits.into_iter().collect();
        while let Some(id) = queue.pop_front() {
            for &before in predecessors.get(id).into_iter().flatten() {
                if ending.insert(before) {
                    queue.push_back(before);
                }
            }
        }
        for id in reachable.iter().filter(|id| !ending.contains(*id)) {
            self.add(
                format!("steps.{id}"),
                format!(
                    "{}: không có đường tới bước kết thúc (exit), khách hàng sẽ ở lại hành trình mãi; vòng lặp cần giới hạn số lần (visits)",
                    step_name(id)
                ),
            );
        }
    }

    /// Every loop must take time: report each group of steps that loops through instant edges.
    fn loops_without_wait(&mut self) {
        let journey = self.journey;
        let instant: BTreeMap<&str, Vec<&str>> = journey
            .steps
            .iter()
            .map(|(id, step)| {
                let targets = step
                    .successors()
                    .into_iter()
                    .filter(|(field, _)| !takes_time(step, field))
                    .map(|(_, target)| target)
                    .filter(|target| journey.steps.contains_key(*target))
                    .collect();
                (id.as_str(), targets)
            })
            .collect();
        let reach = |from: &str| -> BTreeSet<&str> {
            let mut seen = BTreeSet::new();
            let mut queue: VecDeque<&str> =
                instant.get(from).into_iter().flatten().copied().collect();
            while let Some(id) = queue.pop_front() {
                if seen.insert(id) {
                    queue.extend(instant.get(id).into_iter().flatten().copied());
                }
            }
            seen
        };
        let reaches: BTreeMap<&str, BTreeSet<&str>> =
            instant.keys().map(|id| (*id, reach(id))).collect();
        let mut reported = BTreeSet::new();
        for (id, from_here) in &reaches {
            if reported.contains(id) || !from_here.contains(id) {
                continue;
            }
            let group: Vec<&str> = from_here
                .iter()
                .copied()
                .filter(|other| reaches.get(other).is_some_and(|r| r.contains(id)))
                .collect();
            reported.extend(group.iter().copied());
            let names = group
                .iter()
                .map(|g| format!("\"{g}\""))
                .collect::<Vec<_>>()
                .join(", ");
            // `group` is sorted and contains `id`; report on its first step.
            let first = group.first().copied().unwrap_or(id);
            self.add(
                format!("steps.{first}"),
                format!(
                    "{}: vòng lặp qua các bước {names} không có bước chờ; thêm một bước wait hoặc wait_for_event vào vòng lặp",
                    step_name(first)
                ),
            );
        }
    }
}

/// Whether leaving `step` through `field` takes time (see the module docs).
fn takes_time(step: &Step, field: &str) -> bool {
    match step {
        Step::Wait { wait, .. } => !matches!(wait, WaitFor::UntilDate { .. }),
        Step::WaitForEvent { .. } => true,
        Step::BranchEngagement { .. } => field == "no",
        _ => false,
    }
}

/// The steps reachable from `from` (itself included), following existing steps only.
fn reachable_from<'a>(journey: &'a Journey, from: &'a str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([from]);
    while let Some(id) = queue.pop_front() {
        let Some((key, step)) = journey.steps.get_key_value(id) else {
            continue;
        };
        if seen.insert(key.as_str()) {
            queue.extend(step.successors().into_iter().map(|(_, target)| target));
        }
    }
    seen
}

/// `customer.…`, `holding.…` or `event.…` with non-empty segments (and `enrolled_at` when
/// `dates`).
fn is_fact_path(path: &str, dates: bool) -> bool {
    if dates && path == "enrolled_at" {
        return true;
    }
    let mut parts = path.split('.');
    matches!(parts.next(), Some("customer" | "holding" | "event"))
        && path.contains('.')
        && parts.all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}
