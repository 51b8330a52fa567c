//! The state file: every identity and FIC, vault (with its secrets), role assignment and
//! policy assignment, the tenants' Graph directories (applications, their FICs, service
//! principals), the machine identities' ids, plus the emulator's signing key, as JSON.
//! What later versions added is read with defaults, so older files still load.
//!
//! Written atomically (a temporary file in the same directory, synced, then renamed over
//! the old one) with mode 0600, because it holds a private key.

use crate::Error;
use crate::arm::Registry;
use crate::arm::authorization::RoleAssignments;
use crate::arm::identities::Identities;
use crate::arm::kernel::ResourceGroups;
use crate::arm::policy::PolicyAssignments;
use crate::arm::solutions::Applications;
use crate::arm::vaults::Vaults;
use crate::graph::Directories;
use crate::key::SigningKey;
use crate::machine::MachineIdentities;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;

/// The version written in the file.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// PKCS#8 PEM.
    signing_key: String,
    identities: Identities,
    #[serde(default)]
    vaults: Vaults,
    #[serde(default)]
    role_assignments: RoleAssignments,
    #[serde(default)]
    applications: Applications,
    #[serde(default)]
    resource_groups: ResourceGroups,
    #[serde(default)]
    policy_assignments: PolicyAssignments,
    #[serde(default)]
    directories: Directories,
    #[serde(default)]
    machine_identities: MachineIdentities,
}

/// Reads `path`: `None` if it does not exist.
pub(crate) fn load(path: &Path) -> Result<Option<(SigningKey, Registry)>, Error> {
    // It holds the emulator's private key: refused, like a key file, when others may read it.
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::InvalidState {
                path: path.to_owned(),
                reason: format!(
                    "it holds the emulator's private key but group or others may read it (mode {mode:04o}); run `chmod 600` on it"
                ),
            });
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::ReadState {
                path: path.to_owned(),
                source,
            });
        }
    };
    let invalid = |reason: String| Error::InvalidState {
        path: path.to_owned(),
        reason,
    };
    let file: StateFile = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if file.version != VERSION {
        return Err(invalid(format!("unknown version {}", file.version)));
    }
    let key = SigningKey::from_pkcs8_pem(&file.signing_key).map_err(|e| invalid(e.to_string()))?;
    Ok(Some((
        key,
        Registry {
            identities: file.identities,
            vaults: file.vaults,
            role_assignments: file.role_assignments,
            applications: file.applications,
            resource_groups: file.resource_groups,
            policy_assignments: file.policy_assignments,
            directories: file.directories,
            machine_identities: file.machine_identities,
        },
    )))
}

/// Writes `path` atomically with mode 0600.
pub(crate) fn save(path: &Path, key: &SigningKey, registry: &Registry) -> Result<(), Error> {
    let write_err = |source: std::io::Error| Error::WriteState {
        path: path.to_owned(),
        source,
    };
    let file = StateFile {
        version: VERSION,
        signing_key: key.to_pkcs8_pem()?,
        identities: registry.identities.clone(),
        vaults: registry.vaults.clone(),
        role_assignments: registry.role_assignments.clone(),
        applications: registry.applications.clone(),
        resource_groups: registry.resource_groups.clone(),
        policy_assignments: registry.policy_assignments.clone(),
        directories: registry.directories.clone(),
        machine_identities: registry.machine_identities.clone(),
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| write_err(e.into()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".idp-emulator-state.")
        .tempfile_in(dir)
        .map_err(write_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_err)?;
    }
    tmp.write_all(&json).map_err(write_err)?;
    tmp.write_all(b"\n").map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}
