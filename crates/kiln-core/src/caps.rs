//! Linux file capabilities from `.ko.yaml` `linux_capabilities`, as ko's `pkg/caps` reads
//! them (setcap / `cap_from_text(3)` terms such as `net_bind_service=ep`, or bare names
//! meaning "permitted"), and the `security.capability` xattr value ko writes into the
//! binary's tar entry (`SCHILY.xattr.security.capability`): the kernel's
//! `vfs_cap_data` revision 2, little-endian.

/// Bit index of each capability name (without `CAP_`), as in linux/capability.h.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `VFS_CAP_REVISION_2`.
const REVISION_2: u32 = 0x0200_0000;
/// `VFS_CAP_FLAGS_EFFECTIVE`.
const FLAG_EFFECTIVE: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapsError {
    #[error("unknown capability {0:?} (expected a name such as net_bind_service, or a number)")]
    Unknown(String),
    #[error("{term:?}: unknown flag '{flag}' (expected p, i or e)")]
    UnknownFlag { term: String, flag: char },
}

/// One capability name (`net_bind_service`, `CAP_NET_RAW`, `all`) or bit number → mask.
fn parse_name(name: &str) -> Result<u64, CapsError> {
    if let Ok(index) = name.parse::<u32>()
        && index < 64
    {
        return Ok(1 << index);
    }
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok((0..NAMES.len()).fold(0, |m, i| m | 1 << i));
    }
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| 1 << i)
        .ok_or_else(|| CapsError::Unknown(name.to_owned()))
}

/// The xattr value for `terms`, or `None` when they grant nothing (ko then writes none).
pub fn capability_xattr<S: AsRef<str>>(terms: &[S]) -> Result<Option<Vec<u8>>, CapsError> {
    let (mut permitted, mut inheritable, mut effective) = (0u64, 0u64, 0u64);
    for term in terms.iter().map(AsRef::as_ref) {
        let Some(split) = term.find(['+', '-', '=']) else {
            permitted |= parse_name(term)?;
            continue;
        };
        let (names, actions) = term.split_at(split);
        let names = if names.is_empty() && actions.starts_with('=') {
            "all"
        } else {
            names
        };
        let mut mask = 0;
        for name in names.split(',') {
            mask |= parse_name(name)?;
        }
        let mut keep = 0u64;
        for action in actions.chars() {
            match action {
                '+' => keep = !0,
                '-' => keep = !mask,
                '=' => {
                    keep = !0;
                    permitted &= !mask;
                    inheritable &= !mask;
                    effective &= !mask;
                }
                'p' => permitted = (permitted | mask) & keep,
                'i' => inheritable = (inheritable | mask) & keep,
                'e' => effective = (effective | mask) & keep,
                flag => {
                    return Err(CapsError::UnknownFlag {
                        term: term.to_owned(),
                        flag,
                    });
                }
            }
        }
    }
    if permitted == 0 && inheritable == 0 {
        return Ok(None);
    }
    let flags = if effective != 0 { FLAG_EFFECTIVE } else { 0 };
    let words = [
        REVISION_2 | flags,
        permitted as u32,
        inheritable as u32,
        (permitted >> 32) as u32,
        (inheritable >> 32) as u32,
    ];
    Ok(Some(words.iter().flat_map(|w| w.to_le_bytes()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcap_terms_give_kos_bytes() {
        // net_bind_service is bit 10: permitted word 0x400, effective flag set.
        assert_eq!(
            capability_xattr(&["net_bind_service=ep"]).unwrap().unwrap(),
            [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // A bare name is permitted only; bpf (39) lands in the upper words.
        assert_eq!(
            capability_xattr(&["CAP_NET_RAW", "bpf"]).unwrap().unwrap(),
            [
                0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(capability_xattr(&["net_raw=p", "net_raw-p"]).unwrap(), None);
        assert_eq!(capability_xattr::<&str>(&[]).unwrap(), None);
        assert!(capability_xattr(&["net_fly=ep"]).is_err());
        assert!(capability_xattr(&["net_raw=px"]).is_err());
    }
}
