//! Splits appended bytes into complete lines. A partial last line is held back until its
//! newline arrives, so a file caught mid-write is never parsed half-way.

use serde::{Deserialize, Serialize};

/// Lines longer than this are skipped (counted as malformed) instead of buffered, so one
/// runaway line cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct LineBuffer {
    #[serde(skip)]
    pending: Vec<u8>,
    /// Set while discarding the rest of an over-long line.
    #[serde(skip)]
    discarding: bool,
    /// Bytes consumed up to the end of the last complete line (the resume offset).
    consumed: u64,
}

/// What happened to one chunk of input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Overflow {
    /// Over-long lines dropped while processing the chunk.
    pub dropped_lines: u64,
}

impl LineBuffer {
    /// A buffer resuming at `offset` (the end of the last complete line seen before).
    pub fn at_offset(offset: u64) -> LineBuffer {
        LineBuffer {
            consumed: offset,
            ..LineBuffer::default()
        }
    }

    /// Offset just past the last complete line; where the next read should resume.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Bytes of an unfinished last line being held back.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Feeds a chunk; calls `on_line` with every complete line (newline and a trailing
    /// `\r` stripped). Empty lines are passed over.
    pub fn feed(&mut self, mut bytes: &[u8], mut on_line: impl FnMut(&[u8])) -> Overflow {
        let mut overflow = Overflow::default();
        while let Some(nl) = memchr(b'\n', bytes) {
            let (head, rest) = (&bytes[..nl], &bytes[nl + 1..]);
            let line_len = self.pending.len() + head.len() + 1;
            if self.discarding {
                self.discarding = false;
            } else if self.pending.is_empty() {
                emit(head, &mut on_line);
            } else {
                self.pending.extend_from_slice(head);
                let line = std::mem::take(&mut self.pending);
                emit(&line, &mut on_line);
            }
            self.consumed += line_len as u64;
            self.pending.clear();
            bytes = rest;
        }
        if !bytes.is_empty() && !self.discarding {
            if self.pending.len() + bytes.len() > MAX_LINE_BYTES {
                self.discarding = true;
                overflow.dropped_lines += 1;
                // The dropped bytes still count toward the offset once the line ends.
                let held = self.pending.len();
                self.pending.clear();
                self.consumed += held as u64;
                self.consumed += bytes.len() as u64;
                return overflow;
            }
            self.pending.extend_from_slice(bytes);
        } else if self.discarding {
            self.consumed += bytes.len() as u64;
        }
        overflow
    }
}

fn emit(line: &[u8], on_line: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().any(|b| !b.is_ascii_whitespace()) {
        on_line(line);
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(buf: &mut LineBuffer, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        buf.feed(chunk, |l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn partial_line_waits_for_newline() {
        let mut buf = LineBuffer::default();
        assert!(collect(&mut buf, b"{\"a\":").is_empty());
        assert_eq!(buf.consumed(), 0);
        assert_eq!(
            collect(&mut buf, b"1}\n{\"b\""),
            vec![b"{\"a\":1}".to_vec()]
        );
        assert_eq!(buf.consumed(), 8);
        assert_eq!(buf.pending_len(), 4);
    }

    #[test]
    fn crlf_and_blank_lines() {
        let mut buf = LineBuffer::default();
        let lines = collect(&mut buf, b"a\r\n\n  \nb\n");
        assert_eq!(lines, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(buf.consumed(), 9);
    }

    proptest! {
        #[test]
        fn any_chunking_gives_same_lines(data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x'), any::<u8>()], 0..400),
                                         cuts in proptest::collection::vec(0usize..400, 0..10)) {
            let mut whole = LineBuffer::default();
            let expected = collect(&mut whole, &data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunked = LineBuffer::default();
            let mut got = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain(std::iter::once(data.len())) {
                got.extend(collect(&mut chunked, &data[start..c]));
                start = c;
            }
            prop_assert_eq!(got, expected);
            prop_assert_eq!(chunked.consumed(), whole.consumed());
            let last_nl = data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            prop_assert_eq!(whole.consumed(), last_nl as u64);
        }
    }
}
