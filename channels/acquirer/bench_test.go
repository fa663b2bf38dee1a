package acquirer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/paygate-cn/paygate"
)

// benchKey is the MAC key of the benchmarks.
var benchKey, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")

// benchMAC is benchKey prepared, as the client and the host keep theirs.
var benchMAC, _ = NewMACKey(benchKey)

// benchICC is field 55 of a typical chip sale: cryptogram, its
// information data, issuer application data, unpredictable number, TVR,
// date, type, amounts, currency, AIP and ATC.
var benchICC, _ = hex.DecodeString("9F2608C2E1A4D3B5F607189F2701809F100807010103A0A802009F3704A1B2C3D4" +
	"950500000080009A032603159C01009F02060000000012345F2A0201568202198" +
	"09F360200429F1A020156")

// benchSale builds the 0200 of a chip sale as Pay does.
func benchSale(tb testing.TB) *iso8583.Message {
	tb.Helper()
	c := &Client{id: "bench", acquirerID: "48020000",
		now: func() time.Time { return time.Date(2026, 3, 15, 12, 30, 45, 0, time.UTC) }}
	m, _, err := c.cardRequest(&paygate.PaymentRequest{
		OrderID:    "ord_bench",
		Amount:     12345,
		Method:     paygate.MethodCard,
		Card:       &paygate.CardData{PAN: "6222021234567890128", Expiry: "3012", EMV: benchICC},
		CardInfo:   &paygate.CardInfo{EntryMode: paygate.EntryChip, Network: paygate.NetworkUnionPay},
		Capture:    paygate.CaptureAutomatic,
		Merchant:   &paygate.Merchant{ID: "m_bench", MCC: "5812", MerchantNo: "898310058125812"},
		TerminalID: "T0001",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// benchAnswer builds the host's 0210 approval of req: the echoed fields,
// RRN, auth code and response code, as the sandbox host answers.
func benchAnswer(tb testing.TB, req *iso8583.Message) *iso8583.Message {
	tb.Helper()
	r := NewMessage(MTIFinancialResp)
	for _, id := range []int{FieldProcessingCode, FieldAmount, FieldTransmission, FieldSTAN, FieldLocalTime,
		FieldLocalDate, FieldCondition, FieldAcquirerID, FieldTerminalID, FieldMerchantNo, FieldCurrency} {
		if v, _ := req.GetString(id); v != "" {
			set(r, id, v)
		}
	}
	set(r, FieldRRN, "074000000123")
	set(r, FieldAuthCode, "000123")
	set(r, FieldResponseCode, RCApproved)
	return r
}

// benchCodec is the codec of the client's and the host's connections.
var benchCodec = NewCodec(benchMAC)

// send is what a connection does to put m on the wire: sign, pack, frame.
func send(w io.Writer, m *iso8583.Message) error {
	return benchCodec.WriteMessage(w, m)
}

// receive is what a connection and the code acting on a message do with
// one frame: read, unpack, verify the MAC.
func receive(r io.Reader) (*iso8583.Message, error) {
	m, err := benchCodec.ReadMessage(r)
	if err != nil {
		return nil, err
	}
	return m, benchMAC.Verify(m)
}

func benchSend(b *testing.B, m *iso8583.Message) {
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := send(w, m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReceive(b *testing.B, m *iso8583.Message) {
	var frame bytes.Buffer
	if err := send(&frame, m); err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(frame.Bytes())
	b.SetBytes(int64(frame.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(frame.Bytes())
		if _, err := receive(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSend0200(b *testing.B)    { benchSend(b, benchSale(b)) }
func BenchmarkSend0210(b *testing.B)    { benchSend(b, benchAnswer(b, benchSale(b))) }
func BenchmarkReceive0200(b *testing.B) { benchReceive(b, benchSale(b)) }
func BenchmarkReceive0210(b *testing.B) { benchReceive(b, benchAnswer(b, benchSale(b))) }

func BenchmarkRetailMAC(b *testing.B) {
	data := make([]byte, 200)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RetailMAC(benchKey, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMACKey(b *testing.B) {
	data, mac := make([]byte, 200), make([]byte, 8)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		benchMAC.put(mac, data)
	}
}
