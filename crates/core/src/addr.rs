//! IP address classes: which addresses are on the public internet, and why the others
//! are not. The host's egress SSRF guard classifies every address a destination resolves
//! to *after* DNS resolution and connects only to that checked address, so a name that
//! later resolves elsewhere (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not on the public internet, or `None` when it is.
///
/// ```
/// use airlock_core::addr::classify;
/// assert_eq!(classify("169.254.169.254".parse().unwrap()), Some("cloud-metadata"));
/// assert_eq!(classify("10.1.2.3".parse().unwrap()), Some("private"));
/// assert_eq!(classify("::ffff:127.0.0.1".parse().unwrap()), Some("loopback"));
/// assert_eq!(classify("93.184.216.34".parse().unwrap()), None);
/// ```
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Cloud instance-metadata endpoints (AWS, GCP, Azure, Oracle, Alibaba, ECS tasks).
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if METADATA_V4.contains(&ip) {
        return Some("cloud-metadata");
    }
    Some(match () {
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 100 && (64..128).contains(&b) => "cgnat",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_documentation() => "documentation",
        // 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking),
        // 240.0.0.0/4 (reserved).
        _ if (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18) || a >= 240 => {
            "reserved"
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Addresses that embed an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and IPv4-compatible (::a.b.c.d) addresses.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) || (s[..6] == [0; 6] && s[6] != 0) {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return classify_v4(v4).or(Some("reserved"));
    }
    // AWS's IPv6 instance-metadata endpoint.
    if s[0] == 0xfd00 && s[1] == 0x0ec2 {
        return Some("cloud-metadata");
    }
    Some(match () {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if (s[0] & 0xfe00) == 0xfc00 => "unique-local",
        _ if (s[0] & 0xffc0) == 0xfe80 => "link-local",
        // fec0::/10, deprecated site-local.
        _ if (s[0] & 0xffc0) == 0xfec0 => "private",
        _ if ip.is_multicast() => "multicast",
        _ if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation",
        // 6to4 (2002::/16) and Teredo (2001::/32) tunnel to arbitrary IPv4 addresses.
        _ if s[0] == 0x2002 || (s[0] == 0x2001 && s[1] == 0) => "reserved",
        // Only global unicast (2000::/3) is public.
        _ if (s[0] & 0xe000) != 0x2000 => "reserved",
        _ => return None,
    })
}

/// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback).
pub fn is_loopback(ip: IpAddr) -> bool {
    classify(ip) == Some("loopback")
}

#[cfg(test)]
mod tests {
    use super::classify;

    fn c(s: &str) -> Option<&'static str> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn every_non_public_range_is_named() {
        for (ip, class) in [
            ("127.0.0.1", "loopback"),
            ("127.9.9.9", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("169.254.1.1", "link-local"),
            ("fe80::1", "link-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fd00:ec2::254", "cloud-metadata"),
            ("169.254.169.254", "cloud-metadata"),
            ("100.100.100.200", "cloud-metadata"),
            ("100.64.0.1", "cgnat"),
            ("100.127.255.255", "cgnat"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "cloud-metadata"),
            ("::127.0.0.1", "loopback"),
            ("2002:7f00:1::", "reserved"),
        ] {
            assert_eq!(c(ip), Some(class), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in ["8.8.8.8", "93.184.216.34", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(c(ip), None, "{ip}");
        }
    }
}
