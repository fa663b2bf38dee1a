package acquirer_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
)

// rogueHost signs connections on properly but answers every sale in a
// broken way. It counts the connections it accepted.
func rogueHost(t *testing.T, answer func(req []byte) []byte) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := new(atomic.Int32)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
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
	return ln.Addr().String(), accepted
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
			addr, _ := rogueHost(t, tc.answer)
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

// TestBadMACAnswerIsReversed: an approval whose MAC does not authenticate
// exactly the bytes received is an unknown outcome (bad_mac), the sale is
// reversed, and the connection stays up.
func TestBadMACAnswerIsReversed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func(b []byte) []byte
	}{
		{"MAC wrong by one bit", func(b []byte) []byte { b[len(b)-8] ^= 0x80; return b }},
		{"field wrong by one bit", func(b []byte) []byte { b[len(b)-9] ^= 0x01; return b }},
		{"a byte after the MAC", func(b []byte) []byte { return append(b, 0) }},
		{"the MAC twice", func(b []byte) []byte { return append(b, b[len(b)-8:]...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reversals atomic.Int32
			addr, accepted := rogueHost(t, func(req []byte) []byte {
				var m *iso8583.Message
				switch mti := string(req[:4]); mti {
				case "0200":
					m = approval(req)
				case "0400", "0401":
					reversals.Add(1)
					in, _ := acquirer.Unpack(req)
					m = acquirer.NewMessage("0410")
					for _, id := range []int{3, 4, 7, 11, 41, 42} {
						v, _ := in.GetString(id)
						_ = m.Field(id, v)
					}
					_ = m.Field(39, "00")
				default:
					return nil
				}
				if err := acquirer.Sign(m, macKey); err != nil {
					panic(err)
				}
				b, _ := m.Pack()
				if string(req[:4]) == "0200" {
					b = tc.mangle(b)
				}
				return b
			})
			c, err := acquirer.New(paygate.ProviderSpec{ID: "rogue", Timeout: 2 * time.Second, Credentials: map[string]string{
				"address": addr, "mac_key": "0123456789ABCDEFFEDCBA9876543210", "acquirer_id": "48020000",
				"pool_size": "1", "reversal_retry": "50ms"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := payment(t, 61, "0013", paygate.EntryChip, 100)
			r, err := c.Pay(context.Background(), req)
			var ce *paygate.ChannelError
			if !errors.As(err, &ce) || r != nil || ce.Code != "bad_mac" || ce.Timeout {
				t.Fatalf("got %+v, %v; want a bad_mac ChannelError", r, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if r, err := c.Reverse(ctx, order(req, nil)); err != nil || r.Outcome != paygate.OutcomeClosed {
				t.Fatalf("reverse: %+v %v", r, err)
			}
			if reversals.Load() != 1 {
				t.Fatalf("%d reversals reached the host, want 1", reversals.Load())
			}
			if n := accepted.Load(); n != 1 || c.Online() != 1 {
				t.Fatalf("%d connections accepted, %d online: the bad answer cost a connection", n, c.Online())
			}
		})
	}
}
