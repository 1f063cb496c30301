//! CPU time and memory of processes, from `/proc` (Linux).

use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// Clock ticks per second of `/proc/*/stat`'s times (`getconf CLK_TCK`, 100 when unknown).
fn ticks_per_s() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// The fields of `/proc/<pid>/stat` after the command name, the first being the state
/// (field 3 of proc(5)).
fn stat_fields(pid: &str) -> anyhow::Result<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    let Some((_, rest)) = text.rsplit_once(')') else {
        bail!("/proc/{pid}/stat has no command name");
    };
    // The state is a letter: keep its place with a 0.
    Ok(rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect())
}

/// Milliseconds of CPU (user + system) that process `pid` has used so far.
pub fn process_ms(pid: u32) -> anyhow::Result<f64> {
    let f = stat_fields(&pid.to_string())?;
    // utime and stime are fields 14 and 15 of proc(5): 11 and 12 after the state.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Ok(ticks as f64 * 1000.0 / ticks_per_s())
}

/// The CPU milliseconds of several processes, added up; a process that is gone counts 0.
pub fn processes_ms(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| process_ms(p).ok()).sum()
}

/// Milliseconds of CPU used by this process's children that it has waited for (cutime +
/// cstime): how a child that has exited is measured.
pub fn waited_children_ms() -> anyhow::Result<f64> {
    let f = stat_fields("self")?;
    // cutime and cstime are fields 16 and 17: 13 and 14 after the state.
    let ticks = f.get(13).copied().unwrap_or(0) + f.get(14).copied().unwrap_or(0);
    Ok(ticks as f64 * 1000.0 / ticks_per_s())
}

/// A memory figure of `/proc/<pid>/status` (e.g. `VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?;
            value.split_whitespace().next()?.parse().ok()
        })
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_and_memory() -> anyhow::Result<()> {
        let pid = std::process::id();
        assert!(process_ms(pid)? >= 0.0);
        assert!(status_kib(pid, "VmHWM")? >= status_kib(pid, "VmRSS")? / 2);
        assert!(waited_children_ms()? >= 0.0);
        Ok(())
    }
}
