//! Software bills of materials: `go version -m` parsed into [`GoBuildInfo`]
//! (`buildinfo.rs`), purls (`purl.rs`), and the SPDX 2.3 JSON documents ko attaches to an
//! image ([`ImageSbom`]) and to an index ([`IndexSbom`]) (`spdx.rs`).
//!
//! The documents follow ko's shape (internal/sbom/spdx.go): the same packages, relationships,
//! purls and identifiers, so tools that read ko's SBOMs read kiln's. They differ where ko's
//! output is not valid SPDX or not reproducible:
//!
//! * SPDX identifiers only keep `[A-Za-z0-9.-]` (ko's `SPDXRef-Package-example.com.app-(devel)`
//!   fails validation) and are made unique;
//! * `created` is the image config's `created` converted to UTC (ko formats the local time
//!   with a literal `Z`), so the same image always gets the same bytes;
//! * a dependency replaced by another module is listed as the module that was compiled in;
//! * proxy download locations use the module proxy's case encoding (`!burnt!sushi`);
//! * the image's purl carries its platform, and the main module its version when Go stamped one.

mod buildinfo;
mod purl;
mod spdx;

pub use buildinfo::{GoBuildInfo, GoModule};
pub use spdx::{ImageSbom, IndexEntry, IndexSbom, SPDX_VERSION, SbomBase};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SbomError {
    #[error("cannot parse `go version -m` output: line {line}: {reason}")]
    BuildInfo { line: usize, reason: String },
    #[error("the image config's `created` is `{0}`, which is not an RFC 3339 time")]
    Created(String),
    #[error("the base image annotation `{name}` is not an image reference: {reason}")]
    BaseName { name: String, reason: &'static str },
}

/// `go version -m` outputs and module values shared by the tests of the parts.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::GoModule;

    /// `go version -m` of a module-mode `go build -trimpath -tags "netgo osusergo"` (Go
    /// 1.27.3) outside git: the main module is `(devel)`, dependencies carry go.sum hashes, one
    /// is replaced by another module and one by a local directory.
    pub(crate) const MODULE_MODE: &str = concat!(
        "/tmp/kiln/bin/out: go1.27.3\n",
        "\tpath\texample.com/app\n",
        "\tmod\texample.com/app\t(devel)\t\n",
        "\tdep\texample.com/local\tv0.0.0\n",
        "\t=>\t./local\t(devel)\t\n",
        "\t\n",
        "\tdep\tgithub.com/Example/Greet\tv1.2.3\th1:1WJsvkhs8gQ7X2tjufKeatcKEL+OUJjJw3trnWG/lXM=\n",
        "\tdep\tgolang.org/x/fake\tv0.3.0\n",
        "\t=>\texample.net/fork\tv1.0.1\th1:u8BOPdhFTbpx5ZtQVue3K1QIragc88sZusYZk/TMcOI=\n",
        "\t\n",
        "\tbuild\t-buildmode=exe\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-tags=netgo,osusergo\n",
        "\tbuild\t-trimpath=true\n",
        "\tbuild\tDefaultGODEBUG=containermaxprocs=0,cryptocustomrand=1,decoratemappings=0,gotestjsonbuildtext=1,httpcookiemaxnum=0,httpservecontentkeepheaders=1,httpservecontentmaxranges=1,multipathtcp=0,randseednop=0,rsa1024min=0,tlsmlkem=0,tlssecpmlkem=0,tlssha1=1,tracebacklabels=0,updatemaxprocs=0,urlmaxqueryparams=0,urlstrictcolons=0,winreadlinkvolume=0,winsymlink=0,x509negativeserial=1,x509rsacrt=0,x509sha256skid=0,x509sslcertoverrideplatform=0,x509usepolicies=0\n",
        "\tbuild\tCGO_ENABLED=0\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
    );

    /// The same module vendored (`go mod vendor`), built in a git checkout tagged v1.4.0 with
    /// `-ldflags="-s -w -X 'main.v=a b'" -gcflags='all=-N -l'`: no hashes, quoted settings,
    /// VCS stamping.
    pub(crate) const VENDORED_VCS: &str = concat!(
        "/tmp/kiln/bin/out: go1.27.3\n",
        "\tpath\texample.com/app\n",
        "\tmod\texample.com/app\tv1.4.0\t\n",
        "\tdep\texample.com/local\tv0.0.0\n",
        "\t=>\t./local\t(devel)\t\n",
        "\t\n",
        "\tdep\tgithub.com/Example/Greet\tv1.2.3\t\n",
        "\tdep\tgolang.org/x/fake\tv0.3.0\n",
        "\t=>\texample.net/fork\tv1.0.1\t\n",
        "\t\n",
        "\tbuild\t-buildmode=exe\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-gcflags=\"all=-N -l\"\n",
        "\tbuild\t-ldflags=\"-s -w -X 'main.v=a b'\"\n",
        "\tbuild\tCGO_ENABLED=0\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
        "\tbuild\tvcs=git\n",
        "\tbuild\tvcs.revision=e677da9650fb271137fe1fc7e9d95d4f02ca050e\n",
        "\tbuild\tvcs.time=2026-11-24T01:40:09Z\n",
        "\tbuild\tvcs.modified=false\n",
    );

    /// Debian's skopeo, built in GOPATH mode: no main module at all.
    pub(crate) const GOPATH_MODE: &str = concat!(
        "/usr/bin/skopeo: go1.19.8\n",
        "\tpath\tgithub.com/containers/skopeo/cmd/skopeo\n",
        "\tbuild\t-compiler=gc\n",
        "\tbuild\t-trimpath=true\n",
        "\tbuild\tCGO_ENABLED=1\n",
        "\tbuild\tGOARCH=amd64\n",
        "\tbuild\tGOOS=linux\n",
        "\tbuild\tGOAMD64=v1\n",
    );

    pub(crate) fn module(path: &str, version: &str, sum: Option<&str>) -> GoModule {
        GoModule {
            path: path.into(),
            version: version.into(),
            sum: sum.map(str::to_owned),
            replace: None,
        }
    }

    pub(crate) fn replaced(original: GoModule, by: GoModule) -> GoModule {
        GoModule {
            replace: Some(Box::new(by)),
            ..original
        }
    }
}
