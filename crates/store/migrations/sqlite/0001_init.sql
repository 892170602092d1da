-- mmsrelay store schema v1 (DESIGN.md §7), SQLite flavour. Keep in step with ../postgres/0001_init.sql:
-- the same tables, columns and indexes; only the blob type differs.
CREATE TABLE mm (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,
    sender          TEXT NOT NULL,
    mms_version     TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    subject         TEXT,
    size            BIGINT NOT NULL,
    date_ms         BIGINT NOT NULL,
    expiry_ms       BIGINT NOT NULL,
    delivery_report BOOLEAN NOT NULL,
    read_report     BOOLEAN NOT NULL,
    origin_kind     TEXT NOT NULL,
    origin_detail   TEXT NOT NULL,
    headers         BLOB NOT NULL,
    body            BLOB NOT NULL,
    received_ms     BIGINT NOT NULL
);
CREATE INDEX mm_message_id ON mm (message_id);

CREATE TABLE recipient (
    mm_id      TEXT NOT NULL REFERENCES mm (id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    state      TEXT NOT NULL,
    detail     TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    expiry_ms  BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (mm_id, address)
);
CREATE INDEX recipient_pending_expiry ON recipient (expiry_ms)
    WHERE state IN ('resolving', 'forwarding', 'notifying', 'notified');

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    mm_id           TEXT,
    recipient       TEXT,
    payload         BLOB NOT NULL,
    status          TEXT NOT NULL,
    due_ms          BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    created_ms      BIGINT NOT NULL,
    finished_ms     BIGINT
);
CREATE INDEX outbox_pending_due ON outbox (kind, due_ms) WHERE status = 'pending';
CREATE INDEX outbox_pending_recipient ON outbox (mm_id, recipient) WHERE status = 'pending';
CREATE INDEX outbox_finished ON outbox (finished_ms) WHERE status <> 'pending';

CREATE TABLE subscriber (
    impu   TEXT PRIMARY KEY,
    msisdn TEXT NOT NULL
);
CREATE INDEX subscriber_msisdn ON subscriber (msisdn);

CREATE TABLE radius_binding (
    ip         TEXT PRIMARY KEY,
    msisdn     TEXT NOT NULL,
    session_id TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE seen_mm4 (
    message_id TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    seen_ms    BIGINT NOT NULL,
    PRIMARY KEY (message_id, recipient)
);

CREATE TABLE retrieval_token (
    token      TEXT PRIMARY KEY,
    mm_id      TEXT NOT NULL REFERENCES mm (id) ON DELETE CASCADE,
    recipient  TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX retrieval_token_mm ON retrieval_token (mm_id);
