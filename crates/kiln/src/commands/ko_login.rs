//! `kiln ko login` and `kiln ko version`. Login stores credentials where docker and kiln's
//! registry client look for them (`kiln_registry::login`, crane's rules), so the push that
//! follows reads what it wrote.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use kiln_registry::{Env, Secret};

use crate::cli::KoLoginArgs;
use crate::printer;

pub fn version() -> anyhow::Result<()> {
    printer::stdout_line(env!("CARGO_PKG_VERSION"));
    Ok(())
}

pub async fn login(args: KoLoginArgs, env: &Env) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        if args.password.is_some() {
            bail!("--password and --password-stdin are exclusive: pass one");
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from standard input")?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_owned()
    } else {
        args.password.clone().unwrap_or_default()
    };
    let username = args.username.clone().unwrap_or_default();
    let logged_in =
        kiln_registry::login(env, &args.server, &username, &Secret::new(password)).await?;
    printer::info(&format!(
        "logged in to {} via {}",
        logged_in.server,
        logged_in.config.display()
    ));
    Ok(())
}
