package acquirer

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/paygate-cn/paygate"
)

func TestParseEMV(t *testing.T) {
	for _, tc := range []struct {
		name, hex, pan, expiry, err string
	}{
		{"5A and 5F24", "5A0862220200000000075F24033012319F260211229F2701800000", "6222020000000007", "3012", ""},
		{"track 2 fallback", "57106222020000000007D30122011234567F9F0206000000001234", "6222020000000007", "3012", ""},
		{"inside template 70", "70105A0862220200000000075F2403301231", "6222020000000007", "3012", ""},
		{"bad hex", "5A0G", "", "", "not valid hex"},
		{"no PAN", "5F2403301231", "", "", "no PAN"},
		{"bad Luhn", "5A0862220200000000085F2403301231", "", "", "not a valid card number"},
		{"truncated value", "5A0862220200", "", "", "longer than the data"},
		{"no expiry", "5A086222020000000007", "", "", "no expiry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card, err := ParseEMV(tc.hex)
			if tc.err != "" {
				e, ok := err.(*paygate.Error)
				if !ok || e.Code != paygate.EPARAMINVALID || e.Param != "card.emv" || !bytes.Contains([]byte(e.Message), []byte(tc.err)) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if card.PAN != tc.pan || card.Expiry != tc.expiry {
				t.Fatalf("card = %s %s", card.PAN, card.Expiry)
			}
			if bytes.Contains(card.EMV, []byte{0x5A, 0x08}) {
				t.Fatal("field 55 still carries the PAN")
			}
		})
	}
}

func FuzzParseEMV(f *testing.F) {
	f.Add("5A0862220200000000075F24033012319F26021122")
	f.Add("70105A0862220200000000075F2403301231")
	f.Add("57106222020000000007D30122011234567F")
	f.Fuzz(func(t *testing.T, s string) {
		card, err := ParseEMV(s)
		if err != nil {
			if paygate.ErrorCode(err) != paygate.EPARAMINVALID {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if !validPAN(card.PAN) || len(card.Expiry) != 4 || len(card.EMV) > maxICC {
			t.Fatalf("accepted a bad card: %q", s)
		}
	})
}

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
