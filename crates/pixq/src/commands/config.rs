//! `pixq config`: prints the effective configuration, so a user can see what the layers
//! (defaults, file, environment) add up to without starting anything.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Prints the configuration as TOML on stdout, secrets masked. An invalid configuration is
/// an error marked [`config::InvalidConfiguration`], which `main` turns into exit 2.
pub fn run(config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = config::load(config_file, &[])?;
    print!("{}", settings.to_masked_toml());
    if let Err(err) = settings.check_api_auth() {
        eprintln!("pixq config: note: pixq api would refuse to start: {err}");
    }
    Ok(ExitCode::SUCCESS)
}
