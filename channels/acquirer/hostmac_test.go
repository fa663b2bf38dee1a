package acquirer_test

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/paygate-cn/paygate/channels/acquirer"
	host "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
)

// TestHostAnswersBadMACWithA0: the sandbox host checks a request's MAC
// against the bytes it read, answers a bad one A0 (signed), and keeps the
// connection.
func TestHostAnswersBadMACWithA0(t *testing.T) {
	h, err := host.New(host.Options{MACKey: macKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := net.Dial("tcp", h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	key, _ := acquirer.NewMACKey(macKey)
	other, _ := acquirer.NewMACKey([]byte("0123456789abcdef"))
	stan := 0
	echo := func(k *acquirer.MACKey, mangle func([]byte) []byte) string {
		t.Helper()
		stan++
		m := acquirer.NewMessage(acquirer.MTINetwork)
		_ = m.Field(acquirer.FieldTransmission, "0315123045")
		_ = m.Field(acquirer.FieldSTAN, fmt.Sprintf("%06d", stan))
		_ = m.Field(acquirer.FieldAcquirerID, "48020000")
		_ = m.Field(acquirer.FieldNetworkCode, acquirer.NetworkEcho)
		if err := k.Sign(m); err != nil {
			t.Fatal(err)
		}
		body, _ := m.Pack()
		body = mangle(body)
		if _, err := acquirer.WriteLength(conn, len(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := acquirer.NewCodec(key).ReadMessage(r)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if err := key.Verify(resp); err != nil {
			t.Fatalf("the host's answer: %v", err)
		}
		rc, _ := resp.GetString(acquirer.FieldResponseCode)
		return rc
	}
	same := func(b []byte) []byte { return b }
	for i, tc := range []struct {
		name   string
		key    *acquirer.MACKey
		mangle func([]byte) []byte
		rc     string
	}{
		{"good", key, same, acquirer.RCApproved},
		{"other key", other, same, acquirer.RCBadMAC},
		{"MAC wrong by one bit", key, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, acquirer.RCBadMAC},
		{"a byte after the MAC", key, func(b []byte) []byte { return append(b, 0) }, acquirer.RCBadMAC},
		{"good again", key, same, acquirer.RCApproved},
	} {
		if rc := echo(tc.key, tc.mangle); rc != tc.rc {
			t.Errorf("%s: answered %q, want %q", tc.name, rc, tc.rc)
		}
		if seen := h.Seen(); len(seen) != i+1 || seen[i].MACValid != (tc.rc == acquirer.RCApproved) {
			t.Errorf("%s: host saw %+v", tc.name, seen)
		}
	}
}
