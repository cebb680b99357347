//! `--config FILE.toml` for `ring-wgpu train`: the file's settings become flags placed
//! before the command line's own, so a flag given on the command line wins.
//!
//! Keys are the flag names (`epochs`, `lr-schedule` or `lr_schedule`, ...), at the top
//! level or under a `[train]` table; arrays become comma-separated values.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{bail, Context, Result};

fn flags_from_toml(path: &Path) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    let mut table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    if let Some(toml::Value::Table(train)) = table.remove("train") {
        table.extend(train);
    }
    let mut flags = Vec::new();
    for (key, value) in table {
        let flag = format!("--{}", key.replace('_', "-"));
        if flag == "--config" {
            bail!("{}: a config file cannot name another config file", path.display());
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(true) => {
                flags.push(OsString::from(flag));
                continue;
            }
            toml::Value::Boolean(false) => continue,
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => bail!("{}: `{key}` has an unsupported value {other}", path.display()),
        };
        flags.push(OsString::from(flag));
        flags.push(OsString::from(text));
    }
    Ok(flags)
}

/// Rewrites `args` (as from `std::env::args_os`) so that `train --config FILE` is followed
/// by the file's flags, then by the rest of the command line.
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(train) = args.iter().position(|a| a == "train") else { return Ok(args) };
    let mut path = None;
    for (i, arg) in args.iter().enumerate().skip(train + 1) {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            path = Some(args.get(i + 1).context("--config needs a file")?.clone());
        } else if let Some(p) = arg.strip_prefix("--config=") {
            path = Some(OsString::from(p));
        }
    }
    let Some(path) = path else { return Ok(args) };
    let mut out: Vec<OsString> = args[..=train].to_vec();
    out.extend(flags_from_toml(Path::new(&path))?);
    out.extend(args[train + 1..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_flags_come_first_so_the_command_line_wins() {
        let dir = std::env::temp_dir().join(format!("ring-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("run.toml");
        std::fs::write(&file, "epochs = 3\n[train]\nlr_schedule = \"step\"\nupper = 12.5\n").unwrap();
        let args: Vec<OsString> = ["ring-wgpu", "train", "--config", file.to_str().unwrap(), "--epochs", "1"]
            .iter()
            .map(OsString::from)
            .collect();
        let expanded: Vec<String> = expand(args).unwrap().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(&expanded[..2], ["ring-wgpu", "train"]);
        let epochs_file = expanded.iter().position(|a| a == "3").unwrap();
        let epochs_cli = expanded.iter().rposition(|a| a == "1").unwrap();
        assert!(epochs_file < epochs_cli, "{expanded:?}");
        assert!(expanded.windows(2).any(|w| w == ["--lr-schedule", "step"]), "{expanded:?}");
        assert!(expanded.windows(2).any(|w| w == ["--upper", "12.5"]), "{expanded:?}");
        std::fs::write(&file, "epochs = [").unwrap();
        let args: Vec<OsString> = ["ring-wgpu", "train", "--config", file.to_str().unwrap()].iter().map(OsString::from).collect();
        assert!(expand(args).unwrap_err().to_string().contains("not valid TOML"));
        std::fs::remove_dir_all(dir).ok();
    }
}
