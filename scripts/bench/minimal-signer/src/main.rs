//! Minimal RS256 signer: the least a process can do to print a signed JWT.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

fn main() {
    let path = std::env::args().nth(1).expect("usage: minimal-signer <pkcs8.pem>");
    let pem = std::fs::read(path).expect("read key");
    let (_, der) = pem_rfc7468::decode_vec(&pem).expect("PEM");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
    let header = B64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = B64.encode(
        br#"{"iss":"https://acct.blob.core.windows.net/oidc","sub":"bench","aud":"api://AzureADTokenExchange","iat":1800000000,"exp":1800000600}"#,
    );
    let input = format!("{header}.{claims}");
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    println!("{input}.{}", B64.encode(sig));
}
