//! One row of either backend, read by column name: every row mapper
//! (`fn project(r: &impl Columns) -> Result<Project>` and the rest) is written
//! once, in the SQLite file of its store, and the PostgreSQL twin imports it.
//! That works because the PostgreSQL schema keeps SQLite's representations
//! (unix seconds and 0/1 flags as `BIGINT`, JSON as `TEXT`, bytes as `BYTEA`):
//! a column decodes to the same Rust type on both engines (docs/design.md,
//! "PostgreSQL: a twin per SQLite file").

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Postgres, Sqlite, Type};

use super::Result;

/// A Rust type that a column decodes to on both engines (`i64`, `String`,
/// `&str`, `Vec<u8>`, `Option` of them).
pub(super) trait Column<'r>:
    Sized + Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres>
{
}

impl<'r, T> Column<'r> for T where
    T: Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres>
{
}

/// A result row of either backend.
pub(super) trait Columns {
    /// The column `name`, decoded as `T`; a missing column or another type is
    /// an error, as with `sqlx::Row::try_get`.
    fn col<'r, T: Column<'r>>(&'r self, name: &str) -> Result<T>;
}

impl Columns for SqliteRow {
    fn col<'r, T: Column<'r>>(&'r self, name: &str) -> Result<T> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl Columns for PgRow {
    fn col<'r, T: Column<'r>>(&'r self, name: &str) -> Result<T> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}
