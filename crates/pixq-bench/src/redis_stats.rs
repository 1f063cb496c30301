//! What Redis spent between two moments: CPU from `INFO cpu`, commands and scripts from
//! `INFO commandstats` (which counts the commands run inside Lua too).

use std::collections::BTreeMap;

use anyhow::Context;
use serde::Serialize;

use crate::numbers::round2;

/// Redis's counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `used_cpu_sys + used_cpu_user`, in seconds.
    cpu_s: f64,
    /// `calls` of every `cmdstat_<command>`.
    calls: BTreeMap<String, u64>,
}

/// The commands that are scripts: every Lua call, whether by body, digest or function.
const SCRIPT_COMMANDS: &[&str] = &[
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
];

/// Commands the bench itself sends, left out of the counts.
const OWN_COMMANDS: &[&str] = &["info"];

impl Snapshot {
    /// Reads `INFO cpu` and `INFO commandstats`.
    pub async fn take(conn: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<Snapshot> {
        let cpu: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(conn)
            .await
            .context("INFO cpu")?;
        let commands: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(conn)
            .await
            .context("INFO commandstats")?;
        Ok(Snapshot {
            cpu_s: field(&cpu, "used_cpu_sys") + field(&cpu, "used_cpu_user"),
            calls: calls(&commands),
        })
    }

    /// What was spent from `self` to `later`.
    pub fn until(&self, later: &Snapshot) -> Spent {
        let mut spent = Spent {
            cpu_ms: ((later.cpu_s - self.cpu_s) * 1000.0).max(0.0),
            ..Spent::default()
        };
        for (command, &n) in &later.calls {
            if OWN_COMMANDS.contains(&command.as_str()) {
                continue;
            }
            let n = n.saturating_sub(self.calls.get(command).copied().unwrap_or(0));
            spent.commands += n;
            if SCRIPT_COMMANDS.contains(&command.as_str()) {
                spent.scripts += n;
            }
            if n > 0 {
                spent.by_command.insert(command.clone(), n);
            }
        }
        spent
    }
}

/// Redis's work over an interval.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Spent {
    /// CPU time, in milliseconds.
    pub cpu_ms: f64,
    /// Commands, those inside scripts included.
    pub commands: u64,
    /// Script calls: `EVAL`, `EVALSHA`, `FCALL` and their read-only forms.
    pub scripts: u64,
    /// Calls by command name.
    pub by_command: BTreeMap<String, u64>,
}

/// Redis's cost per step of a run, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct PerStep {
    /// CPU milliseconds per 1,000 steps.
    pub cpu_ms_per_1k_steps: f64,
    /// Commands per step.
    pub commands_per_step: f64,
    /// Script calls per step.
    pub scripts_per_step: f64,
    /// The commands most called, per step, most first (at most 12).
    pub top_commands_per_step: BTreeMap<String, f64>,
}

impl Spent {
    /// The cost of each of `steps` steps.
    pub fn per_step(&self, steps: u64) -> PerStep {
        let steps = steps.max(1) as f64;
        let mut top: Vec<(&String, &u64)> = self.by_command.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        PerStep {
            cpu_ms_per_1k_steps: round2(self.cpu_ms * 1000.0 / steps),
            commands_per_step: round2(self.commands as f64 / steps),
            scripts_per_step: round2(self.scripts as f64 / steps),
            top_commands_per_step: top
                .into_iter()
                .take(12)
                .map(|(c, n)| (c.clone(), round2(*n as f64 / steps)))
                .collect(),
        }
    }
}

/// A `name:value` number of an INFO section; 0 when missing.
fn field(info: &str, name: &str) -> f64 {
    info.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0.0)
}

/// `calls` of each `cmdstat_<command>:calls=N,usec=…` line.
fn calls(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (key, value) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = value
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((key.to_owned(), calls))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_and_command_calls() {
        let cpu = "# CPU\r\nused_cpu_sys:1.50\r\nused_cpu_user:2.25\r\n";
        let before = Snapshot {
            cpu_s: 1.0,
            calls: calls("cmdstat_evalsha:calls=10,usec=5\r\ncmdstat_info:calls=1,usec=1\r\n"),
        };
        let after = Snapshot {
            cpu_s: field(cpu, "used_cpu_sys") + field(cpu, "used_cpu_user"),
            calls: calls(
                "# Commandstats\r\ncmdstat_evalsha:calls=30,usec=9,usec_per_call=0.3\r\n\
                 cmdstat_zadd:calls=40,usec=1\r\ncmdstat_info:calls=9,usec=1\r\n\
                 cmdstat_client|setname:calls=2,usec=1\r\n",
            ),
        };
        let spent = before.until(&after);
        assert_eq!(spent.cpu_ms, 2750.0);
        assert_eq!(spent.commands, 62);
        assert_eq!(spent.scripts, 20);
        let per = spent.per_step(10);
        assert_eq!(per.commands_per_step, 6.2);
        assert_eq!(per.cpu_ms_per_1k_steps, 275_000.0);
    }
}
