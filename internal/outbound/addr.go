package outbound

import (
	"errors"
	"net/netip"

	"code.dny.dev/ssrf"
)

// guardian holds the IANA special-purpose registries (code.dny.dev/ssrf,
// regenerated from them): every address it refuses, refusal refuses, and
// refusal names the common classes itself for its messages.
var guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// A named class of addresses refusal refuses.
type class struct {
	prefix netip.Prefix
	name   string
}

var (
	v4Classes = []class{
		{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
		{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (0.0.0.0/8)`},
		{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
		{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
		{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
		{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT, 100.64.0.0/10)"},
		{netip.MustParsePrefix("169.254.0.0/16"), "link-local (169.254.0.0/16, cloud metadata)"},
		{netip.MustParsePrefix("168.63.129.16/32"), "Azure's host endpoint (168.63.129.16, WireServer)"},
		{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
		{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
	}
	v6Classes = []class{
		{netip.MustParsePrefix("::/128"), "unspecified"},
		{netip.MustParsePrefix("::1/128"), "loopback"},
		{netip.MustParsePrefix("fe80::/10"), "link-local (fe80::/10)"},
		{netip.MustParsePrefix("fc00::/7"), "unique-local (fc00::/7)"},
		{netip.MustParsePrefix("ff00::/8"), "multicast"},
		{netip.MustParsePrefix("2002::/16"), "6to4 (2002::/16)"},
		{netip.MustParsePrefix("2001::/32"), "Teredo (2001::/32)"},
	}
	mapped     = netip.MustParsePrefix("::ffff:0:0/96")
	compatible = netip.MustParsePrefix("::/96")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
)

// refusal says why ip may not be dialled without an entry naming it
// ("loopback", "private (RFC 1918)"...), or returns "" for a public
// address. The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64
// (64:ff9b::a.b.c.d) address is judged as itself; IPv4-compatible
// (::a.b.c.d) addresses, deprecated, are refused.
func refusal(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4() {
		return refusal4(ip)
	}
	switch {
	case mapped.Contains(ip):
		if why := refusal4(ip.Unmap()); why != "" {
			return "IPv4-mapped " + why
		}
		return ""
	case nat64.Contains(ip):
		b := ip.As16()
		if why := refusal4(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return "NAT64 (64:ff9b::/96) of " + why
		}
		return ""
	}
	for _, c := range v6Classes {
		if c.prefix.Contains(ip) {
			return c.name
		}
	}
	if compatible.Contains(ip) {
		return "IPv4-compatible (::/96, deprecated)"
	}
	return registry(ip)
}

func refusal4(ip netip.Addr) string {
	for _, c := range v4Classes {
		if c.prefix.Contains(ip) {
			return c.name
		}
	}
	return registry(ip)
}

// registry returns why guardian refuses ip, or "".
func registry(ip netip.Addr) string {
	err := guardian.SafeAddr(ip)
	if err == nil {
		return ""
	}
	prefixes := ssrf.IPv4DeniedPrefixes
	if ip.Is6() {
		if !ssrf.IPv6GlobalUnicast.Contains(ip) {
			return "outside IPv6 global unicast (2000::/3)"
		}
		prefixes = ssrf.IPv6DeniedPrefixes
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return "special-purpose (" + p.String() + ")"
		}
	}
	if errors.Is(err, ssrf.ErrProhibitedIP) {
		return "special-purpose"
	}
	return err.Error()
}
