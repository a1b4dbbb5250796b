//! A minimal HTTP/1.1 client over one keep-alive TCP connection: enough to drive the
//! OTLP receivers on loopback without an HTTP stack competing for the same two cores.
//! Responses with `Content-Length` or chunked bodies; the connection is re-opened when the
//! server closes it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest response body read (the receivers answer with a few bytes).
const MAX_BODY: usize = 64 << 20;

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

pub struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    timeout: Duration,
}

impl Conn {
    pub fn new(addr: SocketAddr, timeout: Duration) -> Conn {
        Conn {
            addr,
            stream: None,
            timeout,
        }
    }

    fn open(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            s.set_read_timeout(Some(self.timeout))?;
            s.set_write_timeout(Some(self.timeout))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))
    }

    /// Sends one request; a connection the server had closed is re-opened once.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let reused = self.stream.is_some();
        match self.request_once(method, path, content_type, body) {
            Err(_) if reused => {
                self.stream = None;
                self.request_once(method, path, content_type, body)
            }
            r => r,
        }
    }

    fn request_once(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let host = self.addr;
        let r = self.open()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = r.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let result = read_response(r);
        match &result {
            Ok((_, keep)) if *keep => {}
            _ => self.stream = None,
        }
        result.map(|(resp, _)| resp)
    }

    pub fn get(&mut self, path: &str) -> io::Result<Response> {
        self.request("GET", path, "text/plain", &[])
    }
}

/// One-shot GET of a JSON document.
pub fn get_json(addr: SocketAddr, path: &str) -> io::Result<serde_json::Value> {
    let r = Conn::new(addr, Duration::from_secs(10)).get(path)?;
    if r.status != 200 {
        return Err(io::Error::other(format!("GET {path}: HTTP {}", r.status)));
    }
    serde_json::from_slice(&r.body).map_err(|e| io::Error::other(format!("GET {path}: {e}")))
}

/// Reads a response; returns it and whether the connection stays open.
fn read_response(r: &mut BufReader<TcpStream>) -> io::Result<(Response, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
    let keep_default = line.starts_with("HTTP/1.1");
    let (mut length, mut chunked, mut keep) = (None, false, keep_default);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "in headers"));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" => keep = !v.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(r)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(io::Error::other("response too large"));
        }
        let mut b = vec![0; n];
        r.read_exact(&mut b)?;
        b
    } else {
        keep = false;
        let mut b = Vec::new();
        r.take(MAX_BODY as u64).read_to_end(&mut b)?;
        b
    };
    Ok((Response { status, body }, keep))
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // trailers until the empty line
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(io::Error::other("response too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server answering each request on one connection with the canned responses in turn.
    fn serve(responses: Vec<&'static str>) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            let mut left = responses.into_iter();
            while let Ok((s, _)) = l.accept() {
                let mut r = BufReader::new(s);
                loop {
                    let mut len = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if line != "\r\n" {
                        break;
                    }
                    let mut b = vec![0; len];
                    if r.read_exact(&mut b).is_err() {
                        break;
                    }
                    let Some(resp) = left.next() else { return };
                    let _ = r.get_mut().write_all(resp.as_bytes());
                    if resp.contains("Connection: close") {
                        break;
                    }
                }
            }
        });
        addr
    }

    #[test]
    fn keep_alive_chunked_and_reconnect_after_close() {
        let addr = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{\"a\"",
        ]);
        let mut c = Conn::new(addr, Duration::from_secs(5));
        let r = c
            .request("POST", "/v1/logs", "application/x-protobuf", b"xyz")
            .expect("1");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let r = c.get("/").expect("2");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        let r = c.request("POST", "/", "a/b", &[0; 10]).expect("3");
        assert_eq!(r.status, 413);
        let r = c.get("/").expect("4 on a new connection");
        assert_eq!(r.body, b"{\"a\"");
    }

    #[test]
    fn garbage_is_an_error() {
        let addr = serve(vec!["nonsense\r\n\r\n"]);
        let mut c = Conn::new(addr, Duration::from_secs(5));
        assert!(c.get("/").is_err());
    }
}
