use super::*;
use proptest::prelude::*;
use serde_json::json;

fn email(subject: &str, html: &str, text: &str) -> Content {
    Content::Email {
        subject: subject.to_string(),
        html: html.to_string(),
        text: text.to_string(),
        attachments: vec![],
    }
}

fn sms(text: &str, unaccented: bool) -> Content {
    Content::Sms {
        text: text.to_string(),
        unaccented,
    }
}

fn webhook(text: &str) -> Content {
    Content::Webhook {
        text: text.to_string(),
    }
}

fn zns(params: &[(&str, &str)]) -> Content {
    Content::Zns {
        template_id: "312457".to_string(),
        tag: ZnsTag::Transaction,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Renders a webhook text against `data`.
fn render_text(source: &str, data: &MergeData) -> Result<String, TemplateErrors> {
    match Template::compile(&webhook(source))?.render(data)? {
        Content::Webhook { text } => Ok(text),
        other => panic!("unexpected {other:?}"),
    }
}

fn sample_text(source: &str) -> String {
    render_text(source, &MergeData::sample()).expect("renders")
}

/// A customer whose data would break markup and headers if it were not handled.
fn hostile() -> MergeData {
    let mut data = MergeData::sample();
    data.customer["full_name"] = json!("<script>alert('x')</script> & \"Co\"");
    data.customer["given_name"] = json!("Minh\r\nBcc: victim@example.vn");
    data
}

#[test]
fn zns_tags() {
    assert_eq!(ZnsTag::Transaction.label(), "Giao dịch");
    assert_eq!(ZnsTag::CustomerCare.label(), "Chăm sóc khách hàng");
    assert_eq!(ZnsTag::Promotion.label(), "Hậu mãi");
    assert!(ZnsTag::Promotion.allows_marketing());
    assert!(!ZnsTag::Transaction.allows_marketing());
    assert!(!ZnsTag::CustomerCare.allows_marketing());
    assert_eq!(
        serde_json::to_string(&ZnsTag::CustomerCare).expect("json"),
        "\"customer_care\""
    );
}

#[test]
fn content_is_tagged_by_channel() {
    let content: Content = serde_json::from_value(json!({
        "channel": "email", "subject": "s", "html": "h", "text": "t"
    }))
    .expect("email");
    assert_eq!(content, email("s", "h", "t"));
    assert_eq!(content.channel(), "email");
    let content: Content =
        serde_json::from_value(json!({ "channel": "sms", "text": "x" })).expect("sms");
    assert_eq!(content, sms("x", false));
    let content: Content = serde_json::from_value(json!({
        "channel": "zns", "template_id": "1", "tag": "promotion", "params": { "ten": "x" }
    }))
    .expect("zns");
    assert_eq!(content.channel(), "zns");
    let content: Content =
        serde_json::from_value(json!({ "channel": "push", "title": "t", "body": "b" }))
            .expect("push");
    assert_eq!(
        content,
        Content::Push {
            title: "t".into(),
            body: "b".into(),
            deep_link: None
        }
    );
    assert_eq!(webhook("x").channel(), "webhook");
    assert_eq!(
        serde_json::to_value(sms("x", true)).expect("json"),
        json!({ "channel": "sms", "text": "x", "unaccented": true })
    );
    assert!(
        serde_json::from_value::<Content>(json!({ "channel": "sms", "text": "x", "body": "y" }))
            .is_err()
    );
    assert!(serde_json::from_value::<Content>(json!({ "channel": "fax", "text": "x" })).is_err());
}

#[test]
fn the_sample_customer_has_exactly_the_customer_fields() {
    let sample = MergeData::sample();
    let mut keys: Vec<&str> = sample
        .customer
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = CUSTOMER_FIELDS.to_vec();
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let birthday = NaiveDate::from_ymd_opt(1988, 4, 12);
    let title = customer_title(Some(crate::person::Gender::Male), birthday, today);
    assert_eq!(sample.customer["title"], json!(title));
    assert_eq!(
        sample.customer["salutation"],
        json!(customer_salutation(title, Some("Minh")))
    );
}

use chrono::NaiveDate;

#[test]
fn templates_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
}

#[test]
fn syntax_errors_are_reported_per_field() {
    let errors = Template::compile(&email(
        "Chào {{ customer.given_name",
        "<p>{% if customer.email %}x</p>",
        "{{ customer.full_name | khong_co }}",
    ))
    .expect_err("broken");
    assert_eq!(
        errors.0.keys().map(String::as_str).collect::<Vec<_>>(),
        ["html", "subject", "text"]
    );
    assert!(
        errors
            .get("subject")
            .is_some_and(|m| m.starts_with("Cú pháp Liquid không hợp lệ")),
        "{errors}"
    );
    assert_eq!(errors.get("text"), Some("Bộ lọc `khong_co` không tồn tại"));
    let errors = Template::compile(&webhook("{% gui_thu %}")).expect_err("unknown tag");
    assert_eq!(errors.get("text"), Some("Thẻ `gui_thu` không tồn tại"));
    let errors = Template::compile(&webhook("{{ 5 | vnd: 2 }}")).expect_err("arguments");
    assert_eq!(
        errors.get("text"),
        Some("Tham số của bộ lọc `vnd` không hợp lệ")
    );
}

#[test]
fn syntax_errors_give_the_line_and_column() {
    let errors = Template::compile(&webhook("Dòng 1\n{{ }}")).expect_err("broken");
    let message = errors.get("text").expect("text");
    assert!(message.contains("dòng 2"), "{message}");
}

#[test]
fn zns_needs_a_template_id_and_named_params() {
    let content = Content::Zns {
        template_id: " ".into(),
        tag: ZnsTag::Transaction,
        params: BTreeMap::from([(String::new(), "x".to_string())]),
    };
    let errors = Template::compile(&content).expect_err("invalid");
    assert!(errors.get("template_id").is_some());
    assert!(errors.get("params").is_some());
}

#[test]
fn check_names_the_field_and_the_unknown_variable() {
    let errors = Template::check(&email(
        "Chào {{ khach.ten }}",
        "<p>{{ customer.nmae }}</p>",
        "{{ organisation.phone }} {{ customer.full_name }}",
    ))
    .expect_err("unknown names");
    let subject = errors.get("subject").expect("subject");
    assert!(
        subject.starts_with("Biến `khach` không tồn tại"),
        "{subject}"
    );
    let html = errors.get("html").expect("html");
    assert!(
        html.starts_with("Biến `customer.nmae` không tồn tại"),
        "{html}"
    );
    assert!(html.contains("full_name"), "{html}");
    let text = errors.get("text").expect("text");
    assert!(
        text.starts_with("Biến `organisation.phone` không tồn tại"),
        "{text}"
    );
    assert!(text.contains("hotline"), "{text}");
}

#[test]
fn check_catches_names_liquid_would_silently_forgive() {
    for (source, name) in [
        (
            "{% if customer.gende == 'female' %}Chị{% else %}Anh{% endif %}",
            "customer.gende",
        ),
        ("{% unless khach %}x{% endunless %}", "khach"),
        (
            "{{ customer.owner.nme | default: 'CSKH' }}",
            "customer.owner.nme",
        ),
        (
            "{% for t in customer.tag %}{{ t }}{% endfor %}.",
            "customer.tag",
        ),
    ] {
        let errors = Template::check(&webhook(source)).expect_err(source);
        let message = errors.get("text").expect("text");
        assert!(
            message.starts_with(&format!("Biến `{name}` không tồn tại")),
            "{source}: {message}"
        );
    }
}

#[test]
fn check_accepts_known_names_and_open_namespaces() {
    let content = email(
        "{{ customer.salutation }} ơi, kỳ {{ holding.ky_moi }} sắp đến hạn",
        "<p>{{ holding.phi_tre_han | vnd }} – {{ holding.ngay_dao_han | date_vn }} – \
         {{ event.payload.card.last4 }} – {{ journey.campaign | upcase }} – \
         {{ customer.attributes.hang_the | default: 'Chuẩn' }} – \
         {{ holding.phi | plus: 1000 | times: 2 | vnd }} – {{ event.at | datetime_vn }}</p>\
         {% if holding.qua_han %}Quá hạn{% endif %}",
        "{{ customer.owner }} {{ customer.tags | join: ', ' }} {{ customer.tags.size }} \
         {{ organisation.name }} {{ organisation.hotline }} {{ organisation.website }} \
         {{ message.id }} {{ message.unsubscribe_url }} {{ customer.attributes.cif }} \
         {% assign ten = customer.given_name %}{{ ten }} \
         {% for tag in customer.tags %}{{ forloop.index }}{{ tag }}{% endfor %} \
         {{ 'now' | date: '%Y' }} \
         {% for p in holding.lich_tra_no %}{{ p.so_tien | vnd }}{% endfor %}",
    );
    let template = Template::check(&content).expect("valid");
    assert_eq!(
        format!("{template:?}"),
        "Template { channel: \"email\", .. }"
    );
    let Content::Email { subject, html, .. } = Template::preview(&content).expect("preview") else {
        panic!("email")
    };
    assert_eq!(subject, "Anh Minh ơi, kỳ 1 sắp đến hạn");
    assert_eq!(
        html,
        "<p>1 ₫ – 01/12/2026 – 1 – 1 – 1 – 2.002 ₫ – 09:00 01/12/2026</p>Quá hạn"
    );
}

#[test]
fn check_applies_the_channel_limits_to_the_sample() {
    let errors = Template::check(&sms("{% if customer.email == 'x' %}Chào{% endif %}", false))
        .expect_err("empty");
    assert_eq!(errors.get("text"), Some("Tin nhắn trống sau khi hiển thị"));
    let long = "{{ customer.full_name }}".repeat(30);
    let errors = Template::check(&zns(&[("ten", &long)])).expect_err("too long");
    assert!(errors.get("params").is_some_and(|m| m.contains("400")));
    let errors =
        Template::check(&email("{{ customer.full_name }}\nBcc: x", "", "")).expect_err("two lines");
    assert!(errors.get("subject").is_some());
}

#[test]
fn check_reports_filters_misused_on_known_fields() {
    let errors =
        Template::check(&webhook("{{ customer.full_name | vnd }}")).expect_err("not an amount");
    assert_eq!(
        errors.get("text"),
        Some("Giá trị đưa vào bộ lọc `vnd` không hợp lệ")
    );
}

#[test]
fn render_is_strict_about_absent_data() {
    let template = Template::compile(&sms(
        "Kỳ {{ holding.installment_no }} đến hạn {{ holding.due_date | date_vn }}",
        false,
    ))
    .expect("compiles");
    let mut data = MergeData::sample();
    data.holding = Some(json!({ "installment_no": 7 }));
    let errors = template.render(&data).expect_err("no due date");
    assert_eq!(
        errors.get("text"),
        Some("Thiếu dữ liệu cho biến `holding.due_date`")
    );
    data.holding = None;
    let errors = template.render(&data).expect_err("no holding");
    assert_eq!(errors.get("text"), Some("Thiếu dữ liệu cho biến `holding`"));
    // A key the caller left out of the customer object is null, not absent.
    data.customer = json!({ "full_name": "Nguyễn Văn Minh" });
    assert_eq!(
        render_text("{{ customer.email | default: 'chưa có' }}", &data).as_deref(),
        Ok("chưa có")
    );
}

#[test]
fn default_works_on_null_fields_and_stdlib_filters_work() {
    let mut data = MergeData::sample();
    data.customer["email"] = json!(null);
    assert_eq!(
        render_text("{{ customer.email | default: 'chưa có email' }}", &data).as_deref(),
        Ok("chưa có email")
    );
    assert_eq!(
        sample_text("{{ customer.full_name | upcase }}"),
        "NGUYỄN VĂN MINH"
    );
    assert_eq!(
        sample_text("{{ customer.full_name | unaccent | downcase | replace: ' ', '-' }}"),
        "nguyen-van-minh"
    );
    assert_eq!(
        sample_text("{{ holding.amount | times: 2 | vnd }}"),
        "6.500.000 ₫"
    );
    assert_eq!(
        sample_text("{{ holding.due_date | date_vn }}"),
        "05/12/2026"
    );
    assert_eq!(
        sample_text("{{ event.occurred_at | datetime_vn }}"),
        "09:00 30/11/2026"
    );
    assert_eq!(
        sample_text("{{ customer.tags | join: ', ' }} {{ customer.tags.size }}"),
        "vip, tra_gop 2"
    );
    assert_eq!(
        sample_text("{% if customer.gender == 'female' %}Chị{% else %}Anh{% endif %}"),
        "Anh"
    );
}

#[test]
fn render_errors_never_quote_customer_data() {
    let mut data = MergeData::sample();
    data.customer["full_name"] = json!("Nguyễn Bí Mật");
    data.customer["phone"] = json!("0909000111");
    for source in [
        "{{ customer.full_name | vnd }}",
        "{{ customer.phone | date_vn }}",
        "{{ customer.full_name | plus: customer.phone }}",
        "{% for x in customer.full_name %}{{ x }}{% endfor %}",
        "{{ customer.full_name | divided_by: 0 }}",
    ] {
        let errors = render_text(source, &data).expect_err(source);
        let shown = format!("{errors} {errors:?}");
        assert!(!shown.contains("Bí Mật"), "{source}: {shown}");
        assert!(!shown.contains("0909000111"), "{source}: {shown}");
    }
}

#[test]
fn html_is_escaped_but_text_and_subject_are_not() {
    let template = Template::compile(&email(
        "Thư cho {{ customer.full_name }}",
        "<p class=\"greet\">Kính gửi <b>{{ customer.full_name }}</b></p>\
         <a href=\"{{ message.unsubscribe_url }}?a=1&b=2\">Hủy</a>",
        "Kính gửi {{ customer.full_name }}",
    ))
    .expect("compiles");
    let mut data = hostile();
    data.message["unsubscribe_url"] = json!("https://x.vn/u?id=1&t=2");
    let Content::Email {
        subject,
        html,
        text,
        ..
    } = template.render(&data).expect("renders")
    else {
        panic!("email")
    };
    assert_eq!(
        html,
        "<p class=\"greet\">Kính gửi <b>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; \
         &amp; &quot;Co&quot;</b></p><a href=\"https://x.vn/u?id=1&amp;t=2?a=1&b=2\">Hủy</a>"
    );
    assert_eq!(text, "Kính gửi <script>alert('x')</script> & \"Co\"");
    assert_eq!(subject, "Thư cho <script>alert('x')</script> & \"Co\"");
}

#[test]
fn a_subject_broken_by_data_is_refused() {
    let template =
        Template::compile(&email("Chào {{ customer.given_name }}", "", "")).expect("compiles");
    let errors = template.render(&hostile()).expect_err("header injection");
    let message = errors.get("subject").expect("subject");
    assert!(message.contains("xuống dòng"), "{message}");
    assert!(!message.contains("victim"), "{message}");
    // Whitespace around the subject, e.g. left by a tag at the end, is trimmed instead.
    let template =
        Template::compile(&email("\n Chào {{ customer.given_name }}\n", "", "")).expect("compiles");
    let Content::Email { subject, .. } = template.render(&MergeData::sample()).expect("renders")
    else {
        panic!("email")
    };
    assert_eq!(subject, "Chào Minh");
}

#[test]
fn sms_unaccents_when_asked_and_refuses_empty_text() {
    let source =
        "{{ organisation.name }}: {{ customer.salutation }} ơi, {{ holding.amount | vnd }}";
    let accented = Template::compile(&sms(source, false))
        .and_then(|t| t.render(&MergeData::sample()))
        .expect("renders");
    assert_eq!(
        accented,
        sms("Công ty Tài chính Ví Dụ: Anh Minh ơi, 3.250.000 ₫", false)
    );
    let plain = Template::compile(&sms(source, true))
        .and_then(|t| t.render(&MergeData::sample()))
        .expect("renders");
    assert_eq!(
        plain,
        sms("Cong ty Tai chinh Vi Du: Anh Minh oi, 3.250.000 VND", true)
    );
    let template = Template::compile(&sms("  {{ customer.email }} ", false)).expect("compiles");
    let mut data = MergeData::sample();
    data.customer["email"] = json!(null);
    let errors = template.render(&data).expect_err("empty");
    assert_eq!(errors.get("text"), Some("Tin nhắn trống sau khi hiển thị"));
}

#[test]
fn zns_params_are_rendered_and_limited_to_400_characters() {
    let content = zns(&[
        ("ten_khach_hang", "{{ customer.full_name }}"),
        ("so_tien", "{{ holding.amount | vnd }}"),
        ("han_thanh_toan", "{{ holding.due_date | date_vn }}"),
    ]);
    let rendered = Template::check(&content)
        .and_then(|t| t.render(&MergeData::sample()))
        .expect("renders");
    assert_eq!(
        rendered,
        zns(&[
            ("ten_khach_hang", "Nguyễn Văn Minh"),
            ("so_tien", "3.250.000 ₫"),
            ("han_thanh_toan", "05/12/2026"),
        ])
    );
    let template = Template::compile(&zns(&[("a", "{{ event.a }}"), ("b", "{{ event.b }}")]))
        .expect("compiles");
    let mut data = MergeData::sample();
    // 200 + 200 characters (Vietnamese letters count as one each) is the limit…
    data.event = Some(json!({ "a": "ệ".repeat(200), "b": "a".repeat(200) }));
    assert!(template.render(&data).is_ok());
    // …and one more is over it.
    data.event = Some(json!({ "a": "ệ".repeat(201), "b": "a".repeat(200) }));
    let errors = template.render(&data).expect_err("too long");
    assert_eq!(
        errors.get("params"),
        Some("Các tham số ZNS dài 401 ký tự sau khi hiển thị, quá giới hạn 400 ký tự")
    );
    // A failing parameter is named with its key.
    data.event = Some(json!({ "a": "x" }));
    let errors = template.render(&data).expect_err("missing b");
    assert_eq!(
        errors.get("params.b"),
        Some("Thiếu dữ liệu cho biến `event.b`")
    );
}

#[test]
fn push_renders_title_body_and_deep_link() {
    let template = Template::check(&Content::Push {
        title: "{{ organisation.name }}".into(),
        body: "{{ customer.salutation }}, kỳ {{ holding.installment_no }} sắp đến hạn".into(),
        deep_link: Some("app://hop-dong/{{ holding.contract_no }}".into()),
    })
    .expect("valid");
    assert_eq!(
        template.render(&MergeData::sample()).expect("renders"),
        Content::Push {
            title: "Công ty Tài chính Ví Dụ".into(),
            body: "Anh Minh, kỳ 7 sắp đến hạn".into(),
            deep_link: Some("app://hop-dong/HD-2026-000123".into()),
        }
    );
    let template = Template::compile(&Content::Push {
        title: "t".into(),
        body: "b".into(),
        deep_link: Some("{% if holding.link %}{{ holding.link }}{% endif %}".into()),
    })
    .expect("compiles");
    let Content::Push { deep_link, .. } = template.render(&MergeData::sample()).expect("renders")
    else {
        panic!("push")
    };
    assert_eq!(deep_link, None);
}

#[test]
fn output_is_capped() {
    let template = Template::compile(&webhook("{% for i in (1..200000) %}0123456789{% endfor %}"))
        .expect("compiles");
    let errors = template.render(&MergeData::sample()).expect_err("too long");
    assert!(errors.get("text").is_some_and(|m| m.contains("byte")));
}

#[test]
fn partials_are_not_available() {
    let errors = Template::check(&webhook("{% include 'chan_trang' %}")).expect_err("include");
    assert_eq!(
        errors.get("text"),
        Some("Không hiển thị được đoạn `{% include \"chan_trang\" %}`")
    );
}

#[test]
fn a_loop_over_something_else_than_a_list_is_explained() {
    let errors = render_text(
        "{% for x in holding.amount %}{{ x }}{% endfor %}",
        &MergeData::sample(),
    )
    .expect_err("not a list");
    assert_eq!(errors.get("text"), Some("Vòng lặp `for` cần một danh sách"));
}

#[test]
fn rendered_text_is_nfc() {
    let mut data = MergeData::sample();
    data.customer["given_name"] = json!("Nguye\u{302}\u{303}n");
    assert_eq!(
        render_text("{{ customer.given_name }}", &data).as_deref(),
        Ok("Nguyễn")
    );
}

/// The instalment reminder a consumer-finance firm sends five days before a due date.
#[test]
fn installment_reminder_email_and_sms_end_to_end() {
    let email_content = Content::Email {
        subject:
            "Nhắc thanh toán kỳ {{ holding.installment_no }}/{{ holding.installments_total }} \
                  – hợp đồng {{ holding.contract_no }}"
                .into(),
        html: "<p>Kính gửi {{ customer.salutation }},</p>\n\
               <p>{{ organisation.name }} xin thông báo kỳ thanh toán thứ \
               {{ holding.installment_no }} của hợp đồng <b>{{ holding.contract_no }}</b> \
               ({{ holding.product }}) đến hạn ngày <b>{{ holding.due_date | date_vn }}</b>, \
               số tiền <b>{{ holding.amount | vnd }}</b>.</p>\n\
               {% if customer.owner %}<p>Chuyên viên phụ trách: {{ customer.owner }}</p>\n{% endif %}\
               <p>Hotline: {{ organisation.hotline }} – \
               <a href=\"{{ organisation.website }}\">{{ organisation.website }}</a></p>\n\
               <p><a href=\"{{ message.unsubscribe_url }}\">Ngừng nhận email</a></p>"
            .into(),
        text: "Kính gửi {{ customer.salutation }},\n\
               Kỳ {{ holding.installment_no }} hợp đồng {{ holding.contract_no }} đến hạn \
               {{ holding.due_date | date_vn }}, số tiền {{ holding.amount | vnd }}.\n\
               Hotline: {{ organisation.hotline }}"
            .into(),
        attachments: vec![AttachmentRef {
            filename: "lich-tra-no.pdf".into(),
            content_type: "application/pdf".into(),
            blob_key: "attachments/01JD6Q4ZK8N3V5W7X9Y1Z2A3B8".into(),
        }],
    };
    let template = Template::check(&email_content).expect("valid");

    let data = MergeData {
        customer: json!({
            "id": "01JD7A0000000000000000000A",
            "full_name": "Trần Thị Lan",
            "given_name": "Lan",
            "title": "Bà",
            "salutation": "Bà Lan",
            "gender": "female",
            "birthday": "1970-02-03",
            "phone": "0903123456",
            "email": "lan.tran@example.vn",
            "lifecycle": "customer",
            "tags": [],
            "attributes": {},
            "owner": "hung.le",
        }),
        holding: Some(json!({
            "product": "Vay mua xe máy trả góp",
            "contract_no": "HD-2025-004567",
            "amount": 1850000,
            "due_date": "2026-12-10",
            "installment_no": 11,
            "installments_total": 18,
        })),
        journey: None,
        event: None,
        message: json!({
            "id": "01JD7A0000000000000000000C",
            "unsubscribe_url": "https://nhip.example.vn/u/01JD7A0000000000000000000C",
        }),
        organisation: json!({
            "name": "Công ty Tài chính Ví Dụ",
            "hotline": "1900 1234",
            "website": "https://vidu.example.vn",
        }),
    };

    let rendered = template.render(&data).expect("renders");
    let Content::Email {
        subject,
        html,
        text,
        attachments,
    } = rendered
    else {
        panic!("email")
    };
    assert_eq!(
        subject,
        "Nhắc thanh toán kỳ 11/18 – hợp đồng HD-2025-004567"
    );
    assert_eq!(
        html,
        "<p>Kính gửi Bà Lan,</p>\n\
         <p>Công ty Tài chính Ví Dụ xin thông báo kỳ thanh toán thứ 11 của hợp đồng \
         <b>HD-2025-004567</b> (Vay mua xe máy trả góp) đến hạn ngày <b>10/12/2026</b>, số tiền \
         <b>1.850.000 ₫</b>.</p>\n\
         <p>Chuyên viên phụ trách: hung.le</p>\n\
         <p>Hotline: 1900 1234 – <a href=\"https://vidu.example.vn\">https://vidu.example.vn</a></p>\n\
         <p><a href=\"https://nhip.example.vn/u/01JD7A0000000000000000000C\">Ngừng nhận email</a></p>"
    );
    assert_eq!(
        text,
        "Kính gửi Bà Lan,\nKỳ 11 hợp đồng HD-2025-004567 đến hạn 10/12/2026, số tiền \
         1.850.000 ₫.\nHotline: 1900 1234"
    );
    assert_eq!(attachments.len(), 1);

    let sms_content = sms(
        "{{ organisation.name | upcase }}: {{ customer.salutation }} oi, ky \
         {{ holding.installment_no }} HD {{ holding.contract_no }} den han \
         {{ holding.due_date | date_vn }}, so tien {{ holding.amount | vnd }}. \
         LH {{ organisation.hotline }}",
        true,
    );
    let rendered = Template::check(&sms_content)
        .and_then(|t| t.render(&data))
        .expect("renders");
    let Content::Sms { text, unaccented } = &rendered else {
        panic!("sms")
    };
    assert!(unaccented);
    assert_eq!(
        text,
        "CONG TY TAI CHINH VI DU: Ba Lan oi, ky 11 HD HD-2025-004567 den han 10/12/2026, so \
         tien 1.850.000 VND. LH 1900 1234"
    );
    let segments = sms_segments(text);
    assert_eq!(segments.encoding, SmsEncoding::Gsm7);
    assert_eq!(segments.segments, 1);

    // Without the instalment the same templates refuse to send rather than send a gap.
    let data = MergeData {
        holding: None,
        ..data
    };
    assert!(template.render(&data).is_err());
}

proptest! {
    #[test]
    fn customer_data_never_injects_markup(name in any::<String>()) {
        let mut data = MergeData::sample();
        data.customer["full_name"] = json!(name);
        let template = Template::compile(&email("x", "<b>{{ customer.full_name }}</b>", "x"))
            .expect("compiles");
        let Content::Email { html, .. } = template.render(&data).expect("renders") else {
            panic!("email")
        };
        let inner = html
            .strip_prefix("<b>")
            .and_then(|h| h.strip_suffix("</b>"))
            .expect("wrapped");
        prop_assert!(!inner.contains(['<', '>', '"', '\'']));
        prop_assert_eq!(inner, view::escape_html(&crate::person::nfc(&name)));
    }

    #[test]
    fn filter_errors_never_quote_the_value(value in "[A-Za-zÀ-ỹ ]{3,20}") {
        let mut data = MergeData::sample();
        let secret = format!("BÍMẬT{value}");
        data.customer["full_name"] = json!(secret);
        for source in ["{{ customer.full_name | vnd }}", "{{ customer.full_name | date_vn }}",
                       "{{ customer.full_name | datetime_vn }}", "{{ customer.full_name | minus: 1 }}"] {
            let errors = render_text(source, &data);
            let shown = format!("{errors:?}");
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }
}
