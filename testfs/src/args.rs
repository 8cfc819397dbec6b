//! The command line: `--source DIR --mountpoint MNT --control SOCKET
//! [--ready-file PATH]`.

use std::path::PathBuf;

use crate::daemon::Config;

pub const USAGE: &str =
    "usage: vroot-testfs --source DIR --mountpoint MNT --control SOCKET [--ready-file PATH]";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{0} is given twice")]
    Repeated(String),
    #[error("unknown argument {0:?}")]
    Unknown(String),
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Serve(Config),
}

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Invocation, ArgsError> {
    let (mut source, mut mountpoint, mut control, mut ready_file) = (None, None, None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--source" => &mut source,
            "--mountpoint" => &mut mountpoint,
            "--control" => &mut control,
            "--ready-file" => &mut ready_file,
            _ => return Err(ArgsError::Unknown(arg)),
        };
        let value = args
            .next()
            .ok_or_else(|| ArgsError::MissingValue(arg.clone()))?;
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(ArgsError::Repeated(arg));
        }
    }
    Ok(Invocation::Serve(Config {
        source: source.ok_or(ArgsError::Missing("--source"))?,
        mountpoint: mountpoint.ok_or(ArgsError::Missing("--mountpoint"))?,
        control: control.ok_or(ArgsError::Missing("--control"))?,
        ready_file,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_a_full_command_line() {
        let parsed = parse(args(
            "--source /s --mountpoint /m --control /c --ready-file /r",
        ));
        assert_eq!(
            parsed,
            Ok(Invocation::Serve(Config {
                source: "/s".into(),
                mountpoint: "/m".into(),
                control: "/c".into(),
                ready_file: Some("/r".into()),
            }))
        );
    }

    #[test]
    fn the_ready_file_is_optional() {
        let Ok(Invocation::Serve(config)) = parse(args("--control c --mountpoint m --source s"))
        else {
            panic!("not parsed");
        };
        assert_eq!(config.ready_file, None);
    }

    #[test]
    fn reports_mistakes() {
        assert_eq!(
            parse(args("--source /s --mountpoint /m")),
            Err(ArgsError::Missing("--control"))
        );
        assert_eq!(
            parse(args("--source")),
            Err(ArgsError::MissingValue("--source".into()))
        );
        assert_eq!(
            parse(args("--source a --source b")),
            Err(ArgsError::Repeated("--source".into()))
        );
        assert_eq!(
            parse(args("--verbose")),
            Err(ArgsError::Unknown("--verbose".into()))
        );
        assert_eq!(parse(args("--source a --help")), Ok(Invocation::Help));
    }
}
