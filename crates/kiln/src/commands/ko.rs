//! `kiln ko build` and `kiln ko resolve`: ko's command line over
//! `kiln_pipeline::session::ko`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kiln_pipeline::session::ko::KoSession;

use kiln_core::env::Env;

use super::sinks;
use crate::cli::{KoBuildArgs, KoBuildOptions, KoPublishArgs, KoResolveArgs, SbomFormat};
use crate::printer;
use crate::requests::ko_request;

pub async fn build(args: KoBuildArgs, env: Env) -> anyhow::Result<()> {
    let session = start(&args.publish, &args.build, env).await?;
    let plans = session.plan(&args.packages).await?;
    for reference in session.build(&plans).await? {
        printer::stdout_line(&reference);
    }
    Ok(())
}

/// `kiln ko resolve`: every `ko://` reference in the inputs is built once and replaced by
/// its published reference; the YAML is printed file by file, `---` between files.
pub async fn resolve(args: KoResolveArgs, env: Env) -> anyhow::Result<()> {
    let inputs = read_inputs(&args.filenames, args.recursive)?;
    let session = start(&args.publish, &args.build, env).await?;
    printer::stdout_text(&session.resolve(&inputs).await?);
    Ok(())
}

async fn start(
    publish: &KoPublishArgs,
    build: &KoBuildOptions,
    env: Env,
) -> anyhow::Result<KoSession> {
    if matches!(build.sbom, SbomFormat::Cyclonedx | SbomFormat::GoVersionM) {
        // ko v0.18 takes every value but `none` as SPDX; so does kiln, saying so.
        printer::info(&format!(
            "--sbom={}: kiln writes SPDX, as ko v0.18 does for every value but `none`",
            build.sbom.name()
        ));
    }
    let wd = std::env::current_dir().context("reading the working directory")?;
    let request = ko_request(publish, build);
    Ok(KoSession::start(request, env, &wd, &sinks(false)).await?)
}

/// The YAML inputs of `-f`, as (name for messages, content), in order: `-` is standard
/// input; a directory gives its `.yaml`, `.yml` and `.json` files (sorted; subdirectories
/// with -R), as ko reads them.
fn read_inputs(filenames: &[PathBuf], recursive: bool) -> anyhow::Result<Vec<(String, String)>> {
    let mut inputs = Vec::new();
    for path in filenames {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading standard input")?;
            inputs.push(("<stdin>".to_owned(), text));
        } else if path.is_dir() {
            for file in kiln_pipeline::manifests::ko_yaml_files(path, recursive)? {
                inputs.push(read_input(&file)?);
            }
        } else {
            inputs.push(read_input(path)?);
        }
    }
    Ok(inputs)
}

fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (given with -f)", path.display()))?;
    Ok((path.display().to_string(), text))
}
