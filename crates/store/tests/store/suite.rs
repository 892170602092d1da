//! The behaviour every back end must show (DESIGN.md §7), run once on SQLite and once on PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use mms_store::*;

use crate::support::*;

const LEASE: Duration = Duration::from_secs(60);

fn stored(outcome: AcceptOutcome) -> MmId {
    match outcome {
        AcceptOutcome::Stored { id, .. } => id,
        AcceptOutcome::Duplicate => panic!("unexpected duplicate"),
    }
}

/// A fresh store of back end `b` holding `mm`, accepted at T0 for sip:bob@b.example (local:
/// notifying, with a retrieval token) and tel:+4917612345678 (resolving): the database (keep it
/// while the store is used), the store, the MM's id and bob's token. `None` when the back end is
/// unavailable here.
async fn store_for_bob_and_a_number(
    b: Backend,
    mm: NewMm,
) -> Option<(TestDb, AnyStore, MmId, RetrievalToken)> {
    let db = TestDb::new(b).await?;
    let s = db.open().await;
    let (bob, token) = local_rcpt("sip:bob@b.example");
    let id = stored(
        s.accept_mm(
            mm,
            vec![bob, rcpt("tel:+4917612345678", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );
    Some((db, s, id, token))
}

pub async fn accepted_mm_reads_back_byte_for_byte(b: Backend) {
    let mm = mm1(1, 30_000);
    let Some((_db, s, id, token)) = store_for_bob_and_a_number(b, mm.clone()).await else {
        return;
    };
    let got = s.mm(&id).await.unwrap().expect("stored");
    assert_eq!(got.id, id);
    assert_eq!(got.meta, mm.meta);
    assert_eq!(got.headers, mm.headers);
    assert_eq!(got.body, mm.body);
    assert_eq!(got.received_at, T0);
    let rs = s.recipients(&id).await.unwrap();
    let states: Vec<_> = rs.iter().map(|r| (r.address.as_str(), r.state)).collect();
    assert_eq!(
        states,
        vec![
            ("sip:bob@b.example", RecipientState::Notifying),
            ("tel:+4917612345678", RecipientState::Resolving)
        ]
    );
    assert_eq!(
        s.retrieval_target(&token).await.unwrap(),
        Some((id.clone(), "sip:bob@b.example".into()))
    );
    let unknown = RetrievalToken::generate();
    assert_eq!(s.retrieval_target(&unknown).await.unwrap(), None);
    assert_eq!(s.mm(&MmId::generate()).await.unwrap(), None);
}

pub async fn mm_head_recipient_view_and_mm_with_recipient_read_in_one_go(b: Backend) {
    let mm = mm4(7, 30_000);
    let Some((_db, s, id, _)) = store_for_bob_and_a_number(b, mm.clone()).await else {
        return;
    };
    s.put_subscriber("sip:bob@b.example", "491761111")
        .await
        .unwrap();
    let head = s.mm_head(&id).await.unwrap().expect("stored");
    let expected = MmHead {
        id: id.clone(),
        meta: mm.meta.clone(),
        headers: mm.headers.clone(),
        received_at: T0,
    };
    assert_eq!(head, expected);
    assert_eq!(s.mm_head(&MmId::generate()).await.unwrap(), None);

    // The recipient's record and the subscriber table's answer come with the head.
    let records = s.recipients(&id).await.unwrap();
    let view = s
        .recipient_view(&id, "sip:bob@b.example", Some("sip:bob@b.example"))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(view.mm, expected);
    assert_eq!(view.record.as_ref(), records.first());
    assert_eq!(
        view.record.as_ref().map(|r| r.state),
        Some(RecipientState::Notifying)
    );
    assert_eq!(view.subscriber_msisdn.as_deref(), Some("491761111"));
    for (impu, want) in [
        (
            Some("sip:bob@b.example"),
            s.msisdn_for_impu("sip:bob@b.example").await.unwrap(),
        ),
        (Some("tel:+4917612345678"), None),
        (None, None),
    ] {
        let view = s
            .recipient_view(&id, "tel:+4917612345678", impu)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(view.record.as_ref(), records.get(1), "{impu:?}");
        assert_eq!(view.subscriber_msisdn, want, "{impu:?}");
    }

    // The same with the body, for the worker that forwards it.
    let (whole, record) = s
        .mm_with_recipient(&id, "tel:+4917612345678")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(whole, s.mm(&id).await.unwrap().unwrap());
    assert_eq!(whole.body, mm.body);
    assert_eq!(record.as_ref(), records.get(1));
    let (_, record) = s
        .mm_with_recipient(&id, "sip:carol@b.example")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(record, None);
    assert_eq!(
        s.mm_with_recipient(&MmId::generate(), "sip:bob@b.example")
            .await
            .unwrap(),
        None
    );

    // An address the MM was not sent to: the MM, but no record.
    let view = s
        .recipient_view(&id, "sip:carol@b.example", Some("sip:bob@b.example"))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!((view.mm.id, view.record), (id.clone(), None));
    assert_eq!(view.subscriber_msisdn.as_deref(), Some("491761111"));
    // A subscriber removed on another node is seen at the next read (no cache).
    assert!(s.remove_subscriber("sip:bob@b.example").await.unwrap());
    let view = s
        .recipient_view(&id, "sip:bob@b.example", Some("sip:bob@b.example"))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(view.subscriber_msisdn, None);
    assert_eq!(
        s.recipient_view(
            &MmId::generate(),
            "sip:bob@b.example",
            Some("sip:bob@b.example")
        )
        .await
        .unwrap(),
        None
    );
}

pub async fn store_survives_reopen(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let id = {
        let s = db.open().await;
        stored(
            s.accept_mm(
                mm1(7, 1000),
                vec![rcpt("sip:x@b.example", RecipientState::Resolving)],
                vec![],
                T0,
            )
            .await
            .unwrap(),
        )
    };
    let s = db.open().await;
    assert_eq!(
        s.mm(&id).await.unwrap().expect("kept").body,
        mm1(7, 1000).body
    );
}

pub async fn mm4_forward_seen_before_is_a_duplicate_per_recipient(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let first = s
        .accept_mm(
            mm4(2, 100),
            vec![rcpt("sip:bob@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap();
    assert!(matches!(first, AcceptOutcome::Stored { .. }));
    let again = s
        .accept_mm(
            mm4(2, 100),
            vec![rcpt("sip:bob@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(again, AcceptOutcome::Duplicate);
    // The same message id to a new recipient stores only that recipient and its items.
    let items = vec![
        NewOutboxItem {
            kind: OutboxKind::Resolve,
            idempotency_key: "resolve:2:bob".into(),
            mm_id: None,
            recipient: Some("sip:bob@b.example".into()),
            payload: Bytes::new(),
            due_at: T0,
        },
        NewOutboxItem {
            kind: OutboxKind::Resolve,
            idempotency_key: "resolve:2:carol".into(),
            mm_id: None,
            recipient: Some("sip:carol@b.example".into()),
            payload: Bytes::new(),
            due_at: T0,
        },
    ];
    let third = s
        .accept_mm(
            mm4(2, 100),
            vec![
                rcpt("sip:bob@b.example", RecipientState::Resolving),
                rcpt("sip:carol@b.example", RecipientState::Resolving),
            ],
            items,
            T0,
        )
        .await
        .unwrap();
    let AcceptOutcome::Stored { id, recipients } = third else {
        panic!("not stored")
    };
    assert_eq!(recipients, vec!["sip:carol@b.example".to_string()]);
    let leased = s
        .lease(&[OutboxKind::Resolve], 10, "w", LEASE, T0)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].recipient.as_deref(), Some("sip:carol@b.example"));
    assert_eq!(leased[0].mm_id.as_ref(), Some(&id));
    // MM1 messages are never suppressed: the same message id twice is two MMs.
    for _ in 0..2 {
        let r = s
            .accept_mm(
                mm1(2, 100),
                vec![rcpt("sip:bob@b.example", RecipientState::Resolving)],
                vec![],
                T0,
            )
            .await
            .unwrap();
        assert!(matches!(r, AcceptOutcome::Stored { .. }));
    }
}

pub async fn recipient_in_non_initial_state_is_refused_and_nothing_stored(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let item = NewOutboxItem {
        kind: OutboxKind::Push,
        idempotency_key: "push:refused".into(),
        mm_id: None,
        recipient: None,
        payload: Bytes::from_static(b"x"),
        due_at: T0,
    };
    let err = s
        .accept_mm(
            mm4(3, 10),
            vec![
                rcpt("sip:ok@b.example", RecipientState::Resolving),
                rcpt("sip:bad@b.example", RecipientState::Notified),
            ],
            vec![item],
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(
        s.lease(&ALL_KINDS, 10, "w", LEASE, T0)
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing was marked seen either: the same MM4 forward is accepted afterwards.
    let ok = s
        .accept_mm(
            mm4(3, 10),
            vec![rcpt("sip:ok@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap();
    assert!(matches!(ok, AcceptOutcome::Stored { .. }));
}

pub async fn lease_takes_due_items_of_the_asked_kinds_oldest_first(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let item = |kind, key: &str, due| NewOutboxItem {
        kind,
        idempotency_key: key.into(),
        mm_id: None,
        recipient: None,
        payload: Bytes::copy_from_slice(key.as_bytes()),
        due_at: due,
    };
    let n = s
        .enqueue(
            vec![
                item(OutboxKind::Push, "p-late", at(2_000)),
                item(OutboxKind::Push, "p-early", at(0)),
                item(OutboxKind::Push, "p-mid", at(1_000)),
                item(OutboxKind::Mm4Forward, "f", at(0)),
                item(OutboxKind::Push, "p-future", at(60_000)),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(n, 5);
    let got = s
        .lease(&[OutboxKind::Push], 2, "w1", LEASE, at(5_000))
        .await
        .unwrap();
    let keys: Vec<_> = got.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(keys, vec!["p-early", "p-mid"]);
    assert!(got.iter().all(|i| i.attempts == 1 && i.lease_owner == "w1"));
    assert_eq!(got[0].lease_until, at(5_000).plus(LEASE));
    assert_eq!(got[0].payload, Bytes::from_static(b"p-early"));
    let rest = s
        .lease(&[OutboxKind::Push], 10, "w2", LEASE, at(5_000))
        .await
        .unwrap();
    let keys: Vec<_> = rest.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["p-late"],
        "live leases and future items are not taken"
    );
    let both = s
        .lease(
            &[OutboxKind::Push, OutboxKind::Mm4Forward],
            10,
            "w3",
            LEASE,
            at(5_000),
        )
        .await
        .unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].kind, OutboxKind::Mm4Forward);
    // Several kinds: the oldest due across all of them, however the kinds interleave.
    s.enqueue(
        vec![
            item(OutboxKind::Resolve, "r-3", at(300)),
            item(OutboxKind::Mm4Response, "m-1", at(100)),
            item(OutboxKind::Resolve, "r-1", at(110)),
            item(OutboxKind::Resolve, "r-2", at(200)),
            item(OutboxKind::Mm4Response, "m-2", at(250)),
            item(OutboxKind::Mm4Response, "m-4", at(400)),
        ],
        T0,
    )
    .await
    .unwrap();
    let kinds = [OutboxKind::Resolve, OutboxKind::Mm4Response];
    let mixed = s.lease(&kinds, 4, "w4", LEASE, at(5_000)).await.unwrap();
    let keys: Vec<_> = mixed.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(keys, vec!["m-1", "r-1", "r-2", "m-2"]);
    let last = s.lease(&kinds, 4, "w4", LEASE, at(5_000)).await.unwrap();
    let keys: Vec<_> = last.iter().map(|i| i.idempotency_key.as_str()).collect();
    assert_eq!(keys, vec!["r-3", "m-4"]);
    assert!(
        s.lease(&[], 10, "w", LEASE, at(5_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.lease(&[OutboxKind::Push], 0, "w", LEASE, at(5_000))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn expired_lease_is_taken_over_and_the_old_owner_loses_it(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    s.enqueue(
        vec![NewOutboxItem {
            kind: OutboxKind::Mm4Forward,
            idempotency_key: "fwd".into(),
            mm_id: None,
            recipient: None,
            payload: Bytes::new(),
            due_at: T0,
        }],
        T0,
    )
    .await
    .unwrap();
    let a = s
        .lease(&[OutboxKind::Mm4Forward], 1, "node-a", LEASE, T0)
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    let before_expiry = T0.plus(LEASE - Duration::from_millis(1));
    assert!(
        s.lease(&[OutboxKind::Mm4Forward], 1, "node-b", LEASE, before_expiry)
            .await
            .unwrap()
            .is_empty()
    );
    let b_items = s
        .lease(
            &[OutboxKind::Mm4Forward],
            1,
            "node-b",
            LEASE,
            T0.plus(LEASE),
        )
        .await
        .unwrap();
    assert_eq!(b_items.len(), 1);
    assert_eq!(b_items[0].id, a[0].id);
    assert_eq!(b_items[0].attempts, 2);
    let lost = s.complete(&a[0].lease(), T0.plus(LEASE)).await.unwrap_err();
    assert!(matches!(lost, QueueError::LeaseLost { .. }), "{lost:?}");
    s.complete(&b_items[0].lease(), T0.plus(LEASE))
        .await
        .unwrap();
    assert!(matches!(
        s.complete(&b_items[0].lease(), T0.plus(LEASE)).await,
        Err(QueueError::LeaseLost { .. })
    ));
    let far = T0.plus(LEASE * 10);
    assert!(
        s.lease(&ALL_KINDS, 10, "node-c", LEASE, far)
            .await
            .unwrap()
            .is_empty(),
        "done items stay done"
    );
}

/// A worker whose lease call failed after the lease committed gives back what that call leased
/// (and only that): due again at once, the attempt uncounted, other owners' leases untouched.
pub async fn released_leases_are_due_again_at_once(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let item = |kind, key: &str| NewOutboxItem {
        kind,
        idempotency_key: key.into(),
        mm_id: None,
        recipient: None,
        payload: Bytes::new(),
        due_at: T0,
    };
    s.enqueue(
        vec![
            item(OutboxKind::Push, "lost-1"),
            item(OutboxKind::Push, "lost-2"),
            item(OutboxKind::Push, "held"),
            item(OutboxKind::Mm4Forward, "other-kind"),
        ],
        T0,
    )
    .await
    .unwrap();
    let push = [OutboxKind::Push];
    let lost = s.lease(&push, 2, "w#1", LEASE, T0).await.unwrap();
    assert_eq!(lost.len(), 2);
    let held = s.lease(&push, 1, "w#2", LEASE, T0).await.unwrap();
    let fwd = s
        .lease(&[OutboxKind::Mm4Forward], 1, "w#1", LEASE, T0)
        .await
        .unwrap();
    assert_eq!((held.len(), fwd.len()), (1, 1));
    assert_eq!(
        s.release_leases(&push, "w#1", T0).await.unwrap(),
        2,
        "only the Push items of owner w#1"
    );
    let later = T0.plus(Duration::from_millis(1));
    let again = s.lease(&push, 10, "w#3", LEASE, later).await.unwrap();
    let mut keys: Vec<_> = again.iter().map(|i| i.idempotency_key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec!["lost-1", "lost-2"],
        "due again before the lease ran out"
    );
    assert!(
        again.iter().all(|i| i.attempts == 1),
        "the failed call's attempt is not counted"
    );
    assert_eq!(s.release_leases(&push, "w#1", later).await.unwrap(), 0);
    assert_eq!(s.release_leases(&[], "w#3", later).await.unwrap(), 0);
    s.complete(&held[0].lease(), later).await.unwrap();
    s.complete(&fwd[0].lease(), later).await.unwrap();
    s.complete(&again[0].lease(), later).await.unwrap();
    assert_eq!(
        s.release_leases(&push, "w#3", later).await.unwrap(),
        1,
        "finished items are not given back"
    );
}

pub async fn retry_and_fail_record_errors_on_item_and_recipient(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let mm = mm1(4, 10);
    let fwd = |id: &MmId| {
        NewOutboxItem::for_recipient(OutboxKind::Mm4Forward, id, "sip:bob@b.example", T0)
    };
    let id = stored(
        s.accept_mm(
            mm,
            vec![rcpt("sip:bob@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );
    s.update_recipient(
        &id,
        "sip:bob@b.example",
        RecipientEvent::ResolvedRemote {
            peer: "mms.b.example".into(),
        },
        OutboxEffects {
            complete: None,
            enqueue: vec![fwd(&id)],
        },
        T0,
    )
    .await
    .unwrap();
    let item = s
        .lease(&[OutboxKind::Mm4Forward], 1, "w", LEASE, T0)
        .await
        .unwrap()
        .remove(0);
    s.retry(&item.lease(), at(30_000), "connection refused", at(1))
        .await
        .unwrap();
    assert!(
        s.lease(&[OutboxKind::Mm4Forward], 1, "w", LEASE, at(29_999))
            .await
            .unwrap()
            .is_empty()
    );
    let again = s
        .lease(&[OutboxKind::Mm4Forward], 1, "w", LEASE, at(30_000))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.attempts, 2);
    assert_eq!(again.last_error.as_deref(), Some("connection refused"));
    let r = s.recipients(&id).await.unwrap().remove(0);
    assert_eq!(
        (r.attempts, r.last_error.as_deref()),
        (1, Some("connection refused"))
    );
    assert_eq!(r.detail.as_deref(), Some("mms.b.example"));
    assert_eq!(r.state, RecipientState::Forwarding);
    s.fail(&again.lease(), "550 no such user", at(30_001))
        .await
        .unwrap();
    assert!(
        s.lease(&ALL_KINDS, 10, "w", LEASE, at(99_999_999))
            .await
            .unwrap()
            .is_empty()
    );
    let r = s.recipients(&id).await.unwrap().remove(0);
    assert_eq!(
        (r.attempts, r.last_error.as_deref()),
        (2, Some("550 no such user"))
    );
    assert!(matches!(
        s.retry(&again.lease(), at(1), "x", at(1)).await,
        Err(QueueError::LeaseLost { .. })
    ));
    assert!(matches!(
        s.fail(&again.lease(), "x", at(1)).await,
        Err(QueueError::LeaseLost { .. })
    ));
}

pub async fn idempotency_key_is_enqueued_once_even_after_completion(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let item = NewOutboxItem {
        kind: OutboxKind::Mm4Response,
        idempotency_key: "mm4-response:msg-9".into(),
        mm_id: None,
        recipient: None,
        payload: Bytes::from_static(b"first"),
        due_at: T0,
    };
    assert_eq!(
        s.enqueue(vec![item.clone(), item.clone()], T0)
            .await
            .unwrap(),
        1
    );
    let leased = s.lease(&ALL_KINDS, 10, "w", LEASE, T0).await.unwrap();
    s.complete(&leased[0].lease(), T0).await.unwrap();
    let replay = NewOutboxItem {
        payload: Bytes::from_static(b"second"),
        ..item
    };
    assert_eq!(s.enqueue(vec![replay], T0).await.unwrap(), 0);
    assert!(
        s.lease(&ALL_KINDS, 10, "w", LEASE, at(1))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn state_change_and_its_outbox_effects_commit_together(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let bob = "sip:bob@b.example";
    let (r, _token) = local_rcpt(bob);
    let mut push = NewOutboxItem::for_recipient(OutboxKind::Push, &MmId::generate(), bob, T0);
    push.mm_id = None;
    push.idempotency_key = "push:first".into();
    let id = stored(
        s.accept_mm(mm1(5, 10), vec![r], vec![push], T0)
            .await
            .unwrap(),
    );
    let item = s
        .lease(&[OutboxKind::Push], 1, "notifier", LEASE, T0)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        item.mm_id.as_ref(),
        Some(&id),
        "first items get the new MM's id"
    );

    // A refused transition changes nothing: the lease stays, the report is not queued.
    let report = NewOutboxItem::for_recipient(OutboxKind::DeliveryInd, &id, bob, T0);
    let err = s
        .update_recipient(
            &id,
            bob,
            RecipientEvent::Forwarded,
            OutboxEffects {
                complete: Some(item.lease()),
                enqueue: vec![report.clone()],
            },
            T0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UpdateError::Transition(TransitionError {
                from: RecipientState::Notifying,
                ..
            })
        ),
        "{err:?}"
    );

    // A lost lease rolls back the state change.
    let stranger = Lease {
        item: item.id.clone(),
        owner: "someone-else".into(),
    };
    let err = s
        .update_recipient(
            &id,
            bob,
            RecipientEvent::PushSent,
            OutboxEffects {
                complete: Some(stranger),
                enqueue: vec![],
            },
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpdateError::LeaseLost { .. }), "{err:?}");
    assert_eq!(
        s.recipients(&id).await.unwrap()[0].state,
        RecipientState::Notifying
    );

    let to = s
        .update_recipient(
            &id,
            bob,
            RecipientEvent::PushSent,
            OutboxEffects {
                complete: Some(item.lease()),
                enqueue: vec![],
            },
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(to, RecipientState::Notified);
    assert!(
        matches!(
            s.complete(&item.lease(), at(6)).await,
            Err(QueueError::LeaseLost { .. })
        ),
        "push item completed"
    );

    let to = s
        .update_recipient(
            &id,
            bob,
            RecipientEvent::Retrieved,
            OutboxEffects {
                complete: None,
                enqueue: vec![report],
            },
            at(10),
        )
        .await
        .unwrap();
    assert_eq!(to, RecipientState::Retrieved);
    let rec = s.recipients(&id).await.unwrap().remove(0);
    assert_eq!(
        (rec.state, rec.updated_at, rec.created_at),
        (RecipientState::Retrieved, at(10), T0)
    );
    let reports = s
        .lease(&[OutboxKind::DeliveryInd], 10, "w", LEASE, at(10))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);

    let err = s
        .update_recipient(
            &id,
            "sip:nobody@b.example",
            RecipientEvent::Retrieved,
            OutboxEffects::default(),
            at(11),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpdateError::UnknownRecipient { .. }),
        "{err:?}"
    );
}

pub async fn expiry_turns_pending_work_into_expired_reports(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let expiry = mm1(6, 1).meta.expiry;
    let id = stored(
        s.accept_mm(
            mm1(6, 1),
            vec![
                rcpt("sip:a@b.example", RecipientState::Resolving),
                local_rcpt("sip:b@b.example").0,
                local_rcpt("sip:c@b.example").0,
            ],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );
    let push_b = NewOutboxItem::for_recipient(OutboxKind::Push, &id, "sip:b@b.example", T0);
    s.enqueue(vec![push_b], T0).await.unwrap();
    s.update_recipient(
        &id,
        "sip:c@b.example",
        RecipientEvent::Retrieved,
        OutboxEffects::default(),
        T0,
    )
    .await
    .unwrap();
    let mut quiet = mm4(60, 1);
    quiet.meta.delivery_report = false;
    let quiet_id = stored(
        s.accept_mm(
            quiet,
            vec![rcpt("sip:q@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );
    let mut mm4_wants = mm4(61, 1);
    mm4_wants.meta.expiry = at(7_200_000);
    let mm4_id = stored(
        s.accept_mm(
            mm4_wants,
            vec![rcpt("sip:r@b.example", RecipientState::Resolving)],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );

    let before = Timestamp::from_millis(expiry.as_millis() - 1);
    assert!(s.expire_due(before, 100).await.unwrap().is_empty());
    let mut expired = s.expire_due(expiry, 100).await.unwrap();
    expired.sort_by(|a, b| a.address.cmp(&b.address));
    let summary: Vec<_> = expired
        .iter()
        .map(|e| (e.address.as_str(), e.was, e.report_queued))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("sip:a@b.example", RecipientState::Resolving, true),
            ("sip:b@b.example", RecipientState::Notifying, true),
            ("sip:q@b.example", RecipientState::Resolving, false),
        ]
    );
    assert!(expired.iter().any(|e| e.mm_id == quiet_id));
    let states: Vec<_> = s
        .recipients(&id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(
        states,
        vec![
            RecipientState::Expired,
            RecipientState::Expired,
            RecipientState::Retrieved
        ]
    );
    let work = s.lease(&ALL_KINDS, 100, "w", LEASE, expiry).await.unwrap();
    let kinds: HashSet<_> = work
        .iter()
        .map(|i| (i.kind, i.recipient.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        HashSet::from([
            (OutboxKind::DeliveryInd, "sip:a@b.example".to_string()),
            (OutboxKind::DeliveryInd, "sip:b@b.example".to_string()),
        ]),
        "the pending push was cancelled; reports queued"
    );
    assert!(
        s.expire_due(expiry, 100).await.unwrap().is_empty(),
        "expiry is done once"
    );
    let later = s.expire_due(at(7_200_000), 100).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].mm_id, mm4_id);
    let work = s
        .lease(
            &[OutboxKind::Mm4DeliveryReport],
            100,
            "w",
            LEASE,
            at(7_200_000),
        )
        .await
        .unwrap();
    assert_eq!(work.len(), 1);
    assert_eq!(work[0].kind, OutboxKind::Mm4DeliveryReport);
}

pub async fn subscribers_map_impus_to_msisdns(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    s.put_subscriber("sip:bob@b.example", "4917612345678")
        .await
        .unwrap();
    s.put_subscriber("tel:+4917612345678", "4917612345678")
        .await
        .unwrap();
    s.put_subscriber("sip:carol@b.example", "4917600000000")
        .await
        .unwrap();
    assert_eq!(
        s.msisdn_for_impu("sip:bob@b.example")
            .await
            .unwrap()
            .as_deref(),
        Some("4917612345678")
    );
    assert_eq!(
        s.impus_for_msisdn("4917612345678").await.unwrap(),
        vec![
            "sip:bob@b.example".to_string(),
            "tel:+4917612345678".to_string()
        ]
    );
    assert_eq!(
        s.subscribers().await.unwrap(),
        vec![
            ("sip:bob@b.example".to_string(), "4917612345678".to_string()),
            (
                "sip:carol@b.example".to_string(),
                "4917600000000".to_string()
            ),
            (
                "tel:+4917612345678".to_string(),
                "4917612345678".to_string()
            ),
        ]
    );
    s.put_subscriber("sip:bob@b.example", "4917699999999")
        .await
        .unwrap();
    assert_eq!(
        s.msisdn_for_impu("sip:bob@b.example")
            .await
            .unwrap()
            .as_deref(),
        Some("4917699999999")
    );
    assert!(s.remove_subscriber("sip:bob@b.example").await.unwrap());
    assert!(!s.remove_subscriber("sip:bob@b.example").await.unwrap());
    assert_eq!(s.msisdn_for_impu("sip:bob@b.example").await.unwrap(), None);
}

pub async fn radius_binding_lasts_until_its_own_stop(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let bind = |msisdn: &str, session: &str, t| RadiusBinding {
        ip: "10.1.2.3".into(),
        msisdn: msisdn.into(),
        session_id: session.into(),
        updated_at: t,
        nas: None,
    };
    s.radius_start(bind("441234", "s1", T0)).await.unwrap();
    assert_eq!(
        s.radius_binding("10.1.2.3").await.unwrap(),
        Some(bind("441234", "s1", T0))
    );
    // The address is reassigned to another session before the first one's Stop arrives.
    s.radius_start(bind("449999", "s2", at(1))).await.unwrap();
    assert!(
        !s.radius_stop("10.1.2.3", "s1").await.unwrap(),
        "a stale Stop leaves the new binding"
    );
    assert_eq!(
        s.radius_binding("10.1.2.3")
            .await
            .unwrap()
            .map(|b| b.msisdn),
        Some("449999".into())
    );
    assert!(s.radius_stop("10.1.2.3", "s2").await.unwrap());
    assert_eq!(s.radius_binding("10.1.2.3").await.unwrap(), None);
}

pub async fn accounting_on_clears_the_bindings_of_that_nas_only_rfc2866_s5_1(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let nas = |client: &str, ip: &str, id: Option<&str>| NasKey {
        client: client.into(),
        ip: ip.into(),
        identifier: id.map(Into::into),
    };
    let bind = |ip: &str, msisdn: &str, n: Option<NasKey>| RadiusBinding {
        ip: ip.into(),
        msisdn: msisdn.into(),
        session_id: format!("s-{ip}"),
        updated_at: T0,
        nas: n,
    };
    // Two NASes behind one proxy (10.0.0.1), one of them also named by NAS-Identifier; a NAS
    // with the same NAS-IP-Address reached through another client; a binding of schema 1.
    let a1 = bind(
        "100.64.0.1",
        "441",
        Some(nas("10.0.0.1", "192.0.2.9", None)),
    );
    let a2 = bind(
        "100.64.0.2",
        "442",
        Some(nas("10.0.0.1", "192.0.2.9", Some("pgw-a"))),
    );
    let b1 = bind(
        "100.64.0.3",
        "443",
        Some(nas("10.0.0.1", "192.0.2.10", Some("pgw-b"))),
    );
    let other = bind(
        "100.64.0.4",
        "444",
        Some(nas("10.0.0.2", "192.0.2.9", None)),
    );
    let legacy = bind("100.64.0.5", "445", None);
    for binding in [&a1, &a2, &b1, &other, &legacy] {
        s.radius_start(binding.clone()).await.unwrap();
    }
    assert_eq!(
        s.radius_binding("100.64.0.2").await.unwrap(),
        Some(a2.clone()),
        "the NAS is stored with the binding"
    );

    // NAS A restarts: its bindings and the one of unknown NAS go; B's and the other client's stay.
    assert_eq!(
        s.radius_nas_reset(&nas("10.0.0.1", "192.0.2.9", None))
            .await
            .unwrap(),
        3
    );
    for gone in ["100.64.0.1", "100.64.0.2", "100.64.0.5"] {
        assert_eq!(s.radius_binding(gone).await.unwrap(), None, "{gone}");
    }
    assert_eq!(s.radius_binding("100.64.0.3").await.unwrap(), Some(b1));
    assert_eq!(
        s.radius_binding("100.64.0.4").await.unwrap(),
        Some(other.clone())
    );

    // NAS B goes down, naming itself only by NAS-Identifier (the proxy's address stands in for
    // its NAS-IP-Address).
    assert_eq!(
        s.radius_nas_reset(&nas("10.0.0.1", "10.0.0.1", Some("pgw-b")))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.radius_binding("100.64.0.3").await.unwrap(), None);
    assert_eq!(
        s.radius_nas_reset(&nas("10.0.0.1", "192.0.2.9", Some("pgw-a")))
            .await
            .unwrap(),
        0,
        "nothing left of that NAS"
    );
    assert_eq!(s.radius_binding("100.64.0.4").await.unwrap(), Some(other));

    // A new Start of the address after the reset binds again, under the new NAS.
    let moved = bind(
        "100.64.0.4",
        "449",
        Some(nas("10.0.0.1", "192.0.2.9", None)),
    );
    s.radius_start(moved.clone()).await.unwrap();
    assert_eq!(s.radius_binding("100.64.0.4").await.unwrap(), Some(moved));
}

pub async fn schema_1_bindings_survive_the_upgrade_and_go_at_the_first_accounting_on(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    drop(db.open().await);
    // Back to schema 1 (0002 undone), holding one binding as schema 1 stored it.
    db.raw(
        "DROP INDEX radius_binding_nas; \
         ALTER TABLE radius_binding DROP COLUMN nas_client; \
         ALTER TABLE radius_binding DROP COLUMN nas_ip; \
         ALTER TABLE radius_binding DROP COLUMN nas_identifier; \
         DELETE FROM _sqlx_migrations WHERE version = 2; \
         INSERT INTO radius_binding (ip, msisdn, session_id, updated_ms) VALUES ('100.64.0.9', '449', 's', 1)",
    )
    .await;
    let s = db.open().await;
    let kept = s.radius_binding("100.64.0.9").await.unwrap().unwrap();
    assert_eq!((kept.msisdn.as_str(), kept.nas), ("449", None));
    let any_nas = NasKey {
        client: "10.0.0.7".into(),
        ip: "10.0.0.7".into(),
        identifier: None,
    };
    assert_eq!(s.radius_nas_reset(&any_nas).await.unwrap(), 1);
    assert_eq!(s.radius_binding("100.64.0.9").await.unwrap(), None);
}

pub async fn mm_by_message_id_finds_the_recipients_record(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let first = stored(
        s.accept_mm(
            mm1(1, 10),
            vec![
                local_rcpt("sip:bob@b.example").0,
                rcpt("sip:carol@c.example", RecipientState::Resolving),
            ],
            vec![],
            T0,
        )
        .await
        .unwrap(),
    );
    // A later MM4 copy carrying the same X-Mms-Message-ID.
    let second = stored(
        s.accept_mm(
            mm4(1, 10),
            vec![local_rcpt("sip:bob@b.example").0],
            vec![],
            at(1),
        )
        .await
        .unwrap(),
    );
    s.update_recipient(
        &first,
        "sip:bob@b.example",
        RecipientEvent::PushSent,
        OutboxEffects::default(),
        at(2),
    )
    .await
    .unwrap();

    let found = s
        .mm_by_message_id("msg-1", "sip:bob@b.example")
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|f| f.mm_id.clone()).collect::<Vec<_>>(),
        vec![second.clone(), first.clone()],
        "newest first"
    );
    assert_eq!(found[1].meta, mm1(1, 10).meta);
    assert_eq!(found[1].recipient.address, "sip:bob@b.example");
    assert_eq!(found[1].recipient.mm_id, first);
    assert_eq!(found[1].recipient.state, RecipientState::Notified);
    assert_eq!(found[0].recipient.state, RecipientState::Notifying);
    assert!(matches!(found[0].meta.origin, Origin::Mm4 { .. }));

    let carol = s
        .mm_by_message_id("msg-1", "sip:carol@c.example")
        .await
        .unwrap();
    assert_eq!(carol.len(), 1);
    assert_eq!(carol[0].mm_id, first);
    assert!(
        s.mm_by_message_id("msg-1", "sip:mallory@b.example")
            .await
            .unwrap()
            .is_empty(),
        "not a recipient"
    );
    assert!(
        s.mm_by_message_id("msg-2", "sip:bob@b.example")
            .await
            .unwrap()
            .is_empty(),
        "unknown message id"
    );
}

pub async fn database_newer_than_the_binary_is_refused(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    drop(db.open().await);
    db.raw(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990001, 'from the future', TRUE, X'00', 1)"
            .replace(
                "X'00'",
                if b == Backend::Postgres {
                    "'\\x00'::bytea"
                } else {
                    "X'00'"
                },
            )
            .as_str(),
    )
    .await;
    match AnyStore::open(&db.location).await {
        Err(OpenError::SchemaTooNew { database, binary }) => {
            assert_eq!(database, 99990001);
            assert!(binary < database);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

pub async fn concurrent_writers_are_all_committed(b: Backend) {
    // On SQLite these land in shared group commits: a failing request must not sink its neighbours.
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let mut tasks = Vec::new();
    for seq in 0..64u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let bad = seq % 8 == 3;
            let state = if bad {
                RecipientState::Retrieved
            } else {
                RecipientState::Resolving
            };
            let item = NewOutboxItem {
                kind: OutboxKind::Resolve,
                idempotency_key: format!("resolve:{seq}"),
                mm_id: None,
                recipient: None,
                payload: Bytes::new(),
                due_at: T0,
            };
            let r = s
                .accept_mm(
                    mm1(seq, 1024),
                    vec![rcpt("sip:bob@b.example", state)],
                    vec![item],
                    T0,
                )
                .await;
            (seq, bad, r)
        }));
    }
    let mut good = 0;
    for t in tasks {
        match t.await.unwrap() {
            (seq, false, Ok(AcceptOutcome::Stored { id, .. })) => {
                assert_eq!(
                    s.mm(&id).await.unwrap().expect("committed").body,
                    mm1(seq, 1024).body
                );
                good += 1;
            }
            (_, true, Err(StoreError::Invalid(_))) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(good, 56);
    let items = s
        .lease(&[OutboxKind::Resolve], 100, "w", LEASE, T0)
        .await
        .unwrap();
    let keys: HashSet<_> = items.iter().map(|i| i.idempotency_key.clone()).collect();
    let want: HashSet<_> = (0..64u64)
        .filter(|q| q % 8 != 3)
        .map(|q| format!("resolve:{q}"))
        .collect();
    assert_eq!(keys, want, "only the failed requests' items are missing");
}

pub async fn concurrent_state_changes_keep_a_failed_one_out_entirely(b: Backend) {
    // On SQLite these land in shared group commits, run without savepoints until one fails: a
    // request that changed the recipient and then lost its lease must leave nothing behind, and
    // its neighbours must all commit.
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let bob = "sip:bob@b.example";
    let mut mms = Vec::new();
    for seq in 0..48u64 {
        let mut push = NewOutboxItem::for_recipient(OutboxKind::Push, &MmId::generate(), bob, T0);
        push.mm_id = None;
        push.idempotency_key = format!("push:{seq}");
        let id = stored(
            s.accept_mm(mm1(seq, 64), vec![local_rcpt(bob).0], vec![push], T0)
                .await
                .unwrap(),
        );
        mms.push(id);
    }
    let items = s
        .lease(&[OutboxKind::Push], 100, "notifier", LEASE, T0)
        .await
        .unwrap();
    assert_eq!(items.len(), 48);
    let mut tasks = Vec::new();
    for item in items {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = item.mm_id.clone().unwrap();
            let seq: u64 = item.idempotency_key["push:".len()..].parse().unwrap();
            let bad = seq % 6 == 1;
            let lease = if bad {
                Lease {
                    item: item.id.clone(),
                    owner: "someone-else".into(),
                }
            } else {
                item.lease()
            };
            let report = NewOutboxItem::for_recipient(OutboxKind::DeliveryInd, &id, bob, T0);
            let r = s
                .update_recipient(
                    &id,
                    bob,
                    RecipientEvent::PushSent,
                    OutboxEffects {
                        complete: Some(lease),
                        enqueue: vec![report],
                    },
                    at(1),
                )
                .await;
            (id, bad, r)
        }));
    }
    let mut reports_wanted = HashSet::new();
    for t in tasks {
        let (id, bad, r) = t.await.unwrap();
        let state = s.recipients(&id).await.unwrap()[0].state;
        if bad {
            assert!(matches!(r, Err(UpdateError::LeaseLost { .. })), "{r:?}");
            assert_eq!(state, RecipientState::Notifying, "state change rolled back");
        } else {
            assert_eq!(r.unwrap(), RecipientState::Notified);
            assert_eq!(state, RecipientState::Notified);
            reports_wanted.insert(id);
        }
    }
    assert_eq!(reports_wanted.len(), 40);
    let reports = s
        .lease(&[OutboxKind::DeliveryInd], 100, "w", LEASE, at(1))
        .await
        .unwrap();
    let got: HashSet<_> = reports.into_iter().filter_map(|i| i.mm_id).collect();
    assert_eq!(
        got, reports_wanted,
        "only the committed changes queued their report"
    );
    let still_leased = s
        .lease(&[OutboxKind::Push], 100, "other", LEASE, at(1))
        .await
        .unwrap();
    assert!(
        still_leased.is_empty(),
        "failed requests left their items leased, not completed"
    );
}

pub async fn purge_drops_finished_work_and_expired_mms_only(b: Backend) {
    let Some(db) = TestDb::new(b).await else {
        return;
    };
    let s = db.open().await;
    let done_mm = stored(
        s.accept_mm(mm1(8, 1), vec![local_rcpt("sip:a@b.example").0], vec![], T0)
            .await
            .unwrap(),
    );
    s.update_recipient(
        &done_mm,
        "sip:a@b.example",
        RecipientEvent::Retrieved,
        OutboxEffects::default(),
        T0,
    )
    .await
    .unwrap();
    let pending_mm = stored(
        s.accept_mm(mm1(9, 1), vec![local_rcpt("sip:b@b.example").0], vec![], T0)
            .await
            .unwrap(),
    );
    s.enqueue(
        vec![NewOutboxItem::for_recipient(
            OutboxKind::Push,
            &done_mm,
            "x",
            T0,
        )],
        T0,
    )
    .await
    .unwrap();
    let item = s
        .lease(&ALL_KINDS, 1, "w", LEASE, T0)
        .await
        .unwrap()
        .remove(0);
    s.complete(&item.lease(), T0).await.unwrap();
    let after_expiry = at(3_600_001);
    assert_eq!(s.purge(T0).await.unwrap(), 0, "nothing finished before T0");
    assert_eq!(
        s.purge(after_expiry).await.unwrap(),
        2,
        "the done item and the delivered MM"
    );
    assert_eq!(s.mm(&done_mm).await.unwrap(), None);
    assert!(s.recipients(&done_mm).await.unwrap().is_empty());
    assert!(
        s.mm(&pending_mm).await.unwrap().is_some(),
        "an MM with a pending recipient stays"
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}

on_both_backends!(
    accepted_mm_reads_back_byte_for_byte,
    mm_head_recipient_view_and_mm_with_recipient_read_in_one_go,
    store_survives_reopen,
    mm4_forward_seen_before_is_a_duplicate_per_recipient,
    recipient_in_non_initial_state_is_refused_and_nothing_stored,
    lease_takes_due_items_of_the_asked_kinds_oldest_first,
    expired_lease_is_taken_over_and_the_old_owner_loses_it,
    released_leases_are_due_again_at_once,
    retry_and_fail_record_errors_on_item_and_recipient,
    idempotency_key_is_enqueued_once_even_after_completion,
    state_change_and_its_outbox_effects_commit_together,
    expiry_turns_pending_work_into_expired_reports,
    subscribers_map_impus_to_msisdns,
    radius_binding_lasts_until_its_own_stop,
    accounting_on_clears_the_bindings_of_that_nas_only_rfc2866_s5_1,
    mm_by_message_id_finds_the_recipients_record,
    schema_1_bindings_survive_the_upgrade_and_go_at_the_first_accounting_on,
    database_newer_than_the_binary_is_refused,
    concurrent_writers_are_all_committed,
    concurrent_state_changes_keep_a_failed_one_out_entirely,
    purge_drops_finished_work_and_expired_mms_only,
);
