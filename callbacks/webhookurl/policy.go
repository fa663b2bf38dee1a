// Package webhookurl decides where paygate may send webhooks (an order's
// notify_url, a merchant's webhook_url): the scheme, and the network of the
// destination address (docs/webhooks.md, "Where webhooks may go").
//
// The same Policy is applied twice: to the URL as given (Check: literal
// addresses, in every form a resolver would accept), and to the address
// actually connected to (Control, a net.Dialer hook), so that a hostname
// resolving to an internal address, or re-resolving to one later, is
// refused as well.
package webhookurl

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
)

// MaxLength is the longest URL accepted, in characters.
const MaxLength = 512

// Loopback lists the loopback networks, the sandbox's allowed_networks.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Policy is where webhooks may go. The zero value (and a nil *Policy) is
// the production default: https only, public addresses only.
type Policy struct {
	// AllowHTTP accepts http:// URLs besides https:// (webhooks.allow_http).
	AllowHTTP bool
	// Allowed networks are accepted even when they are loopback, private,
	// CGNAT, link-local, multicast or unspecified (webhooks.allowed_networks).
	Allowed []netip.Prefix
	// Resolver, when set, resolves hostnames for Client (tests point it
	// at a DNS server of their own); nil is the system's.
	Resolver *net.Resolver
}

// New returns the policy of allowHTTP and allowed, a list of CIDR prefixes
// (a bare address means that address alone).
func New(allowHTTP bool, allowed []string) (*Policy, error) {
	p := &Policy{AllowHTTP: allowHTTP}
	for _, s := range allowed {
		pfx, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		p.Allowed = append(p.Allowed, pfx)
	}
	return p, nil
}

// ParsePrefix reads one allowed_networks entry: a CIDR prefix, or a single
// address.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Sandbox is the sandbox's policy: http allowed, loopback allowed.
func Sandbox() *Policy {
	return &Policy{AllowHTTP: true, Allowed: append([]netip.Prefix(nil), Loopback...)}
}

// forbidden are the networks no webhook goes to unless allowed: loopback,
// private (RFC 1918, RFC 4193), CGNAT (RFC 6598), link-local, multicast,
// unspecified, and the other special-purpose ranges (RFC 6890) that no
// merchant's public endpoint lives in.
var forbidden = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network"; 0.0.0.0 reaches the local host
		"10.0.0.0/8",     // private
		"100.64.0.0/10",  // CGNAT
		"127.0.0.0/8",    // loopback
		"169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
		"172.16.0.0/12",  // private
		"192.0.0.0/24",   // IETF protocol assignments
		"192.168.0.0/16", // private
		"198.18.0.0/15",  // benchmarking
		"224.0.0.0/4",    // multicast
		"240.0.0.0/4",    // reserved, broadcast
		"::/96",          // unspecified, loopback, IPv4-compatible
		"100::/64",       // discard-only
		"fc00::/7",       // unique local (RFC 4193)
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
		"2001:db8::/32",  // documentation
		"64:ff9b:1::/48", // local-use NAT64
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Embedded-IPv4 ranges: the IPv4 address inside is checked as well.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Allows reports whether a webhook may connect to a.
func (p *Policy) Allows(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("").Unmap()
	if p != nil {
		for _, pfx := range p.Allowed {
			if pfx.Contains(a) {
				return true
			}
		}
	}
	for _, pfx := range forbidden {
		if pfx.Contains(a) {
			return false
		}
	}
	if a.Is6() && (nat64.Contains(a) || sixTo4.Contains(a)) {
		b := a.As16()
		var v4 [4]byte
		if nat64.Contains(a) {
			copy(v4[:], b[12:])
		} else {
			copy(v4[:], b[2:6])
		}
		return p.Allows(netip.AddrFrom4(v4))
	}
	return true
}

// Check validates raw, given as param (notify_url, webhook_url): an
// absolute http(s) URL of at most MaxLength characters, https unless
// AllowHTTP, and, when its host is an address (in any form: dotted,
// decimal, octal, hex, IPv6, IPv4-mapped) or a localhost name, an allowed
// one. A hostname is checked again when it is connected to (Control).
//
// Returns ESTRINGTOOLONG or EPARAMINVALID for a malformed URL,
// EINSECUREURL for http:// when only https is allowed and
// EFORBIDDENDESTINATION for an address the policy refuses.
func (p *Policy) Check(param, raw string) error {
	if utf8.RuneCountInString(raw) > MaxLength {
		return paygate.ParamErrorf(paygate.ESTRINGTOOLONG, param, "%s is longer than %d characters", param, MaxLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" || !utf8.ValidString(raw) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s must be an absolute https URL", param)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if p == nil || !p.AllowHTTP {
			return paygate.ParamErrorf(paygate.EINSECUREURL, param, "%s must use https", param)
		}
	default:
		return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s must be an absolute https URL", param)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s has an invalid port", param)
		}
	}
	a, isAddr, err := hostAddr(u.Hostname())
	if err != nil {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s: %v", param, err)
	}
	if isAddr && !p.Allows(a) {
		return paygate.ParamErrorf(paygate.EFORBIDDENDESTINATION, param,
			"%s points to a loopback, private, link-local or otherwise internal address", param)
	}
	return nil
}

// hostAddr reads a URL host as a resolver would: an IPv6 literal, an IPv4
// address in any of the forms inet_aton accepts (127.0.0.1, 2130706433,
// 0177.0.0.1, 0x7f.1), or a name. A name under "localhost" (RFC 6761)
// stands for the loopback address. isAddr is false for other names.
func hostAddr(host string) (a netip.Addr, isAddr bool, err error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" {
		return netip.Addr{}, false, errors.New("the host is empty")
	}
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return netip.Addr{}, false, errors.New("the host is not a valid IPv6 address")
		}
		return a, true, nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true, nil
	}
	labels := strings.Split(h, ".")
	if last := labels[len(labels)-1]; last != "" && isNumber(last) {
		// A name ending in a number is an IPv4 address or nothing (a
		// resolver would read it as one; no DNS name ends in a number).
		a, ok := parseIPv4(labels)
		if !ok {
			return netip.Addr{}, false, errors.New("the host is not a valid IPv4 address")
		}
		return a, true, nil
	}
	return netip.Addr{}, false, nil
}

// isNumber reports whether s reads as a decimal, octal or hex number.
func isNumber(s string) bool {
	if len(s) > 2 && (s[:2] == "0x") {
		s = s[2:]
		for _, c := range s {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	if s == "0x" {
		return true
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 reads one to four parts as inet_aton does: each part decimal,
// octal (leading 0) or hex (0x); the last part fills the remaining bytes.
func parseIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, s := range parts {
		base := 10
		switch {
		case strings.HasPrefix(s, "0x"):
			base, s = 16, s[2:]
			if s == "" {
				s = "0"
			}
		case len(s) > 1 && s[0] == '0':
			base, s = 8, s[1:]
		}
		v, err := strconv.ParseUint(s, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	n := len(vals)
	for _, v := range vals[:n-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
	}
	if vals[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	var ip uint64
	for i, v := range vals[:n-1] {
		ip |= v << (8 * (3 - i))
	}
	ip |= vals[n-1]
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// ErrForbidden is the error of a connection the policy refused. Its text
// names no address: it ends up in the attempt log shown to the merchant.
var ErrForbidden = errors.New("webhook destination not allowed: loopback, private, link-local or otherwise internal address")

// Control is a net.Dialer Control hook: it refuses to connect to an
// address the policy does not allow. It sees the address after name
// resolution, so DNS cannot lead a webhook inside.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return ErrForbidden
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !p.Allows(ap.Addr()) {
		return ErrForbidden
	}
	return nil
}

// Client returns the HTTP client that sends webhooks under the policy:
// every connection checked by Control, no proxy (a proxy would connect on
// the policy's behalf), redirects never followed (a 3xx answer is the
// attempt's result), and the whole attempt bounded by timeout.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second, Control: p.Control}
	if p != nil {
		d.Resolver = p.Resolver
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
