//! GUIDs and Entra's timestamp formats.

use std::time::SystemTime;
use time::OffsetDateTime;
use time::macros::format_description;

/// A fresh random (version 4) GUID, lowercase.
pub(crate) fn new_guid() -> String {
    let mut b = [0u8; 16];
    // The OS RNG failing is not something an emulator can recover from.
    getrandom::fill(&mut b).expect("the operating system's random number generator failed");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A fresh random secret: 32 bytes, hex.
pub(crate) fn new_secret() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random number generator failed");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `2024-12-03T13:51:30Z`, the form of Graph's `createdDateTime` and its errors' `date`
/// (without the `Z` there).
pub(crate) fn iso_utc(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hex form (either case).
pub(crate) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn datetime(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// `2024-12-03 13:51:30Z`, the form of Entra's `timestamp` field.
pub(crate) fn entra_timestamp(t: SystemTime) -> String {
    datetime(t)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// `2024-12-03T13:51:30.0000000Z`, the form of the times in AADSTS700024.
pub(crate) fn entra_precise(t: SystemTime) -> String {
    datetime(t)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]Z"
        ))
        .unwrap_or_default()
}

/// [`entra_precise`] for seconds since the epoch; out-of-range values print as given.
pub(crate) fn entra_precise_unix(secs: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => entra_precise(t.into()),
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn new_guids_are_guids_and_differ() {
        let a = new_guid();
        assert!(is_guid(&a), "{a}");
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_guid());
    }

    #[test]
    fn is_guid_rejects_near_misses() {
        assert!(is_guid("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
        assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4g"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
        assert!(!is_guid(""));
    }

    #[test]
    fn timestamps_have_entra_shapes() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_733_233_890);
        assert_eq!(entra_timestamp(t), "2024-12-03 13:51:30Z");
        assert_eq!(entra_precise(t), "2024-12-03T13:51:30.0000000Z");
        assert_eq!(
            entra_precise_unix(1_733_233_890),
            "2024-12-03T13:51:30.0000000Z"
        );
    }
}
