//! The SPDX project's validator (`pyspdxtools`, from PyPI's spdx-tools), which shares no
//! code with kiln, as the oracle for SBOM tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The validator: `$KILN_PYSPDXTOOLS` (set by scripts/test.sh), else the copy
/// scripts/ensure-spdx-tools.sh installs at the repo root.
fn pyspdxtools() -> PathBuf {
    if let Some(path) = std::env::var_os("KILN_PYSPDXTOOLS") {
        return PathBuf::from(path);
    }
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/spdx-tools/bin/pyspdxtools");
    assert!(
        installed.is_file(),
        "pyspdxtools not found: run `source scripts/ensure-spdx-tools.sh` (it installs PyPI's \
         spdx-tools into .venv/spdx-tools and sets KILN_PYSPDXTOOLS), or point \
         KILN_PYSPDXTOOLS at a pyspdxtools"
    );
    installed
}

/// Asserts that `file` is valid SPDX, as the SPDX project's own validator judges it.
pub fn validate_spdx(file: &Path) {
    let out = Command::new(pyspdxtools())
        .arg("-i")
        .arg(file)
        .output()
        .expect("pyspdxtools runs");
    assert!(
        out.status.success(),
        "{} is not valid SPDX:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
