//! Delivery and read reports back to the sender (MMS ENC 1.3 §6.6, §6.7; TS 23.140 §8.4.2,
//! §8.4.3), and the one place where a recipient's permanent failure becomes its state change plus
//! its delivery report.
//!
//! A report travels as an outbox item: [`OutboxKind::DeliveryInd`] (pushed to a local sender as
//! `m-delivery-ind`, see [`crate::notifier`]) or [`OutboxKind::Mm4DeliveryReport`] (sent to the
//! originating relay as `MM4_delivery_report.REQ`, see [`crate::mm4`]). Items are keyed
//! `<kind>:<mm id>:<recipient>` like the store's expiry reports, so one recipient gets one
//! report whoever queues it. The store queues expiry reports with an empty payload;
//! [`delivery_report_of`] rebuilds those from the stored MM and recipient.

use mms_pdu::Status;
use mms_store::{
    LeasedItem, MmHead, MmId, MmMeta, NewOutboxItem, Origin, OutboxEffects, OutboxKind,
    RecipientEvent, RecipientRecord, RecipientState, Store, StoreError, StoredMm, Timestamp,
    UpdateError,
};

use crate::jobs::{
    DeliveryIndJob, DeliveryReportJob, Job, Mm4DeliveryReportJob, Mm4ReadReplyJob, ReadOrigIndJob,
    ReadReportJob,
};
use crate::worker::{Outcome, StoreRetry, Wake};

/// Seconds since the epoch of a store timestamp.
pub(crate) fn secs(t: Timestamp) -> u64 {
    u64::try_from(t.as_millis() / 1000).unwrap_or(0)
}

/// A store timestamp of seconds since the epoch.
pub(crate) fn from_secs(s: u64) -> Timestamp {
    Timestamp::from_millis(i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX))
}

/// The X-Mms-Status (MMS ENC §7.3.54) a delivery report carries for a recipient in `state`.
pub fn status_of_state(state: RecipientState) -> Status {
    match state {
        RecipientState::Expired => Status::EXPIRED,
        RecipientState::Retrieved => Status::RETRIEVED,
        RecipientState::Rejected => Status::REJECTED,
        RecipientState::Forwarded => Status::FORWARDED,
        RecipientState::Failed => Status::UNREACHABLE,
        RecipientState::Resolving
        | RecipientState::Forwarding
        | RecipientState::Notifying
        | RecipientState::Notified => Status::INDETERMINATE,
    }
}

/// The delivery report item for `recipient` of `mm` with `status`, when its sender asked for
/// delivery reports (X-Mms-Delivery-Report: Yes): `m-delivery-ind` for an MM1 sender,
/// `MM4_delivery_report.REQ` for an MM4 one.
pub fn delivery_report_item(
    mm_id: &MmId,
    meta: &MmMeta,
    recipient: &str,
    status: Status,
    status_text: Option<String>,
    now: Timestamp,
) -> Option<NewOutboxItem> {
    if !meta.delivery_report {
        return None;
    }
    let report = DeliveryReportJob {
        message_id: meta.message_id.clone(),
        sender: meta.from.clone(),
        recipient: recipient.to_owned(),
        status: status.0,
        status_text,
        date: secs(now),
        originator_system: match &meta.origin {
            Origin::Mm4 { originator_system } => Some(originator_system.clone()),
            Origin::Mm1 { .. } => None,
        },
    };
    let (kind, payload) = match &meta.origin {
        Origin::Mm1 { .. } => (OutboxKind::DeliveryInd, DeliveryIndJob(report).to_payload()),
        Origin::Mm4 { .. } => (
            OutboxKind::Mm4DeliveryReport,
            Mm4DeliveryReportJob(report).to_payload(),
        ),
    };
    Some(NewOutboxItem::for_recipient(kind, mm_id, recipient, now).with_payload(payload))
}

/// What became of a leased recipient item after `update_recipient` returned `result`.
pub(crate) fn outcome_of_update(result: Result<RecipientState, UpdateError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Settled,
        // The recipient moved on meanwhile (expired, retrieved, failed by another path):
        // nothing left for this item to do.
        Err(UpdateError::Transition(t)) => {
            tracing::debug!(error = %t, "recipient already past this step");
            Outcome::Done
        }
        Err(UpdateError::UnknownRecipient { mm_id, recipient }) => Outcome::Fail {
            error: format!("no recipient {recipient} of MM {mm_id}"),
        },
        // Another node holds the item now; it settles it.
        Err(UpdateError::LeaseLost { .. }) => Outcome::Settled,
        Err(e) => Outcome::Retry {
            error: format!("store: {e}"),
            expiry: None,
        },
    }
}

/// An MM as a worker read it: its head ([`MmHead`]) or the whole stored MM ([`StoredMm`]).
pub(crate) trait ReadMm {
    /// The store's key and the indexed fields.
    fn id_and_meta(&self) -> (&MmId, &MmMeta);
}

impl ReadMm for MmHead {
    fn id_and_meta(&self) -> (&MmId, &MmMeta) {
        (&self.id, &self.meta)
    }
}

impl ReadMm for StoredMm {
    fn id_and_meta(&self) -> (&MmId, &MmMeta) {
        (&self.id, &self.meta)
    }
}

/// What the workers that settle recipients share: the store and the wake-up of the loops whose
/// items a change queues.
pub(crate) struct WorkerContext<S> {
    /// The store the recipients are in.
    pub(crate) store: S,
    /// Wakes the loops of the items a change queued.
    pub(crate) wake: Wake,
}

impl<S: Store> WorkerContext<S> {
    /// Fails `recipient` of `mm` for good (DESIGN.md §3: unresolvable, unknown user, permanent
    /// peer or SMSC error): state `Failed`, the leased `item` completed and the delivery report
    /// queued, all in one transaction.
    pub(crate) async fn fail_recipient(
        &self,
        item: &LeasedItem,
        mm: &impl ReadMm,
        recipient: &str,
        error: String,
        status: Status,
    ) -> Outcome {
        let (mm_id, meta) = mm.id_and_meta();
        let now = Timestamp::now();
        tracing::info!(mm = %mm_id, recipient, error = %error, status = status.0, "recipient failed");
        let effects = OutboxEffects {
            complete: Some(item.lease()),
            enqueue: delivery_report_item(mm_id, meta, recipient, status, Some(error.clone()), now)
                .into_iter()
                .collect(),
        };
        let queued: Vec<OutboxKind> = effects.enqueue.iter().map(|i| i.kind).collect();
        let result = self
            .update_while_leased(
                item,
                mm_id,
                recipient,
                RecipientEvent::Failed { error },
                effects,
            )
            .await;
        if result.is_ok() {
            self.wake.kinds(queued);
        }
        outcome_of_update(result)
    }

    /// Moves `recipient` of `mm_id` on by `event` after the item's work succeeded (a push sent,
    /// a forward accepted), completing the leased `item` in the same transaction, with no new
    /// work queued.
    pub(crate) async fn advance(
        &self,
        item: &LeasedItem,
        mm_id: &MmId,
        recipient: &str,
        event: RecipientEvent,
    ) -> Outcome {
        let effects = OutboxEffects {
            complete: Some(item.lease()),
            enqueue: Vec::new(),
        };
        outcome_of_update(
            self.update_while_leased(item, mm_id, recipient, event, effects)
                .await,
        )
    }

    /// `update_recipient`, tried again while the store is away and `item`'s lease lasts
    /// ([`StoreRetry`]): the work the change records is done (a push sent, a forward accepted), and
    /// giving up at once would put the item back to be done a second time.
    async fn update_while_leased(
        &self,
        item: &LeasedItem,
        mm_id: &MmId,
        recipient: &str,
        event: RecipientEvent,
        effects: OutboxEffects,
    ) -> Result<RecipientState, UpdateError> {
        let mut again = StoreRetry::until(item.lease_until);
        loop {
            let result = self
                .store
                .update_recipient(
                    mm_id,
                    recipient,
                    event.clone(),
                    effects.clone(),
                    Timestamp::now(),
                )
                .await;
            let pause = match &result {
                Err(UpdateError::Store(e)) if e.is_transient() => {
                    match again.next_pause(Timestamp::now()) {
                        Some(pause) => {
                            tracing::debug!(mm = %mm_id, recipient, error = %e, "recipient update failed, will try again");
                            pause
                        }
                        None => return result,
                    }
                }
                _ => return result,
            };
            tokio::time::sleep(pause).await;
        }
    }
}

/// A leased item for one recipient of a stored MM ([`OutboxKind::Resolve`], [`OutboxKind::Push`],
/// [`OutboxKind::Mm4Forward`]): its job and the MM and recipient it names. The routing, notifier
/// and MM4 out handlers begin with it: [`RecipientItem::of`], their own read of the MM, then
/// [`RecipientItem::mm`] or [`RecipientItem::mm_and_record`]; an `Err` on the way is the item's
/// outcome.
pub(crate) struct RecipientItem<'i, J> {
    /// The decoded payload.
    pub(crate) job: J,
    /// The MM the item names.
    pub(crate) mm_id: &'i MmId,
    /// The recipient the item names.
    pub(crate) recipient: &'i str,
}

impl<'i, J: Job> RecipientItem<'i, J> {
    /// The job and names of `item`: its payload decoded as `J`, or `empty` when the payload is
    /// empty and `empty` is given. `Err`: [`Outcome::Fail`] for a payload that does not decode or
    /// an item that names no MM and recipient (`what` names the item in the error).
    pub(crate) fn of(item: &'i LeasedItem, what: &str, empty: Option<J>) -> Result<Self, Outcome> {
        let job = match empty {
            Some(job) if item.payload.is_empty() => job,
            _ => J::from_payload(&item.payload).map_err(|e| Outcome::Fail {
                error: e.to_string(),
            })?,
        };
        let (Some(mm_id), Some(recipient)) = (&item.mm_id, &item.recipient) else {
            return Err(Outcome::Fail {
                error: format!("{what} item names no MM and recipient"),
            });
        };
        Ok(Self {
            job,
            mm_id,
            recipient,
        })
    }

    /// What the store answered to one read of the item's MM. `Err`: [`Outcome::Retry`] for a store
    /// error, [`Outcome::Fail`] when the MM is no longer stored.
    pub(crate) fn mm<T>(&self, read: Result<Option<T>, StoreError>) -> Result<T, Outcome> {
        found(read, || format!("MM {} is no longer stored", self.mm_id))
    }

    /// What the store answered to one read of the item's MM with the recipient's record. `Err`:
    /// [`Outcome::Retry`] for a store error, [`Outcome::Fail`] when the MM or the recipient is no
    /// longer stored.
    pub(crate) fn mm_and_record<M>(
        &self,
        read: Result<Option<(M, Option<RecipientRecord>)>, StoreError>,
    ) -> Result<(M, RecipientRecord), Outcome> {
        let read = read.map(|found| found.and_then(|(mm, record)| Some((mm, record?))));
        found(read, || {
            format!(
                "MM {} or recipient {} is no longer stored",
                self.mm_id, self.recipient
            )
        })
    }
}

/// `read`'s value; `Err`: [`Outcome::Fail`] with `gone` when it found nothing, [`Outcome::Retry`]
/// for a store error.
fn found<T>(
    read: Result<Option<T>, StoreError>,
    gone: impl FnOnce() -> String,
) -> Result<T, Outcome> {
    match read {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(Outcome::Fail { error: gone() }),
        Err(e) => Err(Outcome::Retry {
            error: format!("store: {e}"),
            expiry: None,
        }),
    }
}

/// Why a report item cannot be turned into a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportItemError {
    /// The payload does not decode as its kind's job.
    #[error(transparent)]
    Payload(#[from] crate::jobs::JobError),
    /// An empty payload, and the item names no MM or recipient to rebuild it from.
    #[error("report item without payload names no MM and recipient")]
    Unnamed,
    /// The MM or the recipient is gone (purged).
    #[error("MM {0} or its recipient is no longer stored")]
    Gone(String),
    /// The store failed (transient).
    #[error("store: {0}")]
    Store(#[from] mms_store::StoreError),
}

/// The delivery report an item of kind [`OutboxKind::DeliveryInd`] or
/// [`OutboxKind::Mm4DeliveryReport`] stands for: its payload, or, for the store's expiry reports
/// (empty payload), the MM's sender and message id with the recipient's current state.
pub async fn delivery_report_of<S: Store>(
    store: &S,
    item: &LeasedItem,
) -> Result<DeliveryReportJob, ReportItemError> {
    if !item.payload.is_empty() {
        return Ok(match item.kind {
            OutboxKind::Mm4DeliveryReport => Mm4DeliveryReportJob::from_payload(&item.payload)?.0,
            _ => DeliveryIndJob::from_payload(&item.payload)?.0,
        });
    }
    let (Some(mm_id), Some(recipient)) = (&item.mm_id, &item.recipient) else {
        return Err(ReportItemError::Unnamed);
    };
    let view = store.recipient_view(mm_id, recipient, None).await?;
    let Some((mm, record)) = view.and_then(|v| Some((v.mm, v.record?))) else {
        return Err(ReportItemError::Gone(mm_id.to_string()));
    };
    Ok(DeliveryReportJob {
        message_id: mm.meta.message_id.clone(),
        sender: mm.meta.from.clone(),
        recipient: recipient.clone(),
        status: status_of_state(record.state).0,
        status_text: record.last_error.clone(),
        date: secs(record.updated_at),
        originator_system: match &mm.meta.origin {
            Origin::Mm4 { originator_system } => Some(originator_system.clone()),
            Origin::Mm1 { .. } => None,
        },
    })
}

/// The read report an item of kind [`OutboxKind::ReadOrigInd`] or [`OutboxKind::Mm4ReadReply`]
/// carries.
pub fn read_report_of(item: &LeasedItem) -> Result<ReadReportJob, ReportItemError> {
    Ok(match item.kind {
        OutboxKind::Mm4ReadReply => Mm4ReadReplyJob::from_payload(&item.payload)?.0,
        _ => ReadOrigIndJob::from_payload(&item.payload)?.0,
    })
}

/// The latest time a report is worth retrying: a day after the event it reports.
pub(crate) fn report_expiry(date_secs: u64, keep_secs: u64) -> Timestamp {
    from_secs(date_secs.saturating_add(keep_secs))
        .max(Timestamp::now().plus(std::time::Duration::from_secs(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm(origin: Origin, delivery_report: bool) -> (MmId, MmMeta) {
        (
            MmId::from_string("m1".into()),
            MmMeta {
                message_id: "msg-1@a.example".into(),
                transaction_id: "t".into(),
                from: "sip:alice@a.example".into(),
                mms_version: "1.2".into(),
                content_type: "text/plain".into(),
                subject: None,
                size: 10,
                date: Timestamp::from_millis(0),
                expiry: Timestamp::from_millis(1_000_000),
                delivery_report,
                read_report: false,
                origin,
            },
        )
    }

    #[test]
    fn no_report_item_when_the_sender_did_not_ask_mms_enc_7_3_13() {
        let (id, m) = mm(
            Origin::Mm1 {
                identity: "x".into(),
            },
            false,
        );
        assert!(
            delivery_report_item(
                &id,
                &m,
                "tel:+491",
                Status::UNREACHABLE,
                None,
                Timestamp::now()
            )
            .is_none()
        );
    }

    #[test]
    fn mm1_sender_gets_delivery_ind_and_mm4_sender_an_mm4_report_keyed_per_recipient() {
        let now = Timestamp::from_millis(5_000);
        let (id, m) = mm(
            Origin::Mm1 {
                identity: "x".into(),
            },
            true,
        );
        let item =
            delivery_report_item(&id, &m, "tel:+491", Status::UNREACHABLE, None, now).unwrap();
        assert_eq!(item.kind, OutboxKind::DeliveryInd);
        assert_eq!(item.idempotency_key, "delivery-ind:m1:tel:+491");
        let job = DeliveryIndJob::from_payload(&item.payload).unwrap().0;
        assert_eq!(
            (job.status, job.date, job.originator_system),
            (135, 5, None)
        );

        let (id, m) = mm(
            Origin::Mm4 {
                originator_system: "system-user@mms.a.example".into(),
            },
            true,
        );
        let item = delivery_report_item(&id, &m, "tel:+491", Status::EXPIRED, None, now).unwrap();
        assert_eq!(item.kind, OutboxKind::Mm4DeliveryReport);
        let job = Mm4DeliveryReportJob::from_payload(&item.payload).unwrap().0;
        assert_eq!(
            job.originator_system.as_deref(),
            Some("system-user@mms.a.example")
        );
        assert_eq!(job.status, 128);
    }

    fn leased(kind: OutboxKind, payload: &'static [u8], named: bool) -> LeasedItem {
        LeasedItem {
            id: mms_store::ItemId::from_string("i1".into()),
            kind,
            idempotency_key: "k".into(),
            mm_id: named.then(|| MmId::from_string("m1".into())),
            recipient: named.then(|| "tel:+491".to_owned()),
            payload: bytes::Bytes::from_static(payload),
            due_at: Timestamp::from_millis(0),
            attempts: 1,
            last_error: None,
            lease_owner: "w".into(),
            lease_until: Timestamp::from_millis(60_000),
        }
    }

    fn fail(error: &str) -> Outcome {
        Outcome::Fail {
            error: error.into(),
        }
    }

    #[test]
    fn recipient_item_decodes_its_job_or_fails_the_item() {
        use crate::jobs::{Mm4ForwardJob, PushJob};

        let item = leased(OutboxKind::Push, b"", true);
        let named = RecipientItem::of(&item, "push", Some(PushJob::default())).unwrap();
        assert_eq!(
            named.job,
            PushJob::default(),
            "an empty payload is the default"
        );
        assert_eq!((named.mm_id.as_str(), named.recipient), ("m1", "tel:+491"));

        let item = leased(OutboxKind::Push, br#"{"msisdn":"491"}"#, true);
        let named = RecipientItem::of(&item, "push", Some(PushJob::default())).unwrap();
        assert_eq!(named.job.msisdn.as_deref(), Some("491"));

        let item = leased(OutboxKind::Mm4Forward, b"", true);
        let Err(Outcome::Fail { error }) =
            RecipientItem::<Mm4ForwardJob>::of(&item, "forward", None)
        else {
            panic!("an empty payload of a job without default must fail the item");
        };
        assert!(
            error.starts_with("outbox mm4-forward payload does not decode"),
            "{error}"
        );

        let item = leased(OutboxKind::Push, br#"{"msisdn":"#, true);
        assert!(matches!(
            RecipientItem::of(&item, "push", Some(PushJob::default())),
            Err(Outcome::Fail { .. })
        ));

        let item = leased(OutboxKind::Push, b"", false);
        assert_eq!(
            RecipientItem::of(&item, "push", Some(PushJob::default())).err(),
            Some(fail("push item names no MM and recipient"))
        );
    }

    #[test]
    fn recipient_item_read_fails_a_gone_mm_and_retries_a_store_error() {
        use crate::jobs::PushJob;

        let item = leased(OutboxKind::Push, b"", true);
        let named = RecipientItem::of(&item, "push", Some(PushJob::default())).unwrap();
        assert_eq!(named.mm(Ok(Some(7))), Ok(7));
        assert_eq!(
            named.mm::<u8>(Ok(None)),
            Err(fail("MM m1 is no longer stored"))
        );
        assert_eq!(
            named.mm::<u8>(Err(StoreError::WriterStopped)),
            Err(Outcome::Retry {
                error: "store: the store's writer has stopped".into(),
                expiry: None,
            })
        );
        let gone = fail("MM m1 or recipient tel:+491 is no longer stored");
        assert_eq!(named.mm_and_record::<u8>(Ok(None)), Err(gone.clone()));
        assert_eq!(named.mm_and_record(Ok(Some((7u8, None)))), Err(gone));
        let record = RecipientRecord {
            mm_id: MmId::from_string("m1".into()),
            address: "tel:+491".into(),
            state: RecipientState::Notifying,
            detail: None,
            attempts: 1,
            last_error: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        };
        let (mm, found) = named.mm_and_record(Ok(Some((7u8, Some(record))))).unwrap();
        assert_eq!((mm, found.state), (7, RecipientState::Notifying));
        assert!(matches!(
            named.mm_and_record::<u8>(Err(StoreError::WriterStopped)),
            Err(Outcome::Retry { expiry: None, .. })
        ));
    }

    #[test]
    fn every_state_maps_to_a_report_status() {
        assert_eq!(status_of_state(RecipientState::Expired), Status::EXPIRED);
        assert_eq!(
            status_of_state(RecipientState::Retrieved),
            Status::RETRIEVED
        );
        assert_eq!(status_of_state(RecipientState::Rejected), Status::REJECTED);
        assert_eq!(status_of_state(RecipientState::Failed), Status::UNREACHABLE);
        assert_eq!(
            status_of_state(RecipientState::Notified),
            Status::INDETERMINATE
        );
    }
}
