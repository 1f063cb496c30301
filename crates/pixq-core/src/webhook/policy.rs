//! [`AddressPolicy`]: which addresses a webhook may reach. A webhook URL is the user's, so
//! without a policy anyone who can submit a job could make pixq POST into its own network:
//! a database's HTTP port on loopback, a router, a cloud's metadata service. Private,
//! loopback, link-local, unique-local, shared (CGNAT), multicast and reserved addresses are
//! refused unless `webhooks.allow_networks` covers them; cloud metadata addresses only when an
//! entry names that one address (a `/32` or `/128`), so allowing a link-local range does not
//! open them by accident.
//!
//! The policy is applied to every address a host name resolves to, when the connection is
//! made (the worker's resolver), so a DNS answer that changes between a check and the
//! connection cannot slip past it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not a public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// `0.0.0.0/8`, `::`: "this host", never a receiver.
    Unspecified,
    /// `127.0.0.0/8`, `::1`: pixq's own machine.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, `fec0::/10`: a private network.
    Private,
    /// `169.254/16`, `fe80::/10`: the local link.
    LinkLocal,
    /// `fc00::/7`: IPv6's private networks.
    UniqueLocal,
    /// `100.64.0.0/10`: carrier-grade NAT, shared address space.
    Shared,
    /// `169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`: a cloud's instance metadata,
    /// which hands out credentials.
    Metadata,
    /// Multicast and broadcast.
    Multicast,
    /// Documentation, benchmarking, protocol and future-use ranges, and IPv6 transition forms
    /// that cannot be checked for what they wrap.
    Reserved,
}

impl AddressClass {
    /// The words an error uses, e.g. `a loopback address`.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::UniqueLocal => "a unique-local address",
            AddressClass::Shared => "a shared (CGNAT) address",
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Multicast => "a multicast or broadcast address",
            AddressClass::Reserved => "a reserved address",
        }
    }

    /// The class of `ip`, or `None` for a public address. IPv4 inside IPv6 (mapped, NAT64,
    /// 6to4) is judged by the IPv4 address it carries.
    pub fn of(ip: IpAddr) -> Option<AddressClass> {
        match ip.to_canonical() {
            IpAddr::V4(v4) => class_v4(v4),
            IpAddr::V6(v6) => class_v6(v6),
        }
    }
}

/// The cloud metadata services' addresses.
const METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
];

fn class_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    if METADATA.contains(&IpAddr::V4(ip)) {
        return Some(AddressClass::Metadata);
    }
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (10, _, _) | (192, 168, _) => AddressClass::Private,
        (172, b, _) if (16..32).contains(&b) => AddressClass::Private,
        (169, 254, _) => AddressClass::LinkLocal,
        (100, b, _) if (64..128).contains(&b) => AddressClass::Shared,
        (224..=239, _, _) => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Reserved,
        (198, 18 | 19, _) => AddressClass::Reserved,
        _ => return None,
    };
    Some(class)
}

fn class_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if METADATA.contains(&IpAddr::V6(ip)) {
        return Some(AddressClass::Metadata);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    let class = match s[0] {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they carry.
        0x0064 if s[1] == 0xff9b && s[2..6] == [0; 4] => {
            return class_v4(embedded_v4(s[6], s[7]));
        }
        0x2002 => return class_v4(embedded_v4(s[1], s[2])),
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xfec0..=0xfeff => AddressClass::Private,
        0xfc00..=0xfdff => AddressClass::UniqueLocal,
        0xff00..=0xffff => AddressClass::Multicast,
        // Documentation, Teredo (it tunnels to addresses that cannot be seen here).
        0x2001 if s[1] == 0x0db8 || s[1] == 0 => AddressClass::Reserved,
        // The discard prefix, and IPv4-compatible addresses (deprecated).
        0x0100 if s[1..4] == [0; 3] => AddressClass::Reserved,
        0 => AddressClass::Reserved,
        _ => return None,
    };
    Some(class)
}

/// An address the policy refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    /// The address.
    pub addr: IpAddr,
    /// What kind of address it is.
    pub class: AddressClass,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opens = match self.class {
            AddressClass::Metadata => {
                "only a webhooks.allow_networks entry naming exactly this address allows it"
            }
            _ => "webhooks.allow_networks does not cover it",
        };
        write!(f, "{} is {}; {opens}", self.addr, self.class.describe())
    }
}

/// The outbound policy of webhooks: public addresses, plus what `allow_networks` covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// A policy that also allows the addresses `allow` covers (`webhooks.allow_networks`).
    pub fn new(allow: Vec<IpNet>) -> Self {
        AddressPolicy { allow }
    }

    /// The networks allowed beyond the public ones.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    /// Whether a webhook may connect to `ip`.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the address's class when it is not public and no allowed network
    /// covers it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let Some(class) = AddressClass::of(ip) else {
            return Ok(());
        };
        let canonical = ip.to_canonical();
        let covered = self.allow.iter().any(|net| {
            let covers = net.contains(&ip) || net.contains(&canonical);
            // A metadata address needs an entry for itself: a range does not open it.
            covers && (class != AddressClass::Metadata || net.prefix_len() == net.max_prefix_len())
        });
        if covered {
            Ok(())
        } else {
            Err(Refused { addr: ip, class })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn class(text: &str) -> Option<AddressClass> {
        AddressClass::of(ip(text))
    }

    #[test]
    fn every_internal_range_has_its_class() {
        use AddressClass::*;
        let cases = [
            ("0.0.0.0", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.0.9", Some(Loopback)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.10.20", Some(LinkLocal)),
            ("169.254.169.254", Some(Metadata)),
            ("100.64.0.1", Some(Shared)),
            ("100.127.255.255", Some(Shared)),
            ("100.128.0.1", None),
            ("100.100.100.200", Some(Metadata)),
            ("224.0.0.1", Some(Multicast)),
            ("255.255.255.255", Some(Reserved)),
            ("192.0.2.7", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("93.184.215.14", None),
            ("8.8.8.8", None),
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("fe80::1", Some(LinkLocal)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Reserved)),
            ("2606:4700:4700::1111", None),
        ];
        for (text, expected) in cases {
            assert_eq!(class(text), expected, "{text}");
        }
    }

    #[test]
    fn ipv4_wrapped_in_ipv6_is_judged_by_what_it_wraps() {
        assert_eq!(class("::ffff:127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(
            class("::ffff:169.254.169.254"),
            Some(AddressClass::Metadata)
        );
        assert_eq!(class("64:ff9b::10.0.0.1"), Some(AddressClass::Private));
        assert_eq!(class("64:ff9b::8.8.8.8"), None);
        assert_eq!(class("2002:7f00:1::"), Some(AddressClass::Loopback));
        assert_eq!(class("::ffff:8.8.8.8"), None);
    }

    #[test]
    fn refused_by_default_and_opened_by_the_allow_list() {
        let default = AddressPolicy::default();
        let refused = default.check(ip("127.0.0.1")).unwrap_err();
        assert_eq!(refused.class, AddressClass::Loopback);
        let text = refused.to_string();
        assert!(
            text.contains("loopback") && text.contains("webhooks.allow_networks"),
            "{text}"
        );
        assert!(default.check(ip("8.8.8.8")).is_ok());

        let allow = AddressPolicy::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]);
        assert!(allow.check(ip("127.0.0.1")).is_ok());
        assert!(
            allow.check(ip("::ffff:127.0.0.1")).is_ok(),
            "mapped form of an allowed address"
        );
        assert!(allow.check(ip("127.0.0.2")).is_err());
        assert!(allow.check(ip("10.9.8.7")).is_ok());
        assert!(allow.check(ip("::1")).is_err());
    }

    #[test]
    fn a_metadata_address_needs_an_entry_of_its_own() {
        let range = AddressPolicy::new(vec!["169.254.0.0/16".parse().unwrap()]);
        assert!(range.check(ip("169.254.10.1")).is_ok());
        let refused = range.check(ip("169.254.169.254")).unwrap_err();
        assert_eq!(refused.class, AddressClass::Metadata);
        assert!(
            refused.to_string().contains("exactly this address"),
            "{refused}"
        );
        let exact = AddressPolicy::new(vec!["169.254.169.254/32".parse().unwrap()]);
        assert!(exact.check(ip("169.254.169.254")).is_ok());
        let v6 = AddressPolicy::new(vec!["fd00::/8".parse().unwrap()]);
        assert!(v6.check(ip("fd00:ec2::254")).is_err());
        assert!(v6.check(ip("fd00::5")).is_ok());
    }
}
