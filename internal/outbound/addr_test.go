package outbound

import (
	"context"
	"net/netip"
	"testing"
)

func TestRefusal(t *testing.T) {
	tests := []struct{ ip, want string }{
		// Public: allowed.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8: an IPv6-only network's way out

		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", `"this network" (0.0.0.0/8)`},
		{"10.0.0.1", "private (RFC 1918)"},
		{"172.16.0.1", "private (RFC 1918)"},
		{"172.31.255.255", "private (RFC 1918)"},
		{"192.168.1.1", "private (RFC 1918)"},
		{"100.64.0.1", "shared (CGNAT, 100.64.0.0/10)"},
		{"100.127.255.255", "shared (CGNAT, 100.64.0.0/10)"},
		{"169.254.169.254", "link-local (169.254.0.0/16, cloud metadata)"},
		{"fe80::1", "link-local (fe80::/10)"},
		{"fe80::1%eth0", "link-local (fe80::/10)"},
		{"fc00::1", "unique-local (fc00::/7)"},
		{"fd12:3456::1", "unique-local (fc00::/7)"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved (240.0.0.0/4)"},
		// IPv4-mapped, NAT64 and IPv4-compatible forms.
		{"::ffff:127.0.0.1", "IPv4-mapped loopback"},
		{"::ffff:10.1.2.3", "IPv4-mapped private (RFC 1918)"},
		{"::ffff:169.254.169.254", "IPv4-mapped link-local (169.254.0.0/16, cloud metadata)"},
		{"64:ff9b::7f00:1", "NAT64 (64:ff9b::/96) of loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 (64:ff9b::/96) of link-local (169.254.0.0/16, cloud metadata)"},
		{"64:ff9b::c0a8:101", "NAT64 (64:ff9b::/96) of private (RFC 1918)"},
		{"::7f00:1", "IPv4-compatible (::/96, deprecated)"},
		{"::808:808", "IPv4-compatible (::/96, deprecated)"},
		// 6to4, Teredo and the rest of the IANA registries.
		{"2002:7f00:1::1", "6to4 (2002::/16)"},
		{"2001:0:4136:e378::1", "Teredo (2001::/32)"},
		{"2001:db8::1", "special-purpose (2001:db8::/32)"},
		{"64:ff9b:1::1", "outside IPv6 global unicast (2000::/3)"},
		{"100::1", "outside IPv6 global unicast (2000::/3)"},
		{"192.0.2.1", "special-purpose (192.0.2.0/24)"},
		{"198.18.0.1", "special-purpose (198.18.0.0/15)"},
		{"192.0.0.8", "special-purpose (192.0.0.0/24)"},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			if got := refusal(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Errorf("refusal(%s) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}

// TestControl calls the dialer's hook as net.Dialer does, after DNS.
func TestControl(t *testing.T) {
	p, err := Parse([]string{
		"http://127.0.0.1:*",
		"https://10.0.0.1",
		"*://[fd00::1]:8080",
		"http://*",
		"https://localhost",
	}, "wasmroute.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scheme, network, addr string
		want                  string
	}{
		{"http", "tcp4", "127.0.0.1:1", ""},
		{"http", "tcp4", "127.0.0.1:65535", ""},
		{"https", "tcp4", "127.0.0.1:443", `dial 127.0.0.1:443: address is loopback: add "https://127.0.0.1" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp4", "127.0.0.2:8080", `dial 127.0.0.2:8080: address is loopback: add "http://127.0.0.2:8080" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp6", "[::1]:8080", `dial [::1]:8080: address is loopback: add "http://[::1]:8080" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"https", "tcp4", "10.0.0.1:443", ""},
		{"https", "tcp4", "10.0.0.1:8443", `dial 10.0.0.1:8443: address is private (RFC 1918): add "https://10.0.0.1:8443" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp4", "10.0.0.1:80", `dial 10.0.0.1:80: address is private (RFC 1918): add "http://10.0.0.1" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp6", "[fd00::1]:8080", ""},
		{"https", "tcp6", "[fd00::1]:8080", ""},
		{"http", "tcp6", "[fd00::1]:80", `dial [fd00::1]:80: address is unique-local (fc00::/7): add "http://[fd00::1]" to allowedOutboundHosts in wasmroute.json to allow it`},
		// The IPv4-mapped form of an address an entry names is that address.
		{"http", "tcp6", "[::ffff:127.0.0.1]:80", ""},
		{"http", "tcp6", "[::ffff:127.0.0.2]:80", `dial [::ffff:127.0.0.2]:80: address is IPv4-mapped loopback: add "http://127.0.0.2" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp6", "[64:ff9b::7f00:1]:80", `dial [64:ff9b::7f00:1]:80: address is NAT64 (64:ff9b::/96) of loopback: add "http://[64:ff9b::7f00:1]" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp4", "169.254.169.254:80", `dial 169.254.169.254:80: address is link-local (169.254.0.0/16, cloud metadata): add "http://169.254.169.254" to allowedOutboundHosts in wasmroute.json to allow it`},
		{"http", "tcp4", "93.184.215.14:80", ""},
		{"http", "tcp4", "93.184.215.14:22", ""}, // the URL's port was checked by Allow
		{"", "tcp4", "127.0.0.1:8080", ""},
		{"", "tcp4", "10.0.0.1:443", ""},
		{"", "tcp4", "10.0.0.1:80", ""}, // no scheme known: an entry's default port is either
		{"http", "udp4", "8.8.8.8:53", "dial 8.8.8.8:53: address is not TCP (udp4)"},
		{"http", "tcp4", "example.com:80", "dial example.com:80: address is not an IP address and port"},
	}
	for _, tc := range tests {
		t.Run(tc.scheme+"/"+tc.addr, func(t *testing.T) {
			ctx := context.Background()
			if tc.scheme != "" {
				ctx = context.WithValue(ctx, schemeKey{}, tc.scheme)
			}
			err := p.control(ctx, tc.network, tc.addr, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}
