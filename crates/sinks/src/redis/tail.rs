//! [`Tail`]: reads the merged opportunity stream (one or many publishers) back as JSON lines.

use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, Value};
use perpspread_net::redact_url;

use super::RedisConfig;
use super::RedisSinkError;
use crate::fields;

/// Where [`Tail`] starts reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailStart {
    /// Only entries added after the tail starts.
    New,
    /// Everything still in the stream.
    Beginning,
    /// Entries after this stream ID.
    After(String),
}

impl std::str::FromStr for TailStart {
    type Err = String;
    /// `new` (or `$`), `all` (or `0`), or a stream ID such as `1715608700000-0`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "new" | "$" => Ok(TailStart::New),
            "all" | "0" | "0-0" => Ok(TailStart::Beginning),
            // `<ms>` or `<ms>-<seq>`, each a 64-bit integer, as Redis accepts them.
            id if id.splitn(3, '-').count() <= 2
                && id
                    .split('-')
                    .all(|part| part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u64>().is_ok()) =>
            {
                Ok(TailStart::After(id.to_owned()))
            }
            other => Err(format!("invalid start {other:?}: use new, all or a stream ID like 1715608700000-0")),
        }
    }
}

/// One entry read by [`Tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailEntry {
    /// Stream key.
    pub key: String,
    /// Stream entry ID (`<ms>-<seq>`).
    pub id: String,
    /// The entry as a JSON line (same schema as `monitor --json`).
    pub json: String,
}

/// Reads streams with `XREAD BLOCK` and yields JSON lines: `perpspread tail --redis URL`. Entries of all
/// shards publishing into the same Redis arrive merged, in stream order.
#[derive(Debug)]
pub struct Tail {
    client: Client,
    conn: Option<MultiplexedConnection>,
    keys: Vec<String>,
    /// Last ID read per key (`None` until resolved for [`TailStart::New`]).
    ids: Vec<Option<String>>,
    /// `XREAD BLOCK` time.
    pub block: Duration,
    /// `XREAD COUNT`.
    pub count: usize,
}

impl Tail {
    /// A tail of `keys` (e.g. `perpspread:opportunities`).
    pub fn new(url: &str, keys: Vec<String>, start: TailStart) -> Result<Tail, RedisSinkError> {
        let client =
            Client::open(url).map_err(|source| RedisSinkError::Url { url: redact_url(url).into_owned(), source })?;
        let id = match start {
            TailStart::New => None,
            TailStart::Beginning => Some("0-0".to_owned()),
            TailStart::After(id) => Some(id),
        };
        let ids = vec![id; keys.len()];
        Ok(Tail { client, conn: None, keys, ids, block: Duration::from_secs(1), count: 512 })
    }

    /// A tail of `perpspread:opportunities`.
    pub fn opportunities(url: &str, start: TailStart) -> Result<Tail, RedisSinkError> {
        Tail::new(url, vec![RedisConfig::new(url).opportunities_key()], start)
    }

    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, RedisSinkError> {
        if self.conn.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(Some(self.block + Duration::from_secs(5)));
            let conn = self.client.get_multiplexed_async_connection_with_config(&config).await?;
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(|| RedisSinkError::Protocol("no connection".to_owned()))
    }

    /// Waits up to [`Tail::block`] for new entries; returns them (possibly none). After an error the next
    /// call reconnects and resumes after the last entry returned.
    pub async fn next_batch(&mut self) -> Result<Vec<TailEntry>, RedisSinkError> {
        let result = self.read().await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn read(&mut self) -> Result<Vec<TailEntry>, RedisSinkError> {
        // Resolve "new entries only" to the current last ID so that nothing between calls is missed.
        for index in 0..self.keys.len() {
            if self.ids[index].is_none() {
                let key = self.keys[index].clone();
                let conn = self.connection().await?;
                let reply: Value =
                    ::redis::cmd("XREVRANGE").arg(&key).arg("+").arg("-").arg("COUNT").arg(1).query_async(conn).await?;
                let last = parse_entries(&reply)?.into_iter().next().map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                self.ids[index] = Some(last);
            }
        }
        let (block, count) = (self.block.as_millis() as u64, self.count.max(1));
        let mut cmd = ::redis::cmd("XREAD");
        cmd.arg("COUNT").arg(count).arg("BLOCK").arg(block).arg("STREAMS");
        for key in &self.keys {
            cmd.arg(key);
        }
        for id in &self.ids {
            cmd.arg(id.as_deref().unwrap_or("$"));
        }
        let conn = self.connection().await?;
        let reply: Value = cmd.query_async(conn).await?;
        let mut out = Vec::new();
        for (key, entries) in parse_xread(&reply)? {
            let Some(index) = self.keys.iter().position(|k| *k == key) else {
                continue;
            };
            for (id, pairs) in entries {
                self.ids[index] = Some(id.clone());
                out.push(TailEntry { key: key.clone(), id, json: fields::to_json_line(&pairs) });
            }
        }
        Ok(out)
    }

    /// Reads until `on_entry` returns false, calling it for every entry; connection errors are logged and
    /// retried with backoff (resuming after the last entry seen), as are a server that is loading or failing
    /// over. A refusal (e.g. a start ID the stream rejects, or a key that is not a stream) would be refused
    /// again: it ends the tail with that error.
    pub async fn run(mut self, mut on_entry: impl FnMut(&TailEntry) -> bool) -> Result<(), RedisSinkError> {
        let mut failures = 0u32;
        loop {
            match self.next_batch().await {
                Ok(entries) => {
                    failures = 0;
                    for entry in &entries {
                        if !on_entry(entry) {
                            return Ok(());
                        }
                    }
                }
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        tracing::warn!("redis tail: {error}; retrying");
                    }
                    let delay = Duration::from_millis(100).saturating_mul(1 << failures.min(6));
                    tokio::time::sleep(delay.min(Duration::from_secs(5))).await;
                }
            }
        }
    }
}

type Fields = Vec<(String, String)>;

/// Entries of one stream: `(key, [(id, fields)])`.
type StreamEntries = (String, Vec<(String, Fields)>);

fn text(value: &Value) -> Result<String, RedisSinkError> {
    match value {
        Value::BulkString(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::VerbatimString { text, .. } => Ok(text.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(RedisSinkError::Protocol(format!("expected a string, got {other:?}"))),
    }
}

/// `[[id, [field, value, …]], …]` → entries.
fn parse_entries(value: &Value) -> Result<Vec<(String, Fields)>, RedisSinkError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Nil => return Ok(Vec::new()),
        other => return Err(RedisSinkError::Protocol(format!("expected stream entries, got {other:?}"))),
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(parts) = item else {
            return Err(RedisSinkError::Protocol(format!("expected an entry, got {item:?}")));
        };
        let [id, fields] = parts.as_slice() else {
            return Err(RedisSinkError::Protocol(format!("expected [id, fields], got {parts:?}")));
        };
        let flat: Vec<String> = match fields {
            Value::Array(values) => values.iter().map(text).collect::<Result<_, _>>()?,
            Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [text(k), text(v)]).collect::<Result<_, _>>()?,
            Value::Nil => Vec::new(),
            other => return Err(RedisSinkError::Protocol(format!("expected fields, got {other:?}"))),
        };
        let pairs = flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
        entries.push((text(id)?, pairs));
    }
    Ok(entries)
}

/// `XREAD` reply → `(key, entries)` per stream (RESP2 array or RESP3 map; nil on timeout).
fn parse_xread(value: &Value) -> Result<Vec<StreamEntries>, RedisSinkError> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Array(streams) => streams
            .iter()
            .map(|stream| match stream {
                Value::Array(parts) if parts.len() == 2 => Ok((text(&parts[0])?, parse_entries(&parts[1])?)),
                other => Err(RedisSinkError::Protocol(format!("expected [key, entries], got {other:?}"))),
            })
            .collect(),
        Value::Map(streams) => streams.iter().map(|(key, entries)| Ok((text(key)?, parse_entries(entries)?))).collect(),
        other => Err(RedisSinkError::Protocol(format!("unexpected XREAD reply {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_xread_replies() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("perpspread:opportunities"),
            Value::Array(vec![Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("event"), bulk("opened"), bulk("net_bp"), bulk("1.5")]),
            ])]),
        ])]);
        let streams = parse_xread(&reply).unwrap();
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].0, "perpspread:opportunities");
        let (id, fields) = &streams[0].1[0];
        assert_eq!(id, "1-0");
        assert_eq!(fields::to_json_line(fields), r#"{"event":"opened","net_bp":1.5}"#);
        assert!(parse_xread(&Value::Nil).unwrap().is_empty());
        assert!(parse_xread(&Value::Int(3)).is_err());
    }

    #[test]
    fn parses_tail_starts() {
        assert_eq!("new".parse::<TailStart>(), Ok(TailStart::New));
        assert_eq!("all".parse::<TailStart>(), Ok(TailStart::Beginning));
        assert_eq!("17-3".parse::<TailStart>(), Ok(TailStart::After("17-3".into())));
        assert!("17-".parse::<TailStart>().is_err());
        assert!("1-2-3".parse::<TailStart>().is_err());
        assert!("99999999999999999999-0".parse::<TailStart>().is_err(), "beyond 64 bits: Redis refuses it");
        assert!("soon".parse::<TailStart>().is_err());
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(Tail::opportunities("not a url", TailStart::New), Err(RedisSinkError::Url { .. })));
    }
}
