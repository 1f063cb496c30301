//! A dedicated `redis-server` for one run: a free loopback port, no persistence, its files in
//! a scratch directory, stopped by its pid when dropped.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::procs::{self, Proc, Scratch};

/// A `redis-server` that only this run talks to.
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    proc: Proc,
    // Dropped after `proc`: the server's files go once it has stopped.
    _dir: Scratch,
}

impl RedisServer {
    /// Starts `redis-server` on a free port of 127.0.0.1 with `--save "" --appendonly no` and
    /// waits until it answers PING.
    pub async fn start(keep_logs: bool) -> anyhow::Result<RedisServer> {
        let dir = Scratch::new("redis", keep_logs)?;
        let port = procs::free_port()?;
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(dir.path())
            .current_dir(dir.path());
        let proc = Proc::spawn("redis-server", command, &dir.path().join("redis.log"))
            .context("is redis-server installed? (apt-get install redis-server)")?;
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            proc,
            _dir: dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to the server.
    pub async fn connect(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url.as_str())?
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("cannot connect to the bench's Redis at {}", self.url))
    }

    /// An error when the server has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        self.proc.check_alive()
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = self.connect().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return Ok(());
                }
            }
            self.proc.check_alive()?;
            if Instant::now() > deadline {
                bail!("redis-server at {} never answered PING in 10 s", self.url);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
