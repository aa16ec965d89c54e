use std::collections::BTreeSet;

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::time::from_vn;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Templates the test journeys use, by code.
fn templates(code: &str) -> Option<&'static str> {
    match code {
        "chao-email" | "nhac-email" => Some("email"),
        "chao-sms" => Some("sms"),
        "chao-zns" => Some("zns"),
        "chao-push" => Some("push"),
        _ => None,
    }
}

/// A valid journey around `steps` (YAML, indented by two), starting at `start`.
fn doc(start: &str, steps: &str) -> String {
    format!(
        "key: thu-nghiem\nname: Hành trình thử nghiệm\ntrigger: {{ type: event, event: card.issued }}\n\
         goals:\n  - {{ name: Đã kích hoạt, event: card.activated }}\nstart: {start}\nsteps:\n{steps}"
    )
}

const SIMPLE: &str = "  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: cho }
  cho: { type: wait, wait: { kind: duration, duration: 1d }, next: het }
  het: { type: exit }
";

fn parse(text: &str) -> Journey {
    match parse_yaml(text) {
        Ok(journey) => journey,
        Err(errors) => panic!("does not parse: {errors}\n{text}"),
    }
}

/// The validation errors of a YAML journey that parses.
fn problems(text: &str) -> JourneyErrors {
    match validate(&parse(text), &templates) {
        Ok(()) => panic!("expected problems:\n{text}"),
        Err(errors) => errors,
    }
}

/// Asserts a problem at `field` whose message contains every part.
#[track_caller]
fn assert_problem(errors: &JourneyErrors, field: &str, parts: &[&str]) {
    let Some(message) = errors.get(field) else {
        panic!("no problem at {field}; got {errors}");
    };
    for part in parts {
        assert!(
            message.contains(part),
            "{field}: {message:?} lacks {part:?}"
        );
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn vn(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    from_vn(NaiveDate::from_ymd_opt(y, mo, d).unwrap(), h, mi).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// The template codes and channels a seed lists in its header comment (`#   code  channel …`).
fn header_templates(yaml: &str) -> BTreeSet<(String, String)> {
    yaml.lines()
        .take_while(|line| line.starts_with('#'))
        .filter_map(|line| {
            let mut words = line.trim_start_matches('#').split_whitespace();
            let code = words.next()?;
            let channel = words.next()?;
            ["email", "sms", "zns", "push", "webhook"]
                .contains(&channel)
                .then(|| (code.to_owned(), channel.to_owned()))
        })
        .collect()
}

#[test]
fn every_seed_parses_validates_and_lists_exactly_the_templates_it_uses() {
    assert_eq!(SEEDS.len(), 3);
    for seed in SEEDS {
        let journey = seed
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", seed.file));
        assert_eq!(format!("{}.yaml", journey.key), seed.file);
        let listed = header_templates(seed.yaml);
        let used: BTreeSet<(String, String)> = journey
            .templates()
            .into_iter()
            .map(|(_, t)| (t.template.clone(), t.channel.to_string()))
            .collect();
        assert_eq!(listed, used, "{}: header comment vs steps", seed.file);
        let known: Vec<(&'static str, &'static str)> = listed
            .into_iter()
            .map(|(code, channel)| -> (&'static str, &'static str) {
                (code.leak(), channel.leak())
            })
            .collect();
        let lookup = |code: &str| known.iter().find(|(c, _)| *c == code).map(|(_, ch)| *ch);
        if let Err(errors) = validate(&journey, &lookup) {
            panic!("{}: {errors}", seed.file);
        }
        // Without the templates, every target is reported.
        let missing = validate(&journey, &|_| None).unwrap_err();
        assert_eq!(
            missing
                .fields()
                .filter(|f| f.ends_with(".template"))
                .count(),
            journey.templates().len()
        );
    }
}

#[test]
fn seeds_round_trip_through_yaml_and_json() {
    for seed in SEEDS {
        let journey = seed.parse().unwrap();
        assert_eq!(
            parse_yaml(&journey.to_yaml()).unwrap(),
            journey,
            "{}",
            seed.file
        );
        let json = serde_json::to_string_pretty(&journey).unwrap();
        assert_eq!(parse_json(&json).unwrap(), journey, "{}", seed.file);
    }
}

#[test]
fn the_installment_seed_follows_up_twice_then_hands_over_to_telesales() {
    let journey = SEEDS[0].parse().unwrap();
    assert!(
        matches!(&journey.trigger, Trigger::Event { event, .. } if event == "installment.invited")
    );
    assert_eq!(journey.goals[0].event, "installment.registered");
    let Some(Step::Send { targets, .. }) = journey.step("moi-zns-sms") else {
        panic!("no ZNS/SMS invitation");
    };
    let channels: Vec<_> = targets.iter().map(|t| t.channel).collect();
    assert_eq!(channels, [MessageChannel::Zns, MessageChannel::Sms]);
    assert_eq!(
        journey.listens_for("theo-doi-mo-email"),
        ["message.opened", "message.clicked"]
    );
    let Some(Step::Ticket {
        queue,
        priority,
        sla,
        ..
    }) = journey.step("chuyen-telesales")
    else {
        panic!("no ticket");
    };
    assert_eq!(
        (*queue, *priority, *sla),
        (
            TicketQueue::Telesales,
            TicketPriority::High,
            Span::from_days(2)
        )
    );
    // The follow-up cap: after two follow-ups the ticket, before that another follow-up.
    let Some(Step::BranchCondition { condition, yes, no }) =
        journey.step("kiem-tra-so-lan-bam-duoi")
    else {
        panic!("no cap");
    };
    let facts = Facts::new(utc(2026, 11, 1, 0, 0));
    let mut anchors = Anchors::new(facts.enrolled_at);
    let now = utc(2026, 11, 10, 0, 0);
    assert!(!condition.holds(&facts, &[], now, &anchors));
    anchors.visits.insert("bam-duoi".into(), 2);
    assert!(condition.holds(&facts, &[], now, &anchors));
    assert_eq!(
        (yes.as_str(), no.as_str()),
        ("chuyen-telesales", "bam-duoi")
    );
}

#[test]
fn the_card_seed_waits_for_activation_and_the_first_spend() {
    let journey = SEEDS[1].parse().unwrap();
    let Some(Step::WaitForEvent { event, timeout, .. }) = journey.step("cho-kich-hoat-1") else {
        panic!("no activation wait");
    };
    assert_eq!(
        (event.as_str(), *timeout),
        ("card.activated", Span::from_days(3))
    );
    assert_eq!(journey.listens_for("cho-giao-dich"), ["card.transaction"]);
    assert_eq!(journey.goals[0].event, "card.first_spend");
    let types = journey.event_types();
    for kind in [
        "card.issued",
        "card.activated",
        "card.transaction",
        "card.first_spend",
        "card.closed",
    ] {
        assert!(types.contains(kind), "{kind}");
    }
}

#[test]
fn the_lead_seed_is_a_daily_segment_of_two_week_old_leads_capped_at_six_emails() {
    let journey = SEEDS[2].parse().unwrap();
    let Trigger::Segment { filter, every } = &journey.trigger else {
        panic!("not a segment");
    };
    assert_eq!(filter.lifecycle, Some(Lifecycle::Consulting));
    assert_eq!(filter.created_before_days, Some(14));
    assert_eq!(*every, Span::from_days(1));
    let converted = Facts::new(utc(2026, 11, 1, 0, 0)).with_event(json!({"to": "customer"}));
    let still_lead = converted.with_event(json!({"to": "consulting"}));
    assert!(
        journey
            .goal_for("customer.lifecycle_changed", &converted)
            .is_some()
    );
    assert!(
        journey
            .goal_for("customer.lifecycle_changed", &still_lead)
            .is_none()
    );
    let refused = converted.with_event(json!({"channel": "email"}));
    assert_eq!(
        journey
            .stop_for("consent.refused", &refused)
            .and_then(|s| s.outcome.as_deref()),
        Some("tu-choi-email")
    );
    assert!(
        journey
            .stop_for(
                "consent.refused",
                &refused.with_event(json!({"channel": "sms"}))
            )
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[test]
fn parse_errors_name_the_field_and_line_and_never_the_value() {
    let text = doc("gui", SIMPLE).replace("duration: 1d", "duration: ba-ngay-BI-MAT");
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(
        &errors,
        "steps.cho.wait.duration",
        &["thời lượng", "dòng 9"],
    );
    assert!(!errors.to_string().contains("BI-MAT"));

    let text = doc("gui", SIMPLE).replace("next: het", "nxt: het");
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(&errors, "steps.cho.nxt", &["\"nxt\"", "next", "dòng 9"]);

    let text = doc("gui", SIMPLE).replace("purpose: care", "purpose: BI-MAT");
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(&errors, "steps.gui.purpose", &["marketing, care"]);
    assert!(!errors.to_string().contains("BI-MAT"));

    let text = doc("gui", SIMPLE).replace("type: exit", "type: BI-MAT");
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(&errors, "steps.het.type", &["send, wait"]);
    assert!(!errors.to_string().contains("BI-MAT"));

    let text = doc("gui", SIMPLE).replace(
        "kind: duration, duration: 1d",
        "kind: until_date, field: holding.due_date, time: \"09:00\"",
    );
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(
        &errors,
        "steps.cho.wait.max",
        &["thiếu trường bắt buộc \"max\""],
    );

    let text = doc("gui", SIMPLE).replace("name: Hành trình", "name: [Hành trình");
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(&errors, "journey", &["cú pháp YAML", "dòng"]);
}

#[test]
fn a_step_id_written_twice_is_refused() {
    let text = doc(
        "gui",
        &format!("{SIMPLE}  het: {{ type: exit, outcome: lan-hai }}\n"),
    );
    let errors = parse_yaml(&text).unwrap_err();
    assert_problem(&errors, "steps", &["\"het\"", "hai lần", "dòng"]);
}

#[test]
fn conditions_read_as_one_key_maps_and_yaml_anchors_work() {
    let steps = "  nhanh:
    type: branch_condition
    condition:
      all:
        - lifecycle: { is: [customer] }
        - not: { tag: { has: vip } }
        - attribute: { path: customer.attributes.han_muc, op: gte, value: 50000000 }
    yes: gui
    no: gui
  gui: &gui { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: cho }
  cho: { type: wait, wait: { kind: duration, duration: 1d }, next: het }
  het: { type: exit }
";
    let journey = parse(&doc("nhanh", steps));
    let Some(Step::BranchCondition {
        condition: Condition::All(all),
        ..
    }) = journey.step("nhanh")
    else {
        panic!("not parsed as a condition");
    };
    assert_eq!(all.len(), 3);
    assert!(matches!(&all[1], Condition::Not(inner) if matches!(**inner, Condition::Tag { .. })));
}

#[test]
fn json_uses_the_same_schema_and_reports_fields_with_lines() {
    let journey = parse(&doc("gui", SIMPLE));
    let json = serde_json::to_string_pretty(&journey).unwrap();
    assert_eq!(parse_json(&json).unwrap(), journey);

    let broken = json.replace("\"1d\"", "\"BI-MAT\"");
    let errors = parse_json(&broken).unwrap_err();
    assert_problem(&errors, "steps.cho.wait.duration", &["thời lượng", "dòng"]);
    assert!(!errors.to_string().contains("BI-MAT"));

    let errors = parse_json("{\"key\": ").unwrap_err();
    assert_problem(&errors, "journey", &["JSON", "dòng 1"]);
}

#[test]
fn staff_text_is_nfc_normalised() {
    let decomposed = "Ha\u{300}nh tri\u{300}nh"; // "Hành trình" with combining marks
    let text = doc("gui", SIMPLE).replace("Hành trình thử nghiệm", decomposed);
    assert_eq!(parse(&text).name, "Hành trình");
}

#[test]
fn spans_read_like_marketers_write_them() {
    for (text, seconds) in [
        ("3d", 3 * 86_400),
        ("2h 30m", 9_000),
        ("2h30m", 9_000),
        ("1w", 7 * 86_400),
        ("45m", 2_700),
        ("90s", 90),
        ("1day 2hours", 93_600),
    ] {
        assert_eq!(text.parse::<Span>(), Ok(Span::from_secs(seconds)), "{text}");
    }
    for bad in [
        "", "3", "1M", "1y", "2 months", "500ms", "ba ngày", "-1d", "1.5h",
    ] {
        assert_eq!(bad.parse::<Span>(), Err(SpanError), "{bad}");
    }
    assert_eq!(Span::from_days(7).to_string(), "7d");
    assert_eq!(Span::from_secs(9_000).to_string(), "2h 30m");
    assert_eq!(Span::from_secs(93_601).to_string(), "1d 2h 1s");
    assert_eq!(
        "09:05".parse::<ClockTime>().map(|t| t.to_string()),
        Ok("09:05".into())
    );
    for bad in ["9:00", "24:00", "09:60", "0900", "09:00:00"] {
        assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation, one rule at a time

#[test]
fn a_valid_journey_passes() {
    assert_eq!(validate(&parse(&doc("gui", SIMPLE)), &templates), Ok(()));
}

#[test]
fn key_name_and_step_ids_are_well_formed() {
    let text = doc("gui", SIMPLE)
        .replace("key: thu-nghiem", "key: Thu Nghiem")
        .replace("name: Hành trình thử nghiệm", "name: \"  \"");
    let errors = problems(&text);
    assert_problem(&errors, "key", &["Mã hành trình"]);
    assert_problem(&errors, "name", &["Tên hành trình"]);

    let text = doc("Gui_Tin", &SIMPLE.replace("  gui:", "  Gui_Tin:"));
    assert_problem(
        &problems(&text),
        "steps.Gui_Tin",
        &["Bước \"Gui_Tin\"", "mã bước"],
    );
}

#[test]
fn start_and_every_reference_must_name_an_existing_step() {
    assert_problem(
        &problems(&doc("khong-co", SIMPLE)),
        "start",
        &["\"khong-co\""],
    );

    let text = doc("gui", &SIMPLE.replace("next: het", "next: nhac-lan-2"));
    let errors = problems(&text);
    assert_problem(
        &errors,
        "steps.cho.next",
        &["Bước \"cho\"", "\"nhac-lan-2\"", "không tồn tại"],
    );

    let steps = "  cho:
    type: wait_for_event
    event: card.activated
    timeout: 3d
    on_event: het
    on_timeout: mat-tich
  nhanh: { type: branch_condition, condition: { tag: { has: vip } }, yes: het, no: dau-roi }
  chia:
    type: split
    branches:
      - { percent: 50, next: het }
      - { percent: 50, next: dau-mat }
  het: { type: exit }
";
    let text = doc("cho", steps).replace("on_event: het", "on_event: nhanh");
    let text = text.replace(
        "no: dau-roi }",
        "no: dau-roi }\n  noi: { type: wait, wait: { kind: duration, duration: 1h }, next: chia }",
    );
    let errors = problems(&text);
    assert_problem(
        &errors,
        "steps.cho.on_timeout",
        &["Bước \"cho\"", "\"mat-tich\""],
    );
    assert_problem(
        &errors,
        "steps.nhanh.no",
        &["Bước \"nhanh\"", "\"dau-roi\""],
    );
    assert_problem(
        &errors,
        "steps.chia.branches[1].next",
        &["Bước \"chia\"", "\"dau-mat\""],
    );
}

#[test]
fn message_step_must_be_a_send_step_before_the_branch() {
    let steps = "  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: nhanh }
  nhanh: { type: branch_engagement, message_step: cho, signal: opened, within: 3d, yes: het, no: cho }
  cho: { type: wait, wait: { kind: duration, duration: 1d }, next: het }
  het: { type: exit }
";
    assert_problem(
        &problems(&doc("gui", steps)),
        "steps.nhanh.message_step",
        &["Bước \"nhanh\"", "\"cho\"", "không phải bước gửi tin"],
    );
    assert_problem(
        &problems(&doc(
            "gui",
            &steps.replace("message_step: cho", "message_step: khong-co"),
        )),
        "steps.nhanh.message_step",
        &["Bước \"nhanh\"", "không tồn tại"],
    );
    // A send that comes only after the branch.
    let after = "  nhanh: { type: branch_engagement, message_step: gui, signal: opened, within: 3d, yes: gui, no: gui }
  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: het }
  het: { type: exit }
";
    assert_problem(
        &problems(&doc("nhanh", after)),
        "steps.nhanh.message_step",
        &["Bước \"nhanh\"", "phải nằm trước"],
    );
    assert_eq!(
        validate(
            &parse(&doc(
                "gui",
                &steps.replace("message_step: cho", "message_step: gui")
            )),
            &templates
        ),
        Ok(())
    );
}

#[test]
fn templates_must_exist_on_the_target_channel() {
    let text = doc(
        "gui",
        &SIMPLE.replace(
            "targets: [{ channel: email, template: chao-email }]",
            "targets: [{ channel: zns, template: chao-sms }, { channel: sms, template: khong-co }, { channel: zns, template: chao-zns }]",
        ),
    );
    let errors = problems(&text);
    assert_problem(
        &errors,
        "steps.gui.targets[0].template",
        &["Bước \"gui\"", "\"chao-sms\"", "kênh sms", "kênh zns"],
    );
    assert_problem(
        &errors,
        "steps.gui.targets[1].template",
        &["Bước \"gui\"", "không có mẫu tin \"khong-co\""],
    );
    assert_problem(
        &errors,
        "steps.gui.targets[2].channel",
        &["Bước \"gui\"", "hai lần"],
    );

    let text = doc(
        "gui",
        &SIMPLE.replace(
            "targets: [{ channel: email, template: chao-email }]",
            "targets: []",
        ),
    );
    assert_problem(
        &problems(&text),
        "steps.gui.targets",
        &["Bước \"gui\"", "ít nhất một kênh"],
    );
}

#[test]
fn every_step_must_be_reachable_from_start() {
    let text = doc(
        "gui",
        &format!("{SIMPLE}  mo-coi: {{ type: exit, outcome: mo-coi }}\n"),
    );
    assert_problem(
        &problems(&text),
        "steps.mo-coi",
        &["Bước \"mo-coi\"", "không tới được", "\"gui\""],
    );
}

#[test]
fn every_loop_must_pass_a_wait() {
    let steps = "  a: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: b }
  b: { type: branch_condition, condition: { visits: { step: a, min: 3 } }, yes: het, no: a }
  het: { type: exit }
";
    let errors = problems(&doc("a", steps));
    assert_problem(
        &errors,
        "steps.a",
        &[
            "Bước \"a\"",
            "vòng lặp",
            "\"a\", \"b\"",
            "không có bước chờ",
        ],
    );
    assert!(
        errors.get("steps.b").is_none(),
        "one report per loop: {errors}"
    );

    // The same loop through a wait, with a cap and a way out: fine.
    let waiting = "  a: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: cho }
  cho: { type: wait, wait: { kind: duration, duration: 3d }, next: b }
  b: { type: branch_condition, condition: { visits: { step: a, min: 3 } }, yes: het, no: a }
  het: { type: exit }
";
    assert_eq!(validate(&parse(&doc("a", waiting)), &templates), Ok(()));

    // A wait until a date may wait nothing: it does not count.
    let dated = waiting.replace(
        "{ kind: duration, duration: 3d }",
        "{ kind: until_date, field: holding.due_date, offset_days: -3, time: \"09:00\", max: 31d }",
    );
    assert_problem(&problems(&doc("a", &dated)), "steps.a", &["vòng lặp"]);

    // An engagement branch's `yes` may be taken at once; its `no` waits.
    let engaged = "  a: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: b }
  b: { type: branch_engagement, message_step: a, signal: opened, within: 2d, yes: c, no: c }
  c: { type: branch_condition, condition: { visits: { step: a, min: 3 } }, yes: het, no: a }
  het: { type: exit }
";
    assert_problem(
        &problems(&doc("a", engaged)),
        "steps.a",
        &["\"a\", \"b\", \"c\""],
    );
    let only_no_loops = engaged.replace("yes: c, no: c", "yes: het, no: c");
    assert_eq!(
        validate(&parse(&doc("a", &only_no_loops)), &templates),
        Ok(())
    );

    // A self-loop.
    let selfish =
        "  a: { type: branch_condition, condition: { tag: { has: vip } }, yes: het, no: a }
  het: { type: exit }
";
    assert_problem(
        &problems(&doc("a", selfish)),
        "steps.a",
        &["\"a\"", "vòng lặp"],
    );
}

#[test]
fn waits_are_bounded() {
    let zero = doc("gui", &SIMPLE.replace("duration: 1d", "duration: 0s"));
    assert_problem(
        &problems(&zero),
        "steps.cho.wait.duration",
        &["Bước \"cho\"", "lớn hơn 0"],
    );
    let long = doc("gui", &SIMPLE.replace("duration: 1d", "duration: 401d"));
    assert_problem(
        &problems(&long),
        "steps.cho.wait.duration",
        &["Bước \"cho\"", "400d"],
    );

    let dated = doc(
        "gui",
        &SIMPLE.replace(
            "{ kind: duration, duration: 1d }",
            "{ kind: until_date, field: tuy-y, offset_days: -3, time: \"09:00\", max: 500d }",
        ),
    );
    let errors = problems(&dated);
    assert_problem(&errors, "steps.cho.wait.max", &["Bước \"cho\"", "400d"]);
    assert_problem(
        &errors,
        "steps.cho.wait.field",
        &["Bước \"cho\"", "holding.due_date"],
    );

    let weekdays = doc(
        "gui",
        &SIMPLE.replace(
            "{ kind: duration, duration: 1d }",
            "{ kind: until_local_time, time: \"09:00\", weekdays: [] }",
        ),
    );
    assert_problem(
        &problems(&weekdays),
        "steps.cho.wait.weekdays",
        &["Bước \"cho\""],
    );

    let event = |timeout: &str| {
        doc(
            "cho",
            &format!(
                "  cho: {{ type: wait_for_event, event: card.activated, {timeout} on_event: het, on_timeout: het }}\n  het: {{ type: exit }}\n"
            ),
        )
    };
    assert_problem(
        &problems(&event("timeout: 0s,")),
        "steps.cho.timeout",
        &["Bước \"cho\""],
    );
    let missing = parse_yaml(&event("")).unwrap_err();
    assert_problem(
        &missing,
        "steps.cho.timeout",
        &["thiếu trường bắt buộc \"timeout\""],
    );

    let sla = doc(
        "gui",
        &SIMPLE.replace("next: het", "next: tk").replace(
            "  het:",
            "  tk: { type: ticket, queue: rm, sla: 0s, title: Gọi khách, next: het }\n  het:",
        ),
    );
    assert_problem(&problems(&sla), "steps.tk.sla", &["Bước \"tk\""]);
}

#[test]
fn split_percentages_add_up_to_100_over_at_least_two_branches() {
    let split = |branches: &str| {
        doc(
            "chia",
            &format!(
                "  chia: {{ type: split, branches: [{branches}] }}\n  het: {{ type: exit }}\n  doi-chung: {{ type: exit, outcome: holdout }}\n"
            ),
        )
    };
    let errors = problems(&split(
        "{ percent: 60, next: het }, { percent: 30, next: doi-chung }",
    ));
    assert_problem(
        &errors,
        "steps.chia.branches",
        &["Bước \"chia\"", "90%", "100%"],
    );

    let errors = problems(
        &split("{ percent: 100, next: het }")
            .replace("  doi-chung: { type: exit, outcome: holdout }\n", ""),
    );
    assert_problem(
        &errors,
        "steps.chia.branches",
        &["Bước \"chia\"", "hai nhánh"],
    );

    let errors = problems(&split(
        "{ percent: 0, next: het }, { percent: 100, next: doi-chung }",
    ));
    assert_problem(
        &errors,
        "steps.chia.branches[0].percent",
        &["Bước \"chia\""],
    );

    let ok = split(
        "{ percent: 90, next: het, label: Nhận tin }, { percent: 10, next: doi-chung, label: Đối chứng }",
    );
    assert_eq!(validate(&parse(&ok), &templates), Ok(()));
}

#[test]
fn event_types_are_dotted_lower_case() {
    let text = doc("gui", SIMPLE)
        .replace("event: card.issued", "event: Card Issued")
        .replace("event: card.activated", "event: activated");
    let errors = problems(&text);
    assert_problem(&errors, "trigger.event", &["card.activated"]);
    assert_problem(&errors, "goals[0].event", &["Mục tiêu 1"]);

    let steps = "  cho: { type: wait_for_event, event: CardActivated, timeout: 3d, on_event: het, on_timeout: het }\n  het: { type: exit }\n";
    assert_problem(
        &problems(&doc("cho", steps)),
        "steps.cho.event",
        &["Bước \"cho\""],
    );

    let stop = doc("gui", SIMPLE).replace(
        "start:",
        "stops:\n  - { name: Huỷ thẻ, event: closed }\nstart:",
    );
    assert_problem(&problems(&stop), "stops[0].event", &["Điều kiện dừng 1"]);
}

#[test]
fn a_journey_must_be_able_to_end() {
    let no_exit = "  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: cho }
  cho: { type: wait, wait: { kind: duration, duration: 7d }, next: gui }
";
    let errors = problems(&doc("gui", no_exit));
    assert_problem(&errors, "steps", &["không có bước kết thúc"]);

    // An exit exists, but the loop has no way to it: every step on the loop is reported.
    let trapped =
        "  nhanh: { type: branch_condition, condition: { tag: { has: vip } }, yes: het, no: gui }
  gui: { type: send, purpose: care, targets: [{ channel: email, template: chao-email }], next: cho }
  cho: { type: wait, wait: { kind: duration, duration: 7d }, next: gui }
  het: { type: exit }
";
    let errors = problems(&doc("nhanh", trapped));
    assert_problem(
        &errors,
        "steps.gui",
        &["Bước \"gui\"", "không có đường tới bước kết thúc"],
    );
    assert_problem(&errors, "steps.cho", &["Bước \"cho\""]);
    assert!(errors.get("steps.nhanh").is_none());
}

#[test]
fn conditions_are_checked_where_they_are_used() {
    let text = doc("gui", SIMPLE).replace(
        "event: card.activated }",
        "event: card.activated, when: { event_seen: { event: card.transaction } } }",
    );
    assert_problem(
        &problems(&text),
        "goals[0].when.event_seen",
        &["Mục tiêu 1", "event_seen"],
    );

    let steps = "  nhanh:
    type: branch_condition
    condition:
      any:
        - attribute: { path: khach.ten, op: eq, value: An }
        - attribute: { path: customer.lifecycle, op: in, value: customer }
        - attribute: { path: customer.tags, op: exists, value: true }
        - visits: { step: khong-co, min: 2 }
        - event_seen: { event: card.transaction, since: \"step:khong-co\", min_count: 0 }
        - all: []
    yes: het
    no: het
  het: { type: exit }
";
    let errors = problems(&doc("nhanh", steps));
    let at = "steps.nhanh.condition.any";
    assert_problem(
        &errors,
        &format!("{at}[0].attribute.path"),
        &["Bước \"nhanh\"", "customer."],
    );
    assert_problem(
        &errors,
        &format!("{at}[1].attribute.value"),
        &["Bước \"nhanh\"", "danh sách"],
    );
    assert_problem(&errors, &format!("{at}[2].attribute.value"), &["exists"]);
    assert_problem(&errors, &format!("{at}[3].visits.step"), &["\"khong-co\""]);
    assert_problem(
        &errors,
        &format!("{at}[4].event_seen.since"),
        &["step:khong-co"],
    );
    assert_problem(&errors, &format!("{at}[4].event_seen.min_count"), &["not"]);
    assert_problem(&errors, &format!("{at}[5].all"), &["trống"]);
}

#[test]
fn segment_triggers_need_a_filter_and_a_sane_schedule() {
    let text = doc("gui", SIMPLE).replace(
        "trigger: { type: event, event: card.issued }",
        "trigger: { type: segment, filter: {}, every: 30m }",
    );
    let errors = problems(&text);
    assert_problem(&errors, "trigger.filter", &["ít nhất một điều kiện"]);
    assert_problem(&errors, "trigger.every", &["1h"]);

    let text = doc("gui", SIMPLE).replace(
        "trigger: { type: event, event: card.issued }",
        "trigger: { type: segment, filter: { lifecycle: consulting, remaining_ratio_min: 2 }, every: 1d }",
    );
    assert_problem(
        &problems(&text),
        "trigger.filter.remaining_ratio_min",
        &["0 đến 1"],
    );

    let text = doc("gui", SIMPLE).replace(
        "trigger: { type: event, event: card.issued }",
        "trigger: { type: segment, filter: { lifecycle: lead }, every: 1d }",
    );
    assert_problem(
        &parse_yaml(&text).unwrap_err(),
        "trigger.filter.lifecycle",
        &["new, consulting"],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = doc(
        "gui",
        &SIMPLE
            .replace("next: het", "next: dau")
            .replace("duration: 1d", "duration: 0s"),
    )
    .replace("key: thu-nghiem", "key: X");
    let errors = problems(&text);
    let fields: Vec<&str> = errors.fields().collect();
    for field in ["key", "steps.cho.next", "steps.cho.wait.duration"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// WaitFor::until

fn local_wait(time: &str, weekdays: Option<Vec<Weekday>>) -> WaitFor {
    WaitFor::UntilLocalTime {
        time: time.parse().unwrap(),
        weekdays,
    }
}

#[test]
fn waiting_for_a_local_time_takes_the_next_one() {
    let facts = Facts::new(utc(2026, 11, 1, 0, 0));
    let nine = local_wait("09:00", None);
    // 22:30 local → 09:00 the next day.
    assert_eq!(
        nine.until(vn(2026, 11, 24, 22, 30), &facts),
        vn(2026, 11, 25, 9, 0)
    );
    // 08:00 local → 09:00 the same day.
    assert_eq!(
        nine.until(vn(2026, 11, 24, 8, 0), &facts),
        vn(2026, 11, 24, 9, 0)
    );
    // 09:00 exactly → the next day (strictly after: a loop through it always takes time).
    assert_eq!(
        nine.until(vn(2026, 11, 24, 9, 0), &facts),
        vn(2026, 11, 25, 9, 0)
    );
    // 01:00 UTC is already 08:00 in Viet Nam: the same local day, not the UTC one.
    assert_eq!(
        nine.until(utc(2026, 11, 24, 1, 0), &facts),
        utc(2026, 11, 24, 2, 0)
    );

    // 2026-11-27 is a Friday: weekdays only → Monday 30.
    let weekdays = local_wait(
        "09:00",
        Some(vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ]),
    );
    assert_eq!(
        weekdays.until(vn(2026, 11, 27, 22, 30), &facts),
        vn(2026, 11, 30, 9, 0)
    );
    assert_eq!(
        weekdays.until(vn(2026, 11, 28, 10, 0), &facts),
        vn(2026, 11, 30, 9, 0)
    );
    // Tuesdays only, from a Tuesday after 09:00 → a week later.
    let tuesday = local_wait("09:00", Some(vec![Weekday::Tue]));
    assert_eq!(
        tuesday.until(vn(2026, 11, 24, 9, 5), &facts),
        vn(2026, 12, 1, 9, 0)
    );
}

#[test]
fn waiting_for_a_duration_adds_it() {
    let wait = WaitFor::Duration {
        duration: "2h 30m".parse().unwrap(),
    };
    let now = utc(2026, 11, 24, 10, 0);
    assert_eq!(wait.until(now, &Facts::new(now)), utc(2026, 11, 24, 12, 30));
}

#[test]
fn waiting_until_a_date_uses_the_facts_and_is_bounded() {
    let wait = |field: &str, offset_days: i32, max_days: u64| WaitFor::UntilDate {
        field: field.into(),
        offset_days,
        time: "09:00".parse().unwrap(),
        max: Span::from_days(max_days),
    };
    let now = vn(2026, 12, 1, 10, 0);
    let mut facts = Facts::new(vn(2026, 11, 20, 0, 0));
    facts.holding = json!({"due_date": "2026-12-10"});
    facts.event = json!({"expires_on": "2026-12-31T20:00:00Z"});
    facts.customer = json!({"birthday": "1992-02-29", "attributes": {"ngay_hen": "2026-12-03"}});

    // D-3 before the due date, at 09:00 local.
    assert_eq!(
        wait("holding.due_date", -3, 40).until(now, &facts),
        vn(2026, 12, 7, 9, 0)
    );
    // An RFC 3339 instant is read as its local date (20:00 UTC on the 31st is 1 January in Viet Nam).
    assert_eq!(
        wait("event.expires_on", 0, 40).until(now, &facts),
        vn(2027, 1, 1, 9, 0)
    );
    assert_eq!(
        wait("customer.attributes.ngay_hen", 0, 40).until(now, &facts),
        vn(2026, 12, 3, 9, 0)
    );
    // A date already past: at once.
    assert_eq!(wait("holding.due_date", -30, 40).until(now, &facts), now);
    // Further than max, or missing: max.
    assert_eq!(
        wait("holding.due_date", 0, 5).until(now, &facts),
        now + Span::from_days(5).to_delta()
    );
    assert_eq!(
        wait("holding.ngay_khac", 0, 5).until(now, &facts),
        now + Span::from_days(5).to_delta()
    );
    // Thirty days after enrolment.
    assert_eq!(
        wait("enrolled_at", 30, 40).until(now, &facts),
        vn(2026, 12, 20, 9, 0)
    );
    // The next birthday: 29 February falls on 28 February in 2027; the day before it at 09:00.
    assert_eq!(
        wait("customer.birthday", -1, 400).until(now, &facts),
        vn(2027, 2, 27, 9, 0)
    );
    facts.customer = json!({"birthday": "1985-12-01"});
    // Today's birthday at 09:00 has passed at 10:00: next year's.
    assert_eq!(
        wait("customer.birthday", 0, 400).until(now, &facts),
        vn(2027, 12, 1, 9, 0)
    );
}

proptest! {
    #[test]
    fn a_wait_never_ends_before_it_starts(
        seconds in 1_600_000_000i64..2_000_000_000,
        hour in 0u32..24,
        minute in 0u32..60,
        duration in 1u64..(400 * 86_400),
        offset in -400i32..400,
    ) {
        let now = Utc.timestamp_opt(seconds, 0).unwrap();
        let mut facts = Facts::new(now);
        facts.holding = json!({"due_date": "2026-06-15"});
        let time = ClockTime::new(hour, minute).unwrap();
        for wait in [
            WaitFor::Duration { duration: Span::from_secs(duration) },
            WaitFor::UntilLocalTime { time, weekdays: Some(vec![Weekday::Sun]) },
            WaitFor::UntilDate { field: "holding.due_date".into(), offset_days: offset, time, max: Span::from_secs(duration) },
        ] {
            let end = wait.until(now, &facts);
            prop_assert!(end >= now);
            prop_assert!(end <= now + MAX_WAIT.to_delta());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions

fn seen(kind: &str, at: DateTime<Utc>, data: serde_json::Value) -> SeenEvent {
    SeenEvent {
        kind: kind.into(),
        at,
        data,
    }
}

#[test]
fn no_card_transaction_within_30_days_of_activation() {
    let condition: Condition = yaml_serde::from_str::<serde_json::Value>(
        "not: { event_seen: { event: card.transaction, since: \"event:card.activated\", within: 30d } }",
    )
    .map(|v| serde_json::from_value(v).unwrap())
    .unwrap();
    let enrolled = utc(2026, 11, 1, 0, 0);
    let facts = Facts::new(enrolled);
    let anchors = Anchors::new(enrolled);
    let activated = utc(2026, 11, 3, 0, 0);
    let now = utc(2026, 12, 10, 0, 0);

    // Spent on day 10 after activation: the condition fails.
    let spent = [
        seen("card.activated", activated, json!({})),
        seen(
            "card.transaction",
            activated + Span::from_days(10).to_delta(),
            json!({"amount": 250000}),
        ),
    ];
    assert!(!condition.holds(&facts, &spent, now, &anchors));
    // Only on day 31: not within 30 days, so it holds.
    let late = [
        seen("card.activated", activated, json!({})),
        seen(
            "card.transaction",
            activated + Span::from_days(31).to_delta(),
            json!({}),
        ),
    ];
    assert!(condition.holds(&facts, &late, now, &anchors));
    // A transaction before activation does not count.
    let before = [
        seen(
            "card.transaction",
            activated - Span::from_days(1).to_delta(),
            json!({}),
        ),
        seen("card.activated", activated, json!({})),
    ];
    assert!(condition.holds(&facts, &before, now, &anchors));
    // Not activated at all: there is no "within 30 days of activation", so none was seen.
    assert!(condition.holds(&facts, &[], now, &anchors));
    // The anchor may come from the enrollment's anchors rather than the event list.
    let mut kept = anchors.clone();
    kept.first_event.insert("card.activated".into(), activated);
    assert!(!condition.holds(&facts, &spent[1..], now, &kept));
}

#[test]
fn event_seen_counts_matching_events_in_the_window() {
    let now = utc(2026, 12, 1, 0, 0);
    let facts = Facts::new(utc(2026, 11, 1, 0, 0));
    let mut anchors = Anchors::new(facts.enrolled_at);
    let day = |d: u32| utc(2026, 11, d, 12, 0);
    let events = [
        seen("card.transaction", day(2), json!({"amount": 2_000_000})),
        seen("card.transaction", day(20), json!({"amount": 500_000})),
        seen("card.transaction", day(28), json!({"amount": 1_500_000})),
    ];
    let big_twice = Condition::EventSeen {
        event: "card.transaction".into(),
        within: None,
        since: Some(Since::Enrolled),
        min_count: Some(2),
        when: Some(Box::new(Condition::Attribute {
            path: "event.amount".into(),
            op: Op::Gte,
            value: Some(json!(1_000_000)),
        })),
    };
    assert!(big_twice.holds(&facts, &events, now, &anchors));
    assert!(!big_twice.holds(&facts, &events[..2], now, &anchors));

    let last_week = Condition::EventSeen {
        event: "card.transaction".into(),
        within: Some(Span::from_days(7)),
        since: None,
        min_count: None,
        when: None,
    };
    assert!(last_week.holds(&facts, &events, now, &anchors));
    assert!(!last_week.holds(&facts, &events[..2], now, &anchors));

    let since_step = Condition::EventSeen {
        event: "card.transaction".into(),
        within: None,
        since: Some(Since::Step("nhac".into())),
        min_count: None,
        when: None,
    };
    assert!(
        !since_step.holds(&facts, &events, now, &anchors),
        "step not entered yet"
    );
    anchors.step_entered.insert("nhac".into(), day(25));
    assert!(since_step.holds(&facts, &events, now, &anchors));
    anchors.step_entered.insert("nhac".into(), day(29));
    assert!(!since_step.holds(&facts, &events, now, &anchors));
}

#[test]
fn attribute_lifecycle_tag_and_visits_conditions() {
    let mut facts = Facts::new(utc(2026, 11, 1, 0, 0));
    facts.customer = json!({
        "lifecycle": "consulting",
        "tags": ["vip", "hn"],
        "attributes": {"han_muc": 50_000_000, "ty_le": 0.5, "ngay_mo": "2026-10-01", "ghi_chu": "khách quen"}
    });
    facts.holding = json!({"due_date": "2026-12-10", "ky": [1, 2, 3]});
    let now = utc(2026, 11, 10, 0, 0);
    let mut anchors = Anchors::new(facts.enrolled_at);
    anchors.visits.insert("gui".into(), 2);
    let attr = |path: &str, op: Op, value: Option<serde_json::Value>| Condition::Attribute {
        path: path.into(),
        op,
        value,
    };
    let holds = |c: &Condition| c.holds(&facts, &[], now, &anchors);
    assert!(holds(&attr(
        "customer.attributes.han_muc",
        Op::Eq,
        Some(json!(50_000_000.0))
    )));
    assert!(holds(&attr(
        "customer.attributes.han_muc",
        Op::Gte,
        Some(json!(50_000_000))
    )));
    assert!(!holds(&attr(
        "customer.attributes.han_muc",
        Op::Gt,
        Some(json!(50_000_000))
    )));
    assert!(holds(&attr(
        "customer.attributes.ty_le",
        Op::Lt,
        Some(json!(1))
    )));
    assert!(holds(&attr(
        "customer.attributes.ngay_mo",
        Op::Lt,
        Some(json!("2026-11-01"))
    )));
    assert!(holds(&attr("holding.due_date", Op::Exists, None)));
    assert!(!holds(&attr("holding.khong_co", Op::Exists, None)));
    assert!(holds(&attr("holding.khong_co", Op::Ne, Some(json!(1)))));
    assert!(!holds(&attr("holding.khong_co", Op::Eq, Some(json!(1)))));
    assert!(holds(&attr(
        "customer.lifecycle",
        Op::In,
        Some(json!(["new", "consulting"]))
    )));
    assert!(holds(&attr(
        "customer.tags",
        Op::Contains,
        Some(json!("vip"))
    )));
    assert!(holds(&attr(
        "customer.attributes.ghi_chu",
        Op::Contains,
        Some(json!("quen"))
    )));
    assert!(holds(&attr("holding.ky.1", Op::Eq, Some(json!(2)))));
    assert!(
        !holds(&attr(
            "customer.attributes.han_muc",
            Op::Gt,
            Some(json!("a"))
        )),
        "mixed types never order"
    );

    assert!(holds(&Condition::Lifecycle {
        is: vec![Lifecycle::New, Lifecycle::Consulting]
    }));
    assert!(!holds(&Condition::Lifecycle {
        is: vec![Lifecycle::Customer]
    }));
    assert!(holds(&Condition::Tag { has: "vip".into() }));
    assert!(!holds(&Condition::Tag { has: "hcm".into() }));
    assert!(holds(&Condition::Visits {
        step: "gui".into(),
        min: 2
    }));
    assert!(!holds(&Condition::Visits {
        step: "gui".into(),
        min: 3
    }));
    assert!(holds(&Condition::All(vec![])));
    assert!(!holds(&Condition::Any(vec![])));
    assert!(holds(&Condition::Not(Box::new(Condition::Tag {
        has: "hcm".into()
    }))));
}

// ---------------------------------------------------------------------------------------------
// Journey lookups, reentry, segments

#[test]
fn listens_for_names_the_events_that_wake_a_waiting_step() {
    let journey = SEEDS[2].parse().unwrap();
    assert_eq!(journey.listens_for("theo-doi-click"), ["message.clicked"]);
    assert!(journey.listens_for("gui-ban-tin").is_empty());
    assert!(journey.listens_for("khong-co").is_empty());
    assert!(matches!(
        journey.step("gui-ban-tin"),
        Some(Step::Send { .. })
    ));
    assert!(journey.step("khong-co").is_none());
}

/// [`doc`] entered on `installment.due`, once per instalment plan.
fn per_plan() -> String {
    doc("gui", SIMPLE).replace(
        "trigger: { type: event, event: card.issued }",
        "trigger: { type: event, event: installment.due, per: plan_id }",
    )
}

#[test]
fn an_event_trigger_may_run_the_journey_once_per_subject() {
    let journey = parse(&per_plan());
    assert_eq!(validate(&journey, &templates), Ok(()));
    assert_eq!(journey.per(), Some("plan_id"));
    assert!(journey.event_types().contains("installment.due"));
    // Written back the way it was read, in YAML and in JSON.
    assert_eq!(parse(&journey.to_yaml()), journey);
    let json = serde_json::to_string(&journey).unwrap();
    assert!(json.contains(r#""per":"plan_id""#), "{json}");
    assert_eq!(parse_json(&json).unwrap(), journey);
    // Without it the journey runs once per customer, and nothing is written.
    let plain = parse(&doc("gui", SIMPLE));
    assert_eq!(plain.per(), None);
    assert!(!plain.to_yaml().contains("per:"));
    let longest = "a".repeat(64);
    for good in ["holding_id", "ky_2", longest.as_str()] {
        let text = per_plan().replace("per: plan_id", &format!("per: {good}"));
        assert_eq!(validate(&parse(&text), &templates), Ok(()), "{good}");
    }

    // A field name of the event's data: lower-case letters, digits and `_`, 1–64 of them.
    let too_long = "a".repeat(65);
    for bad in [
        "",
        "Plan_ID",
        "plan-id",
        "plan.id",
        "mã_hđ",
        too_long.as_str(),
    ] {
        let text = per_plan().replace("per: plan_id", &format!("per: \"{bad}\""));
        assert_problem(&problems(&text), "trigger.per", &["\"plan_id\"", "1–64"]);
    }
    let text = per_plan().replace("per: plan_id", "per: [plan_id]");
    assert_problem(&parse_yaml(&text).unwrap_err(), "trigger.per", &["chuỗi"]);

    // Only an event has data to take a subject from. (A manual trigger still reads and writes
    // as `{type: manual}`.)
    let manual = parse(&doc("gui", SIMPLE).replace(
        "trigger: { type: event, event: card.issued }",
        "trigger: { type: manual }",
    ));
    assert_eq!(manual.trigger, Trigger::Manual {});
    assert_eq!(
        serde_json::to_value(&manual.trigger).unwrap(),
        json!({"type": "manual"})
    );
    assert_eq!(parse(&manual.to_yaml()), manual);
    for trigger in [
        "{ type: segment, filter: { lifecycle: customer }, every: 1d, per: plan_id }",
        "{ type: manual, per: plan_id }",
    ] {
        let text = doc("gui", SIMPLE).replace(
            "trigger: { type: event, event: card.issued }",
            &format!("trigger: {trigger}"),
        );
        let errors = parse_yaml(&text).unwrap_err();
        assert_problem(&errors, "trigger.per", &["type: event", "dòng 3"]);
        let json = serde_json::to_string(&yaml_serde::from_str::<Value>(&text).unwrap()).unwrap();
        assert_problem(
            &parse_json(&json).unwrap_err(),
            "trigger.per",
            &["type: event"],
        );
    }
}

#[test]
fn an_event_concerns_only_the_enrollment_of_the_subject_it_names() {
    let journey = parse(&per_plan());
    let subject = |data: Value| journey.subject_of(&data);
    assert_eq!(
        subject(json!({"plan_id": "PLAN-A"})).as_deref(),
        Some("PLAN-A")
    );
    assert_eq!(subject(json!({"plan_id": 42})).as_deref(), Some("42"));
    let longest = "x".repeat(MAX_SUBJECT);
    assert_eq!(subject(json!({ "plan_id": longest })), Some(longest));
    // No usable value: the event names no subject.
    for data in [
        json!({}),
        json!(null),
        json!({"holding_id": "PLAN-A"}),
        json!({"plan_id": ""}),
        json!({"plan_id": "  "}),
        json!({"plan_id": "A#B"}),
        json!({"plan_id": "A\nB"}),
        json!({"plan_id": 1.5}),
        json!({"plan_id": true}),
        json!({"plan_id": {"id": "PLAN-A"}}),
        json!({"plan_id": "x".repeat(MAX_SUBJECT + 1)}),
    ] {
        assert_eq!(subject(data.clone()), None, "{data}");
    }

    let a = Some("PLAN-A");
    assert!(journey.concerns(a, &json!({"plan_id": "PLAN-A", "rung": "D-5"})));
    assert!(!journey.concerns(a, &json!({"plan_id": "PLAN-B"})));
    // An event naming no plan moves no plan's enrollment…
    assert!(!journey.concerns(a, &json!({"message_id": "m"})));
    // …only one made without a subject (by hand), which a plan's event does not move.
    assert!(journey.concerns(None, &json!({"message_id": "m"})));
    assert!(!journey.concerns(None, &json!({"plan_id": "PLAN-A"})));

    // A journey that runs once per customer has no subjects: every event concerns it.
    let plain = parse(&doc("gui", SIMPLE));
    assert_eq!(plain.subject_of(&json!({"plan_id": "PLAN-A"})), None);
    assert!(plain.concerns(None, &json!({"plan_id": "PLAN-B"})));
}

#[test]
fn reentry_rules() {
    let now = utc(2026, 12, 1, 0, 0);
    let earlier = [utc(2026, 10, 1, 0, 0)];
    assert!(Reentry::Once.allows(&[], now));
    assert!(!Reentry::Once.allows(&earlier, now));
    let monthly = Reentry::OncePer {
        interval: Span::from_days(30),
    };
    assert!(monthly.allows(&earlier, now));
    assert!(!monthly.allows(&[utc(2026, 11, 15, 0, 0)], now));
    assert!(Reentry::Unlimited { cap: None }.allows(&[now; 5], now));
    assert!(!Reentry::Unlimited { cap: Some(2) }.allows(&[now; 2], now));
    assert!(Reentry::Unlimited { cap: Some(2) }.allows(&[now; 1], now));
}

#[test]
fn a_segment_filter_resolves_relative_ages_at_evaluation_time() {
    let filter = SegmentFilter {
        lifecycle: Some(Lifecycle::Consulting),
        created_before_days: Some(14),
        created_within_days: Some(60),
        created_to: Some(utc(2027, 1, 1, 0, 0)),
        ..SegmentFilter::default()
    };
    let resolved = filter.resolve(utc(2026, 12, 15, 0, 0));
    assert_eq!(resolved.created_to, Some(utc(2026, 12, 1, 0, 0)));
    assert_eq!(resolved.created_from, Some(utc(2026, 10, 16, 0, 0)));
    assert_eq!(
        (resolved.created_before_days, resolved.created_within_days),
        (None, None)
    );
    assert_eq!(resolved.lifecycle, Some(Lifecycle::Consulting));
}

// ---------------------------------------------------------------------------------------------
// Split

fn branches(percents: &[u8]) -> Vec<SplitBranch> {
    percents
        .iter()
        .enumerate()
        .map(|(i, p)| SplitBranch {
            percent: *p,
            next: format!("nhanh-{i}"),
            label: None,
        })
        .collect()
}

#[test]
fn a_split_is_deterministic_per_enrollment_and_step() {
    let arms = branches(&[50, 50]);
    for i in 0..200 {
        let id = format!("01JD{i:022}");
        assert_eq!(
            split_branch(&id, "chia", &arms),
            split_branch(&id, "chia", &arms)
        );
    }
    // Steps split independently: the same enrollments do not always land together.
    let differs = (0..200)
        .map(|i| format!("enr-{i}"))
        .any(|id| split_branch(&id, "chia-a", &arms) != split_branch(&id, "chia-b", &arms));
    assert!(differs);
    assert_eq!(split_branch("x", "chia", &[]), 0);
    assert_eq!(split_branch("x", "chia", &branches(&[0, 0])), 0);
    assert_eq!(split_branch("x", "chia", &branches(&[0, 100])), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn split_shares_follow_the_percentages(cuts in proptest::collection::btree_set(1u8..100, 1..4)) {
        // Cut 0..100 at the chosen points: 2–4 arms of at least 1 % adding up to 100.
        let mut points: Vec<u8> = cuts.into_iter().collect();
        points.push(100);
        let percents: Vec<u8> = points
            .iter()
            .scan(0u8, |last, p| { let size = p - *last; *last = *p; Some(size) })
            .collect();
        let arms = branches(&percents);
        let mut counts = vec![0u32; arms.len()];
        const N: u32 = 10_000;
        for i in 0..N {
            counts[split_branch(&format!("enr-{i}"), "chia", &arms)] += 1;
        }
        for (count, percent) in counts.iter().zip(&percents) {
            let share = f64::from(*count) * 100.0 / f64::from(N);
            // Binomial spread over 10k is at most 0.5 percentage points; allow 2.
            prop_assert!((share - f64::from(*percent)).abs() < 2.0, "{percents:?} → {counts:?}");
        }
    }
}
