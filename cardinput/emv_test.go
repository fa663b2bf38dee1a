package cardinput

import (
	"bytes"
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
		if !paygate.ValidPAN(card.PAN) || len(card.Expiry) != 4 || len(card.EMV) > maxICC {
			t.Fatalf("accepted a bad card: %q", s)
		}
	})
}
