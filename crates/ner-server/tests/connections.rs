//! The server on a real socket with a fake model: oversized bodies get a 413 that clients which
//! write their whole body first can read, slow bodies and slow headers are cut off, idle
//! keep-alive connections are closed, and a thousand idle connections do not keep a new client
//! out.

use ner_server::{serve, start, ServerConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod common;
use common::fake_factory;

/// Serves `config` with the fake model on a free port, in the background.
async fn server(config: ServerConfig) -> SocketAddr {
    let state = start(config, fake_factory(false, None)).unwrap();
    state
        .worker()
        .wait_ready(Duration::from_secs(5))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let forever = std::future::pending::<()>();
    tokio::spawn(serve(listener, state, forever, Duration::from_secs(1)));
    addr
}

/// Runs blocking client code off the runtime.
async fn client<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything the server sends until it closes the connection (or the read times out).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw HTTP response.
fn status(resp: &str) -> u16 {
    resp.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_written_in_full_first_gets_a_readable_413() {
    let addr = server(ServerConfig::default()).await;
    let body = format!("{{\"text\": \"{}\"}}", "a ".repeat(6 << 20)); // 12 MB
    for chunked in [false, true] {
        let body = body.clone();
        let resp = client(move || {
            let mut s = connect(addr);
            // As Python's http.client does: headers, then the whole body, then read.
            let head = if chunked {
                "POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
            } else {
                format!("POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len())
            };
            s.write_all(head.as_bytes()).unwrap();
            if chunked {
                for part in body.as_bytes().chunks(1 << 16) {
                    write!(s, "{:x}\r\n", part.len()).unwrap();
                    s.write_all(part).unwrap();
                    s.write_all(b"\r\n").unwrap();
                }
                s.write_all(b"0\r\n\r\n").unwrap();
            } else {
                s.write_all(body.as_bytes()).expect("the server reads the whole body");
            }
            read_all(&mut s)
        })
        .await;
        assert_eq!(status(&resp), 413, "chunked={chunked}: {resp}");
        assert!(resp.contains("\"body_too_large\""), "{resp}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_gets_the_413_before_sending_the_body() {
    let addr = server(ServerConfig::default()).await;
    let resp = client(move || {
        let mut s = connect(addr);
        s.write_all(b"POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12000000\r\nExpect: 100-continue\r\n\r\n").unwrap();
        read_all(&mut s)
    })
    .await;
    assert_eq!(status(&resp), 413, "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_one_byte_at_a_time_is_cut_off() {
    let config = ServerConfig {
        body_timeout_ms: 500,
        ..ServerConfig::default()
    };
    let addr = server(config).await;
    let (resp, took) = client(move || {
        let mut s = connect(addr);
        let start = Instant::now();
        s.write_all(b"POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n").unwrap();
        for b in b"{\"text\": \"slow\"".iter().cycle().take(30) {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (read_all(&mut s), start.elapsed())
    })
    .await;
    assert_eq!(status(&resp), 408, "{resp}");
    assert!(resp.contains("\"body_timeout\""), "{resp}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let config = ServerConfig {
        header_timeout_ms: 500,
        ..ServerConfig::default()
    };
    let addr = server(config).await;
    let (slow, idle) = client(move || {
        // Headers trickled one byte every 100 ms never complete.
        let mut s = connect(addr);
        let start = Instant::now();
        for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .chain([b'a'; 40].iter())
        {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        read_all(&mut s);
        let slow = start.elapsed();
        // A keep-alive connection answered once, then idle, is closed.
        let mut s = connect(addr);
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(status(&String::from_utf8_lossy(&buf[..n])), 200);
        let start = Instant::now();
        let rest = read_all(&mut s);
        assert!(rest.is_empty(), "{rest}");
        (slow, start.elapsed())
    })
    .await;
    assert!(
        slow < Duration::from_secs(3),
        "slow headers held the connection {slow:?}"
    );
    assert!(
        idle < Duration::from_secs(3),
        "the idle connection stayed {idle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_do_not_keep_a_new_client_out() {
    let addr = server(ServerConfig::default()).await;
    let took = client(move || {
        let idle: Vec<TcpStream> = (0..1000).map(|_| connect(addr)).collect();
        let start = Instant::now();
        let mut s = connect(addr);
        let body = r#"{"text": "Ada Lovelace"}"#;
        let head = format!("POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        s.write_all((head + body).as_bytes()).unwrap();
        let resp = read_all(&mut s);
        assert_eq!(status(&resp), 200, "{resp}");
        drop(idle);
        start.elapsed()
    })
    .await;
    assert!(took < Duration::from_secs(5), "{took:?}");
}
