//! Measurement of the JSON path of book frames on the real recordings: perpspread's forward-only
//! [`JsonCursor`] (what the feed handlers use) against typed `serde` decoding with `serde_json`, `sonic-rs`
//! and `simd-json`. Every parser extracts the same fields a feed handler needs (channel or stream, symbol,
//! action, sequence ids, checksum, timestamps) and every level as [`Dec64`] price and size; the serde
//! parsers borrow the level strings and convert them with `Dec64::parse`, so all four end in the same
//! values (checked before timing).
//!
//! `cargo run --release` here; prints the median of 9 runs of ns per frame and MB/s per parser and input.

use std::borrow::Cow;
use std::time::Instant;

use perpspread_core::wire::{JsonCursor, JsonError};
use perpspread_core::Dec64;
use serde::Deserialize;

type Level = (Dec64, Dec64);

/// What a book frame yields, whichever parser read it.
#[derive(Debug, Default, PartialEq)]
struct Book {
    symbol: String,
    first: i64,
    last: i64,
    time: u64,
    checksum: i64,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

impl Book {
    fn clear(&mut self) {
        self.symbol.clear();
        self.bids.clear();
        self.asks.clear();
        (self.first, self.last, self.time, self.checksum) = (0, 0, 0, 0);
    }
}

// ---- serde shapes (borrowed strings) ----

#[derive(Deserialize)]
struct OkxFrame<'a> {
    #[serde(borrow)]
    arg: OkxArg<'a>,
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Vec<OkxData<'a>>,
}

#[derive(Deserialize)]
struct OkxArg<'a> {
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow, rename = "instId")]
    inst_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct OkxData<'a> {
    #[serde(borrow)]
    asks: Vec<OkxLevel<'a>>,
    #[serde(borrow)]
    bids: Vec<OkxLevel<'a>>,
    #[serde(borrow)]
    ts: &'a str,
    #[serde(default)]
    checksum: Option<i64>,
    #[serde(default, rename = "seqId")]
    seq_id: Option<i64>,
    #[serde(default, rename = "prevSeqId")]
    prev_seq_id: Option<i64>,
}

/// `[price, size, "0", orders]`.
type OkxLevel<'a> = (&'a str, &'a str, &'a str, &'a str);

#[derive(Deserialize)]
struct BinanceFrame<'a> {
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    data: BinanceDepth<'a>,
}

#[derive(Deserialize)]
struct BinanceDepth<'a> {
    #[serde(rename = "E")]
    event_time: u64,
    #[serde(borrow, rename = "s")]
    symbol: Cow<'a, str>,
    #[serde(rename = "U")]
    first: i64,
    #[serde(rename = "u")]
    last: i64,
    #[serde(rename = "pu")]
    _previous: i64,
    #[serde(borrow, rename = "b")]
    bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow, rename = "a")]
    asks: Vec<(&'a str, &'a str)>,
}

fn dec(text: &str) -> Dec64 {
    Dec64::parse(text).expect("a decimal in a real frame")
}

fn okx_from_serde(frame: OkxFrame<'_>, out: &mut Book) {
    assert!(frame.arg.channel == "books" && frame.action.is_some());
    let data = &frame.data[0];
    out.symbol.push_str(&frame.arg.inst_id);
    out.first = data.prev_seq_id.unwrap_or(0);
    out.last = data.seq_id.unwrap_or(0);
    out.time = data.ts.parse().unwrap_or(0);
    out.checksum = data.checksum.unwrap_or(0);
    out.bids.extend(data.bids.iter().map(|l| (dec(l.0), dec(l.1))));
    out.asks.extend(data.asks.iter().map(|l| (dec(l.0), dec(l.1))));
}

fn binance_from_serde(frame: BinanceFrame<'_>, out: &mut Book) {
    assert!(frame.stream.ends_with("@depth@100ms"));
    let d = frame.data;
    out.symbol.push_str(&d.symbol);
    (out.first, out.last, out.time) = (d.first, d.last, d.event_time);
    out.bids.extend(d.bids.iter().map(|(p, q)| (dec(p), dec(q))));
    out.asks.extend(d.asks.iter().map(|(p, q)| (dec(p), dec(q))));
}

// ---- the cursor, as the feed handlers walk a frame ----

fn levels(cursor: &mut JsonCursor<'_>, out: &mut Vec<Level>) -> Result<(), JsonError> {
    let mut raw = Vec::new();
    cursor.levels(&mut raw)?;
    out.extend(raw);
    Ok(())
}

fn okx_cursor(text: &str, out: &mut Book, raw: &mut (Vec<Level>, Vec<Level>)) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "arg" => cursor.object(|cursor, key| {
                match key {
                    "channel" => assert_eq!(cursor.string()?, "books"),
                    "instId" => out.symbol.push_str(&cursor.string()?),
                    _ => cursor.skip()?,
                }
                Ok(())
            })?,
            "action" => drop(cursor.string()?),
            "data" => cursor.array(|cursor| {
                cursor.object(|cursor, key| {
                    match key {
                        "asks" => cursor.levels(&mut raw.1)?,
                        "bids" => cursor.levels(&mut raw.0)?,
                        "ts" => out.time = cursor.string()?.parse().unwrap_or(0),
                        "checksum" => out.checksum = cursor.opt_i64()?.unwrap_or(0),
                        "seqId" => out.last = cursor.opt_i64()?.unwrap_or(0),
                        "prevSeqId" => out.first = cursor.opt_i64()?.unwrap_or(0),
                        _ => cursor.skip()?,
                    }
                    Ok(())
                })
            })?,
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()?;
    out.bids.append(&mut raw.0);
    out.asks.append(&mut raw.1);
    Ok(())
}

fn binance_cursor(text: &str, out: &mut Book) -> Result<(), JsonError> {
    let mut cursor = JsonCursor::new(text);
    cursor.object(|cursor, key| {
        match key {
            "stream" => assert!(cursor.string()?.ends_with("@depth@100ms")),
            "data" => cursor.object(|cursor, key| {
                match key {
                    "E" => out.time = cursor.u64()?,
                    "s" => out.symbol.push_str(&cursor.string()?),
                    "U" => out.first = cursor.i64()?,
                    "u" => out.last = cursor.i64()?,
                    "b" => levels(cursor, &mut out.bids)?,
                    "a" => levels(cursor, &mut out.asks)?,
                    _ => cursor.skip()?,
                }
                Ok(())
            })?,
            _ => cursor.skip()?,
        }
        Ok(())
    })?;
    cursor.end()
}

// ---- inputs and timing ----

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Okx,
    Binance,
}

fn frames(path: &str, kind: Kind) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).ok()?;
            let data = record["data"].as_str()?.to_owned();
            let wanted = match kind {
                Kind::Okx => data.contains(r#""channel":"books""#) && data.contains(r#""action""#),
                Kind::Binance => data.contains("depthUpdate"),
            };
            wanted.then_some(data)
        })
        .collect()
}

type Parser = fn(&str, &mut Book, &mut Vec<u8>, &mut (Vec<Level>, Vec<Level>));

fn parse_with(name: &str, kind: Kind) -> Parser {
    match (name, kind) {
        ("cursor", Kind::Okx) => |t, b, _, raw| okx_cursor(t, b, raw).expect("cursor"),
        ("cursor", Kind::Binance) => |t, b, _, _| binance_cursor(t, b).expect("cursor"),
        ("serde_json", Kind::Okx) => |t, b, _, _| okx_from_serde(serde_json::from_str(t).expect("serde_json"), b),
        ("serde_json", Kind::Binance) => {
            |t, b, _, _| binance_from_serde(serde_json::from_str(t).expect("serde_json"), b)
        }
        ("sonic-rs", Kind::Okx) => |t, b, _, _| okx_from_serde(sonic_rs::from_str(t).expect("sonic-rs"), b),
        ("sonic-rs", Kind::Binance) => |t, b, _, _| binance_from_serde(sonic_rs::from_str(t).expect("sonic-rs"), b),
        // simd-json parses in place: the frame is copied into a reused buffer first (counted in its time).
        ("simd-json", Kind::Okx) => |t, b, buf, _| {
            buf.clear();
            buf.extend_from_slice(t.as_bytes());
            okx_from_serde(simd_json::from_slice(buf).expect("simd-json"), b)
        },
        ("simd-json", Kind::Binance) => |t, b, buf, _| {
            buf.clear();
            buf.extend_from_slice(t.as_bytes());
            binance_from_serde(simd_json::from_slice(buf).expect("simd-json"), b)
        },
        _ => unreachable!(),
    }
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/real/");
    let inputs = [
        ("real OKX books (BTC-USDT, 2022-05-13)", Kind::Okx, frames(&format!("{root}okx_books_btc-usdt_2022-05-13.jsonl"), Kind::Okx)),
        (
            "real Binance depth@100ms (SUSHI/AKRO, 2021-07-22)",
            Kind::Binance,
            frames(&format!("{root}binance_usdm_depth_sushi-akro_2021-07-22.jsonl"), Kind::Binance),
        ),
    ];
    let parsers = ["cursor", "serde_json", "sonic-rs", "simd-json"];
    for (label, kind, frames) in &inputs {
        let bytes: usize = frames.iter().map(String::len).sum();
        println!("{label}: {} frames, {:.0} bytes each on average", frames.len(), bytes as f64 / frames.len() as f64);
        // Same results from every parser.
        let reference: Vec<Book> = frames.iter().map(|f| run_one(parse_with("cursor", *kind), f)).collect();
        for name in &parsers[1..] {
            let got: Vec<Book> = frames.iter().map(|f| run_one(parse_with(name, *kind), f)).collect();
            assert!(got == reference, "{name} disagrees with the cursor on {label}");
        }
        let mut cursor_ns = 0.0;
        for name in parsers {
            let ns = median_ns_per_frame(parse_with(name, *kind), frames);
            if name == "cursor" {
                cursor_ns = ns;
            }
            println!(
                "  {name:<10} {ns:>8.0} ns/frame  {:>6.0} MB/s  {:>5.2}× the cursor's time",
                bytes as f64 / frames.len() as f64 / ns * 1e3,
                ns / cursor_ns
            );
        }
    }
}

fn run_one(parse: Parser, frame: &str) -> Book {
    let mut book = Book::default();
    parse(frame, &mut book, &mut Vec::new(), &mut (Vec::new(), Vec::new()));
    book
}

fn median_ns_per_frame(parse: Parser, frames: &[String]) -> f64 {
    let mut book = Book::default();
    let mut buffer = Vec::with_capacity(1 << 16);
    let mut raw = (Vec::with_capacity(512), Vec::with_capacity(512));
    let rounds = (200_000 / frames.len()).max(1);
    let mut runs: Vec<f64> = (0..9)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                for frame in frames {
                    book.clear();
                    parse(std::hint::black_box(frame), &mut book, &mut buffer, &mut raw);
                    std::hint::black_box(&book);
                }
            }
            started.elapsed().as_nanos() as f64 / (rounds * frames.len()) as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}
