//! The store's test suite: the same behaviour on SQLite and PostgreSQL, crash recovery, and two
//! nodes sharing one PostgreSQL queue (DESIGN.md §7).

mod crash;
mod disk_full;
mod lost_answer;
mod suite;
mod support;
