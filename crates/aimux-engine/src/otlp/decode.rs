//! Request bodies to OTLP messages: protobuf or JSON (ints as numbers or strings, hex ids),
//! optionally gzip-compressed; attribute values to plain strings.

use super::proto::collector::logs::v1::ExportLogsServiceRequest;
use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::collector::trace::v1::ExportTraceServiceRequest;
use super::proto::common::v1::{AnyValue, KeyValue, any_value};
use std::collections::BTreeMap;
use std::io::Read;

/// How a body is encoded, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// `None` for a content type OTLP/HTTP does not define.
    pub fn from_content_type(ct: Option<&str>) -> Option<Encoding> {
        let ct = ct.unwrap_or("application/x-protobuf");
        let base = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "application/x-protobuf" | "application/protobuf" | "" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not valid gzip: {0}")]
    Gzip(String),
    #[error("decompressed body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("unsupported Content-Encoding '{0}' (use gzip or identity)")]
    ContentEncoding(String),
    #[error("not a valid OTLP protobuf message: {0}")]
    Protobuf(String),
    #[error("not valid OTLP JSON: {0}")]
    Json(String),
}

/// Undoes `Content-Encoding`; the result is capped at `limit` bytes.
pub fn decompress(
    body: Vec<u8>,
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    match content_encoding
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            let mut dec = flate2::read::MultiGzDecoder::new(body.as_slice()).take(limit as u64 + 1);
            dec.read_to_end(&mut out)
                .map_err(|e| DecodeError::Gzip(e.to_string()))?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge(limit));
            }
            Ok(out)
        }
        Some(other) => Err(DecodeError::ContentEncoding(other.to_string())),
    }
}

fn decode<T>(body: &[u8], enc: Encoding) -> Result<T, DecodeError>
where
    T: prost::Message + Default + serde::de::DeserializeOwned,
{
    match enc {
        Encoding::Protobuf => T::decode(body).map_err(|e| DecodeError::Protobuf(e.to_string())),
        Encoding::Json => {
            serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))
        }
    }
}

pub fn decode_logs(body: &[u8], enc: Encoding) -> Result<ExportLogsServiceRequest, DecodeError> {
    decode(body, enc)
}

pub fn decode_metrics(
    body: &[u8],
    enc: Encoding,
) -> Result<ExportMetricsServiceRequest, DecodeError> {
    decode(body, enc)
}

pub fn decode_traces(body: &[u8], enc: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    decode(body, enc)
}

/// An attribute value as plain text (ints, doubles and bools in their usual spelling,
/// arrays and maps as JSON).
pub fn value_text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::BytesValue(b)) => {
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        }
        Some(any_value::Value::ArrayValue(a)) => serde_json::Value::Array(
            a.values
                .iter()
                .map(|x| serde_json::Value::String(value_text(x)))
                .collect(),
        )
        .to_string(),
        Some(any_value::Value::KvlistValue(kv)) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|x| {
                    (
                        x.key.clone(),
                        serde_json::Value::String(
                            x.value.as_ref().map(value_text).unwrap_or_default(),
                        ),
                    )
                })
                .collect(),
        )
        .to_string(),
        Some(any_value::Value::StringValueStrindex(i)) => format!("#strindex {i}"),
        None => String::new(),
    }
}

/// Attributes as a sorted text map.
pub fn attr_map(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(value_text).unwrap_or_default(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Log records borrowed from the request body: the receiver's hot path. Decoding into the
// prost types allocates a String for every attribute key and value (about 60 allocations
// per Claude Code record); this view points into the body instead and allocates one flat
// attribute list per request.

/// An attribute value, borrowed from the request where it can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Empty,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    Strindex(i32),
    /// Arrays, key-value lists and merged values, already as [`value_text`] spells them.
    Text(String),
}

impl<'a> Value<'a> {
    pub fn of(v: &'a AnyValue) -> Value<'a> {
        match &v.value {
            None => Value::Empty,
            Some(any_value::Value::StringValue(s)) => Value::Str(s),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(b),
            Some(any_value::Value::StringValueStrindex(i)) => Value::Strindex(*i),
            Some(_) => Value::Text(value_text(v)),
        }
    }

    /// The value as [`value_text`] spells it.
    pub fn text(&self) -> std::borrow::Cow<'a, str> {
        match self {
            Value::Str(s) => std::borrow::Cow::Borrowed(s),
            Value::Empty => std::borrow::Cow::Borrowed(""),
            other => {
                let mut s = String::new();
                other.write_text(&mut s);
                std::borrow::Cow::Owned(s)
            }
        }
    }

    /// Appends the text of the value (no allocation for numbers).
    pub fn write_text(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = match self {
            Value::Empty => Ok(()),
            Value::Str(s) => {
                out.push_str(s);
                Ok(())
            }
            Value::Bool(b) => write!(out, "{b}"),
            Value::Int(i) => write!(out, "{i}"),
            Value::Double(d) => write!(out, "{d}"),
            Value::Bytes(b) => b.iter().try_for_each(|x| write!(out, "{x:02x}")),
            Value::Strindex(i) => write!(out, "#strindex {i}"),
            Value::Text(t) => {
                out.push_str(t);
                Ok(())
            }
        };
    }

    /// The value as a number, the same as parsing its text.
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            Value::Str(s) => s.trim().parse().ok(),
            other => other.text().trim().parse().ok(),
        }
    }

    fn to_any(&self) -> AnyValue {
        let value = match self {
            Value::Empty => None,
            Value::Str(s) => Some(any_value::Value::StringValue(s.to_string())),
            Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
            Value::Int(i) => Some(any_value::Value::IntValue(*i)),
            Value::Double(d) => Some(any_value::Value::DoubleValue(*d)),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b.to_vec())),
            Value::Strindex(i) => Some(any_value::Value::StringValueStrindex(*i)),
            Value::Text(t) => Some(any_value::Value::StringValue(t.clone())),
        };
        AnyValue { value }
    }
}

/// One attribute of a record or resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr<'a> {
    pub key: &'a str,
    pub value: Value<'a>,
}

/// The value of `key`; of several, the last (as in a map built from the list).
pub fn attr<'x, 'a>(attrs: &'x [Attr<'a>], key: &str) -> Option<&'x Value<'a>> {
    attrs.iter().rev().find(|a| a.key == key).map(|a| &a.value)
}

/// One log record; its attributes are `LogBatch::attrs[attributes]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecordView<'a> {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub event_name: &'a str,
    pub body: Value<'a>,
    pub attributes: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScopeLogView<'a> {
    pub scope_name: &'a str,
    pub records: Vec<LogRecordView<'a>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceLogView<'a> {
    /// The resource's attributes, in `LogBatch::attrs`.
    pub resource: std::ops::Range<usize>,
    pub scopes: Vec<ScopeLogView<'a>>,
}

/// An `ExportLogsServiceRequest` as far as the store reads it, borrowed from the body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogBatch<'a> {
    pub resources: Vec<ResourceLogView<'a>>,
    /// Every attribute of the request, resources' and records' alike.
    pub attrs: Vec<Attr<'a>>,
}

impl<'a> LogBatch<'a> {
    /// Heap bytes of the view itself (the strings stay in the body).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let records: usize = self
            .resources
            .iter()
            .flat_map(|r| &r.scopes)
            .map(|s| s.records.capacity() * size_of::<LogRecordView<'_>>())
            .sum();
        let scopes: usize = self
            .resources
            .iter()
            .map(|r| r.scopes.capacity() * size_of::<ScopeLogView<'_>>())
            .sum();
        self.attrs.capacity() * size_of::<Attr<'_>>()
            + self.resources.capacity() * size_of::<ResourceLogView<'_>>()
            + scopes
            + records
    }

    pub fn attrs(&self, range: &std::ops::Range<usize>) -> &[Attr<'a>] {
        self.attrs.get(range.clone()).unwrap_or_default()
    }

    /// The view of an already decoded message (the JSON path).
    pub fn from_message(m: &'a ExportLogsServiceRequest) -> LogBatch<'a> {
        let mut batch = LogBatch::default();
        let push = |attrs: &mut Vec<Attr<'a>>, kvs: &'a [KeyValue]| {
            let start = attrs.len();
            attrs.extend(kvs.iter().map(|kv| Attr {
                key: &kv.key,
                value: kv.value.as_ref().map(Value::of).unwrap_or(Value::Empty),
            }));
            start..attrs.len()
        };
        for rl in &m.resource_logs {
            let resource = push(
                &mut batch.attrs,
                rl.resource
                    .as_ref()
                    .map(|r| &r.attributes[..])
                    .unwrap_or(&[]),
            );
            let mut scopes = Vec::with_capacity(rl.scope_logs.len());
            for sl in &rl.scope_logs {
                let mut records = Vec::with_capacity(sl.log_records.len());
                for rec in &sl.log_records {
                    records.push(LogRecordView {
                        time_unix_nano: rec.time_unix_nano,
                        observed_time_unix_nano: rec.observed_time_unix_nano,
                        event_name: &rec.event_name,
                        body: rec.body.as_ref().map(Value::of).unwrap_or(Value::Empty),
                        attributes: push(&mut batch.attrs, &rec.attributes),
                    });
                }
                scopes.push(ScopeLogView {
                    scope_name: sl.scope.as_ref().map(|s| s.name.as_str()).unwrap_or(""),
                    records,
                });
            }
            batch.resources.push(ResourceLogView { resource, scopes });
        }
        batch
    }
}

/// A protobuf `ExportLogsServiceRequest` as a [`LogBatch`] borrowing from `body`. Accepts
/// and rejects what prost's decoder does: wire types are checked, strings must be UTF-8,
/// unknown fields are skipped, repeated singular fields merge.
pub fn decode_log_batch(body: &[u8]) -> Result<LogBatch<'_>, DecodeError> {
    let mut batch = LogBatch::default();
    wire::logs_request(body, &mut batch).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    Ok(batch)
}

/// The protobuf walk behind [`decode_log_batch`] (field numbers from the OTLP protos).
mod wire {
    use super::{AnyValue, Attr, LogBatch, LogRecordView, ResourceLogView, ScopeLogView, Value};
    use prost::Message;
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

    /// prost's own errors, or ours in its words.
    #[derive(Debug)]
    pub(super) enum WireError {
        Prost(prost::DecodeError),
        Invalid(&'static str),
    }

    impl std::fmt::Display for WireError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                WireError::Prost(e) => e.fmt(f),
                WireError::Invalid(m) => write!(f, "failed to decode Protobuf message: {m}"),
            }
        }
    }

    impl From<prost::DecodeError> for WireError {
        fn from(e: prost::DecodeError) -> Self {
            WireError::Prost(e)
        }
    }

    type Res<T> = Result<T, WireError>;

    enum Field<'a> {
        Varint(u64),
        Fixed64(u64),
        Fixed32,
        Bytes(&'a [u8]),
        /// An unknown group, skipped.
        Group,
    }

    fn err(msg: &'static str) -> WireError {
        WireError::Invalid(msg)
    }

    /// Calls `f(tag, field)` for each field of a message.
    fn fields<'a>(mut buf: &'a [u8], mut f: impl FnMut(u32, Field<'a>) -> Res<()>) -> Res<()> {
        while !buf.is_empty() {
            let (tag, wt) = decode_key(&mut buf)?;
            let field = match wt {
                WireType::Varint => Field::Varint(decode_varint(&mut buf)?),
                WireType::SixtyFourBit => {
                    let (b, rest) = buf
                        .split_first_chunk::<8>()
                        .ok_or_else(|| err("buffer underflow"))?;
                    buf = rest;
                    Field::Fixed64(u64::from_le_bytes(*b))
                }
                WireType::ThirtyTwoBit => {
                    let (_, rest) = buf
                        .split_first_chunk::<4>()
                        .ok_or_else(|| err("buffer underflow"))?;
                    buf = rest;
                    Field::Fixed32
                }
                WireType::LengthDelimited => {
                    let len = decode_varint(&mut buf)?;
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|l| *l <= buf.len())
                        .ok_or_else(|| err("buffer underflow"))?;
                    let (b, rest) = buf.split_at(len);
                    buf = rest;
                    Field::Bytes(b)
                }
                WireType::StartGroup | WireType::EndGroup => {
                    skip_field(wt, tag, &mut buf, DecodeContext::default())?;
                    Field::Group
                }
            };
            f(tag, field)?;
        }
        Ok(())
    }

    fn bytes(field: Field<'_>) -> Res<&[u8]> {
        match field {
            Field::Bytes(b) => Ok(b),
            _ => Err(err("invalid wire type")),
        }
    }

    fn string(field: Field<'_>) -> Res<&str> {
        std::str::from_utf8(bytes(field)?)
            .map_err(|_| err("invalid string value: data is not UTF-8 encoded"))
    }

    fn varint(field: Field<'_>) -> Res<u64> {
        match field {
            Field::Varint(v) => Ok(v),
            _ => Err(err("invalid wire type")),
        }
    }

    fn fixed64(field: Field<'_>) -> Res<u64> {
        match field {
            Field::Fixed64(v) => Ok(v),
            _ => Err(err("invalid wire type")),
        }
    }

    /// Unknown fields are skipped, as prost does.
    fn unknown(field: Field<'_>) -> Res<()> {
        let _ = field;
        Ok(())
    }

    pub(super) fn logs_request<'a>(buf: &'a [u8], batch: &mut LogBatch<'a>) -> Res<()> {
        fields(buf, |tag, f| match tag {
            1 => resource_logs(bytes(f)?, batch),
            _ => unknown(f),
        })
    }

    fn resource_logs<'a>(buf: &'a [u8], batch: &mut LogBatch<'a>) -> Res<()> {
        // Resource attributes go first in the flat list, whatever the field order.
        let mut resource_bufs: Vec<&'a [u8]> = Vec::new();
        let mut scope_bufs: Vec<&'a [u8]> = Vec::new();
        fields(buf, |tag, f| {
            match tag {
                1 => resource_bufs.push(bytes(f)?),
                2 => scope_bufs.push(bytes(f)?),
                3 => {
                    string(f)?;
                }
                _ => unknown(f)?,
            }
            Ok(())
        })?;
        let start = batch.attrs.len();
        for r in resource_bufs {
            resource(r, &mut batch.attrs)?;
        }
        let mut view = ResourceLogView {
            resource: start..batch.attrs.len(),
            scopes: Vec::with_capacity(scope_bufs.len()),
        };
        for s in scope_bufs {
            view.scopes.push(scope_logs(s, batch)?);
        }
        batch.resources.push(view);
        Ok(())
    }

    fn resource<'a>(buf: &'a [u8], attrs: &mut Vec<Attr<'a>>) -> Res<()> {
        use super::super::proto::common::v1::EntityRef;
        fields(buf, |tag, f| match tag {
            1 => {
                attrs.push(key_value(bytes(f)?)?);
                Ok(())
            }
            2 => varint(f).map(drop),
            3 => Ok(EntityRef::decode(bytes(f)?).map(drop)?),
            _ => unknown(f),
        })
    }

    fn scope_logs<'a>(buf: &'a [u8], batch: &mut LogBatch<'a>) -> Res<ScopeLogView<'a>> {
        let mut view = ScopeLogView::default();
        fields(buf, |tag, f| match tag {
            1 => scope(bytes(f)?, &mut view.scope_name),
            2 => {
                let rec = log_record(bytes(f)?, &mut batch.attrs)?;
                view.records.push(rec);
                Ok(())
            }
            3 => string(f).map(drop),
            _ => unknown(f),
        })?;
        Ok(view)
    }

    fn scope<'a>(buf: &'a [u8], name: &mut &'a str) -> Res<()> {
        fields(buf, |tag, f| match tag {
            1 => {
                *name = string(f)?;
                Ok(())
            }
            2 => string(f).map(drop),
            3 => key_value(bytes(f)?).map(drop),
            4 => varint(f).map(drop),
            _ => unknown(f),
        })
    }

    fn log_record<'a>(buf: &'a [u8], attrs: &mut Vec<Attr<'a>>) -> Res<LogRecordView<'a>> {
        let start = attrs.len();
        let mut rec = LogRecordView {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            event_name: "",
            body: Value::Empty,
            attributes: 0..0,
        };
        let mut body = AnyState::Absent;
        fields(buf, |tag, f| {
            match tag {
                1 => rec.time_unix_nano = fixed64(f)?,
                11 => rec.observed_time_unix_nano = fixed64(f)?,
                2 | 7 => {
                    varint(f)?;
                }
                3 => {
                    string(f)?;
                }
                5 => body.merge(bytes(f)?)?,
                6 => attrs.push(key_value(bytes(f)?)?),
                8 => match f {
                    Field::Fixed32 => {}
                    _ => return Err(err("invalid wire type")),
                },
                9 | 10 => {
                    bytes(f)?;
                }
                12 => rec.event_name = string(f)?,
                _ => unknown(f)?,
            }
            Ok(())
        })?;
        rec.body = body.finish();
        rec.attributes = start..attrs.len();
        Ok(rec)
    }

    fn key_value(buf: &[u8]) -> Res<Attr<'_>> {
        let mut key = "";
        let mut value = AnyState::Absent;
        fields(buf, |tag, f| match tag {
            1 => {
                key = string(f)?;
                Ok(())
            }
            2 => value.merge(bytes(f)?),
            3 => varint(f).map(drop),
            _ => unknown(f),
        })?;
        Ok(Attr {
            key,
            value: value.finish(),
        })
    }

    /// An `AnyValue` being decoded: borrowed while it holds a scalar; arrays and maps (and
    /// anything merged into them) go through prost.
    enum AnyState<'a> {
        Absent,
        Borrowed(Value<'a>),
        Owned(AnyValue),
    }

    impl<'a> AnyState<'a> {
        /// Merges one occurrence of the field, as prost merges a repeated message field.
        fn merge(&mut self, buf: &'a [u8]) -> Res<()> {
            if let AnyState::Owned(v) = self {
                return Ok(v.merge(buf)?);
            }
            let mut v = match self {
                AnyState::Borrowed(v) => v.clone(),
                _ => Value::Empty,
            };
            let mut nested = false;
            fields(buf, |tag, f| {
                match tag {
                    1 => v = Value::Str(string(f)?),
                    2 => v = Value::Bool(varint(f)? != 0),
                    3 => v = Value::Int(varint(f)? as i64),
                    4 => v = Value::Double(f64::from_bits(fixed64(f)?)),
                    5 | 6 => {
                        bytes(f)?;
                        nested = true;
                    }
                    7 => v = Value::Bytes(bytes(f)?),
                    8 => v = Value::Strindex(varint(f)? as i32),
                    _ => unknown(f)?,
                }
                Ok(())
            })?;
            if nested {
                let mut owned = match self {
                    AnyState::Borrowed(v) => v.to_any(),
                    _ => AnyValue::default(),
                };
                owned.merge(buf)?;
                *self = AnyState::Owned(owned);
            } else {
                *self = AnyState::Borrowed(v);
            }
            Ok(())
        }

        fn finish(self) -> Value<'a> {
            match self {
                AnyState::Absent => Value::Empty,
                AnyState::Borrowed(v) => v,
                AnyState::Owned(v) if v.value.is_none() => Value::Empty,
                AnyState::Owned(v) => Value::Text(super::value_text(&v)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use super::super::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use super::super::proto::resource::v1::Resource;
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    fn any_value() -> impl Strategy<Value = Option<any_value::Value>> {
        use any_value::Value as V;
        let scalar = prop_oneof![
            Just(None),
            ".{0,12}".prop_map(|s| Some(V::StringValue(s))),
            any::<bool>().prop_map(|b| Some(V::BoolValue(b))),
            any::<i64>().prop_map(|i| Some(V::IntValue(i))),
            (-1e12f64..1e12).prop_map(|d| Some(V::DoubleValue(d))),
            prop::collection::vec(any::<u8>(), 0..6).prop_map(|b| Some(V::BytesValue(b))),
            any::<i32>().prop_map(|i| Some(V::StringValueStrindex(i))),
        ];
        scalar.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|vs| Some(
                    any_value::Value::ArrayValue(ArrayValue {
                        values: vs.into_iter().map(|value| AnyValue { value }).collect(),
                    })
                )),
                prop::collection::vec(("[a-z.]{1,6}", inner), 0..3).prop_map(|kvs| Some(
                    any_value::Value::KvlistValue(KeyValueList {
                        values: kvs
                            .into_iter()
                            .map(|(key, value)| KeyValue {
                                key,
                                value: Some(AnyValue { value }),
                                ..KeyValue::default()
                            })
                            .collect(),
                    })
                )),
            ]
        })
    }

    fn key_values() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec(("[a-z.]{1,8}", prop::option::of(any_value())), 0..5).prop_map(
            |kvs| {
                kvs.into_iter()
                    .map(|(key, value)| KeyValue {
                        key,
                        value: value.map(|value| AnyValue { value }),
                        ..KeyValue::default()
                    })
                    .collect()
            },
        )
    }

    fn record() -> impl Strategy<Value = LogRecord> {
        (
            any::<u64>(),
            any::<u64>(),
            "[a-z_.]{0,10}",
            prop::option::of(any_value()),
            key_values(),
            any::<i32>(),
            ".{0,5}",
        )
            .prop_map(
                |(t, o, event_name, body, attributes, sev, sev_text)| LogRecord {
                    time_unix_nano: t,
                    observed_time_unix_nano: o,
                    event_name,
                    body: body.map(|value| AnyValue { value }),
                    attributes,
                    severity_number: sev,
                    severity_text: sev_text,
                    trace_id: vec![1; 16],
                    ..LogRecord::default()
                },
            )
    }

    fn request() -> impl Strategy<Value = ExportLogsServiceRequest> {
        let scope = (
            prop::option::of(("[a-z.]{0,8}", key_values())),
            prop::collection::vec(record(), 0..4),
        )
            .prop_map(|(scope, log_records)| ScopeLogs {
                scope: scope.map(|(name, attributes)| InstrumentationScope {
                    name,
                    attributes,
                    ..InstrumentationScope::default()
                }),
                log_records,
                ..ScopeLogs::default()
            });
        prop::collection::vec(
            (
                prop::option::of(key_values()),
                prop::collection::vec(scope, 0..3),
            ),
            0..3,
        )
        .prop_map(|rls| ExportLogsServiceRequest {
            resource_logs: rls
                .into_iter()
                .map(|(resource, scope_logs)| ResourceLogs {
                    resource: resource.map(|attributes| Resource {
                        attributes,
                        ..Resource::default()
                    }),
                    scope_logs,
                    ..ResourceLogs::default()
                })
                .collect(),
        })
    }

    /// The batch with every value as its text: how the store reads values (a merged value
    /// may come out as text where prost's message holds a string).
    fn as_text(mut b: LogBatch<'_>) -> LogBatch<'_> {
        let text = |v: &mut Value<'_>| *v = Value::Text(v.text().into_owned());
        b.attrs.iter_mut().for_each(|a| text(&mut a.value));
        for r in b.resources.iter_mut().flat_map(|r| r.scopes.iter_mut()) {
            r.records.iter_mut().for_each(|rec| text(&mut rec.body));
        }
        b
    }

    proptest! {
        /// The borrowed decoder sees what prost's does.
        #[test]
        fn borrowed_decode_matches_prost(req in request()) {
            let bytes = req.encode_to_vec();
            let view = decode_log_batch(&bytes).expect("valid protobuf");
            prop_assert_eq!(view, LogBatch::from_message(&req));
        }

        /// Damaged bodies: accepted exactly when prost accepts them, and then read alike.
        #[test]
        fn damaged_bodies_are_judged_like_prost(
            req in request(),
            cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            truncate in any::<Option<prop::sample::Index>>(),
        ) {
            let mut bytes = req.encode_to_vec();
            if bytes.is_empty() {
                bytes.push(0x0a);
            }
            for (at, byte) in cuts {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Some(t) = truncate {
                bytes.truncate(t.index(bytes.len()));
            }
            let ours = decode_log_batch(&bytes);
            let theirs = ExportLogsServiceRequest::decode(bytes.as_slice());
            match (ours, theirs) {
                (Ok(view), Ok(m)) => {
                    prop_assert_eq!(as_text(view), as_text(LogBatch::from_message(&m)))
                }
                (Err(_), Err(_)) => {}
                (ours, theirs) => prop_assert!(
                    false,
                    "ours {:?} vs prost {:?}",
                    ours.map(|_| ()),
                    theirs.map(|_| ())
                ),
            }
        }
    }

    #[test]
    fn repeated_singular_fields_merge_like_prost() {
        // A record whose body comes twice: a string, then a list merged over it.
        let mut rec = LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue("first".into())),
            }),
            ..LogRecord::default()
        }
        .encode_to_vec();
        let list = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::IntValue(7)),
                }],
            })),
        }
        .encode_to_vec();
        rec.push(0x2a); // field 5, length-delimited
        prost::encoding::encode_varint(list.len() as u64, &mut rec);
        rec.extend_from_slice(&list);
        let mut scope = vec![0x12];
        prost::encoding::encode_varint(rec.len() as u64, &mut scope);
        scope.extend_from_slice(&rec);
        let mut rl = vec![0x12];
        prost::encoding::encode_varint(scope.len() as u64, &mut rl);
        rl.extend_from_slice(&scope);
        let mut body = vec![0x0a];
        prost::encoding::encode_varint(rl.len() as u64, &mut body);
        body.extend_from_slice(&rl);
        let m = ExportLogsServiceRequest::decode(body.as_slice()).expect("prost decodes");
        let view = decode_log_batch(&body).expect("decodes");
        assert_eq!(view, LogBatch::from_message(&m));
        assert_eq!(
            view.resources[0].scopes[0].records[0].body,
            Value::Text("[\"7\"]".into())
        );
    }
}
