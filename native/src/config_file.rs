//! From the command line to core's `TrainConfig`: a preset (or, when resuming, the run's
//! saved configuration), then the TOML file's keys over it, then the flags given on the
//! command line over those. Every value is validated before any work starts, and errors
//! name where the bad value came from (`--flag`, or the key and its file).
//!
//! The file's keys are `TrainConfig`'s fields (`epochs`, `lr_schedule`, ...; `lr-schedule`
//! works too), at the top level or under a `[train]` table, plus `preset` and `out`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::ArgMatches;
use clap::parser::ValueSource;
use ring_wgpu_core::train::{ConfigError, TrainConfig, preset};

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The preset (or the default `quick` preset).
    Preset(String),
    /// The resumed run's saved configuration.
    Saved,
    /// A key of the TOML file.
    File(PathBuf),
    /// A flag on the command line.
    Flag,
}

/// A configuration and where each of its keys came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration (not yet resolved against the data).
    pub config: TrainConfig,
    /// Where each key's value came from.
    pub sources: BTreeMap<String, Source>,
}

impl Resolved {
    /// `error` with the origin of its key: `--temperature -1: ...` for a flag,
    /// `temperature = -1 in run.toml: ...` for a file key.
    pub fn explain(&self, error: ring_wgpu_core::Error) -> anyhow::Error {
        let ring_wgpu_core::Error::Config(ConfigError::Invalid { key, value, message }) = &error else { return error.into() };
        match self.sources.get(key) {
            Some(Source::Flag) => anyhow!("--{} {value}: {message}", key.replace('_', "-")),
            Some(Source::File(path)) => anyhow!("{key} = {value} in {}: {message}", path.display()),
            Some(Source::Preset(name)) => anyhow!("{key} = {value} (preset {name}): {message}"),
            Some(Source::Saved) => anyhow!("{key} = {value} (the run's saved settings): {message}"),
            None => anyhow!("{key} = {value}: {message}"),
        }
    }
}

/// A configuration as a TOML table (TOML, unlike JSON, holds NaN and infinities, so a
/// flag's `nan` reaches validation as itself). Unset optional keys are absent.
fn to_table(config: &TrainConfig) -> Result<toml::Table> {
    match toml::Value::try_from(config) {
        Ok(toml::Value::Table(table)) => Ok(table),
        Ok(_) => unreachable!("a TrainConfig serialises to a table"),
        Err(e) => Err(anyhow!("the settings cannot be recorded: {e}")),
    }
}

fn from_table(table: toml::Table) -> Result<TrainConfig, toml::de::Error> {
    toml::Value::Table(table).try_into()
}

/// The largest config file read: a few lines of TOML are expected.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// `message` with each line cut to 160 characters and at most 20 lines: a parser's echo of
/// a huge or deeply nested line stays readable.
fn shorten(message: &str) -> String {
    let mut lines: Vec<String> = message
        .lines()
        .take(20)
        .map(|line| if line.chars().count() > 160 { format!("{}...", line.chars().take(160).collect::<String>()) } else { line.into() })
        .collect();
    if message.lines().count() > 20 {
        lines.push("...".into());
    }
    lines.join("\n")
}

/// The file's text, refused beyond [`MAX_CONFIG_BYTES`] before more is read (so
/// `--config /dev/zero` ends at once).
fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading config file {}", path.display()))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        anyhow::bail!("--config {}: is a folder; give a TOML file", path.display());
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("reading config file {}", path.display()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        anyhow::bail!(
            "--config {}: larger than {} KiB; a ring-wgpu config file is a few lines of TOML (`ring-wgpu train --help` lists the keys)",
            path.display(),
            MAX_CONFIG_BYTES >> 10
        );
    }
    String::from_utf8(bytes).map_err(|e| anyhow!("--config {}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
}

/// The file's table: `[train]` merged into the top level, keys in `snake_case`. A key
/// given both at the top level and under `[train]`, or a `train` that is not a table, is
/// an error (neither would be used as the user expects).
fn read_table(path: &Path) -> Result<toml::Table> {
    let text = read_text(path)?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| anyhow!("{} is not valid TOML: {}", path.display(), shorten(&e.to_string())))?;
    let snake = |table: toml::Table| -> toml::Table { table.into_iter().map(|(k, v)| (k.replace('-', "_"), v)).collect() };
    let mut table = snake(table);
    match table.remove("train") {
        None => {}
        Some(toml::Value::Table(train)) => {
            for (key, value) in snake(train) {
                if table.contains_key(&key) {
                    anyhow::bail!("{}: `{key}` is set both at the top level and under [train]; keep one", path.display());
                }
                table.insert(key, value);
            }
        }
        Some(other) => {
            anyhow::bail!("{}: train = {} must be a table ([train] followed by its keys)", path.display(), shorten(&other.to_string()))
        }
    }
    Ok(table)
}

/// The output folder a TOML file names (its `out` key), if any.
pub fn file_out(path: &Path) -> Result<Option<PathBuf>> {
    match read_table(path)?.get("out") {
        Some(toml::Value::String(dir)) => Ok(Some(PathBuf::from(dir))),
        Some(other) => Err(anyhow!("out = {other} in {}: must be a folder name", path.display())),
        None => Ok(None),
    }
}

/// Builds the configuration of `ring-wgpu train`: `flags` are the parsed flags (all of
/// `TrainConfig`'s fields), `matches` tell which were given; `file` the TOML file,
/// `preset_name` the `--preset` flag, `saved` the resumed run's configuration.
pub fn resolve(
    flags: &TrainConfig,
    matches: &ArgMatches,
    file: Option<&Path>,
    preset_name: Option<&str>,
    saved: Option<&TrainConfig>,
) -> Result<Resolved> {
    let mut table = match file {
        Some(path) => read_table(path)?,
        None => toml::Table::new(),
    };
    let file_preset = match table.remove("preset") {
        Some(toml::Value::String(name)) => Some(name),
        Some(other) => return Err(anyhow!("preset = {other} in {}: must be a preset name", file.unwrap().display())),
        None => None,
    };
    // `out` is the output folder (see `file_out`), not part of the configuration.
    table.remove("out");
    let (base, base_source) = match (preset_name.or(file_preset.as_deref()), saved) {
        (Some(name), _) => (preset(name).map_err(|e| anyhow!("{e}"))?, Source::Preset(name.to_string())),
        (None, Some(saved)) => (saved.clone(), Source::Saved),
        (None, None) => (TrainConfig::default(), Source::Preset("quick".into())),
    };
    let mut value = to_table(&base)?;
    let keys: Vec<String> = serde_json::to_value(&base)?.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let mut sources: BTreeMap<String, Source> = keys.iter().map(|k| (k.clone(), base_source.clone())).collect();

    if let Some(path) = file {
        for (key, item) in table {
            if !keys.contains(&key) {
                let mut keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
                keys.sort();
                return Err(anyhow!(
                    "{}: unknown key `{key}`; the keys are the flags of `ring-wgpu train` without dashes: {}, preset, out",
                    path.display(),
                    keys.join(", ")
                ));
            }
            // Check this key alone, so that a wrong type names it.
            let mut trial = value.clone();
            trial.insert(key.clone(), item.clone());
            if let Err(e) = from_table(trial) {
                return Err(anyhow!("{key} = {item} in {}: {}", path.display(), e.message()));
            }
            value.insert(key.clone(), item);
            sources.insert(key, Source::File(path.to_path_buf()));
        }
    }

    let given = match to_table(flags) {
        Ok(table) => table,
        // TOML holds 64-bit signed integers: a flag past 2^63 fails here, before the
        // validation that would name it. Name it.
        Err(e) => match flags.validate() {
            Err(ConfigError::Invalid { key, value, message }) => return Err(anyhow!("--{} {value}: {message}", key.replace('_', "-"))),
            _ if flags.data_dir.as_ref().is_some_and(|d| d.to_str().is_none()) => {
                return Err(anyhow!(
                    "--data-dir {}: not valid UTF-8, which a run's recorded settings cannot hold; rename the folder or pass a link to it with a UTF-8 name",
                    flags.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default()
                ));
            }
            _ => return Err(e),
        },
    };
    for (key, flag_value) in given {
        if matches!(matches.value_source(&key), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            value.insert(key.clone(), flag_value);
            sources.insert(key, Source::Flag);
        }
    }
    let config = from_table(value).map_err(|e| anyhow!("the settings do not form a run configuration: {}", e.message()))?;
    let resolved = Resolved { config, sources };
    resolved.config.validate().map_err(|e| resolved.explain(e.into()))?;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Flags {
        #[command(flatten)]
        config: TrainConfig,
    }

    fn parse(args: &[&str]) -> (TrainConfig, ArgMatches) {
        let matches = Flags::command().try_get_matches_from(std::iter::once("train").chain(args.iter().copied())).unwrap();
        (Flags::from_arg_matches(&matches).unwrap().config, matches)
    }

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ring-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn hostile_files_are_refused_by_name_without_reading_them_whole() {
        let (flags, matches) = parse(&[]);
        let error = |path: &Path| format!("{:#}", resolve(&flags, &matches, Some(path), None, None).map(|_| ()).expect_err("refused"));
        // An endless file ends at the cap.
        let e = error(Path::new("/dev/zero"));
        assert!(e.contains("/dev/zero") && e.contains("larger than 1024 KiB"), "{e}");
        let big = temp_file("big", &"# comment\n".repeat(200_000));
        assert!(error(&big).contains("larger than"));
        // A long bad line is echoed cut short.
        let long = temp_file("long", &format!("epochs = {}\n", "[".repeat(100_000)));
        let e = error(&long);
        assert!(e.contains("long/run.toml") && e.len() < 4000, "{} bytes: {}", e.len(), &e[..e.len().min(500)]);
        // The same key twice, and a train that is not a table.
        let twice = temp_file("twice", "epochs = 3\n[train]\nepochs = 4\n");
        assert!(error(&twice).contains("`epochs` is set both"), "{}", error(&twice));
        let scalar = temp_file("scalar", "train = 5\n");
        assert!(error(&scalar).contains("train = 5 must be a table"), "{}", error(&scalar));
        let folder = big.parent().unwrap().to_path_buf();
        assert!(error(&folder).contains("is a folder"), "{}", error(&folder));
        let binary = temp_file("binary", "");
        std::fs::write(&binary, [0xFFu8, 0xFE, 0x00]).unwrap();
        assert!(error(&binary).contains("not UTF-8"), "{}", error(&binary));
    }

    #[test]
    fn a_file_plus_flags_gives_what_flags_alone_give() {
        let path = temp_file("same", "epochs = 3\n[train]\nlr-schedule = \"step\"\nupper = 12.5\nbatch = 20\n");
        let (flags, matches) = parse(&["--epochs", "1"]);
        let from_file = resolve(&flags, &matches, Some(&path), None, None).unwrap();
        let (flags, matches) = parse(&["--epochs", "1", "--lr-schedule", "step", "--upper", "12.5", "--batch", "20"]);
        let from_flags = resolve(&flags, &matches, None, None, None).unwrap();
        assert_eq!(from_file.config, from_flags.config);
        assert_eq!(from_file.config.epochs, 1, "the command line wins");
        assert_eq!(from_file.sources["upper"], Source::File(path.clone()));
        assert_eq!(from_file.sources["epochs"], Source::Flag);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn presets_sit_under_files_and_flags() {
        let path = temp_file("preset", "preset = \"paper-cifar10-moco\"\nepochs = 20\n");
        let (flags, matches) = parse(&["--batch", "128"]);
        let r = resolve(&flags, &matches, Some(&path), None, None).unwrap();
        let paper = preset("paper-cifar10-moco").unwrap();
        assert_eq!(r.config, TrainConfig { epochs: 20, batch: 128, ..paper });
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_data_dir_that_is_not_utf8_is_named() {
        use std::os::unix::ffi::OsStrExt;
        let matches = Flags::command()
            .try_get_matches_from([std::ffi::OsStr::new("train"), "--data-dir".as_ref(), std::ffi::OsStr::from_bytes(b"data\xff")])
            .unwrap();
        let flags = Flags::from_arg_matches(&matches).unwrap().config;
        let e = resolve(&flags, &matches, None, None, None).map(|_| ()).expect_err("refused").to_string();
        assert!(e.starts_with("--data-dir data") && e.contains("not valid UTF-8"), "{e}");
    }

    #[test]
    fn mistakes_are_named_with_their_origin() {
        let path = temp_file("bad", "bogus_key = 1\n");
        let (flags, matches) = parse(&[]);
        let e = resolve(&flags, &matches, Some(&path), None, None).unwrap_err().to_string();
        assert!(e.contains("unknown key `bogus_key`") && e.contains("run.toml"), "{e}");
        std::fs::write(&path, "epochs = \"many\"\n").unwrap();
        let e = resolve(&flags, &matches, Some(&path), None, None).unwrap_err().to_string();
        assert!(e.starts_with("epochs = \"many\" in") && e.contains("invalid type"), "{e}");
        std::fs::write(&path, "temperature = -1.0\n").unwrap();
        let e = resolve(&flags, &matches, Some(&path), None, None).unwrap_err().to_string();
        assert!(e.starts_with("temperature = -1 in") && e.contains("positive"), "{e}");
        std::fs::write(&path, "epochs = [").unwrap();
        let e = resolve(&flags, &matches, Some(&path), None, None).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
        for (args, want) in [
            (vec!["--temperature", "-1"], "--temperature -1: must be a positive number"),
            (vec!["--queue", "10", "--batch", "50"], "--queue 10: must hold at least one batch (50)"),
            (vec!["--knn-k", "0"], "--knn-k 0: must be in 1..=100000"),
            (vec!["--lr", "nan"], "--lr NaN: must be a positive number"),
            (vec!["--key-momentum", "2"], "--key-momentum 2: must be in [0, 1]"),
            (vec!["--seed", "18446744073709551615"], "--seed 18446744073709551615: must be below 2^63"),
            (vec!["--queue", "18446744073709551615"], "--queue 18446744073709551615: must be at most"),
            (vec!["--epochs", "18446744073709551615"], "--epochs 18446744073709551615: must be in 1..="),
        ] {
            let (flags, matches) = parse(&args);
            let e = resolve(&flags, &matches, None, None, None).unwrap_err().to_string();
            assert!(e.starts_with(want), "{args:?}: {e}");
        }
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Randomly damaged config files give a valid configuration or an error naming the
        /// file or a key, never a panic.
        #[test]
        fn mutated_config_files_resolve_or_are_refused(
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<char>()), 0..10),
            cut in proptest::option::of(proptest::prelude::any::<usize>()),
            extra in "[a-z_\\[\\]=\"0-9.e+-]{0,30}",
        ) {
            let valid = "preset = \"quick\"\nepochs = 3\n[train]\nlr-schedule = \"step\"\nupper = 12.5\nbatch = 20\nqueue = 4096\nknn_k = 5\n";
            let mut chars: Vec<char> = valid.chars().collect();
            for (at, c) in edits {
                let at = at % chars.len();
                chars[at] = c;
            }
            if let Some(cut) = cut {
                chars.truncate(cut % (chars.len() + 1));
            }
            let text: String = chars.into_iter().collect::<String>() + &extra;
            let path = temp_file("fuzz", &text);
            let (flags, matches) = parse(&[]);
            match resolve(&flags, &matches, Some(&path), None, None) {
                Ok(resolved) => proptest::prop_assert!(resolved.config.validate().is_ok()),
                Err(e) => {
                    let e = format!("{e:#}");
                    proptest::prop_assert!(e.len() < 8000, "{} bytes", e.len());
                }
            }
        }
    }
}
