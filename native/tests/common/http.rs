//! A minimal local HTTP/1.1 file server for download tests (no internet in tests).
//! Serves one body at any path, honours `Range: bytes=N-`, and can misbehave on request.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// How the server answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 200 (or 206 for a range request) with the body.
    Normal,
    /// 404 for everything.
    NotFound,
    /// The first response announces the whole body but closes after this many bytes.
    CutFirstResponseAt(usize),
    /// 200 without a length, then zeros until the client hangs up.
    Endless,
}

/// A running server; it lives until the test process ends.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    log: Arc<Mutex<Vec<Option<String>>>>,
}

impl Server {
    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The Range headers received, in order.
    pub fn ranges(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().flatten().cloned().collect()
    }
}

/// Starts a server on a free local port.
pub fn serve(body: Vec<u8>, behaviour: Behaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let server_log = log.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("range")
                {
                    range = Some(value.trim().to_string());
                }
            }
            server_log.lock().unwrap().push(range.clone());
            if matches!(behaviour, Behaviour::Endless) {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let zeros = [0u8; 1 << 16];
                while stream.write_all(&zeros).is_ok() {}
                continue;
            }
            let start = range.as_deref().and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
            let (head, payload): (String, &[u8]) = match (behaviour, start) {
                (Behaviour::NotFound, _) => ("HTTP/1.1 404 Not Found\r\nContent-Length: 0".into(), &[]),
                (_, Some(s)) if s >= body.len() => ("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0".into(), &[]),
                (_, Some(s)) => (
                    format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {s}-{}/{}",
                        body.len() - s,
                        body.len() - 1,
                        body.len()
                    ),
                    &body[s..],
                ),
                (Behaviour::CutFirstResponseAt(cut), None) if n == 0 => {
                    (format!("HTTP/1.1 200 OK\r\nContent-Length: {}", body.len()), &body[..cut])
                }
                _ => (format!("HTTP/1.1 200 OK\r\nContent-Length: {}", body.len()), &body[..]),
            };
            let _ = stream.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes());
            let _ = stream.write_all(payload);
            let _ = stream.flush();
        }
    });
    Server { url, log }
}
