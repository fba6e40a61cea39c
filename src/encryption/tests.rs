use super::*;

const KEY16: &str = "MTIzNDU2Nzg5MDEyMzQ1Ng=="; // 16 bytes
const KEY32: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="; // 32 bytes

fn config(providers: &str) -> Encryption {
    let text = format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{providers}"
    );
    Encryption::parse(&text).expect("valid configuration")
}

fn keyed(kind: &str, keys: &[(&str, &str)]) -> String {
    let mut s = format!("  - {kind}:\n      keys:\n");
    for (name, secret) in keys {
        s.push_str(&format!("      - name: {name}\n        secret: {secret}\n"));
    }
    s
}

#[test]
fn each_provider_round_trips_with_kube_prefix() {
    for (kind, key) in
        [("aescbc", KEY16), ("aescbc", KEY32), ("aesgcm", KEY16), ("aesgcm", KEY32), ("secretbox", KEY32)]
    {
        let e = config(&keyed(kind, &[("key1", key)]));
        let stored = e.encrypt("/secrets/ns/s", b"{\"plain\":1}").unwrap();
        let prefix = format!("k8s:enc:{kind}:v1:key1:");
        assert!(stored.starts_with(prefix.as_bytes()), "{kind}");
        assert!(!stored.windows(5).any(|w| w == b"plain"), "{kind}: plaintext leaked");
        assert_eq!(e.decrypt("/secrets/ns/s", &stored).unwrap(), b"{\"plain\":1}", "{kind}");
    }
}

#[test]
fn only_configured_resources_are_encrypted() {
    let e = config(&keyed("aescbc", &[("key1", KEY16)]));
    assert_eq!(e.encrypt("/configmaps/ns/c", b"x").unwrap(), b"x");
    assert_eq!(e.decrypt("/configmaps/ns/c", b"x").unwrap(), b"x");
}

#[test]
fn rotation_reads_old_keys_and_writes_with_the_first() {
    let old = config(&keyed("aescbc", &[("key1", KEY16)]));
    let stored = old.encrypt("/secrets/ns/s", b"v").unwrap();
    let rotated = config(&keyed("aescbc", &[("key2", KEY32), ("key1", KEY16)]));
    assert_eq!(rotated.decrypt("/secrets/ns/s", &stored).unwrap(), b"v");
    assert!(rotated.encrypt("/secrets/ns/s", b"v").unwrap().starts_with(b"k8s:enc:aescbc:v1:key2:"));
}

#[test]
fn undecryptable_values_are_errors_naming_the_key() {
    let e = config(&keyed("aesgcm", &[("key1", KEY16)]));
    let stored = e.encrypt("/secrets/ns/s", b"v").unwrap();
    // aesgcm binds the value to its etcd key.
    assert!(e.decrypt("/secrets/ns/other", &stored).is_err());
    let other = config(&keyed("aesgcm", &[("key2", KEY16)]));
    let err = other.decrypt("/secrets/ns/s", &stored).unwrap_err().to_string();
    assert!(err.contains("/secrets/ns/s") && err.contains("key1"), "{err}");
    // Plaintext without identity, and truncated data: errors, never panics.
    assert!(e.decrypt("/secrets/ns/s", b"{}").is_err());
    assert!(e.decrypt("/secrets/ns/s", b"k8s:enc:aesgcm:v1:key1:abc").is_err());
    let with_identity = config(&format!("{}  - identity: {{}}\n", keyed("aesgcm", &[("key1", KEY16)])));
    assert_eq!(with_identity.decrypt("/secrets/ns/s", b"{}").unwrap(), b"{}");
}

#[test]
fn identity_first_writes_plaintext_and_still_reads_encrypted() {
    let enc = config(&keyed("secretbox", &[("key1", KEY32)]));
    let stored = enc.encrypt("/secrets/ns/s", b"v").unwrap();
    let e = config(&format!("  - identity: {{}}\n{}", keyed("secretbox", &[("key1", KEY32)])));
    assert_eq!(e.encrypt("/secrets/ns/s", b"v").unwrap(), b"v");
    assert_eq!(e.decrypt("/secrets/ns/s", &stored).unwrap(), b"v");
}

#[test]
fn bad_configurations_are_refused() {
    for providers in [
        keyed("secretbox", &[("key1", KEY16)]),
        keyed("aescbc", &[("key1", "not base64!")]),
        keyed("aescbc", &[("key1", "MTIz")]),
        "  - kms: {name: x}\n".to_owned(),
        "  - {}\n".to_owned(),
    ] {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n{providers}"
        );
        assert!(Encryption::parse(&text).is_err(), "{providers}");
    }
}
