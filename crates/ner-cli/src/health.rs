//! `ner health`: asks a running server's `/health` (for container health checks, where no
//! curl is installed). Exits 0 when it answers 200.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Host and port of the server.
    #[arg(long, env = "NER_HEALTH_ADDR")]
    addr: Option<String>,
    /// Path to ask.
    #[arg(long, default_value = "/health")]
    path: String,
}

pub fn run(args: Args) -> Result<()> {
    let addr = args.addr.unwrap_or_else(|| {
        let port = std::env::var("NER_PORT")
            .or_else(|_| std::env::var("PORT"))
            .unwrap_or_else(|_| "8080".into());
        format!("127.0.0.1:{port}")
    });
    let sock = addr
        .to_socket_addrs()?
        .next()
        .with_context(|| format!("cannot resolve {addr}"))?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        args.path
    )?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        bail!("{addr}{} answered {status:?}", args.path);
    }
    println!("ok");
    Ok(())
}
