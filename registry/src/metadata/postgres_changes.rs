//! [`ChangeFeed`] on PostgreSQL: `pg_notify` on one channel, heard through
//! sqlx's `PgListener` (its own connection, re-established when lost).

use async_trait::async_trait;
use sqlx::postgres::PgListener;

use super::Result;
use super::changes::{Change, ChangeFeed, ChangeListener, Heard};
use super::postgres::PgMetadata;

const CHANNEL: &str = "wharf_changes";

#[async_trait]
impl ChangeFeed for PgMetadata {
    async fn announce(&self, change: Change) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.as_str())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Option<Box<dyn ChangeListener>>> {
        let mut listener = PgListener::connect_with(&self.write).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(PgChanges(listener))))
    }
}

struct PgChanges(PgListener);

#[async_trait]
impl ChangeListener for PgChanges {
    async fn next(&mut self) -> Result<Heard> {
        loop {
            // `None`: the connection was lost; the next call reconnects and listens again.
            match self.0.try_recv().await? {
                None => return Ok(Heard::Gap),
                Some(n) => {
                    if let Some(change) = Change::parse(n.payload()) {
                        return Ok(Heard::Change(change));
                    }
                }
            }
        }
    }
}
