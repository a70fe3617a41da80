//! The Skaffold v2.24 flags of `build`, `dev`, `debug`, `render`, `run`, `deploy` and
//! `delete` that kiln accepts
//! without acting on them, in one table, so that scripts written for Skaffold keep working.
//! The flags that change kiln's results are typed clap fields in `cli.rs`; this table holds
//! the rest (Skaffold's cmd/skaffold/app/cmd/flags.go and cmd.go). Each flag also reads
//! its `SKAFFOLD_<FLAG>` environment form, as Skaffold's do.

use clap::builder::PossibleValuesParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// How a flag takes its value, as pflag parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--flag`, `--flag=false` (pflag's bool: the value needs `=`).
    Bool,
    /// `--flag VALUE` or `--flag=VALUE`.
    Value,
    /// Repeatable, and comma-separated.
    List,
    /// `--flag` alone means `true`; a value needs `=` (pflag's NoOptDefVal).
    OptionalValue,
}

/// What kiln does when the flag is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// kiln already behaves as the flag asks (it never prompts, never checks for updates,
    /// runs no tests…): nothing to say.
    Satisfied,
    /// kiln cannot honour it; the text says why, printed once when the flag is given.
    Ignored(&'static str),
}

/// One accepted flag.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    pub name: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    /// Skaffold commands that define it (`all` for the root's persistent flags).
    pub commands: &'static [&'static str],
    pub effect: Effect,
}

const BUILD: &str = "build";
const DEV: &str = "dev";
const DEBUG: &str = "debug";
const RENDER: &str = "render";
const RUN: &str = "run";
const DEPLOY: &str = "deploy";
const DELETE: &str = "delete";
/// The root's persistent flags: accepted before or after any command.
const ROOT: &str = "all";

const NO_CLUSTER: &str =
    "kiln deploys with `kubectl apply` and `helm upgrade --install`, and watches nothing";
const STATUS_CHECK: &str = "kiln's status check waits for the deployed Deployments and StatefulSets, all at once after the deploy, and fails at the first failure";
const NO_DEV_API: &str = "kiln dev rebuilds on every file change and has no control API";
const NO_EVENTS: &str = "kiln has no event or RPC API";

const fn flag(
    name: &'static str,
    short: Option<char>,
    kind: Kind,
    commands: &'static [&'static str],
    effect: Effect,
) -> Flag {
    Flag {
        name,
        short,
        kind,
        commands,
        effect,
    }
}

use Effect::{Ignored, Satisfied};
use Kind::{Bool, List, OptionalValue, Value};

/// Every Skaffold flag of the four commands that kiln takes without acting on it.
pub const ACCEPTED: &[Flag] = &[
    // Root (cmd.go): persistent on every command.
    flag("interactive", None, Bool, &[ROOT], Satisfied),
    flag("update-check", None, Bool, &[ROOT], Satisfied),
    flag("color", None, Value, &[ROOT], Satisfied),
    flag("force-colors", None, Bool, &[ROOT], Satisfied),
    flag(
        "timestamps",
        None,
        Bool,
        &[ROOT],
        Ignored("kiln's log lines carry no timestamps"),
    ),
    // DefinedOn "all".
    flag("assume-yes", None, Bool, &[ROOT], Satisfied),
    flag("user", Some('u'), Value, &[ROOT], Satisfied),
    flag(
        "remote-cache-dir",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored("kiln does not follow remote `requires` configs"),
    ),
    flag(
        "sync-remote-cache",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored("kiln does not follow remote `requires` configs"),
    ),
    flag(
        "propagate-profiles",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored("kiln always propagates -p profiles to required configs (Skaffold's default)"),
    ),
    // Cluster, deploy and status checking. `-l/--label`, `--status-check` and
    // `--tolerate-failures-until-deadline` are flags of every command that defines them
    // (cli.rs).
    // `dev`, `debug`, `render`, `run`, `deploy` and `delete` act on it (cli.rs).
    flag("namespace", Some('n'), Value, &[BUILD], Ignored(NO_CLUSTER)),
    // `dev`, `debug`, `run`, `deploy` and `delete` act on it (cli.rs).
    flag("kubeconfig", None, Value, &[BUILD], Ignored(NO_CLUSTER)),
    flag(
        "minikube-profile",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Satisfied,
    ),
    flag(
        "detect-minikube",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Satisfied,
    ),
    flag(
        "check-cluster-node-platforms",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Ignored("kiln builds for --platform (or the config's platforms), never the cluster's"),
    ),
    flag(
        "tail",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    // `run` and `deploy` act on it (cli.rs).
    flag("force", None, Bool, &[DEV, DEBUG], Ignored(NO_CLUSTER)),
    flag(
        "cleanup",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "no-prune",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Satisfied,
    ),
    flag(
        "no-prune-children",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Satisfied,
    ),
    flag(
        "port-forward",
        None,
        OptionalValue,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "iterative-status-check",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(STATUS_CHECK),
    ),
    flag(
        "fast-fail-status-check",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(STATUS_CHECK),
    ),
    flag(
        "status-check-selectors",
        None,
        Value,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(STATUS_CHECK),
    ),
    flag(
        "wait-for-deletions",
        None,
        Bool,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "wait-for-deletions-max",
        None,
        Value,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "wait-for-deletions-delay",
        None,
        Value,
        &[DEV, DEBUG, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "cloud-run-project",
        None,
        Value,
        &[DEV, DEBUG, RUN, DEPLOY, DELETE],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "cloud-run-location",
        None,
        Value,
        &[DEV, DEBUG, RUN, DEPLOY, DELETE],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "enable-platform-node-affinity",
        None,
        Bool,
        &[DEV, DEBUG, RENDER, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "enable-gke-arm-node-toleration",
        None,
        Bool,
        &[DEV, DEBUG, RENDER, RUN, DEPLOY],
        Ignored(NO_CLUSTER),
    ),
    flag(
        "hydration-dir",
        None,
        Value,
        &[DEV, DEBUG, RENDER, RUN, DEPLOY],
        Satisfied,
    ),
    flag(
        "resource-selector-rules-file",
        None,
        Value,
        &[DEV, DEBUG, RENDER, RUN, DEPLOY],
        Ignored("kiln rewrites `image` fields only, by Skaffold's default rules"),
    ),
    // The dev loop.
    flag("trigger", None, Value, &[DEV, DEBUG], Ignored(NO_DEV_API)),
    flag("auto-build", None, Bool, &[DEV, DEBUG], Ignored(NO_DEV_API)),
    flag("auto-sync", None, Bool, &[DEV, DEBUG], Ignored(NO_DEV_API)),
    flag(
        "auto-deploy",
        None,
        Bool,
        &[DEV, DEBUG],
        Ignored(NO_DEV_API),
    ),
    flag(
        "watch-image",
        Some('w'),
        List,
        &[DEV, DEBUG],
        Ignored(NO_DEV_API),
    ),
    flag(
        "watch-poll-interval",
        Some('i'),
        Value,
        &[DEV, DEBUG],
        Ignored("kiln dev uses file-system events, not polling"),
    ),
    flag(
        "keep-running-on-failure",
        None,
        Bool,
        &[DEV, DEBUG],
        Satisfied,
    ),
    flag(
        "auto-create-config",
        None,
        Bool,
        &[DEV, DEBUG, RUN],
        Satisfied,
    ),
    flag("auto", None, Bool, &[DEV, DEBUG, RUN], Satisfied),
    flag(
        "render-only",
        None,
        Bool,
        &[DEV, RUN],
        Ignored("deprecated in Skaffold; use `kiln render`"),
    ),
    flag(
        "digest-source",
        None,
        Value,
        &[DEV, RUN],
        Ignored("kiln dev and run always deploy the images they built"),
    ),
    // Events, RPC and notifications.
    flag(
        "enable-rpc",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "wait-for-connection",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "event-log-file",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "last-log-file",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "rpc-port",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "rpc-http-port",
        None,
        Value,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Ignored(NO_EVENTS),
    ),
    flag(
        "toot",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Satisfied,
    ),
    flag(
        "mute-logs",
        None,
        List,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Satisfied,
    ),
    // Build.
    flag(
        "skip-tests",
        None,
        Bool,
        &[BUILD, DEV, DEBUG, RUN, DEPLOY, DELETE],
        Satisfied,
    ),
    // Debug.
    flag(
        "protocols",
        None,
        List,
        &[DEBUG],
        Ignored("kiln debugs Go with Delve's own protocol only"),
    ),
    // Render.
    flag(
        "images",
        Some('i'),
        List,
        &[RENDER, DEPLOY],
        Ignored("kiln takes prebuilt images from --build-artifacts only"),
    ),
    flag("loud", None, Bool, &[RENDER], Satisfied),
    // Run and deploy.
    flag(
        "render-output",
        None,
        Value,
        &[RUN],
        Ignored("use `kiln render -o FILE` to keep the rendered manifests"),
    ),
    flag(
        "load-images",
        None,
        Bool,
        &[DEPLOY],
        Ignored("kiln deploy loads no images: `kiln build` loads or pushes them"),
    ),
    flag("build-concurrency", None, Value, &[DEPLOY], Satisfied),
    flag(
        "set",
        None,
        List,
        &[RENDER, DELETE],
        Ignored("kiln applies no manifest overrides: set helm values in the release's `setValues`"),
    ),
    flag(
        "set-value-file",
        None,
        Value,
        &[RENDER, DELETE],
        Ignored("kiln applies no manifest overrides: set helm values in the release's `setValues`"),
    ),
];

const HEADING: &str = "Skaffold flags accepted without effect (see README)";

/// `cli` with every accepted flag added where Skaffold defines it; the root's flags go on
/// kiln's root and on the four commands (not globally: `kiln ko` has ko's flags). A flag
/// another part of kiln already defines (with an effect) is left to that definition.
pub fn augment(cli: Command) -> Command {
    let mut cli = add(cli, ROOT);
    for command in [BUILD, DEV, DEBUG, RENDER, RUN, DEPLOY, DELETE] {
        cli = cli.mut_subcommand(command, |sub| add(add(sub, ROOT), command));
    }
    cli
}

fn add(mut command: Command, defined_on: &str) -> Command {
    for f in ACCEPTED.iter().filter(|f| f.commands.contains(&defined_on)) {
        if !defines(&command, f) {
            command = command.arg(arg(f));
        }
    }
    command
}

fn defines(command: &Command, f: &Flag) -> bool {
    command
        .get_arguments()
        .any(|a| a.get_long() == Some(f.name) || (f.short.is_some() && a.get_short() == f.short))
}

fn arg(f: &Flag) -> Arg {
    let env = format!("SKAFFOLD_{}", f.name.to_uppercase().replace('-', "_"));
    let mut arg = Arg::new(f.name)
        .long(f.name)
        .env(env)
        .help_heading(HEADING)
        .help(match f.effect {
            Satisfied => "Accepted for Skaffold compatibility: kiln behaves so already",
            Ignored(why) => why,
        });
    if let Some(short) = f.short {
        arg = arg.short(short);
    }
    match f.kind {
        Bool => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(PossibleValuesParser::new([
                "true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F",
            ]))
            .hide_possible_values(true),
        Value => arg.action(ArgAction::Set),
        List => arg.action(ArgAction::Append).value_delimiter(','),
        OptionalValue => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true"),
    }
}

/// The "ignored" notes for the accepted flags given (on the command line or through their
/// environment form) to kiln's root or its subcommand, one line per reason.
pub fn notes(root: &ArgMatches) -> Vec<String> {
    let sub = root.subcommand();
    let given = |m: &ArgMatches, name: &str| {
        m.ids().any(|id| id.as_str() == name)
            && matches!(
                m.value_source(name),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
    };
    let mut notes: Vec<(Vec<&str>, &str)> = Vec::new();
    for f in ACCEPTED {
        let Ignored(why) = f.effect else { continue };
        let on_sub = sub.is_some_and(|(command, m)| {
            (f.commands.contains(&command) || f.commands.contains(&ROOT)) && given(m, f.name)
        });
        if !on_sub && !given(root, f.name) {
            continue;
        }
        match notes.iter_mut().find(|(_, w)| *w == why) {
            Some((names, _)) => names.push(f.name),
            None => notes.push((vec![f.name], why)),
        }
    }
    notes
        .into_iter()
        .map(|(names, why)| {
            let names: Vec<String> = names.iter().map(|n| format!("--{n}")).collect();
            format!("{} ignored: {why}", names.join(", "))
        })
        .collect()
}
