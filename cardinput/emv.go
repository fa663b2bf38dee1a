package cardinput

import (
	"encoding/hex"
	"strings"

	"github.com/paygate-cn/paygate"
)

// maxICC is the most ICC data an acquirer's ISO 8583 field 55 carries
// (docs/channels/acquirer.md); longer input is refused here, before
// anything is written.
const maxICC = 255

// EMV tags read by ParseEMV.
const (
	tagPAN    = 0x5A
	tagExpiry = 0x5F24
	tagTrack2 = 0x57
)

type tlv struct {
	tag      uint32
	value    []byte
	raw      []byte // the whole encoded TLV
	children []tlv
}

// ParseEMV decodes hex EMV TLV (BER-TLV as read from the card) and returns
// the card it describes: the PAN from tag 5A (BCD, F-padded) or, failing
// that, from tag 57 (track 2 equivalent data); the expiry from 5F24
// (YYMMDD) or track 2; and the TLV for field 55: every primitive data
// object, templates flattened, without tags 5A and 57 since the PAN
// travels in field 2. Errors are EPARAMINVALID on
// "card.emv".
func ParseEMV(hexTLV string) (paygate.CardData, error) {
	raw, err := hex.DecodeString(strings.TrimSpace(hexTLV))
	if err != nil {
		return paygate.CardData{}, emvError("card.emv is not valid hex")
	}
	if len(raw) == 0 {
		return paygate.CardData{}, emvError("card.emv is empty")
	}
	items, err := parseTLV(raw, 0)
	if err != nil {
		return paygate.CardData{}, err
	}
	var pan, expiry, track2PAN, track2Expiry string
	var icc []byte
	var walk func([]tlv)
	walk = func(list []tlv) {
		for _, t := range list {
			switch t.tag {
			case tagPAN:
				pan = bcdDigits(t.value)
			case tagTrack2:
				track2PAN, track2Expiry = parseTrack2(t.value)
			case tagExpiry:
				if len(t.value) == 3 {
					expiry = bcdDigits(t.value)
				}
			}
			if t.children != nil {
				walk(t.children)
			} else if t.tag != tagPAN && t.tag != tagTrack2 {
				icc = append(icc, t.raw...) // field 55 is the flat list of the other data objects
			}
		}
	}
	walk(items)
	if pan == "" {
		pan = track2PAN
	}
	if pan == "" {
		return paygate.CardData{}, emvError("card.emv carries no PAN (tag 5A or 57)")
	}
	if !paygate.ValidPAN(pan) {
		return paygate.CardData{}, emvError("card.emv PAN is not a valid card number (13-19 digits, Luhn)")
	}
	switch {
	case len(expiry) == 6 && digits(expiry):
		expiry = expiry[:4]
	case track2Expiry != "":
		expiry = track2Expiry
	default:
		return paygate.CardData{}, emvError("card.emv carries no expiry date (tag 5F24 YYMMDD)")
	}
	if m := expiry[2:4]; m < "01" || m > "12" {
		return paygate.CardData{}, emvError("card.emv expiry month is invalid")
	}
	if len(icc) > maxICC {
		return paygate.CardData{}, emvError("card.emv is longer than 255 bytes")
	}
	return paygate.CardData{PAN: pan, Expiry: expiry, EMV: icc}, nil
}

func emvError(msg string) error {
	return paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "%s", msg)
}

// parseTLV decodes a sequence of BER-TLV objects; constructed objects are
// decoded recursively (depth-limited).
func parseTLV(b []byte, depth int) ([]tlv, error) {
	if depth > 4 {
		return nil, emvError("card.emv nests templates too deeply")
	}
	var out []tlv
	for len(b) > 0 {
		if b[0] == 0x00 || b[0] == 0xFF { // padding between objects
			b = b[1:]
			continue
		}
		start := b
		first := b[0]
		tag := uint32(first)
		n := 1
		if first&0x1F == 0x1F {
			for {
				if n >= len(b) || n > 3 {
					return nil, emvError("card.emv has a truncated tag")
				}
				tag = tag<<8 | uint32(b[n])
				n++
				if b[n-1]&0x80 == 0 {
					break
				}
			}
		}
		if n >= len(b) {
			return nil, emvError("card.emv has a tag without a length")
		}
		l := int(b[n])
		n++
		switch {
		case l < 0x80:
		case l == 0x81 && n < len(b):
			l = int(b[n])
			n++
		case l == 0x82 && n+1 < len(b):
			l = int(b[n])<<8 | int(b[n+1])
			n += 2
		default:
			return nil, emvError("card.emv has an invalid length")
		}
		if l > len(b)-n {
			return nil, emvError("card.emv has a value longer than the data")
		}
		t := tlv{tag: tag, value: b[n : n+l], raw: start[:n+l]}
		if first&0x20 != 0 {
			kids, err := parseTLV(t.value, depth+1)
			if err != nil {
				return nil, err
			}
			t.children = kids
		}
		out = append(out, t)
		b = b[n+l:]
	}
	return out, nil
}

// bcdDigits decodes packed BCD, stopping at the first F nibble.
func bcdDigits(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		for _, nib := range [2]byte{c >> 4, c & 0x0F} {
			if nib > 9 {
				return sb.String()
			}
			sb.WriteByte('0' + nib)
		}
	}
	return sb.String()
}

// parseTrack2 reads PAN and YYMM expiry from track 2 equivalent data
// (PAN, separator D, YYMM, service code, discretionary data, F padding).
func parseTrack2(b []byte) (pan, expiry string) {
	s := strings.ToUpper(hex.EncodeToString(b))
	i := strings.IndexByte(s, 'D')
	if i < 0 || len(s) < i+5 || !digits(s[:i]) || !digits(s[i+1:i+5]) {
		return "", ""
	}
	return s[:i], s[i+1 : i+5]
}
