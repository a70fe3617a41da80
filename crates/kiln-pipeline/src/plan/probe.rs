//! What planning asks the outside world, and nothing else: `go list` for main packages,
//! `go env` and git for template data, the file system for directories and `.ko.yaml`
//! builds. The answers go to the pure rules in [`super::choose`].

use std::collections::BTreeMap;
use std::path::Path;

use kiln_config::{KoBuild, KoConfig};
use kiln_core::template::KoTemplateData;
use kiln_gobuild::{Package, Toolchain};

use super::{MainPackage, PlanOptions};
use crate::Error;
use crate::stages::{Downloads, StageEvents};

/// Resolves `main` with `go list` in `go_dir` (remembered in the cache), reporting module
/// downloads; a `ko://` import path must name the package itself.
pub(crate) async fn resolve_package(
    toolchain: &Toolchain,
    go_dir: &Path,
    main: &MainPackage,
    build_env: &[(String, String)],
    options: &PlanOptions,
) -> Result<Package, Error> {
    // Planning has no image yet to name: the stage is reported under the package.
    let stage = StageEvents::new(&options.events.sink(), main.as_go_arg(), None);
    let downloads = Downloads::new(&stage);
    let package = crate::memo::resolve_main(
        toolchain,
        &options.cache_dir,
        go_dir,
        main.as_go_arg(),
        build_env,
        &|module| downloads.heard(module),
    )
    .await?;
    downloads.finish();
    if let MainPackage::ImportPath(ip) = main
        && package.import_path != *ip
    {
        return Err(Error::planning(
            format!("ko://{ip}"),
            format!(
                "resolved to {}; write the full import path of a main package",
                package.import_path
            ),
        ));
    }
    Ok(package)
}

/// ko's template data for `templates`. git and `go env` each cost a subprocess, so they
/// only run when a template mentions them.
pub(crate) async fn template_data(
    toolchain: &Toolchain,
    dir: &Path,
    env: &BTreeMap<String, String>,
    build_time_unix: i64,
    templates: &[&[String]],
) -> Result<KoTemplateData, Error> {
    let mentions = |needle: &str| {
        templates
            .iter()
            .flat_map(|t| t.iter())
            .any(|t| t.contains(needle))
    };
    let git = if mentions(".Git") {
        kiln_gobuild::git::template_info(dir, &toolchain.env).await
    } else {
        Default::default()
    };
    let go_env = if mentions("GoEnv") {
        toolchain.go_env().await?
    } else {
        BTreeMap::new()
    };
    Ok(KoTemplateData::new(
        env.clone(),
        go_env,
        git,
        build_time_unix,
    ))
}

/// The .ko.yaml `builds[]` entry for `package`: the one whose `<dir>/<main>` is the
/// package's directory (a `main` naming a file means its directory, as in ko).
pub(crate) fn matching_ko_build<'k>(
    ko: &'k KoConfig,
    wd: &Path,
    package: &Package,
) -> Option<&'k KoBuild> {
    let target = std::fs::canonicalize(&package.dir).ok()?;
    ko.builds.iter().find(|b| {
        let mut dir = wd.join(&b.dir).join(&b.main);
        if dir.is_file() {
            dir.pop();
        }
        std::fs::canonicalize(&dir).is_ok_and(|d| d == target)
    })
}
