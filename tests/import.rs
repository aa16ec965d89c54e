//! The customer CSV import end to end: Vietnamese and English headers, row-by-row validation
//! with a downloadable error report, dedupe on phone and e-mail, the importer's scope, and
//! idempotent re-uploads.

use axum::http::header;
use nhip_core::auth::Role;
use serde_json::{Value, json};

use crate::support::{Api, stored_customers};

const PATH: &str = "/v1/imports/customers";

/// Vietnamese headers, a good row, six bad ones (row numbers as a spreadsheet shows them, the
/// header being row 1) and a repeat of row 2's phone written another way.
const MIXED: &str = "\
STT,Họ và tên,Số điện thoại,Email,Giới tính,Ngày sinh,CCCD,Mã số thuế,Địa chỉ,Nhãn,Nguồn,Phân loại,Đồng ý nhận tin
1,Nguyễn Văn An,0912345678,an.nguyen@example.vn,Nam,15/03/1990,001090001234,0100109106,\"12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội\",vip; trả góp,Giới thiệu,Tiềm năng,email:marketing;sms:care
2,Trần Văn Cường,12345,,Nam,,,,,,,,
3,Lê Thị Dung,01689123456,,Nữ,,,,,,,,
4,Phạm Thị Lan,,lan@gmail,Nữ,,,,,,,,
5,Công ty TNHH Minh Phát,0903123456,,,,,0100109107,,,,,
6,Hoàng Văn Em,0352223344,,Nam,1990-01-01,003090001234,,,,,,
7,,0987000111,,,,,,,,,,
8,Nguyễn Văn An,+84 912 345 678,,,,,,,hội thảo,,,
9,Trần Thị Bình,0987654321,binh.tran@example.vn,Nữ,1995-07-20,079195001234,,,,Fanpage,Gấp,
";

async fn upload(api: &Api, token: &str, csv: impl Into<Vec<u8>>) -> (u16, Value) {
    api.post_as(PATH, Some(token), "text/csv", csv.into()).await
}

/// A GET answered as text, with its content type.
async fn get_text(api: &Api, token: &str, path: &str) -> (u16, String, String) {
    let answer = api.answer("GET", path, Some(token), None).await;
    let content_type = answer.header(header::CONTENT_TYPE).unwrap_or_default();
    (
        answer.status,
        String::from_utf8(answer.bytes.clone()).expect("UTF-8"),
        content_type.to_owned(),
    )
}

/// Every customer profile in the store: (id, full name, version), sorted by id.
async fn customers(api: &Api) -> Vec<(String, String, u64)> {
    let mut all: Vec<_> = stored_customers(&api.deps)
        .await
        .into_iter()
        .map(|item| {
            (
                item["id"].as_str().unwrap().to_owned(),
                item["full_name"].as_str().unwrap().to_owned(),
                item["version"].as_u64().unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

/// The customer holding a phone number, as an admin reads it.
async fn by_phone(api: &Api, phone: &str) -> Value {
    let list = api.admin_get(&format!("/v1/customers?phone={phone}")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one customer holds {phone}: {list}");
    api.profile(items[0]["id"].as_str().unwrap()).await
}

fn errors(summary: &Value) -> Vec<(u64, String)> {
    summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn message(summary: &Value, row: u64) -> String {
    summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["row"] == row)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error on row {row}: {summary}"))
        .to_owned()
}

#[tokio::test]
async fn vietnamese_headers_import_the_good_rows_and_report_the_rest() {
    let api = Api::local();
    let lan = api.token("lan", Role::Consultant, Some("hn"));
    let (status, summary) = upload(&api, &lan, MIXED).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["rows"], 9, "{summary}");
    assert_eq!(summary["created"], 2, "{summary}");
    assert_eq!(summary["updated"], 1, "{summary}");
    assert_eq!(summary["failed"], 6, "{summary}");
    assert_eq!(
        errors(&summary),
        [
            (3, "Số điện thoại".to_owned()),
            (4, "Số điện thoại".to_owned()),
            (5, "Email".to_owned()),
            (6, "Mã số thuế".to_owned()),
            (7, "CCCD".to_owned()),
            (8, "Họ và tên".to_owned()),
        ]
    );
    assert!(message(&summary, 3).contains("cần 10 số"));
    assert!(
        message(&summary, 4).contains("0168") && message(&summary, 4).contains("038"),
        "the old prefix and its replacement: {}",
        message(&summary, 4)
    );
    assert!(message(&summary, 5).contains("tên miền"));
    assert!(message(&summary, 6).contains("chữ số kiểm tra"));
    assert!(message(&summary, 7).contains("003"));
    assert_eq!(message(&summary, 8), "Vui lòng nhập họ và tên.");
    let id = summary["import_id"].as_str().unwrap();
    assert_eq!(
        summary["report_url"],
        format!("/v1/imports/customers/{id}/errors.csv")
    );

    // Two customers, not three: row 9 repeats row 2's phone and updated its customer.
    let stored = customers(&api).await;
    let names: Vec<&str> = stored.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(stored.len(), 2, "{names:?}");
    let an = by_phone(&api, "0912345678").await;
    assert_eq!(an["full_name"], "Nguyễn Văn An");
    assert_eq!(an["given_name"], "An");
    assert_eq!(an["gender"], "male");
    assert_eq!(an["birthday"], "1990-03-15");
    assert_eq!(an["cccd"], "001090001234");
    assert_eq!(an["tax_code"], "0100109106");
    assert_eq!(an["address"], "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội");
    assert_eq!(an["tags"], json!(["hội thảo", "trả góp", "vip"]));
    assert_eq!(an["phones"], json!(["+84912345678"]));
    assert_eq!(an["source"], "referral");
    assert_eq!(an["classification"], "potential");
    assert_eq!(an["owner"], "lan");
    assert_eq!(an["team"], "hn");
    assert_eq!(an["lifecycle"], "new");
    assert_eq!(an["version"], 2, "created, then updated by row 9");
    assert_eq!(an["consents"]["email:marketing"]["granted"], true);
    assert_eq!(an["consents"]["email:marketing"]["source"], "import");
    assert_eq!(an["consents"]["sms:care"]["granted"], true);
    let an_id = an["id"].as_str().unwrap();
    assert_eq!(
        api.timeline_types(an_id).await,
        ["customer.imported", "customer.imported"]
    );
    let (_, activities) = api
        .call(
            "GET",
            &format!("/v1/customers/{an_id}/activities"),
            Some(&api.admin()),
            None,
        )
        .await;
    let first = &activities["items"][0];
    assert_eq!(first["action"], "Nhập từ tệp");
    assert_eq!(first["source"], "import");
    assert_eq!(first["actor"], "lan");
    let binh = by_phone(&api, "0987654321").await;
    assert_eq!(binh["source"], "fanpage");
    assert_eq!(binh["classification"], "urgent");
    assert_eq!(binh["gender"], "female");

    // The report: BOM, the file's columns plus "Dòng" and "Lỗi", one line per failed row.
    let (status, report, content_type) =
        get_text(&api, &lan, &format!("{PATH}/{id}/errors.csv")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let report = report.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 7, "{report}");
    assert_eq!(
        lines[0],
        "STT,Họ và tên,Số điện thoại,Email,Giới tính,Ngày sinh,CCCD,Mã số thuế,Địa chỉ,Nhãn,Nguồn,\
         Phân loại,Đồng ý nhận tin,Dòng,Lỗi"
    );
    assert!(
        lines[1].starts_with("2,Trần Văn Cường,12345,,Nam,,,,,,,,,3,\"Số điện thoại: Số điện thoại di động không hợp lệ: cần 10 số"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].starts_with(
            "5,Công ty TNHH Minh Phát,0903123456,,,,,0100109107,,,,,,6,\"Mã số thuế: "
        ),
        "{}",
        lines[4]
    );
    assert!(
        lines[6].starts_with("7,,0987000111,,,,,,,,,,,8,Họ và tên: Vui lòng nhập họ và tên."),
        "{}",
        lines[6]
    );
    assert!(
        report.contains("\r\n"),
        "CRLF line ends, as Excel writes them"
    );

    // The summary reads back the same.
    let (status, again) = api
        .call("GET", &format!("{PATH}/{id}"), Some(&lan), None)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, summary);
}

#[tokio::test]
async fn uploading_the_same_file_again_changes_nothing_and_an_edited_file_makes_no_twins() {
    let api = Api::local();
    let lan = api.token("lan", Role::Consultant, Some("hn"));
    let (status, first) = upload(&api, &lan, MIXED).await;
    assert_eq!(status, 201, "{first}");
    let id = first["import_id"].as_str().unwrap().to_owned();
    let before = customers(&api).await;
    let an = by_phone(&api, "0912345678").await;
    let an_id = an["id"].as_str().unwrap().to_owned();
    let timeline_before = api.timeline_types(&an_id).await;
    let report_path = format!("{PATH}/{id}/errors.csv");
    let (_, report_before, _) = get_text(&api, &lan, &report_path).await;
    api.advance(3600);

    let (status, second) = upload(&api, &lan, MIXED).await;
    assert_eq!(status, 200, "the stored report, not a new import: {second}");
    assert_eq!(second, first);
    assert_eq!(
        customers(&api).await,
        before,
        "same customers, same versions"
    );
    assert_eq!(api.timeline_types(&an_id).await, timeline_before);
    let (_, report_after, _) = get_text(&api, &lan, &report_path).await;
    assert_eq!(report_after, report_before);

    // Another user uploading the same bytes is another import, but finds the same customers.
    let mai = api.token("mai", Role::Manager, Some("hn"));
    let (status, by_manager) = upload(&api, &mai, MIXED).await;
    assert_eq!(status, 201, "{by_manager}");
    assert_ne!(by_manager["import_id"], first["import_id"]);
    assert_eq!(by_manager["created"], 0, "{by_manager}");
    assert_eq!(by_manager["updated"], 3, "{by_manager}");
    assert_eq!(customers(&api).await.len(), before.len());

    // The file fixed and edited: row 3 now has a good phone, row 2 a new tag and a different
    // address (which does not overwrite the one on record).
    let edited = MIXED
        .replace("2,Trần Văn Cường,12345,", "2,Trần Văn Cường,0909888777,")
        .replace("vip; trả góp", "vip; trả góp; đã gọi")
        .replace("12 Lý Thường Kiệt", "99 Bà Triệu");
    let (status, third) = upload(&api, &lan, edited).await;
    assert_eq!(status, 201, "{third}");
    assert_ne!(third["import_id"], first["import_id"]);
    assert_eq!(third["created"], 1, "only the fixed row is new: {third}");
    assert_eq!(third["updated"], 3, "{third}");
    assert_eq!(third["failed"], 5, "{third}");
    assert_eq!(customers(&api).await.len(), before.len() + 1);
    let an = by_phone(&api, "0912345678").await;
    assert_eq!(an["id"], an_id.as_str(), "no twin");
    assert_eq!(an["address"], "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội");
    assert_eq!(an["tags"], json!(["hội thảo", "trả góp", "vip", "đã gọi"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_of_one_file_apply_each_row_once() {
    let api = std::sync::Arc::new(Api::local());
    let lan = api.token("lan", Role::Consultant, Some("hn"));
    let uploads = (0..3).map(|_| {
        let (api, lan) = (api.clone(), lan.clone());
        tokio::spawn(async move { upload(&api, &lan, MIXED).await })
    });
    for result in futures::future::join_all(uploads).await {
        let (status, summary) = result.unwrap();
        assert!(status == 201 || status == 200, "{status} {summary}");
        assert_eq!(
            (&summary["created"], &summary["updated"], &summary["failed"]),
            (&json!(2), &json!(1), &json!(6)),
            "{summary}"
        );
    }
    assert_eq!(customers(&api).await.len(), 2);
    let an = by_phone(&api, "0912345678").await;
    assert_eq!(an["version"], 2, "row 9 applied once");
    let an_id = an["id"].as_str().unwrap();
    assert_eq!(api.timeline_types(an_id).await.len(), 2);
}

#[tokio::test]
async fn a_consultant_cannot_import_over_another_agents_customer() {
    let api = Api::local();
    let hoa = api.token("hoa", Role::Consultant, Some("hn"));
    let lan = api.token("lan", Role::Consultant, Some("hn"));
    let theirs = api
        .create(
            &hoa,
            json!({"full_name": "Đỗ Thị Hạnh", "phones": ["0977000001"], "source": "referral"}),
        )
        .await;
    let csv = "\
Họ tên,SĐT,Email,Người phụ trách
Đỗ Thị Hạnh,0977000001,hanh@example.vn,
Vũ Văn Khoa,0977000002,,hoa
Vũ Văn Khánh,0977000003,,lan
";
    let (status, summary) = upload(&api, &lan, csv).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["created"], 1, "{summary}");
    assert_eq!(summary["updated"], 0, "{summary}");
    assert_eq!(summary["failed"], 2, "{summary}");
    assert_eq!(
        errors(&summary),
        [(2, "SĐT".to_owned()), (3, "Người phụ trách".to_owned())]
    );
    assert!(
        message(&summary, 2).contains("thuộc người phụ trách khác"),
        "{summary}"
    );
    assert!(message(&summary, 3).contains("Chỉ quản lý"), "{summary}");

    // Hoa's customer is untouched, and the e-mail was not attached to anyone.
    let (_, now) = api
        .call(
            "GET",
            &format!("/v1/customers/{}", theirs["id"].as_str().unwrap()),
            Some(&hoa),
            None,
        )
        .await;
    assert_eq!(now["version"], theirs["version"]);
    assert_eq!(now["emails"], json!([]));
    let (_, found) = api
        .call(
            "GET",
            "/v1/customers?email=hanh@example.vn",
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(found["items"], json!([]));
    assert_eq!(by_phone(&api, "0977000003").await["owner"], "lan");
    let (_, missing) = api
        .call(
            "GET",
            "/v1/customers?phone=0977000002",
            Some(&api.admin()),
            None,
        )
        .await;
    assert_eq!(missing["items"], json!([]));

    // Only the importer and admins read the import.
    let id = summary["import_id"].as_str().unwrap();
    for (token, expected) in [(&lan, 200), (&api.admin(), 200), (&hoa, 404)] {
        let (status, body) = api
            .call("GET", &format!("{PATH}/{id}"), Some(token), None)
            .await;
        assert_eq!(status, expected, "{body}");
        let (status, _, _) = get_text(&api, token, &format!("{PATH}/{id}/errors.csv")).await;
        assert_eq!(status, expected);
    }
    let (status, _) = api
        .call("GET", &format!("{PATH}/not-an-import"), Some(&lan), None)
        .await;
    assert_eq!(status, 404);

    // Their manager may import over it (their team), filling what is missing.
    let mai = api.token("mai", Role::Manager, Some("hn"));
    let (status, by_manager) = upload(
        &api,
        &mai,
        "Họ tên,SĐT,Email\nĐỗ Thị Hạnh,0977000001,hanh@example.vn\n",
    )
    .await;
    assert_eq!(status, 201, "{by_manager}");
    assert_eq!(by_manager["updated"], 1, "{by_manager}");
    let hanh = by_phone(&api, "0977000001").await;
    assert_eq!(hanh["emails"], json!(["hanh@example.vn"]));
    assert_eq!(hanh["owner"], "hoa", "the owner stays");
    assert_eq!(hanh["version"], 2);
}

#[tokio::test]
async fn english_headers_work_and_an_admin_names_the_owner() {
    let api = Api::local();
    let csv = "\
full_name,phone,email,gender,birthday,cccd,tax_code,address,tags,source,owner,classification,consents
Nguyen Van Tam,0912000111,Tam@Example.vn,male,1988-05-02,001088001111,0312345673,Ha Noi,\"vip,bcc\",website,hoa,urgent,email:marketing
Le Thi Uyen,0912000222,,female,,123456789,,,,,,,
";
    let (status, summary) = upload(&api, &api.admin(), csv).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["created"], 2, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["errors"], json!([]));
    let tam = by_phone(&api, "0912000111").await;
    assert_eq!(tam["emails"], json!(["tam@example.vn"]));
    assert_eq!(tam["owner"], "hoa");
    assert_eq!(tam["source"], "website");
    assert_eq!(tam["classification"], "urgent");
    assert_eq!(tam["tax_code"], "0312345673");
    assert_eq!(tam["tags"], json!(["bcc", "vip"]));
    let uyen = by_phone(&api, "0912000222").await;
    assert_eq!(
        uyen["owner"], "root",
        "an admin owns what they import unnamed"
    );
    assert_eq!(uyen["source"], "import", "the default source");
    assert_eq!(
        uyen["cmnd"], "123456789",
        "nine digits are an old CMND number"
    );
    assert_eq!(uyen["cccd"], Value::Null);
    let id = summary["import_id"].as_str().unwrap();
    let (_, report, _) = get_text(&api, &api.admin(), &format!("{PATH}/{id}/errors.csv")).await;
    assert_eq!(report.lines().count(), 1, "only the header: {report}");
}

#[tokio::test]
async fn a_bom_semicolons_and_crlf_as_excel_saves_them_are_accepted() {
    let api = Api::local();
    let lan = api.token("lan", Role::Consultant, None);
    let mut csv = b"\xEF\xBB\xBF".to_vec();
    csv.extend_from_slice(
        "Họ và tên;Số điện thoại;Nhãn;Phân loại\r\nNguyễn Thị Mai;0912000333;a, b;không tiềm năng\r\n;;;\r\n"
            .as_bytes(),
    );
    let (status, summary) = upload(&api, &lan, csv).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["rows"], 1, "the empty row is skipped: {summary}");
    assert_eq!(summary["created"], 1, "{summary}");
    let mai = by_phone(&api, "0912000333").await;
    assert_eq!(mai["full_name"], "Nguyễn Thị Mai");
    assert_eq!(mai["tags"], json!(["a", "b"]));
    assert_eq!(mai["classification"], "not_potential");
}

#[tokio::test]
async fn rejected_files_answer_400s_and_store_nothing() {
    let api = Api::local();
    let lan = api.token("lan", Role::Consultant, Some("hn"));

    let unknown = "Họ và tên,Số điện thoại,Ghi chú\nNguyễn Văn An,0912345678,gọi lại\n";
    for _ in 0..2 {
        // Twice: the second answer is a 400 again, not a stored import.
        let (status, body) = upload(&api, &lan, unknown).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "unknown_columns");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("\"Ghi chú\"")
        );
        assert!(body["error"]["fields"]["Ghi chú"].is_string(), "{body}");
    }

    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"So dien thoai\n0912345678\n".to_vec(),
            400,
            "missing_column",
        ),
        (
            b"Ho ten,Ngay sinh\nAn,1990-01-01\n".to_vec(),
            400,
            "missing_column",
        ),
        (
            "Họ và tên,SĐT,Họ tên\nAn,0912345678,An\n"
                .as_bytes()
                .to_vec(),
            400,
            "duplicate_columns",
        ),
        // Windows-1258, as Excel's plain "CSV" saves Vietnamese.
        (
            b"Ho ten,SDT\r\nNguy\xEAn An,0912345678\r\n".to_vec(),
            400,
            "invalid_encoding",
        ),
        (b"Ho ten,SDT\n".to_vec(), 400, "no_rows"),
        (Vec::new(), 400, "empty_file"),
    ];
    for (csv, status, code) in cases {
        let (got, body) = upload(&api, &lan, csv.clone()).await;
        assert_eq!(got, status, "{} → {body}", String::from_utf8_lossy(&csv));
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let (_, body) = upload(
        &api,
        &lan,
        b"Ho ten,SDT\r\nNguy\xEAn An,0912345678\r\n".to_vec(),
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("0xEA") && message.contains("line 2"),
        "{message}"
    );

    // 10,001 rows (about 450 KB, over the JSON routes' body limit): too many.
    let mut many = String::from("Họ và tên,Số điện thoại\n");
    for i in 0..10_001 {
        many.push_str(&format!("Nguyễn Văn Thịnh Vượng Phát Đạt,0912{i:06}\n"));
    }
    assert!(many.len() > 256 * 1024);
    let (status, body) = upload(&api, &lan, many).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_many_rows");

    let huge = vec![b'a'; 5 * 1024 * 1024 + 1];
    let (status, body) = upload(&api, &lan, huge).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");

    let (status, body) = api
        .post_as(PATH, Some(&lan), "application/json", b"{}".to_vec())
        .await;
    assert_eq!(status, 415, "{body}");
    let anonymous = api
        .post_as(PATH, None, "text/csv", "Họ tên,SĐT\nAn,0912345678\n")
        .await;
    assert_eq!(anonymous.0, 401);

    assert_eq!(customers(&api).await, []);
}

#[tokio::test]
async fn the_sample_file_imports_as_the_readme_shows() {
    let api = Api::local();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/samples/khach-hang.csv");
    let csv = std::fs::read(&path).unwrap();
    let lan = api.token("lan", Role::Consultant, Some("hn-1"));
    let (status, summary) = upload(&api, &lan, csv).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["rows"], 10, "{summary}");
    assert_eq!(summary["created"], 6, "{summary}");
    assert_eq!(summary["updated"], 1, "{summary}");
    assert_eq!(summary["failed"], 3, "{summary}");
    assert_eq!(
        errors(&summary),
        [
            (6, "Số điện thoại".to_owned()),
            (8, "Mã số thuế".to_owned()),
            (9, "Email".to_owned()),
        ]
    );
    let lan_tran = by_phone(&api, "0987654321").await;
    assert_eq!(lan_tran["tags"], json!(["BCC", "khách VIP"]));
    assert_eq!(lan_tran["consents"]["zns:marketing"]["granted"], true);
}
