//! Reading OKX frames in one pass: WebSocket pushes and events, and REST book bodies.

use std::borrow::Cow;

use perpspread_core::wire::{JsonCursor, JsonError, RawLevel};

/// The parts of an OKX frame the handler needs, filled in one pass by [`parse_frame`].
#[derive(Debug, Default)]
pub(super) struct Parsed<'a> {
    pub(super) event: Option<Cow<'a, str>>,
    pub(super) channel: Option<Cow<'a, str>>,
    pub(super) inst_id: Option<Cow<'a, str>>,
    pub(super) action: Option<Cow<'a, str>>,
    pub(super) code: Option<Cow<'a, str>>,
    pub(super) msg: Option<Cow<'a, str>>,
    /// Book header, when the levels were decoded in the same pass.
    pub(super) book: Option<BookHeader>,
    /// `data` left undecoded (not a book channel, or `data` came before `arg`).
    pub(super) data: Option<&'a str>,
    /// Set while decoding a book's `data`, so a failure there can be pinned on its instrument.
    pub(super) in_book_data: bool,
}

pub(super) fn is_book_channel(channel: &str) -> bool {
    matches!(channel, "books" | "books-l2-tbt" | "books50-l2-tbt" | "books5" | "bbo-tbt")
}

/// Reads a whole OKX frame into `out`, decoding a book's levels into `bids`/`asks` on the way (OKX sends
/// `arg` before `data`, so the channel is known by then).
pub(super) fn parse_frame<'a>(
    text: &'a str,
    out: &mut Parsed<'a>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "arg" => cursor.object(|cursor, key| {
                match key {
                    "channel" => out.channel = Some(cursor.string()?),
                    "instId" => out.inst_id = Some(cursor.string()?),
                    _ => cursor.skip()?,
                }
                Ok(())
            })?,
            "data" if out.channel.as_deref().is_some_and(is_book_channel) => {
                out.in_book_data = true;
                out.book = Some(parse_book_data(cursor, bids, asks)?);
                out.in_book_data = false;
            }
            "data" => out.data = Some(cursor.raw()?),
            "event" => out.event = Some(cursor.string()?),
            "action" => out.action = Some(cursor.string()?),
            "code" => out.code = Some(cursor.string()?),
            "msg" => out.msg = Some(cursor.string()?),
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()
}

/// Reads a book message's `data`: an array holding one `{asks, bids, ts, checksum, seqId, prevSeqId}`.
pub(super) fn parse_book_data(
    cursor: &mut JsonCursor<'_>,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<BookHeader, JsonError> {
    let mut header = None;
    let start = cursor.position();
    cursor.array(|cursor| {
        if header.is_some() {
            return cursor.skip();
        }
        let mut book = BookHeader::default();
        cursor.object(|cursor, key| {
            match key {
                "asks" => cursor.levels(asks)?,
                "bids" => cursor.levels(bids)?,
                "ts" => book.ts_ms = cursor.string()?.parse().ok(),
                "checksum" => book.checksum = cursor.opt_i64()?,
                "seqId" => book.seq_id = cursor.opt_i64()?,
                "prevSeqId" => book.prev_seq_id = cursor.opt_i64()?,
                _ => cursor.skip()?,
            }
            Ok(())
        })?;
        header = Some(book);
        Ok(())
    })?;
    header.ok_or(JsonError::Expected { expected: "one book object in data", at: start })
}

/// Header fields of a book message's `data[0]`.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct BookHeader {
    pub(super) ts_ms: Option<u64>,
    pub(super) checksum: Option<i64>,
    pub(super) seq_id: Option<i64>,
    pub(super) prev_seq_id: Option<i64>,
}

/// Reads a REST order book response `{"code","msg","data":[{asks,bids,ts,seqId}]}`.
pub(super) fn parse_rest_book(
    body: &str,
    bids: &mut Vec<RawLevel>,
    asks: &mut Vec<RawLevel>,
) -> Result<(String, String, Option<BookHeader>), JsonError> {
    let (mut code, mut msg, mut header) = (String::new(), String::new(), None);
    let mut cursor = JsonCursor::new(body);
    cursor.object(|cursor, key| {
        match key {
            "code" => code = cursor.string()?.into_owned(),
            "msg" => msg = cursor.string()?.into_owned(),
            "data" => {
                let data = cursor.raw()?;
                if data.trim() != "[]" {
                    header = Some(parse_book_data(&mut JsonCursor::new(data), bids, asks)?);
                }
            }
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()?;
    Ok((code, msg, header))
}

/// The value of `key` in a URL's query string.
pub(super) fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Extracts the instrument from an OKX subscription error such as
/// `"Wrong URL or channel:books,instId:FOO-USDT-SWAP doesn't exist"`.
pub(super) fn refused_instrument(message: &str) -> Option<&str> {
    let start = message.find("instId:")? + "instId:".len();
    let rest = &message[start..];
    let end = rest.find(|c: char| c.is_whitespace() || c == ',' || c == '"').unwrap_or(rest.len());
    Some(&rest[..end]).filter(|s| !s.is_empty())
}
