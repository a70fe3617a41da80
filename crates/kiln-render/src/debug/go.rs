//! One container's debug transform, as Skaffold's `debug.TransformContainer` with its Go
//! (Delve) transformer: pkg/skaffold/debug/transform.go, container.go, transform_go.go.

use std::collections::{BTreeMap, HashMap};

use super::shell;

/// Delve's default port, and the one Skaffold asks for first.
pub(crate) const DLV_PORT: i64 = 56268;

/// Entrypoints that only launch the image's CMD (Skaffold registers the CNB launcher and
/// node's `docker-entrypoint.sh`).
const ENTRYPOINT_LAUNCHERS: [&str; 2] = ["/cnb/lifecycle/launcher", "docker-entrypoint.sh"];

/// The Go-runtime hints Skaffold looks for in the environment.
const GO_ENV_HINTS: [&str; 5] = [
    "GODEBUG",
    "GOGC",
    "GOMAXPROCS",
    "GOTRACEBACK",
    "KO_DATA_PATH",
];

/// Skaffold's `ImageConfiguration`, merged with the container's overrides.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageConfiguration {
    pub(crate) artifact: String,
    pub(crate) runtime: Runtime,
    pub(crate) env: HashMap<String, String>,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) arguments: Vec<String>,
    pub(crate) working_dir: String,
}

/// `types.ToRuntime`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Runtime {
    Go,
    /// jvm, nodejs, python or netcore: another Skaffold transformer owns these.
    Other,
    #[default]
    Unknown,
}

impl Runtime {
    pub(crate) fn parse(s: Option<&str>) -> Runtime {
        match s.map(str::to_lowercase).as_deref() {
            Some("go" | "golang") => Runtime::Go,
            Some(
                "nodejs" | "node" | "npm" | "jvm" | "java" | "python" | "netcore" | ".net"
                | "dotnet",
            ) => Runtime::Other,
            _ => Runtime::Unknown,
        }
    }
}

/// A container port: its name and number, and its index in the original list (`None` for
/// the one added here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    pub(crate) name: String,
    pub(crate) container_port: i64,
    pub(crate) original: Option<usize>,
}

/// Skaffold's `ExecutableContainer`: the fields a transform may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Executable {
    pub(crate) command: Option<Vec<String>>,
    pub(crate) args: Option<Vec<String>>,
    pub(crate) ports: Vec<Port>,
}

/// Skaffold's `ContainerDebugConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DebugConfiguration {
    pub(crate) artifact: String,
    pub(crate) runtime: String,
    pub(crate) working_dir: String,
    pub(crate) ports: BTreeMap<String, u32>,
}

impl DebugConfiguration {
    /// Go's `json.Marshal` of the struct: `omitempty` fields in declaration order.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (key, value) in [
            ("artifact", &self.artifact),
            ("runtime", &self.runtime),
            ("workingDir", &self.working_dir),
        ] {
            if !value.is_empty() {
                map.insert(key.to_owned(), value.clone().into());
            }
        }
        if !self.ports.is_empty() {
            let ports = self
                .ports
                .iter()
                .map(|(k, v)| (k.clone(), (*v).into()))
                .collect();
            map.insert("ports".to_owned(), serde_json::Value::Object(ports));
        }
        serde_json::Value::Object(map)
    }
}

/// `TransformContainer`: the debug configuration and the support image (`go`), or `None`
/// when the container is not a Go container this transform can rewrite (then `exec` is left
/// as it was).
pub(crate) fn transform_container(
    exec: &mut Executable,
    container_env: &[(String, String)],
    mut config: ImageConfiguration,
    alloc: &mut dyn FnMut(i64) -> i64,
) -> Option<(DebugConfiguration, &'static str)> {
    for (k, v) in container_env {
        config.env.insert(k.clone(), v.clone());
    }
    if let Some(command) = exec.command.as_ref().filter(|c| !c.is_empty()) {
        config.entrypoint = command.clone();
    }
    if let Some(args) = exec.args.as_ref().filter(|a| !a.is_empty()) {
        config.arguments = args.clone();
    }
    let before = exec.clone();
    let result = update_for_sh_dash_c(exec, &config, alloc);
    match result {
        Some(mut configuration) => {
            configuration.artifact = config.artifact.clone();
            if configuration.working_dir.is_empty() {
                configuration.working_dir = config.working_dir.clone();
            }
            Some((configuration, "go"))
        }
        None => {
            *exec = before;
            None
        }
    }
}

fn is_sh_dash_c(cmd: &str, arg: &str) -> bool {
    (cmd == "/bin/sh" || cmd == "/bin/bash") && arg == "-c"
}

fn is_entrypoint_launcher(entrypoint: &[String]) -> bool {
    entrypoint.len() == 1 && ENTRYPOINT_LAUNCHERS.contains(&entrypoint[0].as_str())
}

#[derive(Clone, Copy)]
enum ShDashC {
    /// entrypoint `[sh, -c]`, arguments `[<cmd-line>, args...]`
    EntrypointAndArgs,
    /// entrypoint `[sh, -c, <cmd-line>, args...]`
    Entrypoint,
    /// no entrypoint (or a launcher), arguments `[sh, -c, <cmd-line>, args...]`
    Args,
}

/// `updateForShDashC`: transforms the command line inside `sh -c`, then puts it back.
fn update_for_sh_dash_c(
    exec: &mut Executable,
    ic: &ImageConfiguration,
    alloc: &mut dyn FnMut(i64) -> i64,
) -> Option<DebugConfiguration> {
    let ep = &ic.entrypoint;
    let args = &ic.arguments;
    let mut unwrapped = ic.clone();
    let mut rewriter = None;
    if ep.len() == 2 && !args.is_empty() && is_sh_dash_c(&ep[0], &ep[1]) {
        if let Some(split) = shell::split(&args[0]) {
            unwrapped.entrypoint = split;
            unwrapped.arguments = Vec::new();
            rewriter = Some(ShDashC::EntrypointAndArgs);
        }
    } else if ep.len() > 2 && is_sh_dash_c(&ep[0], &ep[1]) {
        if let Some(split) = shell::split(&ep[2]) {
            unwrapped.entrypoint = split;
            unwrapped.arguments = Vec::new();
            rewriter = Some(ShDashC::Entrypoint);
        }
    } else if (ep.is_empty() || is_entrypoint_launcher(ep))
        && args.len() > 2
        && is_sh_dash_c(&args[0], &args[1])
        && let Some(split) = shell::split(&args[2])
    {
        unwrapped.entrypoint = split;
        unwrapped.arguments = Vec::new();
        rewriter = Some(ShDashC::Args);
    }

    let configuration = perform(exec, &unwrapped, alloc)?;
    if let (Some(rewriter), Some(rewritten)) = (rewriter, exec.command.clone()) {
        let joined = shell::join(&rewritten);
        match rewriter {
            ShDashC::EntrypointAndArgs => {
                exec.command = None;
                let mut new_args = vec![joined];
                new_args.extend(args.iter().skip(1).cloned());
                exec.args = Some(new_args);
            }
            ShDashC::Entrypoint => {
                let mut command = vec![ep[0].clone(), ep[1].clone(), joined];
                command.extend(ep.iter().skip(3).cloned());
                exec.command = Some(command);
            }
            ShDashC::Args => {
                exec.command = None;
                let mut new_args = vec![args[0].clone(), args[1].clone(), joined];
                new_args.extend(args.iter().skip(3).cloned());
                exec.args = Some(new_args);
            }
        }
    }
    Some(configuration)
}

/// `performContainerTransform` restricted to the Go transformer: a declared runtime wins
/// (`go`/`golang` applies, another declared runtime belongs to another transformer), else
/// the Go heuristics decide.
fn perform(
    exec: &mut Executable,
    config: &ImageConfiguration,
    alloc: &mut dyn FnMut(i64) -> i64,
) -> Option<DebugConfiguration> {
    match config.runtime {
        Runtime::Go => apply(exec, config, alloc),
        Runtime::Other => None,
        Runtime::Unknown if is_applicable(config) => apply(exec, config, alloc),
        Runtime::Unknown => None,
    }
}

fn is_launching_dlv(args: &[String]) -> bool {
    args.first()
        .is_some_and(|a| a == "dlv" || a.ends_with("/dlv"))
}

/// `dlvTransformer.IsApplicable` (without the image-author and buildpack-label checks,
/// which never match a ko-built image).
fn is_applicable(config: &ImageConfiguration) -> bool {
    if GO_ENV_HINTS.iter().any(|n| config.env.contains_key(*n)) {
        return true;
    }
    if !config.entrypoint.is_empty() && !is_entrypoint_launcher(&config.entrypoint) {
        return is_launching_dlv(&config.entrypoint);
    }
    if !config.arguments.is_empty() {
        return is_launching_dlv(&config.arguments);
    }
    false
}

/// Skaffold's `dlvSpec`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DlvSpec {
    mode: String,
    host: String,
    port: u16,
    headless: bool,
    log: bool,
    api_version: i64,
}

impl DlvSpec {
    fn new(port: u16) -> Self {
        DlvSpec {
            mode: "exec".to_owned(),
            host: String::new(),
            port,
            headless: true,
            log: false,
            api_version: 2,
        }
    }

    fn as_arguments(&self) -> Vec<String> {
        let mut args = vec!["/dbg/go/bin/dlv".to_owned(), self.mode.clone()];
        if self.headless {
            args.push("--headless".to_owned());
        }
        args.push("--continue".to_owned());
        args.push("--accept-multiclient".to_owned());
        if self.port > 0 {
            args.push(format!("--listen={}:{}", self.host, self.port));
        } else {
            args.push(format!("--listen={}", self.host));
        }
        if self.api_version > 0 {
            args.push(format!("--api-version={}", self.api_version));
        }
        if self.log {
            args.push("--log".to_owned());
        }
        args
    }
}

/// `extractDlvSpec`: the options of an existing `dlv` command line.
fn extract_dlv_spec(args: &[String]) -> Option<DlvSpec> {
    if !is_launching_dlv(args) {
        return None;
    }
    let mut spec = DlvSpec {
        mode: String::new(),
        host: String::new(),
        port: 0,
        headless: false,
        log: false,
        api_version: 2,
    };
    for arg in args {
        match arg.as_str() {
            "--" => break,
            "debug" | "test" | "exec" => spec.mode = arg.clone(),
            "--headless" => spec.headless = true,
            "--log" => spec.log = true,
            _ => {
                if let Some(address) = arg.strip_prefix("--listen=") {
                    let port = match address.split_once(':') {
                        Some((host, port)) => {
                            spec.host = host.to_owned();
                            port
                        }
                        None => address,
                    };
                    spec.port = u16::try_from(go_parse_int(port, false, 0, i64::from(u16::MAX)))
                        .unwrap_or(0);
                } else if let Some(version) = arg.strip_prefix("--api-version=") {
                    spec.api_version =
                        go_parse_int(version, true, i64::from(i16::MIN), i64::from(i16::MAX));
                }
            }
        }
    }
    Some(spec)
}

/// Go's `strconv.ParseInt`/`ParseUint(s, 10, bits)` with the error ignored, as Skaffold
/// does: 0 for a malformed number, the nearest bound for an out-of-range one.
fn go_parse_int(s: &str, signed: bool, min: i64, max: i64) -> i64 {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') if signed => (true, &s[1..]),
        Some(b'+') if signed => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    let value = if negative { -magnitude } else { magnitude };
    value.clamp(i128::from(min), i128::from(max)) as i64
}

/// `rewriteDlvCommandLine`: Delve in front, `--` after the program when arguments follow.
fn rewrite_dlv_command_line(
    command_line: &[String],
    spec: &DlvSpec,
    container_args: Option<&Vec<String>>,
) -> Vec<String> {
    let mut command_line = command_line.to_vec();
    if command_line.len() > 1 || container_args.is_some_and(|a| !a.is_empty()) {
        command_line.insert(1, "--".to_owned());
    }
    let mut out = spec.as_arguments();
    out.extend(command_line);
    out
}

/// `dlvTransformer.Apply`.
fn apply(
    exec: &mut Executable,
    config: &ImageConfiguration,
    alloc: &mut dyn FnMut(i64) -> i64,
) -> Option<DebugConfiguration> {
    let spec = match extract_dlv_spec(&config.entrypoint)
        .or_else(|| extract_dlv_spec(&config.arguments))
    {
        Some(spec) => spec,
        None => {
            let port = u16::try_from(alloc(DLV_PORT)).unwrap_or(0);
            let spec = DlvSpec::new(port);
            let launcher = is_entrypoint_launcher(&config.entrypoint);
            if !config.entrypoint.is_empty() && !launcher {
                exec.command = Some(rewrite_dlv_command_line(
                    &config.entrypoint,
                    &spec,
                    exec.args.as_ref(),
                ));
            } else if !config.arguments.is_empty() {
                exec.args = Some(rewrite_dlv_command_line(
                    &config.arguments,
                    &spec,
                    exec.args.as_ref(),
                ));
            } else {
                return None;
            }
            spec
        }
    };
    expose_port(&mut exec.ports, "dlv", i64::from(spec.port));
    Some(DebugConfiguration {
        artifact: String::new(),
        runtime: "go".to_owned(),
        working_dir: String::new(),
        ports: BTreeMap::from([("dlv".to_owned(), u32::from(spec.port))]),
    })
}

/// `exposePort`: renumber the port with this name, drop others that use the number, or add
/// a new entry.
pub(crate) fn expose_port(ports: &mut Vec<Port>, name: &str, port: i64) {
    let mut found = false;
    let mut i = 0;
    while i < ports.len() {
        if ports[i].name == name {
            ports[i].container_port = port;
            found = true;
            i += 1;
        } else if ports[i].container_port == port {
            ports.remove(i);
        } else {
            i += 1;
        }
    }
    if !found {
        ports.push(Port {
            name: name.to_owned(),
            container_port: port,
            original: None,
        });
    }
}

/// `util.AllocatePort`: the first port from `desired` up (then down) that `available`
/// accepts, never below 1024.
pub(crate) fn allocate_port(available: impl Fn(i64) -> bool, desired: i64) -> i64 {
    let desired = if (1024..=65535).contains(&desired) {
        desired
    } else {
        1024
    };
    (desired..65535)
        .find(|&p| available(p))
        .or_else(|| (1025..=desired).rev().find(|&p| available(p)))
        .unwrap_or(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn port(name: &str, p: i64) -> Port {
        Port {
            name: name.to_owned(),
            container_port: p,
            original: None,
        }
    }

    #[test]
    fn extract_dlv_spec_like_skaffold() {
        // Skaffold's TestExtractDlvArg.
        let spec =
            |mode: &str, host: &str, port: u16, headless: bool, api: i64, log: bool| DlvSpec {
                mode: mode.to_owned(),
                host: host.to_owned(),
                port,
                headless,
                log,
                api_version: api,
            };
        let cases: Vec<(&[&str], Option<DlvSpec>)> = vec![
            (&[], None),
            (&["foo"], None),
            (&["foo", "--foo"], None),
            (
                &["dlv", "debug", "--headless"],
                Some(spec("debug", "", 0, true, 2, false)),
            ),
            (
                &["dlv", "--headless", "exec"],
                Some(spec("exec", "", 0, true, 2, false)),
            ),
            (
                &["dlv", "--headless", "exec", "--", "--listen=host:4345"],
                Some(spec("exec", "", 0, true, 2, false)),
            ),
            (
                &["dlv", "test", "--headless", "--listen=host:4345"],
                Some(spec("test", "host", 4345, true, 2, false)),
            ),
            (
                &["dlv", "debug", "--headless", "--api-version=1"],
                Some(spec("debug", "", 0, true, 1, false)),
            ),
            (
                &[
                    "dlv",
                    "debug",
                    "--listen=host:4345",
                    "--headless",
                    "--api-version=2",
                    "--log",
                ],
                Some(spec("debug", "host", 4345, true, 2, true)),
            ),
            (
                &["dlv", "debug", "--listen=:4345"],
                Some(spec("debug", "", 4345, false, 2, false)),
            ),
            (
                &["dlv", "debug", "--listen=host:"],
                Some(spec("debug", "host", 0, false, 2, false)),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(extract_dlv_spec(&strings(args)), expected, "{args:?}");
        }
    }

    #[test]
    fn is_applicable_like_skaffold() {
        // Skaffold's TestDlvTransformer_IsApplicable (less the author/launcher-override cases).
        let env = |k: &str| ImageConfiguration {
            env: HashMap::from([(k.to_owned(), "x".to_owned())]),
            ..Default::default()
        };
        for k in GO_ENV_HINTS {
            assert!(is_applicable(&env(k)), "{k}");
        }
        let ep = |e: &[&str], a: &[&str]| ImageConfiguration {
            entrypoint: strings(e),
            arguments: strings(a),
            ..Default::default()
        };
        assert!(is_applicable(&ep(&["dlv", "exec", "--headless"], &[])));
        assert!(is_applicable(&ep(
            &["/cnb/lifecycle/launcher"],
            &["dlv", "exec"]
        )));
        assert!(!is_applicable(&ep(&["/bin/sh"], &[])));
        assert!(!is_applicable(&ImageConfiguration::default()));
    }

    #[test]
    fn expose_port_like_skaffold() {
        // Skaffold's TestExposePort.
        let cases: Vec<(Vec<Port>, Vec<Port>)> = vec![
            (vec![], vec![port("name", 5555)]),
            (vec![port("name", 5555)], vec![port("name", 5555)]),
            (
                vec![port("foo", 4444)],
                vec![port("foo", 4444), port("name", 5555)],
            ),
            (vec![port("name", 4444)], vec![port("name", 5555)]),
            (vec![port("foo", 5555)], vec![port("name", 5555)]),
            (
                vec![port("", 5555), port("name", 4444)],
                vec![port("name", 5555)],
            ),
            (
                vec![port("name", 4444), port("", 5555)],
                vec![port("name", 5555)],
            ),
        ];
        for (mut input, expected) in cases {
            expose_port(&mut input, "name", 5555);
            assert_eq!(input, expected);
        }
    }

    fn apply_to(
        exec: Executable,
        config: ImageConfiguration,
    ) -> (Executable, Option<DebugConfiguration>) {
        let mut exec = exec;
        let result = apply(&mut exec, &config, &mut |p| p);
        (exec, result)
    }

    const DLV: [&str; 7] = [
        "/dbg/go/bin/dlv",
        "exec",
        "--headless",
        "--continue",
        "--accept-multiclient",
        "--listen=:56268",
        "--api-version=2",
    ];

    fn dlv_then(rest: &[&str]) -> Vec<String> {
        let mut v = strings(&DLV);
        v.extend(strings(rest));
        v
    }

    #[test]
    fn apply_like_skaffold() {
        // Skaffold's TestDlvTransformerApply.
        let empty = Executable {
            command: None,
            args: None,
            ports: vec![],
        };
        let (_, result) = apply_to(empty.clone(), ImageConfiguration::default());
        assert_eq!(result, None, "empty");

        let basic = ImageConfiguration {
            entrypoint: strings(&["app", "arg"]),
            ..Default::default()
        };
        let (exec, result) = apply_to(empty.clone(), basic.clone());
        assert_eq!(exec.command, Some(dlv_then(&["app", "--", "arg"])));
        assert_eq!(exec.ports, vec![port("dlv", 56268)]);
        let result = result.unwrap();
        assert_eq!(result.runtime, "go");
        assert_eq!(result.ports, BTreeMap::from([("dlv".to_owned(), 56268)]));

        let with_port = Executable {
            ports: vec![port("http-server", 8080)],
            ..empty.clone()
        };
        let (exec, _) = apply_to(with_port, basic.clone());
        assert_eq!(
            exec.ports,
            vec![port("http-server", 8080), port("dlv", 56268)]
        );

        let with_dlv_port = Executable {
            ports: vec![port("dlv", 7896)],
            ..empty.clone()
        };
        let (exec, _) = apply_to(with_dlv_port, basic);
        assert_eq!(exec.ports, vec![port("dlv", 56268)]);

        let (exec, _) = apply_to(
            empty.clone(),
            ImageConfiguration {
                arguments: strings(&["app", "arg"]),
                ..Default::default()
            },
        );
        assert_eq!(exec.command, None);
        assert_eq!(exec.args, Some(dlv_then(&["app", "--", "arg"])));

        let (exec, _) = apply_to(
            Executable {
                args: Some(strings(&["arg1", "arg2"])),
                ..empty
            },
            ImageConfiguration {
                entrypoint: strings(&["app"]),
                ..Default::default()
            },
        );
        assert_eq!(exec.command, Some(dlv_then(&["app", "--"])));
        assert_eq!(exec.args, Some(strings(&["arg1", "arg2"])));
    }

    #[test]
    fn sh_dash_c_is_unwrapped_and_rewrapped() {
        let go = |ep: &[&str], args: &[&str]| ImageConfiguration {
            entrypoint: strings(ep),
            arguments: strings(args),
            runtime: Runtime::Go,
            ..Default::default()
        };
        let empty = Executable {
            command: None,
            args: None,
            ports: vec![],
        };
        let run = |config: ImageConfiguration| {
            let mut exec = empty.clone();
            update_for_sh_dash_c(&mut exec, &config, &mut |p| p).unwrap();
            exec
        };
        let dlv = shell::join(&dlv_then(&["app", "--", "x y"]));
        assert_eq!(
            dlv,
            "/dbg/go/bin/dlv exec --headless --continue --accept-multiclient --listen=:56268 --api-version=2 app -- \"x y\""
        );

        let exec = run(go(&["/bin/sh", "-c", "app 'x y'", "z"], &[]));
        assert_eq!(exec.command, Some(strings(&["/bin/sh", "-c", &dlv, "z"])));

        let exec = run(go(&["/bin/sh", "-c"], &["app 'x y'", "z"]));
        assert_eq!(exec.command, None);
        assert_eq!(exec.args, Some(strings(&[&dlv, "z"])));

        let exec = run(go(&[], &["/bin/bash", "-c", "app 'x y'", "z"]));
        assert_eq!(exec.command, None);
        assert_eq!(exec.args, Some(strings(&["/bin/bash", "-c", &dlv, "z"])));
    }

    #[test]
    fn ports_are_allocated_like_skaffold() {
        assert_eq!(allocate_port(|p| p != 56268, 56268), 56269);
        assert_eq!(allocate_port(|_| true, 80), 1024);
        assert_eq!(allocate_port(|p| p < 60000, 65534), 59999);
    }

    #[test]
    fn runtime_names() {
        assert_eq!(Runtime::parse(Some("GoLang")), Runtime::Go);
        assert_eq!(Runtime::parse(Some("java")), Runtime::Other);
        assert_eq!(Runtime::parse(Some("rust")), Runtime::Unknown);
        assert_eq!(Runtime::parse(None), Runtime::Unknown);
    }
}
