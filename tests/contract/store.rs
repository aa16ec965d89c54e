//! The item-store contract, run on SQLite and on DynamoDB (moto).

use std::sync::Arc;

use futures::future::join_all;
use nhip_ports::store::{
    Condition, Cursor, Index, Item, ItemStore, Key, MAX_ITEM_BYTES, Query, SortKey, StoreError,
    Update, WriteOp,
};
use serde_json::{Value, json};

use crate::support;

fn item(value: Value) -> Item {
    value.as_object().expect("an object").clone()
}

/// The adapters the contract runs on.
#[derive(Debug, Clone, Copy)]
pub(super) enum Backend {
    Sqlite,
    Dynamodb,
}

/// A fresh, empty store on `backend`, and the temporary folder a SQLite file lives in.
pub(super) async fn open(backend: Backend) -> (Arc<dyn ItemStore>, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let (db, dir) = support::sqlite_db();
            (Arc::new(nhip_local::SqliteStore::new(db)), Some(dir))
        }
        Backend::Dynamodb => {
            let config = support::aws_sdk_config().await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            let table = support::unique_name("nhip-contract");
            nhip_aws::dynamo::create_table(&client, &table)
                .await
                .expect("creating the table on the emulator");
            (
                Arc::new(nhip_aws::dynamo::DynamoStore::new(client, table)),
                None,
            )
        }
    }
}

/// Generates one test per case and backend (`sqlite::<case>`, `dynamodb::<case>`), and for
/// each case taking an index, one test per global secondary index (`sqlite::<case>::gsi3`).
macro_rules! store_contract {
    (cases: [$($case:ident),* $(,)?], per_index: [$($indexed:ident),* $(,)?] $(,)?) => {
        store_contract!(@backend sqlite, Sqlite, [$($case),*], [$($indexed),*]);
        store_contract!(@backend dynamodb, Dynamodb, [$($case),*], [$($indexed),*]);
    };
    (@backend $module:ident, $backend:ident, [$($case:ident),*], [$($indexed:ident),*]) => {
        mod $module {
            const BACKEND: super::Backend = super::Backend::$backend;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if matches!(BACKEND, super::Backend::Dynamodb) {
                        crate::support::needs_emulator!();
                    }
                    let (store, _dir) = super::open(BACKEND).await;
                    super::$case(store).await;
                }
            )*
            $(
                mod $indexed {
                    store_contract!(@indexes $indexed, gsi1 => Gsi1, gsi2 => Gsi2, gsi3 => Gsi3);
                }
            )*
        }
    };
    (@indexes $case:ident, $($name:ident => $index:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if matches!(super::BACKEND, super::super::Backend::Dynamodb) {
                    crate::support::needs_emulator!();
                }
                let (store, _dir) = super::super::open(super::BACKEND).await;
                super::super::$case(store, nhip_ports::store::Index::$index).await;
            }
        )*
    };
}

/// Stops compiling when an index is added to the port without being added to the list of
/// indexes `store_contract!` runs the per-index cases on.
const _: fn(Index) = |index| match index {
    Index::Primary | Index::Gsi1 | Index::Gsi2 | Index::Gsi3 => {}
};

store_contract!(
    cases: [
        put_then_get_round_trips_every_value_type,
        get_of_a_missing_item_is_none,
        create_only_put_fails_the_second_time_and_keeps_the_first,
        version_condition_guards_concurrent_edits,
        counters_add_atomically_under_concurrency,
        update_creates_unless_existence_is_required,
        delete_respects_its_condition,
        query_reads_a_partition_in_both_directions_with_pages,
        begins_with_stops_at_its_prefix_whatever_follows_in_the_partition,
        query_between_and_equals,
        malformed_cursors_are_rejected,
        batch_get_returns_found_items_in_order,
        transaction_applies_every_write,
        transaction_with_a_failed_condition_writes_nothing,
        racing_guard_transactions_leave_one_winner,
        oversized_items_are_rejected_and_stored_data_kept,
        malformed_requests_are_rejected,
        health_answers,
    ],
    per_index: [
        secondary_indexes_are_sparse_and_paginate,
        index_keys_move_items_between_partitions,
        cursors_of_one_index_are_rejected_on_another,
        index_keys_must_be_strings,
    ],
);

async fn put_then_get_round_trips_every_value_type(store: Arc<dyn ItemStore>) {
    let stored = item(json!({
        "pk": "CUS#01", "sk": "PROFILE",
        "full_name": "Nguyễn Thị Minh Khai",
        "amount": 1_000_000, "rate": 6.5, "negative": -3,
        "active": true, "nothing": null,
        "tags": ["vip", "bcc"],
        "address": {"city": "Hà Nội", "ward": "Phường Bến Nghé", "lines": [1, 2]},
        "empty_text": "",
    }));
    store.put(stored.clone(), Condition::Always).await.unwrap();
    let got = store.get(&Key::new("CUS#01", "PROFILE")).await.unwrap();
    assert_eq!(got, Some(stored));
}

async fn get_of_a_missing_item_is_none(store: Arc<dyn ItemStore>) {
    assert_eq!(
        store.get(&Key::new("CUS#none", "PROFILE")).await.unwrap(),
        None
    );
}

async fn create_only_put_fails_the_second_time_and_keeps_the_first(store: Arc<dyn ItemStore>) {
    let first = item(json!({"pk": "PHONE#+84912345678", "sk": "GUARD", "customer": "A"}));
    let second = item(json!({"pk": "PHONE#+84912345678", "sk": "GUARD", "customer": "B"}));
    store
        .put(first.clone(), Condition::NotExists)
        .await
        .unwrap();
    let err = store.put(second, Condition::NotExists).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed { op: None }),
        "{err:?}"
    );
    let key = Key::of(&first).unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Some(first));
}

async fn version_condition_guards_concurrent_edits(store: Arc<dyn ItemStore>) {
    let key = Key::new("CUS#02", "PROFILE");
    let mut v1 = key.to_item();
    v1.insert("version".into(), json!(1));
    v1.insert("name".into(), json!("Lan"));
    store.put(v1, Condition::NotExists).await.unwrap();
    let after = store
        .update(
            &key,
            Update::new().set("name", "Lan Anh").set("version", 2),
            Condition::version_is(1),
        )
        .await
        .unwrap();
    assert_eq!(after["name"], "Lan Anh");
    let stale = store
        .update(
            &key,
            Update::new().set("name", "Stale").set("version", 2),
            Condition::version_is(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::ConditionFailed { .. }),
        "{stale:?}"
    );
    let now = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (now["name"].as_str(), now["version"].as_i64()),
        (Some("Lan Anh"), Some(2))
    );
}

async fn counters_add_atomically_under_concurrency(store: Arc<dyn ItemStore>) {
    let key = Key::new("STATS#journey", "COUNTERS");
    let adds = (0..20).map(|_| {
        let store = store.clone();
        let key = key.clone();
        async move {
            store
                .update(
                    &key,
                    Update::new().add("sent", 1).add("opened", 2),
                    Condition::Always,
                )
                .await
        }
    });
    for result in join_all(adds).await {
        result.unwrap();
    }
    let counters = store.get(&key).await.unwrap().unwrap();
    assert_eq!(
        (counters["sent"].as_i64(), counters["opened"].as_i64()),
        (Some(20), Some(40))
    );
    let after = store
        .update(
            &key,
            Update::new().add("sent", -5).remove("opened"),
            Condition::Exists,
        )
        .await
        .unwrap();
    assert_eq!(after["sent"], 15);
    assert!(!after.contains_key("opened"));
}

async fn update_creates_unless_existence_is_required(store: Arc<dyn ItemStore>) {
    let key = Key::new("CUS#03", "PROFILE");
    let err = store
        .update(&key, Update::new().set("name", "Hùng"), Condition::Exists)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
    assert_eq!(store.get(&key).await.unwrap(), None);
    let created = store
        .update(&key, Update::new().set("name", "Hùng"), Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        Value::Object(created),
        json!({"pk": "CUS#03", "sk": "PROFILE", "name": "Hùng"})
    );
}

async fn delete_respects_its_condition(store: Arc<dyn ItemStore>) {
    let key = Key::new("CUS#04", "PROFILE");
    let mut stored = key.to_item();
    stored.insert("version".into(), json!(7));
    store.put(stored.clone(), Condition::Always).await.unwrap();
    let err = store
        .delete(&key, Condition::version_is(6))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
    assert_eq!(store.get(&key).await.unwrap(), Some(stored));
    store.delete(&key, Condition::version_is(7)).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    store.delete(&key, Condition::Always).await.unwrap();
    let err = store.delete(&key, Condition::Exists).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err:?}");
}

/// 25 timeline entries of one customer plus neighbours that must never leak into its pages.
async fn seed_timeline(store: &Arc<dyn ItemStore>) {
    for i in 0..25 {
        let entry = item(
            json!({"pk": "CUS#05", "sk": format!("TL#2026-11-{:02}T08:00:00.000Z#e{i}", i + 1), "n": i}),
        );
        store.put(entry, Condition::Always).await.unwrap();
    }
    store
        .put(
            item(json!({"pk": "CUS#05", "sk": "PROFILE"})),
            Condition::Always,
        )
        .await
        .unwrap();
    store
        .put(
            item(json!({"pk": "CUS#06", "sk": "TL#2026-11-01T08:00:00.000Z#x"})),
            Condition::Always,
        )
        .await
        .unwrap();
}

/// A prefix query sees exactly the keys with that prefix, in both directions, though keys
/// before and after it (and non-ASCII ones within it) share the partition and the index.
async fn begins_with_stops_at_its_prefix_whatever_follows_in_the_partition(
    store: Arc<dyn ItemStore>,
) {
    let pk = "LIST#prefix";
    for sk in [
        "consulting#1",
        "customer#1",
        "customer#2",
        "customer#\u{1ec7}",
        "former#1",
        "new#1",
    ] {
        store
            .put(
                item(json!({"pk": pk, "sk": sk, "gsi2pk": pk, "gsi2sk": sk})),
                Condition::Always,
            )
            .await
            .unwrap();
    }
    for index in [Index::Primary, Index::Gsi2] {
        for (prefix, forward, expected) in [
            ("consulting#", false, vec!["consulting#1"]),
            (
                "customer#",
                false,
                vec!["customer#\u{1ec7}", "customer#2", "customer#1"],
            ),
            (
                "customer#",
                true,
                vec!["customer#1", "customer#2", "customer#\u{1ec7}"],
            ),
            ("former#", true, vec!["former#1"]),
            ("lead#", false, vec![]),
        ] {
            let mut query = Query::partition(index, pk)
                .sk(SortKey::BeginsWith(prefix.into()))
                .limit(10);
            if !forward {
                query = query.descending();
            }
            let page = store.query(query).await.unwrap();
            let seen: Vec<&str> = page
                .items
                .iter()
                .map(|i| i["sk"].as_str().unwrap())
                .collect();
            assert_eq!(seen, expected, "{index:?} {prefix} forward={forward}");
        }
    }
}

async fn read_all(store: &Arc<dyn ItemStore>, query: Query) -> (Vec<i64>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = store.query(query.clone().after(cursor)).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= query.limit as usize);
        seen.extend(page.items.iter().map(|i| i["n"].as_i64().unwrap()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    (seen, pages)
}

fn sorted(values: &[i64]) -> Vec<i64> {
    let mut values = values.to_vec();
    values.sort();
    values
}

async fn query_reads_a_partition_in_both_directions_with_pages(store: Arc<dyn ItemStore>) {
    seed_timeline(&store).await;
    let newest_first = Query::partition(Index::Primary, "CUS#05")
        .sk(SortKey::BeginsWith("TL#".into()))
        .descending()
        .limit(10);
    let (seen, pages) = read_all(&store, newest_first).await;
    assert_eq!(seen, (0..25).rev().collect::<Vec<_>>());
    assert_eq!(pages, 3, "10 + 10 + 5, and no empty page at the end");

    let oldest_first = Query::partition(Index::Primary, "CUS#05")
        .sk(SortKey::BeginsWith("TL#".into()))
        .limit(5);
    let (seen, pages) = read_all(&store, oldest_first).await;
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    assert_eq!(
        pages, 5,
        "exactly full pages end without an extra empty one"
    );

    let everything = store
        .query(Query::partition(Index::Primary, "CUS#05").limit(1000))
        .await
        .unwrap();
    assert_eq!(everything.items.len(), 26);
    assert_eq!(
        everything.items.last().unwrap()["sk"],
        "TL#2026-11-25T08:00:00.000Z#e24"
    );
    assert!(everything.next.is_none());
}

async fn query_between_and_equals(store: Arc<dyn ItemStore>) {
    seed_timeline(&store).await;
    let week = store
        .query(
            Query::partition(Index::Primary, "CUS#05").sk(SortKey::Between(
                "TL#2026-11-03".into(),
                "TL#2026-11-09T23:59:59.999Z".into(),
            )),
        )
        .await
        .unwrap();
    let days: Vec<i64> = week
        .items
        .iter()
        .map(|i| i["n"].as_i64().unwrap())
        .collect();
    assert_eq!(days, vec![2, 3, 4, 5, 6, 7, 8]);
    let profile = store
        .query(Query::partition(Index::Primary, "CUS#05").sk(SortKey::Eq("PROFILE".into())))
        .await
        .unwrap();
    assert_eq!(profile.items.len(), 1);
    let none = store
        .query(Query::partition(Index::Primary, "CUS#nobody"))
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next.is_none());
}

/// An item under `pk`/`DUE` with `extra` attributes.
fn with_attrs(pk: &str, extra: &[(&str, Value)]) -> Item {
    let mut item = Key::new(pk, "DUE").to_item();
    for (attr, value) in extra {
        item.insert((*attr).to_owned(), value.clone());
    }
    item
}

/// The `n` of every item in `partition` of `index`, sorted.
async fn members(store: &Arc<dyn ItemStore>, index: Index, partition: &str) -> Vec<i64> {
    let (seen, _) = read_all(store, Query::partition(index, partition)).await;
    sorted(&seen)
}

const BUCKET: &str = "DUE#202611230900#00";
const NEXT_BUCKET: &str = "DUE#202611230901#00";

async fn secondary_indexes_are_sparse_and_paginate(store: Arc<dyn ItemStore>, index: Index) {
    let (pk, sk) = (index.pk_attr(), index.sk_attr());
    // Twelve items in one partition, two sharing a sort key (ties order by table key), and
    // items lacking one index key, which must stay out of the index.
    for i in 0..12 {
        let due = with_attrs(
            &format!("DUE#{i:02}"),
            &[
                ("n", json!(i)),
                (pk, json!(BUCKET)),
                (sk, json!(format!("2026-11-23T09:00:{:02}.000Z", i.min(10)))),
            ],
        );
        store.put(due, Condition::Always).await.unwrap();
    }
    for lacking_one in [
        with_attrs("DUE#x", &[("n", json!(-1)), (pk, json!(BUCKET))]),
        with_attrs("DUE#y", &[("n", json!(-2)), (sk, json!("2026"))]),
    ] {
        store.put(lacking_one, Condition::Always).await.unwrap();
    }
    let other_partition = with_attrs(
        "DUE#z",
        &[
            ("n", json!(99)),
            (pk, json!(NEXT_BUCKET)),
            (sk, json!("2026")),
        ],
    );
    store.put(other_partition, Condition::Always).await.unwrap();
    // An item in the same partition of every other index, and in none of this one.
    let mut elsewhere = vec![("n", json!(77))];
    for other in Index::SECONDARY.into_iter().filter(|o| *o != index) {
        elsewhere.extend([
            (other.pk_attr(), json!(BUCKET)),
            (other.sk_attr(), json!("2026-11-23T09:00:05.000Z")),
        ]);
    }
    store
        .put(with_attrs("DUE#w", &elsewhere), Condition::Always)
        .await
        .unwrap();

    let bucket = Query::partition(index, BUCKET).limit(5);
    // Items 10 and 11 tie on the index sort key: DynamoDB does not promise their order, only
    // that pagination returns each exactly once.
    let (seen, pages) = read_all(&store, bucket.clone()).await;
    assert_eq!(pages, 3);
    assert_eq!(seen[..10], (0..10).collect::<Vec<_>>());
    assert_eq!(sorted(&seen[10..]), vec![10, 11]);
    let (seen, _) = read_all(&store, bucket.clone().descending()).await;
    assert_eq!(sorted(&seen[..2]), vec![10, 11]);
    assert_eq!(seen[2..], (0..10).rev().collect::<Vec<_>>());

    // Sort-key conditions apply to the index's sort key.
    let (seen, _) = read_all(
        &store,
        bucket
            .clone()
            .sk(SortKey::BeginsWith("2026-11-23T09:00:0".into())),
    )
    .await;
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    let (seen, _) = read_all(
        &store,
        bucket.clone().descending().sk(SortKey::Between(
            "2026-11-23T09:00:03.000Z".into(),
            "2026-11-23T09:00:05.000Z".into(),
        )),
    )
    .await;
    assert_eq!(seen, vec![5, 4, 3]);

    assert_eq!(members(&store, index, NEXT_BUCKET).await, vec![99]);
    for other in Index::SECONDARY.into_iter().filter(|o| *o != index) {
        assert_eq!(members(&store, other, BUCKET).await, vec![77], "{other:?}");
    }
}

async fn index_keys_move_items_between_partitions(store: Arc<dyn ItemStore>, index: Index) {
    let (pk, sk) = (index.pk_attr(), index.sk_attr());
    for i in 0..4 {
        let due = with_attrs(
            &format!("DUE#{i:02}"),
            &[
                ("n", json!(i)),
                (pk, json!(BUCKET)),
                (sk, json!(format!("t{i}"))),
            ],
        );
        store.put(due, Condition::Always).await.unwrap();
    }
    // An update of the partition key moves the item to the other partition.
    store
        .update(
            &Key::new("DUE#01", "DUE"),
            Update::new().set(pk, NEXT_BUCKET),
            Condition::Exists,
        )
        .await
        .unwrap();
    // Removing one key takes the item out of the index; setting it again brings it back.
    store
        .update(
            &Key::new("DUE#02", "DUE"),
            Update::new().remove(sk),
            Condition::Exists,
        )
        .await
        .unwrap();
    // A whole put of the item without the keys takes it out as well.
    store
        .put(with_attrs("DUE#03", &[("n", json!(3))]), Condition::Exists)
        .await
        .unwrap();
    assert_eq!(members(&store, index, BUCKET).await, vec![0]);
    assert_eq!(members(&store, index, NEXT_BUCKET).await, vec![1]);

    // In a transaction too, and with a new sort key the item takes its new place in order.
    store
        .transact(vec![
            WriteOp::Update {
                key: Key::new("DUE#02", "DUE"),
                update: Update::new().set(sk, "t0-after"),
                condition: Condition::Exists,
            },
            WriteOp::Update {
                key: Key::new("DUE#00", "DUE"),
                update: Update::new().set(pk, NEXT_BUCKET).set(sk, "t9"),
                condition: Condition::Exists,
            },
        ])
        .await
        .unwrap();
    let (seen, _) = read_all(&store, Query::partition(index, NEXT_BUCKET)).await;
    assert_eq!(seen, vec![1, 0]);
    let (seen, _) = read_all(&store, Query::partition(index, BUCKET)).await;
    assert_eq!(seen, vec![2]);

    // Deleting the item takes it out of the index.
    store
        .delete(&Key::new("DUE#02", "DUE"), Condition::Exists)
        .await
        .unwrap();
    assert!(members(&store, index, BUCKET).await.is_empty());
}

async fn cursors_of_one_index_are_rejected_on_another(store: Arc<dyn ItemStore>, index: Index) {
    // Three items in partition "X" of the table and of every index, so only the index a
    // cursor was made for can tell it apart.
    for i in 0..3 {
        let mut attrs = vec![("n", json!(i))];
        for secondary in Index::SECONDARY {
            attrs.extend([
                (secondary.pk_attr(), json!("X")),
                (secondary.sk_attr(), json!(format!("s{i}"))),
            ]);
        }
        let mut entry = with_attrs("X", &attrs);
        entry.insert("sk".into(), json!(format!("s{i}")));
        store.put(entry, Condition::Always).await.unwrap();
    }
    let first = store
        .query(Query::partition(index, "X").limit(1))
        .await
        .unwrap();
    let cursor = first.next.expect("more pages");
    for other in Index::ALL.into_iter().filter(|o| *o != index) {
        let err = store
            .query(
                Query::partition(other, "X")
                    .limit(1)
                    .after(Some(cursor.clone())),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidCursor { .. }),
            "{other:?}: {err:?}"
        );
        // A cursor of the other index is refused here.
        let foreign = store
            .query(Query::partition(other, "X").limit(1))
            .await
            .unwrap()
            .next
            .expect("more pages");
        let err = store
            .query(Query::partition(index, "X").after(Some(foreign)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidCursor { .. }),
            "{other:?}: {err:?}"
        );
    }
    let err = store
        .query(Query::partition(index, "Y").after(Some(cursor.clone())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCursor { .. }), "{err:?}");
    // On its own index and partition it carries on where the page stopped.
    let rest = store
        .query(Query::partition(index, "X").after(Some(cursor)))
        .await
        .unwrap();
    let seen: Vec<i64> = rest
        .items
        .iter()
        .map(|i| i["n"].as_i64().unwrap())
        .collect();
    assert_eq!((seen, rest.next), (vec![1, 2], None));
}

async fn index_keys_must_be_strings(store: Arc<dyn ItemStore>, index: Index) {
    for attr in [index.pk_attr(), index.sk_attr()] {
        for bad in [json!(5), json!(""), json!(true)] {
            let wrong = with_attrs("DUE#bad", &[(attr, bad.clone())]);
            let err = store.put(wrong, Condition::Always).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid { .. }),
                "{attr} = {bad}: {err:?}"
            );
            let err = store
                .update(
                    &Key::new("DUE#bad", "DUE"),
                    Update::new().set(attr, bad.clone()),
                    Condition::Always,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid { .. }),
                "{attr} = {bad}: {err:?}"
            );
        }
    }
    assert_eq!(store.get(&Key::new("DUE#bad", "DUE")).await.unwrap(), None);
}

async fn malformed_cursors_are_rejected(store: Arc<dyn ItemStore>) {
    seed_timeline(&store).await;
    let base = Query::partition(Index::Primary, "CUS#05").limit(2);
    let page = store.query(base.clone()).await.unwrap();
    let good = page.next.clone().expect("more pages");
    let foreign = Query::partition(Index::Primary, "CUS#06").after(Some(good.clone()));
    let other_condition = base
        .clone()
        .sk(SortKey::BeginsWith("PROFILE".into()))
        .after(Some(good.clone()));
    let wrong_index = Query::partition(Index::Gsi1, "CUS#05").after(Some(good));
    // Base64url of: nothing, not JSON, {}, {"pk":1}, {"pk":"CUS#05","sk":""}.
    let garbage = [
        "",
        "%%%",
        "bm90IGpzb24",
        "e30",
        "eyJwayI6MX0",
        "eyJwayI6IkNVUyMwNSIsInNrIjoiIn0",
    ]
    .into_iter()
    .map(|c| base.clone().after(Some(Cursor::from_client(c))));
    for query in [foreign, wrong_index, other_condition]
        .into_iter()
        .chain(garbage)
    {
        let err = store.query(query.clone()).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidCursor { .. }),
            "{query:?}: {err:?}"
        );
    }
    // Nothing about the partition changed.
    let again = store.query(base).await.unwrap();
    assert_eq!(again, page);
}

async fn batch_get_returns_found_items_in_order(store: Arc<dyn ItemStore>) {
    for n in 0..30 {
        store
            .put(
                item(json!({"pk": format!("CUS#{n:03}"), "sk": "PROFILE", "n": n})),
                Condition::Always,
            )
            .await
            .unwrap();
    }
    let mut keys: Vec<Key> = (0..30)
        .rev()
        .map(|n| Key::new(format!("CUS#{n:03}"), "PROFILE"))
        .collect();
    keys.insert(5, Key::new("CUS#missing", "PROFILE"));
    let items = store.batch_get(&keys).await.unwrap();
    let got: Vec<i64> = items.iter().map(|i| i["n"].as_i64().unwrap()).collect();
    assert_eq!(got, (0..30).rev().collect::<Vec<_>>());
    assert!(store.batch_get(&[]).await.unwrap().is_empty());
    let too_many: Vec<Key> = (0..101).map(|n| Key::new(format!("K#{n}"), "S")).collect();
    assert!(matches!(
        store.batch_get(&too_many).await,
        Err(StoreError::Invalid { .. })
    ));
}

async fn transaction_applies_every_write(store: Arc<dyn ItemStore>) {
    store
        .put(
            item(json!({"pk": "CUS#07", "sk": "PROFILE", "version": 1})),
            Condition::Always,
        )
        .await
        .unwrap();
    store
        .put(
            item(json!({"pk": "EMAIL#old@example.vn", "sk": "GUARD"})),
            Condition::Always,
        )
        .await
        .unwrap();
    store
        .transact(vec![
            WriteOp::Update {
                key: Key::new("CUS#07", "PROFILE"),
                update: Update::new()
                    .set("email", "new@example.vn")
                    .add("version", 1),
                condition: Condition::version_is(1),
            },
            WriteOp::Put {
                item: item(json!({"pk": "EMAIL#new@example.vn", "sk": "GUARD", "customer": "07"})),
                condition: Condition::NotExists,
            },
            WriteOp::Delete {
                key: Key::new("EMAIL#old@example.vn", "GUARD"),
                condition: Condition::Exists,
            },
            WriteOp::Check {
                key: Key::new("ORG#settings", "RATES"),
                condition: Condition::NotExists,
            },
        ])
        .await
        .unwrap();
    let customer = store
        .get(&Key::new("CUS#07", "PROFILE"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (customer["email"].as_str(), customer["version"].as_i64()),
        (Some("new@example.vn"), Some(2))
    );
    assert!(
        store
            .get(&Key::new("EMAIL#new@example.vn", "GUARD"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get(&Key::new("EMAIL#old@example.vn", "GUARD"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn transaction_with_a_failed_condition_writes_nothing(store: Arc<dyn ItemStore>) {
    let before = item(json!({"pk": "CUS#08", "sk": "PROFILE", "version": 3, "name": "Bình"}));
    store.put(before.clone(), Condition::Always).await.unwrap();
    let err = store
        .transact(vec![
            WriteOp::Put {
                item: item(json!({"pk": "PHONE#+84987654321", "sk": "GUARD"})),
                condition: Condition::NotExists,
            },
            WriteOp::Update {
                key: Key::new("CUS#08", "PROFILE"),
                update: Update::new().set("name", "Changed").add("version", 1),
                condition: Condition::version_is(3),
            },
            WriteOp::Check {
                key: Key::new("CUS#does-not-exist", "PROFILE"),
                condition: Condition::Exists,
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ConditionFailed { op: Some(2) }),
        "{err:?}"
    );
    assert_eq!(
        store.get(&Key::new("CUS#08", "PROFILE")).await.unwrap(),
        Some(before)
    );
    assert_eq!(
        store
            .get(&Key::new("PHONE#+84987654321", "GUARD"))
            .await
            .unwrap(),
        None
    );
}

async fn racing_guard_transactions_leave_one_winner(store: Arc<dyn ItemStore>) {
    // Eight submissions of the same phone at once: one customer, one guard, seven rejections.
    let attempts = (0..8).map(|n| {
        let store = store.clone();
        async move {
            let result = store
                .transact(vec![
                    WriteOp::Put {
                        item: item(
                            json!({"pk": "PHONE#+84901234567", "sk": "GUARD", "customer": n}),
                        ),
                        condition: Condition::NotExists,
                    },
                    WriteOp::Put {
                        item: item(json!({"pk": format!("CUS#race{n}"), "sk": "PROFILE"})),
                        condition: Condition::NotExists,
                    },
                ])
                .await;
            (n, result)
        }
    });
    let results = join_all(attempts).await;
    let winners: Vec<i64> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (_, result) in &results {
        if let Err(err) = result {
            assert!(
                matches!(
                    err,
                    StoreError::ConditionFailed { op: Some(0) } | StoreError::TransactionConflict
                ),
                "{err:?}"
            );
        }
    }
    let guard = store
        .get(&Key::new("PHONE#+84901234567", "GUARD"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guard["customer"].as_i64(), Some(winners[0]));
    for n in 0..8 {
        let customer = store
            .get(&Key::new(format!("CUS#race{n}"), "PROFILE"))
            .await
            .unwrap();
        assert_eq!(customer.is_some(), n == winners[0]);
    }
}

async fn oversized_items_are_rejected_and_stored_data_kept(store: Arc<dyn ItemStore>) {
    let key = Key::new("CUS#09", "PROFILE");
    let original = item(json!({"pk": "CUS#09", "sk": "PROFILE", "note": "ok"}));
    store
        .put(original.clone(), Condition::Always)
        .await
        .unwrap();
    let huge = "x".repeat(MAX_ITEM_BYTES);
    let mut oversized = original.clone();
    oversized.insert("note".into(), json!(huge));
    let put = store
        .put(oversized.clone(), Condition::Always)
        .await
        .unwrap_err();
    assert!(matches!(put, StoreError::ItemTooLarge { .. }), "{put:?}");
    // Growing an item past the limit through an update is refused the same way.
    let half = "y".repeat(MAX_ITEM_BYTES / 2 + 1);
    store
        .update(
            &key,
            Update::new().set("a", half.clone()),
            Condition::Always,
        )
        .await
        .unwrap();
    let grown = store
        .update(&key, Update::new().set("b", half), Condition::Always)
        .await
        .unwrap_err();
    assert!(
        matches!(grown, StoreError::ItemTooLarge { .. }),
        "{grown:?}"
    );
    let in_tx = store
        .transact(vec![
            WriteOp::Put {
                item: item(json!({"pk": "CUS#10", "sk": "PROFILE"})),
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item: {
                    let mut o = oversized;
                    o.insert("pk".into(), json!("CUS#11"));
                    o
                },
                condition: Condition::Always,
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(in_tx, StoreError::ItemTooLarge { .. }),
        "{in_tx:?}"
    );
    let now = store.get(&key).await.unwrap().unwrap();
    assert_eq!(now["note"], "ok");
    assert!(!now.contains_key("b"));
    assert_eq!(
        store.get(&Key::new("CUS#10", "PROFILE")).await.unwrap(),
        None
    );
}

async fn malformed_requests_are_rejected(store: Arc<dyn ItemStore>) {
    let no_key = item(json!({"pk": "CUS#12"}));
    assert!(matches!(
        store.put(no_key, Condition::Always).await,
        Err(StoreError::Invalid { .. })
    ));
    let numeric_index = item(json!({"pk": "CUS#12", "sk": "P", "gsi1pk": 5, "gsi1sk": "x"}));
    assert!(matches!(
        store.put(numeric_index, Condition::Always).await,
        Err(StoreError::Invalid { .. })
    ));
    let key_change = store
        .update(
            &Key::new("CUS#12", "P"),
            Update::new().set("pk", "X"),
            Condition::Always,
        )
        .await;
    assert!(matches!(key_change, Err(StoreError::Invalid { .. })));
    let repeated = store
        .transact(vec![
            WriteOp::Put {
                item: item(json!({"pk": "CUS#12", "sk": "P"})),
                condition: Condition::Always,
            },
            WriteOp::Delete {
                key: Key::new("CUS#12", "P"),
                condition: Condition::Always,
            },
        ])
        .await;
    assert!(
        matches!(repeated, Err(StoreError::Invalid { .. })),
        "{repeated:?}"
    );
    let zero_limit = store
        .query(Query::partition(Index::Primary, "CUS#12").limit(0))
        .await;
    assert!(matches!(zero_limit, Err(StoreError::Invalid { .. })));
    assert_eq!(store.get(&Key::new("CUS#12", "P")).await.unwrap(), None);
}

async fn health_answers(store: Arc<dyn ItemStore>) {
    store.health().await.unwrap();
    assert!(["sqlite", "dynamodb"].contains(&store.backend()));
}

/// SQLite stands in for DynamoDB's throughput errors with its lock timeout: a write that
/// cannot get the lock in time is `Throttled` and changes nothing.
#[tokio::test]
async fn sqlite_lock_timeout_is_a_throttle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nhip.db");
    let db = nhip_local::Database::open_with_timeout(&path, std::time::Duration::from_millis(50))
        .unwrap();
    let store = nhip_local::SqliteStore::new(db);
    store
        .put(
            item(json!({"pk": "A", "sk": "B", "v": 1})),
            Condition::Always,
        )
        .await
        .unwrap();
    let holder = rusqlite_free_lock(&path);
    let err = store
        .put(
            item(json!({"pk": "A", "sk": "B", "v": 2})),
            Condition::Always,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Throttled { .. }), "{err:?}");
    assert!(err.is_retryable());
    drop(holder);
    assert_eq!(
        store.get(&Key::new("A", "B")).await.unwrap().unwrap()["v"],
        1
    );
}

/// Another connection holding the write lock, as a second process would.
fn rusqlite_free_lock(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("second connection");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("taking the write lock");
    conn
}

/// A table made before `gsi3` existed (as an emulator may keep it between runs) gains the index
/// when `create_table` meets it again, built over the items already stored.
#[tokio::test]
async fn dynamodb_create_table_adds_an_index_an_older_table_lacks() {
    crate::support::needs_emulator!();
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let config = support::aws_sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = support::unique_name("nhip-contract-old");
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let mut old = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"));
    for index in [Index::Gsi1, Index::Gsi2] {
        old = old
            .attribute_definitions(attr(index.pk_attr()))
            .attribute_definitions(attr(index.sk_attr()))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name().unwrap())
                    .key_schema(key(index.pk_attr(), KeyType::Hash))
                    .key_schema(key(index.sk_attr(), KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
    }
    old.send().await.expect("creating a table of the old shape");
    let store = nhip_aws::dynamo::DynamoStore::new(client.clone(), table.clone());
    let stored =
        item(json!({"pk": "CUS#1", "sk": "PROFILE", "gsi3pk": "TEAM#north", "gsi3sk": "a"}));
    store.put(stored.clone(), Condition::Always).await.unwrap();

    nhip_aws::dynamo::create_table(&client, &table)
        .await
        .unwrap();
    let description = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let mut names: Vec<&str> = description
        .global_secondary_indexes()
        .iter()
        .filter_map(|gsi| gsi.index_name())
        .collect();
    names.sort();
    assert_eq!(names, ["gsi1", "gsi2", "gsi3"]);
    let team = store
        .query(Query::partition(Index::Gsi3, "TEAM#north"))
        .await
        .unwrap();
    assert_eq!(team.items, vec![stored]);
    // Meeting the table again changes nothing.
    nhip_aws::dynamo::create_table(&client, &table)
        .await
        .unwrap();
}
