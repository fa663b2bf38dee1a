// Package dnstest runs a DNS server for tests whose answers the test
// chooses, for checking what happens after name resolution (a name
// resolving to an internal address, an answer changing between lookups).
package dnstest

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// Resolver returns a resolver asking a DNS server of the test's own,
// which answers the n-th A query of any name with answers[n] (the last
// answer repeats) and AAAA queries with nothing. The server stops when
// the test ends.
func Resolver(t testing.TB, answers ...string) *net.Resolver {
	t.Helper()
	addrs := make([][4]byte, len(answers))
	for i, a := range answers {
		addrs[i] = netip.MustParseAddr(a).As4()
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	var n atomic.Int32
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := answer(buf[:k], func() [4]byte {
				i := int(n.Add(1)) - 1
				return addrs[min(i, len(addrs)-1)]
			}); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// answer builds the response to query q (RFC 1035 §4.1): the header with
// the question copied, and for an A query one answer naming the question
// by pointer.
func answer(q []byte, next func() [4]byte) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // the zero label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	resp := append([]byte(nil), q[:end]...)
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // response, recursion available, no error
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	if qtype == 1 {
		ip := next()
		binary.BigEndian.PutUint16(resp[6:], 1)
		resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
		resp = append(resp, ip[:]...)
	}
	return resp
}
