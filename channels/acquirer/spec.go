package acquirer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moov-io/iso8583"
	"github.com/moov-io/iso8583/encoding"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// Field numbers of the message spec (ISO 8583:1987, CUP style).
const (
	FieldPAN            = 2
	FieldProcessingCode = 3
	FieldAmount         = 4
	FieldTransmission   = 7 // MMDDhhmmss
	FieldSTAN           = 11
	FieldLocalTime      = 12 // hhmmss
	FieldLocalDate      = 13 // MMDD
	FieldExpiry         = 14 // YYMM
	FieldSettlementDate = 15 // MMDD
	FieldMCC            = 18
	FieldEntryMode      = 22
	FieldCondition      = 25
	FieldAcquirerID     = 32
	FieldRRN            = 37
	FieldAuthCode       = 38
	FieldResponseCode   = 39
	FieldTerminalID     = 41
	FieldMerchantNo     = 42
	FieldAdditional     = 48 // settlement totals in 0510
	FieldCurrency       = 49
	FieldICC            = 55
	FieldMAC            = 64
	FieldNetworkCode    = 70
	FieldOriginal       = 90
	FieldMAC2           = 128
)

// Message type indicators.
const (
	MTIAuth             = "0100"
	MTIAuthResp         = "0110"
	MTIFinancial        = "0200"
	MTIFinancialResp    = "0210"
	MTIAdvice           = "0220"
	MTIAdviceResp       = "0230"
	MTIReversal         = "0400"
	MTIReversalRepeat   = "0401"
	MTIReversalResp     = "0410"
	MTIReconcile        = "0500"
	MTIReconcileResp    = "0510"
	MTINetwork          = "0800"
	MTINetworkResp      = "0810"
	MTIReversalRespRpt  = "0411"
	networkSignOn       = "001"
	networkEcho         = "301"
	currencyCNY         = "156"
	conditionNormal     = "00"
	conditionPreAuth    = "06"
	procPurchase        = "000000"
	procVoid            = "020000"
	procPreAuth         = "030000"
	procRefund          = "200000"
	procReconcile       = "920000"
	originalFieldLength = 42
)

// maxICC is the largest field 55 the spec carries.
const maxICC = 255

// Exported names of the codes both sides use.
const (
	NetworkSignOn    = networkSignOn
	NetworkEcho      = networkEcho
	ProcPurchase     = procPurchase
	ProcVoid         = procVoid
	ProcPreAuth      = procPreAuth
	ProcRefund       = procRefund
	ProcReconcile    = procReconcile
	ConditionNormal  = conditionNormal
	ConditionPreAuth = conditionPreAuth
	CurrencyCNY      = currencyCNY
)

func ascii(n int, desc string) *field.String {
	return field.NewString(&field.Spec{Length: n, Description: desc, Enc: encoding.ASCII, Pref: prefix.ASCII.Fixed})
}

func asciiVar(n int, p prefix.Prefixer, desc string) *field.String {
	return field.NewString(&field.Spec{Length: n, Description: desc, Enc: encoding.ASCII, Pref: p})
}

// Spec is the message layout the client and the sandbox host share:
// ISO 8583:1987, ASCII characters for every numeric and text field, an
// 8-byte binary bitmap (a secondary bitmap only when a field above 64 is
// present), binary field 55 and MAC. docs/channels/acquirer.md lists it.
var Spec = &iso8583.MessageSpec{
	Name: "paygate acquirer ISO 8583:1987 (CUP style)",
	Fields: map[int]field.Field{
		0: ascii(4, "Message Type Indicator"),
		1: field.NewBitmap(&field.Spec{Length: 8, Description: "Bitmap",
			Enc: encoding.Binary, Pref: prefix.Binary.Fixed}),
		FieldPAN:            asciiVar(19, prefix.ASCII.LL, "Primary Account Number"),
		FieldProcessingCode: ascii(6, "Processing Code"),
		FieldAmount:         ascii(12, "Amount, Transaction (fen)"),
		FieldTransmission:   ascii(10, "Transmission Date and Time"),
		FieldSTAN:           ascii(6, "Systems Trace Audit Number"),
		FieldLocalTime:      ascii(6, "Time, Local Transaction"),
		FieldLocalDate:      ascii(4, "Date, Local Transaction"),
		FieldExpiry:         ascii(4, "Date, Expiration"),
		FieldSettlementDate: ascii(4, "Date, Settlement"),
		FieldMCC:            ascii(4, "Merchant Type"),
		FieldEntryMode:      ascii(3, "POS Entry Mode"),
		FieldCondition:      ascii(2, "POS Condition Code"),
		FieldAcquirerID:     asciiVar(11, prefix.ASCII.LL, "Acquiring Institution Identification Code"),
		FieldRRN:            ascii(12, "Retrieval Reference Number"),
		FieldAuthCode:       ascii(6, "Authorization Identification Response"),
		FieldResponseCode:   ascii(2, "Response Code"),
		FieldTerminalID:     ascii(8, "Card Acceptor Terminal Identification"),
		FieldMerchantNo:     ascii(15, "Card Acceptor Identification Code"),
		FieldAdditional:     asciiVar(999, prefix.ASCII.LLL, "Additional Data - Private"),
		FieldCurrency:       ascii(3, "Currency Code, Transaction"),
		FieldICC: field.NewBinary(&field.Spec{Length: 255, Description: "ICC System Related Data",
			Enc: encoding.Binary, Pref: prefix.ASCII.LLL}),
		FieldMAC:         newMACField("Message Authentication Code"),
		FieldNetworkCode: ascii(3, "Network Management Information Code"),
		FieldOriginal:    ascii(originalFieldLength, "Original Data Elements"),
		FieldMAC2:        newMACField("Message Authentication Code (secondary)"),
	},
}

// NewMessage returns an empty message of Spec with the given MTI.
func NewMessage(mti string) *iso8583.Message {
	m := iso8583.NewMessage(Spec)
	m.MTI(mti)
	return m
}

// MaxMessageLength is the largest message the 2-byte header can announce.
const MaxMessageLength = 0xFFFF

// ReadLength reads the 2-byte big-endian binary length header.
func ReadLength(r io.Reader) (int, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	if n == 0 {
		return 0, errors.New("acquirer: zero-length message")
	}
	return n, nil
}

// WriteLength writes the 2-byte big-endian binary length header.
func WriteLength(w io.Writer, n int) (int, error) {
	if n <= 0 || n > MaxMessageLength {
		return 0, fmt.Errorf("acquirer: message length %d does not fit the 2-byte header", n)
	}
	var h [2]byte
	binary.BigEndian.PutUint16(h[:], uint16(n))
	return w.Write(h[:])
}

// ResponseMTI returns the MTI answering a request MTI (0200 → 0210,
// 0401 → 0411).
func ResponseMTI(mti string) string {
	if len(mti) != 4 {
		return ""
	}
	b := []byte(mti)
	b[2]++
	return string(b)
}

// Unpack decodes one message body (without the length header). It never
// panics: a panic inside the decoder is returned as an error.
func Unpack(raw []byte) (m *iso8583.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("acquirer: malformed message: %v", r)
		}
	}()
	m = iso8583.NewMessage(Spec)
	if err := m.Unpack(raw); err != nil {
		return nil, err
	}
	return m, nil
}

// Original is ISO 8583:1987 field 90: the original MTI, STAN, transmission
// date and time and acquiring institution (11 digits, zero-filled on the
// left), followed by 11 zeros for the forwarding institution.
type Original struct {
	MTI          string
	STAN         string
	Transmission string
	AcquirerID   string
}

// String formats field 90.
func (o Original) String() string {
	return padLeft(o.MTI, 4) + padLeft(o.STAN, 6) + padLeft(o.Transmission, 10) +
		padLeft(o.AcquirerID, 11) + "00000000000"
}

// ParseOriginal decodes field 90.
func ParseOriginal(s string) (Original, error) {
	if len(s) != originalFieldLength || !digits(s) {
		return Original{}, fmt.Errorf("acquirer: field 90 must be %d digits", originalFieldLength)
	}
	return Original{MTI: s[:4], STAN: s[4:10], Transmission: s[10:20], AcquirerID: trimZeros(s[20:31])}, nil
}

// padLeft zero-fills s on the left to n characters (keeping the last n).
func padLeft(s string, n int) string {
	if len(s) >= n {
		return s[len(s)-n:]
	}
	return strings.Repeat("0", n-len(s)) + s
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
