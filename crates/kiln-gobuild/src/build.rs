//! One `go build` of one package for one platform.

use std::path::PathBuf;

use kiln_core::Platform;

use crate::{Error, Toolchain};

/// Everything one `go build` needs; the pipeline has already applied precedence rules.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// Where `go` runs (the artifact's context joined with its `dir`).
    pub dir: PathBuf,
    pub import_path: String,
    pub platform: Platform,
    /// Flags, already templated, in order.
    pub flags: Vec<String>,
    /// ldflags, already templated; joined with spaces into one `-ldflags=` argument.
    pub ldflags: Vec<String>,
    /// Environment overrides on top of the inherited environment, in order (later wins).
    /// The platform's GOOS/GOARCH/GOARM/GOAMD64 are applied after these.
    pub env: Vec<(String, String)>,
    pub trimpath: bool,
    pub disable_optimizations: bool,
    /// A stable path per artifact and platform, so Go can skip the link when the binary
    /// there is already up to date.
    pub output: PathBuf,
}

impl BuildRequest {
    /// The arguments after `go`, in ko's order:
    /// `build <flags> [-trimpath] [-gcflags all=-N -l] [-ldflags=…] -o <out> <import path>`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["build".to_owned()];
        args.extend(self.flags.iter().cloned());
        if self.trimpath {
            args.push("-trimpath".to_owned());
        }
        if self.disable_optimizations {
            args.extend(["-gcflags".to_owned(), "all=-N -l".to_owned()]);
        }
        if !self.ldflags.is_empty() {
            args.push(format!("-ldflags={}", self.ldflags.join(" ")));
        }
        args.extend(["-o".to_owned(), self.output.display().to_string()]);
        args.push(self.import_path.clone());
        args
    }
}

/// Refuses `-toolexec` (with one or two dashes, with or without `=`) in `args`, as ko does
/// for flags and GOFLAGS: it would let a config file run any program.
pub fn reject_toolexec(args: &[String], source_name: &str) -> Result<(), Error> {
    for arg in args.iter().flat_map(|a| a.split_whitespace()) {
        let flag = arg.trim_start_matches('-');
        if arg.starts_with('-') && (flag == "toolexec" || flag.starts_with("toolexec=")) {
            return Err(Error::Toolexec {
                flag: arg.to_owned(),
                source_name: source_name.to_owned(),
            });
        }
    }
    Ok(())
}

impl Toolchain {
    /// Runs the build; compile errors come back verbatim, as the compiler printed them.
    /// `on_download` hears each module Go fetches (`example.com/m v1.2.3`) as it starts.
    pub async fn build(
        &self,
        request: &BuildRequest,
        on_download: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<PathBuf, Error> {
        reject_toolexec(&request.flags, "flags")?;
        let platform_env = request.platform.go_env().map_err(|e| Error::Build {
            import_path: request.import_path.clone(),
            platform: request.platform.to_string(),
            output: e.to_string(),
        })?;
        if let Some(parent) = request.output.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|source| Error::Io {
                    path: parent.to_owned(),
                    source,
                })?;
        }
        // The platform's GOOS/GOARCH/GOARM/GOAMD64 come last: they always win.
        let env: Vec<(String, String)> = request
            .env
            .iter()
            .cloned()
            .chain(platform_env.into_iter().map(|(k, v)| (k.to_owned(), v)))
            .collect();
        let out = self
            .go_output(&request.args(), &request.dir, &env, on_download)
            .await?;
        if !out.status.success() {
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(Error::Build {
                import_path: request.import_path.clone(),
                platform: request.platform.to_string(),
                output: output.trim_end().to_owned(),
            });
        }
        // `go build -o` of a package that is not `main` writes an archive instead of an
        // executable; refuse it rather than put an archive in an image.
        let mut head = [0u8; 8];
        let mut file = tokio::fs::File::open(&request.output)
            .await
            .map_err(|source| Error::Io {
                path: request.output.clone(),
                source,
            })?;
        let read = tokio::io::AsyncReadExt::read(&mut file, &mut head)
            .await
            .unwrap_or(0);
        if head[..read].starts_with(b"!<arch>") {
            return Err(Error::NotMain {
                import_path: request.import_path.clone(),
                name: "go build wrote a package archive".to_owned(),
            });
        }
        Ok(request.output.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_follow_ko_order() {
        let req = BuildRequest {
            dir: ".".into(),
            import_path: "example.com/app".into(),
            platform: "linux/amd64".parse().unwrap(),
            flags: vec!["-tags".into(), "netgo".into()],
            ldflags: vec!["-s".into(), "-X main.v=1".into()],
            env: vec![],
            trimpath: true,
            disable_optimizations: true,
            output: "/o/app".into(),
        };
        assert_eq!(
            req.args(),
            [
                "build",
                "-tags",
                "netgo",
                "-trimpath",
                "-gcflags",
                "all=-N -l",
                "-ldflags=-s -X main.v=1",
                "-o",
                "/o/app",
                "example.com/app"
            ]
        );
    }

    #[test]
    fn toolexec_is_rejected_in_every_spelling() {
        for bad in [
            "-toolexec",
            "--toolexec",
            "-toolexec=/bin/x",
            "--toolexec=x",
            "-mod=vendor -toolexec=x",
        ] {
            assert!(
                reject_toolexec(&[bad.to_owned()], "GOFLAGS").is_err(),
                "{bad}"
            );
        }
        for ok in ["-mod=vendor", "-tags=toolexec", "-trimpath"] {
            assert!(reject_toolexec(&[ok.to_owned()], "GOFLAGS").is_ok(), "{ok}");
        }
    }
}
