//! The queries and the [`crate::Store`] implementation, written once and expanded for each back end.
//!
//! Both back ends run the same portable SQL (`$n` placeholders, `ON CONFLICT`, `RETURNING`, partial
//! indexes); only row locking differs, passed in as literal suffixes: PostgreSQL locks the rows it
//! leases with `FOR UPDATE SKIP LOCKED`, SQLite needs nothing because one writer task does all writes.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future borrowing a connection.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `SELECT` of an MM's columns (body left out) and its recipient `$2`'s columns (NULL when it has
/// no such recipient), by primary keys, with `$extra` columns.
macro_rules! mm_and_recipient {
    ($extra:literal) => {
        concat!(
            "SELECT m.id, m.message_id, m.transaction_id, m.sender, m.mms_version, m.content_type, \
             m.subject, m.size, m.date_ms, m.expiry_ms, m.delivery_report, m.read_report, m.origin_kind, \
             m.origin_detail, m.headers, m.received_ms, r.mm_id, r.address, r.state, r.detail, r.attempts, \
             r.last_error, r.created_ms, r.updated_ms",
            $extra,
            " FROM mm m LEFT JOIN recipient r ON r.mm_id = m.id AND r.address = $2 WHERE m.id = $1"
        )
    };
}

pub(crate) use mm_and_recipient;

/// Expands to `mod q` (the queries over `$Conn`) and `impl Store for $Store`.
///
/// `$Store` must have inherent `write(f)` and `read(f)` taking
/// `for<'c> FnOnce(&'c mut $Conn) -> BoxFuture<'c, Result<T, E>>` (a write commits atomically).
macro_rules! backend {
    (
        store: $Store:ty,
        conn: $Conn:ty,
        row: $Row:ty,
        lease_lock: $lease_lock:literal,
        row_lock: $row_lock:literal,
        multi_statement: $multi:literal,
        expire_lock: $expire_lock:literal $(,)?
    ) => {
        mod q {
            #![allow(clippy::too_many_arguments)]
            use bytes::Bytes;
            use sqlx::Row;

            use $crate::error::{QueueError, StoreError, UpdateError};
            use $crate::model::*;
            use $crate::state::{RecipientEvent, RecipientState};

            type Conn = $Conn;

            fn corrupt(what: &str, value: &str) -> StoreError {
                StoreError::Corrupt(format!("{what} {value:?}"))
            }

            fn to_u32(v: i32) -> u32 {
                u32::try_from(v).unwrap_or(0)
            }

            pub(crate) async fn insert_mm(c: &mut Conn, id: &MmId, mm: &NewMm, now: Timestamp) -> Result<(), StoreError> {
                let m = &mm.meta;
                let size = i64::try_from(m.size).map_err(|_| StoreError::Invalid("size too large".into()))?;
                sqlx::query(
                    "INSERT INTO mm (id, message_id, transaction_id, sender, mms_version, content_type, subject, \
                     size, date_ms, expiry_ms, delivery_report, read_report, origin_kind, origin_detail, headers, \
                     body, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(id.as_str())
                .bind(&m.message_id)
                .bind(&m.transaction_id)
                .bind(&m.from)
                .bind(&m.mms_version)
                .bind(&m.content_type)
                .bind(m.subject.as_deref())
                .bind(size)
                .bind(m.date.as_millis())
                .bind(m.expiry.as_millis())
                .bind(m.delivery_report)
                .bind(m.read_report)
                .bind(m.origin.kind())
                .bind(m.origin.detail())
                .bind(mm.headers.as_ref())
                .bind(mm.body.as_ref())
                .bind(now.as_millis())
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            pub(crate) async fn enqueue(c: &mut Conn, item: &NewOutboxItem, now: Timestamp) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO outbox (id, kind, idempotency_key, mm_id, recipient, payload, status, due_ms, \
                     attempts, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, 0, $8) \
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(ItemId::generate().as_str())
                .bind(item.kind.as_str())
                .bind(&item.idempotency_key)
                .bind(item.mm_id.as_ref().map(|m| m.as_str()))
                .bind(item.recipient.as_deref())
                .bind(item.payload.as_ref())
                .bind(item.due_at.as_millis())
                .bind(now.as_millis())
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn enqueue_all(c: &mut Conn, items: &[NewOutboxItem], now: Timestamp) -> Result<usize, StoreError> {
                let mut n = 0;
                for item in items {
                    if enqueue(c, item, now).await? {
                        n += 1;
                    }
                }
                Ok(n)
            }

            pub(crate) async fn accept(
                c: &mut Conn,
                mm: &NewMm,
                recipients: &[NewRecipient],
                outbox: &[NewOutboxItem],
                now: Timestamp,
            ) -> Result<AcceptOutcome, StoreError> {
                if let Some(bad) = recipients.iter().find(|r| !r.state.is_initial()) {
                    return Err(StoreError::Invalid(format!("recipient cannot start in state {}", bad.state)));
                }
                let mut kept = Vec::with_capacity(recipients.len());
                for r in recipients {
                    if let Origin::Mm4 { .. } = mm.meta.origin {
                        let fresh = sqlx::query(
                            "INSERT INTO seen_mm4 (message_id, recipient, seen_ms) VALUES ($1, $2, $3) \
                             ON CONFLICT (message_id, recipient) DO NOTHING",
                        )
                        .bind(&mm.meta.message_id)
                        .bind(&r.address)
                        .bind(now.as_millis())
                        .execute(&mut *c)
                        .await?
                        .rows_affected()
                            == 1;
                        if !fresh {
                            continue;
                        }
                    }
                    kept.push(r);
                }
                if kept.is_empty() {
                    return Ok(AcceptOutcome::Duplicate);
                }
                let id = MmId::generate();
                if $multi {
                    return accept_in_one_round_trip(c, id, mm, kept, outbox, now).await;
                }
                insert_mm(c, &id, mm, now).await?;
                for r in &kept {
                    sqlx::query(
                        "INSERT INTO recipient (mm_id, address, state, attempts, expiry_ms, created_ms, updated_ms) \
                         VALUES ($1, $2, $3, 0, $4, $5, $5)",
                    )
                    .bind(id.as_str())
                    .bind(&r.address)
                    .bind(r.state.as_str())
                    .bind(mm.meta.expiry.as_millis())
                    .bind(now.as_millis())
                    .execute(&mut *c)
                    .await?;
                    if let Some(token) = &r.retrieval_token {
                        sqlx::query(
                            "INSERT INTO retrieval_token (token, mm_id, recipient, created_ms) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(token.as_str())
                        .bind(id.as_str())
                        .bind(&r.address)
                        .bind(now.as_millis())
                        .execute(&mut *c)
                        .await?;
                    }
                }
                for item in outbox {
                    if let Some(rcpt) = &item.recipient {
                        if !kept.iter().any(|r| &r.address == rcpt) {
                            continue;
                        }
                    }
                    // Items built before the id existed name no MM: they belong to this one.
                    if item.mm_id.is_none() {
                        let mut item = item.clone();
                        item.mm_id = Some(id.clone());
                        enqueue(c, &item, now).await?;
                    } else {
                        enqueue(c, item, now).await?;
                    }
                }
                Ok(AcceptOutcome::Stored {
                    id,
                    recipients: kept.into_iter().map(|r| r.address.clone()).collect(),
                })
            }

            /// [`accept`] as one multi-statement query (SQLite binds `$n` across statements), so the
            /// single writer spends one round trip per MM instead of one per row.
            async fn accept_in_one_round_trip(
                c: &mut Conn,
                id: MmId,
                mm: &NewMm,
                kept: Vec<&NewRecipient>,
                outbox: &[NewOutboxItem],
                now: Timestamp,
            ) -> Result<AcceptOutcome, StoreError> {
                use std::fmt::Write as _;
                let m = &mm.meta;
                let size = i64::try_from(m.size).map_err(|_| StoreError::Invalid("size too large".into()))?;
                let mut sql = String::from(
                    "INSERT INTO mm (id, message_id, transaction_id, sender, mms_version, content_type, subject, \
                     size, date_ms, expiry_ms, delivery_report, read_report, origin_kind, origin_detail, headers, \
                     body, received_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);",
                );
                let mut args = <<$Conn as sqlx::Connection>::Database as sqlx::Database>::Arguments::default();
                macro_rules! push {
                    ($value:expr) => {
                        sqlx::Arguments::add(&mut args, $value).map_err(|e| StoreError::Invalid(e.to_string()))?
                    };
                }
                push!(id.as_str());
                push!(m.message_id.clone());
                push!(m.transaction_id.clone());
                push!(m.from.clone());
                push!(m.mms_version.clone());
                push!(m.content_type.clone());
                push!(m.subject.clone());
                push!(size);
                push!(m.date.as_millis());
                push!(m.expiry.as_millis());
                push!(m.delivery_report);
                push!(m.read_report);
                push!(m.origin.kind());
                push!(m.origin.detail().to_owned());
                push!(mm.headers.to_vec());
                push!(mm.body.to_vec());
                push!(now.as_millis());
                let mut n = 17;
                let mut next = || {
                    n += 1;
                    n
                };
                for r in &kept {
                    let (a, st) = (next(), next());
                    let _ = write!(
                        sql,
                        "INSERT INTO recipient (mm_id, address, state, attempts, expiry_ms, created_ms, updated_ms) \
                         VALUES ($1, ${a}, ${st}, 0, $10, $17, $17);"
                    );
                    push!(r.address.clone());
                    push!(r.state.as_str());
                    if let Some(token) = &r.retrieval_token {
                        let t = next();
                        let _ = write!(
                            sql,
                            "INSERT INTO retrieval_token (token, mm_id, recipient, created_ms) VALUES (${t}, $1, ${a}, $17);"
                        );
                        push!(token.as_str().to_owned());
                    }
                }
                for item in outbox {
                    if let Some(rcpt) = &item.recipient {
                        if !kept.iter().any(|r| &r.address == rcpt) {
                            continue;
                        }
                    }
                    let (i, k, key, mid, rc, p, due) = (next(), next(), next(), next(), next(), next(), next());
                    let _ = write!(
                        sql,
                        "INSERT INTO outbox (id, kind, idempotency_key, mm_id, recipient, payload, status, due_ms, \
                         attempts, created_ms) VALUES (${i}, ${k}, ${key}, ${mid}, ${rc}, ${p}, 'pending', ${due}, 0, $17) \
                         ON CONFLICT (idempotency_key) DO NOTHING;"
                    );
                    push!(ItemId::generate().as_str());
                    push!(item.kind.as_str());
                    push!(item.idempotency_key.clone());
                    push!(item.mm_id.as_ref().unwrap_or(&id).as_str());
                    push!(item.recipient.clone());
                    push!(item.payload.to_vec());
                    push!(item.due_at.as_millis());
                }
                // Only generated placeholders are spliced in; every value is bound.
                sqlx::query_with(sqlx::AssertSqlSafe(sql), args).execute(&mut *c).await?;
                Ok(AcceptOutcome::Stored {
                    id,
                    recipients: kept.into_iter().map(|r| r.address.clone()).collect(),
                })
            }

            fn meta_from_row(row: &$Row) -> Result<MmMeta, StoreError> {
                let kind: String = row.try_get("origin_kind")?;
                let origin = Origin::parse(&kind, row.try_get("origin_detail")?)
                    .ok_or_else(|| corrupt("origin kind", &kind))?;
                let size: i64 = row.try_get("size")?;
                Ok(MmMeta {
                    message_id: row.try_get("message_id")?,
                    transaction_id: row.try_get("transaction_id")?,
                    from: row.try_get("sender")?,
                    mms_version: row.try_get("mms_version")?,
                    content_type: row.try_get("content_type")?,
                    subject: row.try_get("subject")?,
                    size: u64::try_from(size).map_err(|_| corrupt("size", &size.to_string()))?,
                    date: Timestamp::from_millis(row.try_get("date_ms")?),
                    expiry: Timestamp::from_millis(row.try_get("expiry_ms")?),
                    delivery_report: row.try_get("delivery_report")?,
                    read_report: row.try_get("read_report")?,
                    origin,
                })
            }

            fn head_from_row(row: &$Row) -> Result<MmHead, StoreError> {
                Ok(MmHead {
                    id: MmId::from_string(row.try_get("id")?),
                    meta: meta_from_row(row)?,
                    headers: Bytes::from(row.try_get::<Vec<u8>, _>("headers")?),
                    received_at: Timestamp::from_millis(row.try_get("received_ms")?),
                })
            }

            fn mm_from_row(row: &$Row) -> Result<StoredMm, StoreError> {
                let MmHead { id, meta, headers, received_at } = head_from_row(row)?;
                let body = Bytes::from(row.try_get::<Vec<u8>, _>("body")?);
                Ok(StoredMm { id, meta, headers, body, received_at })
            }

            pub(crate) async fn load_mm(c: &mut Conn, id: MmId) -> Result<Option<StoredMm>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, message_id, transaction_id, sender, mms_version, content_type, subject, size, \
                     date_ms, expiry_ms, delivery_report, read_report, origin_kind, origin_detail, headers, body, \
                     received_ms FROM mm WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?;
                row.as_ref().map(mm_from_row).transpose()
            }

            pub(crate) async fn load_mm_head(c: &mut Conn, id: MmId) -> Result<Option<MmHead>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, message_id, transaction_id, sender, mms_version, content_type, subject, size, \
                     date_ms, expiry_ms, delivery_report, read_report, origin_kind, origin_detail, headers, \
                     received_ms FROM mm WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?;
                row.as_ref().map(head_from_row).transpose()
            }

            pub(crate) async fn recipient_view(
                c: &mut Conn,
                id: MmId,
                recipient: String,
                impu: Option<String>,
            ) -> Result<Option<RecipientView>, StoreError> {
                // The mm primary key, the recipient primary key (mm_id, address), the subscriber
                // primary key: three point lookups in one statement. A NULL IMPU matches nothing.
                let row = sqlx::query($crate::backend::mm_and_recipient!(
                    ", (SELECT s.msisdn FROM subscriber s WHERE s.impu = $3) AS subscriber_msisdn"
                ))
                .bind(id.as_str())
                .bind(recipient)
                .bind(impu)
                .fetch_optional(&mut *c)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(RecipientView {
                    mm: head_from_row(&row)?,
                    record: joined_recipient(&row)?,
                    subscriber_msisdn: row.try_get("subscriber_msisdn")?,
                }))
            }

            pub(crate) async fn mm_with_recipient(
                c: &mut Conn,
                id: MmId,
                recipient: String,
            ) -> Result<Option<(StoredMm, Option<RecipientRecord>)>, StoreError> {
                let row = sqlx::query($crate::backend::mm_and_recipient!(", m.body"))
                    .bind(id.as_str())
                    .bind(recipient)
                    .fetch_optional(&mut *c)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some((mm_from_row(&row)?, joined_recipient(&row)?)))
            }

            /// The recipient of a `LEFT JOIN recipient r`: `None` when no row matched.
            fn joined_recipient(row: &$Row) -> Result<Option<RecipientRecord>, StoreError> {
                match row.try_get::<Option<String>, _>("mm_id")? {
                    Some(_) => Ok(Some(recipient_from_row(row)?)),
                    None => Ok(None),
                }
            }

            fn recipient_from_row(row: &$Row) -> Result<RecipientRecord, StoreError> {
                let state: String = row.try_get("state")?;
                Ok(RecipientRecord {
                    mm_id: MmId::from_string(row.try_get("mm_id")?),
                    address: row.try_get("address")?,
                    state: RecipientState::parse(&state).ok_or_else(|| corrupt("recipient state", &state))?,
                    detail: row.try_get("detail")?,
                    attempts: to_u32(row.try_get("attempts")?),
                    last_error: row.try_get("last_error")?,
                    created_at: Timestamp::from_millis(row.try_get("created_ms")?),
                    updated_at: Timestamp::from_millis(row.try_get("updated_ms")?),
                })
            }

            pub(crate) async fn recipients(c: &mut Conn, id: MmId) -> Result<Vec<RecipientRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT mm_id, address, state, detail, attempts, last_error, created_ms, updated_ms \
                     FROM recipient WHERE mm_id = $1 ORDER BY address",
                )
                .bind(id.as_str())
                .fetch_all(&mut *c)
                .await?;
                rows.iter().map(recipient_from_row).collect()
            }

            pub(crate) async fn mm_by_message_id(
                c: &mut Conn,
                message_id: String,
                recipient: String,
            ) -> Result<Vec<MessageRecipient>, StoreError> {
                // mm_message_id, then the recipient primary key (mm_id, address).
                let rows = sqlx::query(
                    "SELECT m.id, m.message_id, m.transaction_id, m.sender, m.mms_version, m.content_type, \
                     m.subject, m.size, m.date_ms, m.expiry_ms, m.delivery_report, m.read_report, m.origin_kind, \
                     m.origin_detail, r.mm_id, r.address, r.state, r.detail, r.attempts, r.last_error, \
                     r.created_ms, r.updated_ms FROM mm m JOIN recipient r ON r.mm_id = m.id \
                     WHERE m.message_id = $1 AND r.address = $2 ORDER BY m.received_ms DESC, m.id DESC LIMIT $3",
                )
                .bind(message_id)
                .bind(recipient)
                .bind(i64::from($crate::MESSAGE_ID_MATCHES))
                .fetch_all(&mut *c)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(MessageRecipient {
                            mm_id: MmId::from_string(row.try_get("id")?),
                            meta: meta_from_row(row)?,
                            recipient: recipient_from_row(row)?,
                        })
                    })
                    .collect()
            }

            async fn check_lease(c: &mut Conn, lease: &Lease, rows: u64) -> Result<(), QueueError> {
                let _ = c;
                if rows == 1 {
                    Ok(())
                } else {
                    Err(QueueError::LeaseLost { item: lease.item.to_string(), owner: lease.owner.clone() })
                }
            }

            pub(crate) async fn complete(c: &mut Conn, lease: &Lease, now: Timestamp) -> Result<(), QueueError> {
                let rows = sqlx::query(
                    "UPDATE outbox SET status = 'done', finished_ms = $3, lease_until_ms = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'pending'",
                )
                .bind(lease.item.as_str())
                .bind(&lease.owner)
                .bind(now.as_millis())
                .execute(&mut *c)
                .await?
                .rows_affected();
                check_lease(c, lease, rows).await
            }

            pub(crate) async fn fail(c: &mut Conn, lease: &Lease, error: &str, now: Timestamp) -> Result<(), QueueError> {
                let row = sqlx::query(
                    "UPDATE outbox SET status = 'failed', finished_ms = $3, lease_until_ms = NULL, last_error = $4 \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'pending' RETURNING mm_id, recipient",
                )
                .bind(lease.item.as_str())
                .bind(&lease.owner)
                .bind(now.as_millis())
                .bind(error)
                .fetch_optional(&mut *c)
                .await?;
                note_recipient_error(c, lease, row, error, now).await
            }

            pub(crate) async fn retry(
                c: &mut Conn,
                lease: &Lease,
                due_at: Timestamp,
                error: &str,
                now: Timestamp,
            ) -> Result<(), QueueError> {
                let row = sqlx::query(
                    "UPDATE outbox SET due_ms = $3, lease_owner = NULL, lease_until_ms = NULL, last_error = $4 \
                     WHERE id = $1 AND lease_owner = $2 AND status = 'pending' RETURNING mm_id, recipient",
                )
                .bind(lease.item.as_str())
                .bind(&lease.owner)
                .bind(due_at.as_millis())
                .bind(error)
                .fetch_optional(&mut *c)
                .await?;
                note_recipient_error(c, lease, row, error, now).await
            }

            async fn note_recipient_error(
                c: &mut Conn,
                lease: &Lease,
                row: Option<$Row>,
                error: &str,
                now: Timestamp,
            ) -> Result<(), QueueError> {
                let Some(row) = row else {
                    return check_lease(c, lease, 0).await;
                };
                let mm_id: Option<String> = row.try_get("mm_id")?;
                let recipient: Option<String> = row.try_get("recipient")?;
                if let (Some(mm_id), Some(recipient)) = (mm_id, recipient) {
                    sqlx::query(
                        "UPDATE recipient SET attempts = attempts + 1, last_error = $3, updated_ms = $4 \
                         WHERE mm_id = $1 AND address = $2",
                    )
                    .bind(mm_id)
                    .bind(recipient)
                    .bind(error)
                    .bind(now.as_millis())
                    .execute(&mut *c)
                    .await?;
                }
                Ok(())
            }

            fn leased_from_row(row: &$Row) -> Result<LeasedItem, StoreError> {
                let kind: String = row.try_get("kind")?;
                Ok(LeasedItem {
                    id: ItemId::from_string(row.try_get("id")?),
                    kind: OutboxKind::parse(&kind).ok_or_else(|| corrupt("outbox kind", &kind))?,
                    idempotency_key: row.try_get("idempotency_key")?,
                    mm_id: row.try_get::<Option<String>, _>("mm_id")?.map(MmId::from_string),
                    recipient: row.try_get("recipient")?,
                    payload: Bytes::from(row.try_get::<Vec<u8>, _>("payload")?),
                    due_at: Timestamp::from_millis(row.try_get("due_ms")?),
                    attempts: to_u32(row.try_get("attempts")?),
                    last_error: row.try_get("last_error")?,
                    lease_owner: row.try_get("lease_owner")?,
                    lease_until: Timestamp::from_millis(row.try_get("lease_until_ms")?),
                })
            }

            pub(crate) async fn lease(
                c: &mut Conn,
                kinds: &[OutboxKind],
                n: u32,
                owner: &str,
                lease_until: Timestamp,
                now: Timestamp,
            ) -> Result<Vec<LeasedItem>, StoreError> {
                if kinds.is_empty() || n == 0 {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
                let due = "status = 'pending' AND due_ms <= $3 AND (lease_until_ms IS NULL OR lease_until_ms <= $3)";
                let candidates = if $multi && kinds.len() > 1 {
                    // SQLite walks `outbox_pending_due` in due order for one kind, but sorts every due
                    // item of several kinds (a temporary B-tree over the whole backlog): take the
                    // oldest of each kind from the index, then the oldest of those.
                    let per_kind: Vec<String> = placeholders
                        .iter()
                        .map(|k| format!("SELECT * FROM (SELECT id, due_ms FROM outbox WHERE {due} AND kind = {k} ORDER BY due_ms LIMIT $4)"))
                        .collect();
                    format!("SELECT id FROM ({}) ORDER BY due_ms LIMIT $4", per_kind.join(" UNION ALL "))
                } else {
                    format!(
                        "SELECT id FROM outbox WHERE {due} AND kind IN ({}) ORDER BY due_ms LIMIT $4{}",
                        placeholders.join(", "),
                        $lease_lock
                    )
                };
                // Only generated placeholders are spliced in; every value is bound.
                let sql = format!(
                    "UPDATE outbox SET lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1 \
                     WHERE id IN ({candidates}) \
                     RETURNING id, kind, idempotency_key, mm_id, recipient, payload, due_ms, attempts, last_error, \
                     lease_owner, lease_until_ms"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(owner)
                    .bind(lease_until.as_millis())
                    .bind(now.as_millis())
                    .bind(i64::from(n));
                for kind in kinds {
                    query = query.bind(kind.as_str());
                }
                let rows = query.fetch_all(&mut *c).await?;
                let mut items = rows.iter().map(leased_from_row).collect::<Result<Vec<_>, _>>()?;
                items.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
                Ok(items)
            }

            pub(crate) async fn release_leases(
                c: &mut Conn,
                kinds: &[OutboxKind],
                owner: &str,
                leased_at: Timestamp,
            ) -> Result<u64, StoreError> {
                if kinds.is_empty() {
                    return Ok(0);
                }
                // `kind` and `due_ms` bound the search to the range of `outbox_pending_due` the
                // lease took its items from.
                let placeholders: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "UPDATE outbox SET lease_owner = NULL, lease_until_ms = NULL, \
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
                     WHERE status = 'pending' AND kind IN ({}) AND due_ms <= $2 AND lease_owner = $1",
                    placeholders.join(", ")
                );
                // Only generated placeholders are spliced in; every value is bound.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).bind(leased_at.as_millis());
                for kind in kinds {
                    query = query.bind(kind.as_str());
                }
                Ok(query.execute(&mut *c).await?.rows_affected())
            }

            pub(crate) async fn update_recipient(
                c: &mut Conn,
                mm_id: &MmId,
                address: &str,
                event: &RecipientEvent,
                effects: &OutboxEffects,
                now: Timestamp,
            ) -> Result<RecipientState, UpdateError> {
                if $multi {
                    if let Some(to) = update_recipient_in_one_round_trip(c, mm_id, address, event, effects, now).await? {
                        return Ok(to);
                    }
                    // The recipient was not updated: the path below names the reason (its own
                    // writes never happen, and the caller's error rolls back the attempt's).
                }
                let row = sqlx::query(concat!(
                    "SELECT state FROM recipient WHERE mm_id = $1 AND address = $2",
                    $row_lock
                ))
                .bind(mm_id.as_str())
                .bind(address)
                .fetch_optional(&mut *c)
                .await?;
                let Some(row) = row else {
                    return Err(UpdateError::UnknownRecipient { mm_id: mm_id.to_string(), recipient: address.to_owned() });
                };
                let text: String = row.try_get("state")?;
                let from = RecipientState::parse(&text).ok_or_else(|| corrupt("recipient state", &text))?;
                let to = from.apply(event)?;
                let changed = sqlx::query(
                    "UPDATE recipient SET state = $4, detail = COALESCE($5, detail), \
                     last_error = COALESCE($6, last_error), updated_ms = $7 \
                     WHERE mm_id = $1 AND address = $2 AND state = $3",
                )
                .bind(mm_id.as_str())
                .bind(address)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(event.detail())
                .bind(event.error())
                .bind(now.as_millis())
                .execute(&mut *c)
                .await?
                .rows_affected();
                if changed != 1 {
                    return Err(StoreError::Corrupt(format!("recipient {address} of {mm_id} changed concurrently")).into());
                }
                if let Some(lease) = &effects.complete {
                    complete(c, lease, now).await?;
                }
                enqueue_all(c, &effects.enqueue, now).await?;
                Ok(to)
            }

            /// [`update_recipient`] as one multi-statement query (SQLite): the state change is a
            /// compare-and-set over every state the event may leave ([`RecipientState::apply`]), and the
            /// item completion and new items ride in the same round trip. `None` when the recipient was
            /// not changed (unknown, or in a state the event does not apply to).
            async fn update_recipient_in_one_round_trip(
                c: &mut Conn,
                mm_id: &MmId,
                address: &str,
                event: &RecipientEvent,
                effects: &OutboxEffects,
                now: Timestamp,
            ) -> Result<Option<RecipientState>, UpdateError> {
                use std::fmt::Write as _;
                let moves: Vec<(RecipientState, RecipientState)> = $crate::ALL_STATES
                    .iter()
                    .filter_map(|from| from.apply(event).ok().map(|to| (*from, to)))
                    .collect();
                if moves.is_empty() {
                    return Ok(None);
                }
                let mut args = <<$Conn as sqlx::Connection>::Database as sqlx::Database>::Arguments::default();
                macro_rules! push {
                    ($value:expr) => {
                        sqlx::Arguments::add(&mut args, $value).map_err(|e| StoreError::Invalid(e.to_string()))?
                    };
                }
                push!(mm_id.as_str());
                push!(address.to_owned());
                push!(event.detail().map(str::to_owned));
                push!(event.error().map(str::to_owned));
                push!(now.as_millis());
                let mut n = 5;
                let mut next = || {
                    n += 1;
                    n
                };
                let (mut cases, mut froms) = (String::new(), Vec::new());
                for (from, to) in &moves {
                    let (f, t) = (next(), next());
                    let _ = write!(cases, " WHEN ${f} THEN ${t}");
                    froms.push(format!("${f}"));
                    push!(from.as_str());
                    push!(to.as_str());
                }
                let mut sql = format!(
                    "UPDATE recipient SET state = CASE state{cases} END, detail = COALESCE($3, detail), \
                     last_error = COALESCE($4, last_error), updated_ms = $5 \
                     WHERE mm_id = $1 AND address = $2 AND state IN ({}) RETURNING 'recipient' AS step, state;",
                    froms.join(", ")
                );
                if let Some(lease) = &effects.complete {
                    let (i, o) = (next(), next());
                    let _ = write!(
                        sql,
                        "UPDATE outbox SET status = 'done', finished_ms = $5, lease_until_ms = NULL \
                         WHERE id = ${i} AND lease_owner = ${o} AND status = 'pending' RETURNING 'complete' AS step, NULL AS state;"
                    );
                    push!(lease.item.as_str());
                    push!(lease.owner.clone());
                }
                for item in &effects.enqueue {
                    let (i, k, key, mid, rc, p, due) = (next(), next(), next(), next(), next(), next(), next());
                    let _ = write!(
                        sql,
                        "INSERT INTO outbox (id, kind, idempotency_key, mm_id, recipient, payload, status, due_ms, \
                         attempts, created_ms) VALUES (${i}, ${k}, ${key}, ${mid}, ${rc}, ${p}, 'pending', ${due}, 0, $5) \
                         ON CONFLICT (idempotency_key) DO NOTHING;"
                    );
                    push!(ItemId::generate().as_str());
                    push!(item.kind.as_str());
                    push!(item.idempotency_key.clone());
                    push!(item.mm_id.as_ref().map(MmId::as_str));
                    push!(item.recipient.clone());
                    push!(item.payload.to_vec());
                    push!(item.due_at.as_millis());
                }
                // Only generated placeholders are spliced in; every value is bound.
                let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args).fetch_all(&mut *c).await?;
                let mut to = None;
                let mut completed = false;
                for row in &rows {
                    let step: String = row.try_get("step")?;
                    match step.as_str() {
                        "recipient" => {
                            let text: String = row.try_get("state")?;
                            to = Some(RecipientState::parse(&text).ok_or_else(|| corrupt("recipient state", &text))?);
                        }
                        _ => completed = true,
                    }
                }
                let Some(to) = to else {
                    return Ok(None);
                };
                if let Some(lease) = &effects.complete {
                    if !completed {
                        return Err(QueueError::LeaseLost { item: lease.item.to_string(), owner: lease.owner.clone() }.into());
                    }
                }
                Ok(Some(to))
            }

            pub(crate) async fn expire_due(c: &mut Conn, now: Timestamp, limit: u32) -> Result<Vec<ExpiredRecipient>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT r.mm_id, r.address, r.state, m.delivery_report, m.origin_kind FROM recipient r \
                     JOIN mm m ON m.id = r.mm_id \
                     WHERE r.state IN ('resolving', 'forwarding', 'notifying', 'notified') AND r.expiry_ms <= $1 \
                     ORDER BY r.expiry_ms LIMIT $2",
                    $expire_lock
                ))
                .bind(now.as_millis())
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await?;
                let mut expired = Vec::with_capacity(rows.len());
                for row in rows {
                    let mm_id = MmId::from_string(row.try_get("mm_id")?);
                    let address: String = row.try_get("address")?;
                    let text: String = row.try_get("state")?;
                    let was = RecipientState::parse(&text).ok_or_else(|| corrupt("recipient state", &text))?;
                    let wants_report: bool = row.try_get("delivery_report")?;
                    let origin: String = row.try_get("origin_kind")?;
                    let Ok(to) = was.on_expired() else { continue };
                    let changed = sqlx::query(
                        "UPDATE recipient SET state = $4, updated_ms = $5 WHERE mm_id = $1 AND address = $2 AND state = $3",
                    )
                    .bind(mm_id.as_str())
                    .bind(&address)
                    .bind(was.as_str())
                    .bind(to.as_str())
                    .bind(now.as_millis())
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                    if changed != 1 {
                        continue;
                    }
                    sqlx::query(
                        "UPDATE outbox SET status = 'cancelled', finished_ms = $3, lease_until_ms = NULL \
                         WHERE mm_id = $1 AND recipient = $2 AND status = 'pending'",
                    )
                    .bind(mm_id.as_str())
                    .bind(&address)
                    .bind(now.as_millis())
                    .execute(&mut *c)
                    .await?;
                    let mut report_queued = false;
                    if wants_report {
                        let kind = if origin == "mm4" { OutboxKind::Mm4DeliveryReport } else { OutboxKind::DeliveryInd };
                        report_queued = enqueue(c, &NewOutboxItem::for_recipient(kind, &mm_id, &address, now), now).await?;
                    }
                    expired.push(ExpiredRecipient { mm_id, address, was, report_queued });
                }
                Ok(expired)
            }

            pub(crate) async fn retrieval_target(c: &mut Conn, token: RetrievalToken) -> Result<Option<(MmId, String)>, StoreError> {
                let row = sqlx::query("SELECT mm_id, recipient FROM retrieval_token WHERE token = $1")
                    .bind(token.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
                match row {
                    Some(row) => Ok(Some((MmId::from_string(row.try_get("mm_id")?), row.try_get("recipient")?))),
                    None => Ok(None),
                }
            }

            pub(crate) async fn put_subscriber(c: &mut Conn, impu: String, msisdn: String) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO subscriber (impu, msisdn) VALUES ($1, $2) \
                     ON CONFLICT (impu) DO UPDATE SET msisdn = excluded.msisdn",
                )
                .bind(impu)
                .bind(msisdn)
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            pub(crate) async fn remove_subscriber(c: &mut Conn, impu: String) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM subscriber WHERE impu = $1").bind(impu).execute(&mut *c).await?;
                Ok(n.rows_affected() > 0)
            }

            pub(crate) async fn msisdn_for_impu(c: &mut Conn, impu: String) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT msisdn FROM subscriber WHERE impu = $1")
                    .bind(impu)
                    .fetch_optional(&mut *c)
                    .await?;
                Ok(row.map(|r| r.try_get("msisdn")).transpose()?)
            }

            pub(crate) async fn impus_for_msisdn(c: &mut Conn, msisdn: String) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query("SELECT impu FROM subscriber WHERE msisdn = $1 ORDER BY impu")
                    .bind(msisdn)
                    .fetch_all(&mut *c)
                    .await?;
                Ok(rows.iter().map(|r| r.try_get("impu")).collect::<Result<_, _>>()?)
            }

            pub(crate) async fn subscribers(c: &mut Conn) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query("SELECT impu, msisdn FROM subscriber ORDER BY impu")
                    .fetch_all(&mut *c)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("impu")?, r.try_get("msisdn")?)))
                    .collect()
            }

            pub(crate) async fn radius_start(c: &mut Conn, b: RadiusBinding) -> Result<(), StoreError> {
                let (client, nas_ip, identifier) = match b.nas {
                    Some(n) => (Some(n.client), Some(n.ip), n.identifier),
                    None => (None, None, None),
                };
                sqlx::query(
                    "INSERT INTO radius_binding (ip, msisdn, session_id, updated_ms, nas_client, nas_ip, nas_identifier) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (ip) DO UPDATE SET msisdn = excluded.msisdn, session_id = excluded.session_id, \
                     updated_ms = excluded.updated_ms, nas_client = excluded.nas_client, nas_ip = excluded.nas_ip, \
                     nas_identifier = excluded.nas_identifier",
                )
                .bind(b.ip)
                .bind(b.msisdn)
                .bind(b.session_id)
                .bind(b.updated_at.as_millis())
                .bind(client)
                .bind(nas_ip)
                .bind(identifier)
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            pub(crate) async fn radius_stop(c: &mut Conn, ip: String, session_id: String) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM radius_binding WHERE ip = $1 AND session_id = $2")
                    .bind(ip)
                    .bind(session_id)
                    .execute(&mut *c)
                    .await?;
                Ok(n.rows_affected() > 0)
            }

            pub(crate) async fn radius_binding(c: &mut Conn, ip: String) -> Result<Option<RadiusBinding>, StoreError> {
                let row = sqlx::query(
                    "SELECT ip, msisdn, session_id, updated_ms, nas_client, nas_ip, nas_identifier \
                     FROM radius_binding WHERE ip = $1",
                )
                .bind(ip)
                .fetch_optional(&mut *c)
                .await?;
                let Some(r) = row else { return Ok(None) };
                let client: Option<String> = r.try_get("nas_client")?;
                let nas_ip: Option<String> = r.try_get("nas_ip")?;
                let nas = match (client, nas_ip) {
                    (Some(client), Some(ip)) => Some(NasKey { client, ip, identifier: r.try_get("nas_identifier")? }),
                    _ => None,
                };
                Ok(Some(RadiusBinding {
                    ip: r.try_get("ip")?,
                    msisdn: r.try_get("msisdn")?,
                    session_id: r.try_get("session_id")?,
                    updated_at: Timestamp::from_millis(r.try_get("updated_ms")?),
                    nas,
                }))
            }

            pub(crate) async fn radius_nas_reset(c: &mut Conn, nas: NasKey) -> Result<u64, StoreError> {
                // A NULL identifier matches nothing (`= NULL` is unknown), so then only the IP counts.
                let n = sqlx::query(
                    "DELETE FROM radius_binding WHERE nas_client IS NULL \
                     OR (nas_client = $1 AND (nas_ip = $2 OR nas_identifier = $3))",
                )
                .bind(nas.client)
                .bind(nas.ip)
                .bind(nas.identifier)
                .execute(&mut *c)
                .await?;
                Ok(n.rows_affected())
            }

            pub(crate) async fn purge(c: &mut Conn, before: Timestamp) -> Result<u64, StoreError> {
                let items = sqlx::query("DELETE FROM outbox WHERE status <> 'pending' AND finished_ms < $1")
                    .bind(before.as_millis())
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
                let mms = sqlx::query(
                    "DELETE FROM mm WHERE expiry_ms < $1 AND NOT EXISTS (SELECT 1 FROM recipient r \
                     WHERE r.mm_id = mm.id AND r.state IN ('resolving', 'forwarding', 'notifying', 'notified')) \
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.mm_id = mm.id AND o.status = 'pending')",
                )
                .bind(before.as_millis())
                .execute(&mut *c)
                .await?
                .rows_affected();
                Ok(items + mms)
            }
        }

        impl $crate::Store for $Store {
            async fn accept_mm(
                &self,
                mm: $crate::NewMm,
                recipients: Vec<$crate::NewRecipient>,
                outbox: Vec<$crate::NewOutboxItem>,
                now: $crate::Timestamp,
            ) -> Result<$crate::AcceptOutcome, $crate::StoreError> {
                // The writer may run a request more than once: share the MM rather than copy it.
                let request = std::sync::Arc::new((mm, recipients, outbox));
                self.write(move |c| {
                    let request = std::sync::Arc::clone(&request);
                    Box::pin(async move {
                        let (mm, recipients, outbox) = &*request;
                        q::accept(c, mm, recipients, outbox, now).await
                    })
                })
                .await
            }

            async fn mm(&self, id: &$crate::MmId) -> Result<Option<$crate::StoredMm>, $crate::StoreError> {
                let id = id.clone();
                self.read(move |c| Box::pin(q::load_mm(c, id))).await
            }

            async fn mm_head(&self, id: &$crate::MmId) -> Result<Option<$crate::MmHead>, $crate::StoreError> {
                let id = id.clone();
                self.read(move |c| Box::pin(q::load_mm_head(c, id))).await
            }

            async fn mm_with_recipient(
                &self,
                id: &$crate::MmId,
                recipient: &str,
            ) -> Result<Option<($crate::StoredMm, Option<$crate::RecipientRecord>)>, $crate::StoreError> {
                let (id, recipient) = (id.clone(), recipient.to_owned());
                self.read(move |c| Box::pin(q::mm_with_recipient(c, id, recipient))).await
            }

            async fn recipient_view(
                &self,
                id: &$crate::MmId,
                recipient: &str,
                impu: Option<&str>,
            ) -> Result<Option<$crate::RecipientView>, $crate::StoreError> {
                let (id, recipient, impu) = (id.clone(), recipient.to_owned(), impu.map(str::to_owned));
                self.read(move |c| Box::pin(q::recipient_view(c, id, recipient, impu))).await
            }

            async fn recipients(&self, id: &$crate::MmId) -> Result<Vec<$crate::RecipientRecord>, $crate::StoreError> {
                let id = id.clone();
                self.read(move |c| Box::pin(q::recipients(c, id))).await
            }

            async fn mm_by_message_id(
                &self,
                message_id: &str,
                recipient: &str,
            ) -> Result<Vec<$crate::MessageRecipient>, $crate::StoreError> {
                let (message_id, recipient) = (message_id.to_owned(), recipient.to_owned());
                self.read(move |c| Box::pin(q::mm_by_message_id(c, message_id, recipient))).await
            }

            async fn update_recipient(
                &self,
                mm_id: &$crate::MmId,
                address: &str,
                event: $crate::RecipientEvent,
                effects: $crate::OutboxEffects,
                now: $crate::Timestamp,
            ) -> Result<$crate::RecipientState, $crate::UpdateError> {
                // The writer may run a request more than once: share it rather than copy it.
                let request = std::sync::Arc::new((mm_id.clone(), address.to_owned(), event, effects));
                self.write(move |c| {
                    let request = std::sync::Arc::clone(&request);
                    Box::pin(async move {
                        let (mm_id, address, event, effects) = &*request;
                        q::update_recipient(c, mm_id, address, event, effects, now).await
                    })
                })
                .await
            }

            async fn enqueue(&self, items: Vec<$crate::NewOutboxItem>, now: $crate::Timestamp) -> Result<usize, $crate::StoreError> {
                self.write(move |c| {
                    let items = items.clone();
                    Box::pin(async move { q::enqueue_all(c, &items, now).await })
                })
                .await
            }

            async fn lease(
                &self,
                kinds: &[$crate::OutboxKind],
                n: u32,
                owner: &str,
                lease_for: std::time::Duration,
                now: $crate::Timestamp,
            ) -> Result<Vec<$crate::LeasedItem>, $crate::StoreError> {
                let (kinds, owner) = (kinds.to_vec(), owner.to_owned());
                let until = now.plus(lease_for);
                self.write(move |c| {
                    let (kinds, owner) = (kinds.clone(), owner.clone());
                    Box::pin(async move { q::lease(c, &kinds, n, &owner, until, now).await })
                })
                .await
            }

            async fn release_leases(
                &self,
                kinds: &[$crate::OutboxKind],
                owner: &str,
                leased_at: $crate::Timestamp,
            ) -> Result<u64, $crate::StoreError> {
                let (kinds, owner) = (kinds.to_vec(), owner.to_owned());
                self.write(move |c| {
                    let (kinds, owner) = (kinds.clone(), owner.clone());
                    Box::pin(async move { q::release_leases(c, &kinds, &owner, leased_at).await })
                })
                .await
            }

            async fn complete(&self, lease: &$crate::Lease, now: $crate::Timestamp) -> Result<(), $crate::QueueError> {
                let lease = lease.clone();
                self.write(move |c| {
                    let lease = lease.clone();
                    Box::pin(async move { q::complete(c, &lease, now).await })
                })
                .await
            }

            async fn retry(
                &self,
                lease: &$crate::Lease,
                due_at: $crate::Timestamp,
                error: &str,
                now: $crate::Timestamp,
            ) -> Result<(), $crate::QueueError> {
                let (lease, error) = (lease.clone(), error.to_owned());
                self.write(move |c| {
                    let (lease, error) = (lease.clone(), error.clone());
                    Box::pin(async move { q::retry(c, &lease, due_at, &error, now).await })
                })
                .await
            }

            async fn fail(&self, lease: &$crate::Lease, error: &str, now: $crate::Timestamp) -> Result<(), $crate::QueueError> {
                let (lease, error) = (lease.clone(), error.to_owned());
                self.write(move |c| {
                    let (lease, error) = (lease.clone(), error.clone());
                    Box::pin(async move { q::fail(c, &lease, &error, now).await })
                })
                .await
            }

            async fn expire_due(&self, now: $crate::Timestamp, limit: u32) -> Result<Vec<$crate::ExpiredRecipient>, $crate::StoreError> {
                self.write(move |c| Box::pin(q::expire_due(c, now, limit))).await
            }

            async fn retrieval_target(
                &self,
                token: &$crate::RetrievalToken,
            ) -> Result<Option<($crate::MmId, String)>, $crate::StoreError> {
                let token = token.clone();
                self.read(move |c| Box::pin(q::retrieval_target(c, token))).await
            }

            async fn put_subscriber(&self, impu: &str, msisdn: &str) -> Result<(), $crate::StoreError> {
                let (impu, msisdn) = (impu.to_owned(), msisdn.to_owned());
                self.write(move |c| Box::pin(q::put_subscriber(c, impu.clone(), msisdn.clone()))).await
            }

            async fn remove_subscriber(&self, impu: &str) -> Result<bool, $crate::StoreError> {
                let impu = impu.to_owned();
                self.write(move |c| Box::pin(q::remove_subscriber(c, impu.clone()))).await
            }

            async fn msisdn_for_impu(&self, impu: &str) -> Result<Option<String>, $crate::StoreError> {
                let impu = impu.to_owned();
                self.read(move |c| Box::pin(q::msisdn_for_impu(c, impu))).await
            }

            async fn impus_for_msisdn(&self, msisdn: &str) -> Result<Vec<String>, $crate::StoreError> {
                let msisdn = msisdn.to_owned();
                self.read(move |c| Box::pin(q::impus_for_msisdn(c, msisdn))).await
            }

            async fn subscribers(&self) -> Result<Vec<(String, String)>, $crate::StoreError> {
                self.read(move |c| Box::pin(q::subscribers(c))).await
            }

            async fn radius_start(&self, binding: $crate::RadiusBinding) -> Result<(), $crate::StoreError> {
                self.write(move |c| Box::pin(q::radius_start(c, binding.clone()))).await
            }

            async fn radius_stop(&self, ip: &str, session_id: &str) -> Result<bool, $crate::StoreError> {
                let (ip, session_id) = (ip.to_owned(), session_id.to_owned());
                self.write(move |c| Box::pin(q::radius_stop(c, ip.clone(), session_id.clone()))).await
            }

            async fn radius_binding(&self, ip: &str) -> Result<Option<$crate::RadiusBinding>, $crate::StoreError> {
                let ip = ip.to_owned();
                self.read(move |c| Box::pin(q::radius_binding(c, ip))).await
            }

            async fn radius_nas_reset(&self, nas: &$crate::NasKey) -> Result<u64, $crate::StoreError> {
                let nas = nas.clone();
                self.write(move |c| Box::pin(q::radius_nas_reset(c, nas.clone()))).await
            }

            async fn purge(&self, before: $crate::Timestamp) -> Result<u64, $crate::StoreError> {
                self.write(move |c| Box::pin(q::purge(c, before))).await
            }
        }
    };
}

pub(crate) use backend;
