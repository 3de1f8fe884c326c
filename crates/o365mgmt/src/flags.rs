//! The connection flags, made from the settings table (`o365_actions::config::KEYS`): each
//! setting is declared once, there.

use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use o365_actions::config::{Key, KEYS};

/// Settings given as flags, in table order.
#[derive(Debug, Default, Clone)]
pub struct SettingFlags(pub Vec<(&'static Key, String)>);

impl SettingFlags {
    /// The value given for a setting, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(
            KEYS.iter()
                .filter_map(|k| m.get_one::<String>(k.name).map(|v| (k, v.clone())))
                .collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for SettingFlags {
    fn augment_args(cmd: Command) -> Command {
        KEYS.iter().fold(cmd, |cmd, k| {
            let help = match k.default_shown() {
                Some(d) => format!("{} [default: {d}] [env: {}]", k.help, k.env),
                None => format!("{} [env: {}]", k.help, k.env),
            };
            cmd.arg(
                Arg::new(k.name)
                    .long(k.flag.trim_start_matches("--"))
                    .value_name(k.value_name)
                    .help(help)
                    .global(true)
                    .help_heading("Settings"),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
