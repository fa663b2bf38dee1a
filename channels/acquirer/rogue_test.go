package acquirer_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
)

// rogueHost signs connections on properly but answers every sale in a
// broken way.
func rogueHost(t *testing.T, answer func(req []byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					n, err := acquirer.ReadLength(r)
					if err != nil {
						return
					}
					raw := make([]byte, n)
					if _, err := io.ReadFull(r, raw); err != nil {
						return
					}
					m, err := acquirer.Unpack(raw)
					if err != nil {
						return
					}
					var out []byte
					if mti, _ := m.GetMTI(); mti == "0800" {
						resp := acquirer.NewMessage("0810")
						for _, id := range []int{7, 11, 32, 70} {
							v, _ := m.GetString(id)
							_ = resp.Field(id, v)
						}
						_ = resp.Field(39, "00")
						if err := acquirer.Sign(resp, macKey); err != nil {
							panic(err)
						}
						out, _ = resp.Pack()
					} else {
						out = answer(raw)
					}
					if out == nil {
						continue
					}
					if _, err := acquirer.WriteLength(conn, len(out)); err != nil {
						return
					}
					conn.Write(out)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// approval builds a correctly formed 0210 approval for req.
func approval(raw []byte) *iso8583.Message {
	m, _ := acquirer.Unpack(raw)
	resp := acquirer.NewMessage("0210")
	for _, id := range []int{3, 4, 7, 11, 41, 42} {
		v, _ := m.GetString(id)
		_ = resp.Field(id, v)
	}
	_ = resp.Field(37, "000000000001")
	_ = resp.Field(38, "123456")
	_ = resp.Field(39, "00")
	return resp
}

func TestMalformedAnswersNeverSucceed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req []byte) []byte
	}{
		{"bad MAC", func(req []byte) []byte {
			m := approval(req)
			_ = acquirer.Sign(m, macKey)
			b, _ := m.Pack()
			b[len(b)-1] ^= 0x01
			return b
		}},
		{"signed with another key", func(req []byte) []byte {
			m := approval(req)
			_ = acquirer.Sign(m, []byte("0123456789abcdef"))
			b, _ := m.Pack()
			return b
		}},
		{"no MAC", func(req []byte) []byte {
			b, _ := approval(req).Pack()
			return b
		}},
		{"truncated", func(req []byte) []byte {
			m := approval(req)
			_ = acquirer.Sign(m, macKey)
			b, _ := m.Pack()
			return b[:len(b)-12]
		}},
		{"garbage", func(req []byte) []byte { return []byte("0210garbage!\x00\x01") }},
		{"MAC error code", func(req []byte) []byte {
			m := approval(req)
			_ = m.Field(39, "A0")
			_ = acquirer.Sign(m, macKey)
			b, _ := m.Pack()
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rogueHost(t, tc.answer)
			c, err := acquirer.New(paygate.ProviderSpec{ID: "rogue", Timeout: 300 * time.Millisecond, Credentials: map[string]string{
				"address": addr, "mac_key": "0123456789ABCDEFFEDCBA9876543210", "acquirer_id": "48020000",
				"pool_size": "1", "reversal_retry": "1h"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r, err := c.Pay(context.Background(), payment(t, 60, "0013", paygate.EntryChip, 100))
			var ce *paygate.ChannelError
			if !errors.As(err, &ce) || r != nil {
				t.Fatalf("got %+v, %v; want a ChannelError", r, err)
			}
		})
	}
}
