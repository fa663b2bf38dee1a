package acquirer

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzUnpackResponse feeds arbitrary bytes to the client's answer path, as
// read off a connection (the MAC checked against the bytes read) and as
// unpacked in memory (Verify packs again): it must never panic, and
// nothing but an untouched, correctly signed answer may pass verification.
func FuzzUnpackResponse(f *testing.F) {
	key, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	mac, _ := NewMACKey(key)
	c := &Client{id: "fuzz", mac: mac}
	req := NewMessage(MTIFinancial)
	for id, v := range map[int]string{3: "000000", 4: "000000001234", 7: "1121103005", 11: "000123", 41: "T0001   "} {
		_ = req.Field(id, v)
	}
	resp := NewMessage(MTIFinancialResp)
	for id, v := range map[int]string{3: "000000", 4: "000000001234", 7: "1121103005", 11: "000123",
		37: "325000000001", 38: "000001", 39: "00", 41: "T0001   "} {
		_ = resp.Field(id, v)
	}
	if err := Sign(resp, key); err != nil {
		f.Fatal(err)
	}
	good, _ := resp.Pack()
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), good[len(good)-8:]...))
	f.Add([]byte("0210\xff\xff\xff\xff\xff\xff\xff\xff"))
	codec := NewCodec(mac)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) <= MaxMessageLength {
			m, err := codec.ReadMessage(bytes.NewReader(reframe(raw)))
			if err == nil && c.checkResponse(req, m) == nil && !bytes.Equal(raw, good) {
				t.Fatalf("a modified answer passed verification as read: %x", raw)
			}
		}
		m, err := Unpack(raw)
		if err != nil {
			return
		}
		if c.checkResponse(req, m) != nil {
			return
		}
		again, err := m.Pack()
		if err != nil {
			t.Fatalf("verified answer does not pack: %v", err)
		}
		if !bytes.Equal(again, good) {
			t.Fatalf("a modified answer passed verification: %x", raw)
		}
	})
}
