//! Key material for the emulated Key Vault's keys: RSA generation and the `sign`
//! operation (RSASSA-PKCS1-v1_5 over a digest the client computed, as Key Vault's
//! RS256/RS384/RS512 sign), through the `openssl` crate and code of the emulator's own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::md::Md;
use openssl::pkey::PKey;
use openssl::rsa::Padding;

/// Key sizes Key Vault creates. Source: Learn, "About keys" (RSA 2048, 3072, 4096).
pub const KEY_SIZES: [u32; 3] = [2048, 3072, 4096];

/// A new RSA key: PKCS#8 PEM, and the public `n`, `e` (base64url).
pub fn generate(bits: u32) -> Result<(String, String, String), String> {
    let rsa = openssl::rsa::Rsa::generate(bits).map_err(|e| e.to_string())?;
    let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
    let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
    let pkey = PKey::from_rsa(rsa).map_err(|e| e.to_string())?;
    let pem = pkey.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?;
    Ok((String::from_utf8(pem).map_err(|e| e.to_string())?, n, e))
}

/// Curves Key Vault creates EC keys on, with their coordinate size in bytes. Source:
/// Learn, "About keys" (P-256, P-384, P-521; P-256K left out here).
pub const CURVES: [(&str, usize); 3] = [("P-256", 32), ("P-384", 48), ("P-521", 66)];

/// A new EC key on `crv`: PKCS#8 PEM, and the point's `x`, `y` (base64url, fixed width).
pub fn generate_ec(crv: &str) -> Result<(String, String, String), String> {
    use openssl::nid::Nid;
    let (nid, width) = match crv {
        "P-256" => (Nid::X9_62_PRIME256V1, 32),
        "P-384" => (Nid::SECP384R1, 48),
        "P-521" => (Nid::SECP521R1, 66),
        other => return Err(format!("unsupported curve {other}")),
    };
    let group = openssl::ec::EcGroup::from_curve_name(nid).map_err(|e| e.to_string())?;
    let key = openssl::ec::EcKey::generate(&group).map_err(|e| e.to_string())?;
    let mut ctx = openssl::bn::BigNumContext::new().map_err(|e| e.to_string())?;
    let mut x = openssl::bn::BigNum::new().map_err(|e| e.to_string())?;
    let mut y = openssl::bn::BigNum::new().map_err(|e| e.to_string())?;
    key.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
        .map_err(|e| e.to_string())?;
    let pad = |b: &openssl::bn::BigNum| b.to_vec_padded(width).map_err(|e| e.to_string());
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(pad(&x)?),
        URL_SAFE_NO_PAD.encode(pad(&y)?),
    );
    let pkey = PKey::from_ec_key(key).map_err(|e| e.to_string())?;
    let pem = pkey.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?;
    Ok((String::from_utf8(pem).map_err(|e| e.to_string())?, x, y))
}

/// The digest length each algorithm signs. Source: Key Vault REST, "Sign" (`alg`
/// JsonWebKeySignatureAlgorithm; the value is the digest).
pub fn digest_len(alg: &str) -> Option<usize> {
    match alg {
        "RS256" => Some(32),
        "RS384" => Some(48),
        "RS512" => Some(64),
        _ => None,
    }
}

/// RSASSA-PKCS1-v1_5 over `digest` (DigestInfo for `alg`'s hash), with the key in `pem`.
pub fn sign_digest(pem: &str, alg: &str, digest: &[u8]) -> Result<Vec<u8>, String> {
    let md = match alg {
        "RS256" => Md::sha256(),
        "RS384" => Md::sha384(),
        "RS512" => Md::sha512(),
        other => return Err(format!("unsupported algorithm {other}")),
    };
    let pkey = PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&pkey).map_err(|e| e.to_string())?;
    ctx.sign_init().map_err(|e| e.to_string())?;
    ctx.set_rsa_padding(Padding::PKCS1)
        .map_err(|e| e.to_string())?;
    ctx.set_signature_md(md).map_err(|e| e.to_string())?;
    let mut signature = Vec::new();
    ctx.sign_to_vec(digest, &mut signature)
        .map_err(|e| e.to_string())?;
    Ok(signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;

    #[test]
    fn a_digest_signature_verifies_as_rs256_over_the_message() {
        let (pem, _, _) = generate(2048).unwrap();
        let message = b"header.claims";
        let digest = openssl::sha::sha256(message);
        let signature = sign_digest(&pem, "RS256", &digest).unwrap();
        let pkey = PKey::private_key_from_pem(pem.as_bytes()).unwrap();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &pkey).unwrap();
        verifier.update(message).unwrap();
        assert!(verifier.verify(&signature).unwrap());
        assert_eq!(digest_len("RS256"), Some(32));
        assert_eq!(digest_len("RS384"), Some(48));
        assert_eq!(digest_len("RS512"), Some(64));
        assert_eq!(digest_len("PS256"), None);
        // RS384 and RS512 sign their own digests, verifiable as such.
        for (alg, md, digest) in [
            (
                "RS384",
                MessageDigest::sha384(),
                openssl::sha::sha384(message).to_vec(),
            ),
            (
                "RS512",
                MessageDigest::sha512(),
                openssl::sha::sha512(message).to_vec(),
            ),
        ] {
            let signature = sign_digest(&pem, alg, &digest).unwrap();
            let mut verifier = openssl::sign::Verifier::new(md, &pkey).unwrap();
            verifier.update(message).unwrap();
            assert!(verifier.verify(&signature).unwrap(), "{alg}");
        }
        assert!(sign_digest(&pem, "ES256", &digest).is_err());
    }
}
