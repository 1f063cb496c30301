//! Loopback ports.

use std::net::TcpListener;

/// A free loopback port (bound, read and released: good enough on loopback).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
