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
