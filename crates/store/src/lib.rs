//! Durable store and work queues (DESIGN.md §7): SQLite and PostgreSQL on sqlx.
#![forbid(unsafe_code)]
