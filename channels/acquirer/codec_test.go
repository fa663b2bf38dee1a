package acquirer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/moov-io/iso8583"
	isoerrors "github.com/moov-io/iso8583/errors"
)

// codecMessages are messages of every shape: MAC in 64, and in 128 when a
// field above 64 is present.
func codecMessages(t *testing.T) map[string]*iso8583.Message {
	sale := benchSale(t)
	echo := NewMessage(MTINetwork)
	set(echo, FieldTransmission, "0315123045")
	set(echo, FieldSTAN, "000001")
	set(echo, FieldAcquirerID, "48020000")
	set(echo, FieldNetworkCode, NetworkEcho)
	reversal := NewMessage(MTIReversal)
	for id, v := range map[int]string{FieldProcessingCode: ProcPurchase, FieldAmount: "000000012345", FieldSTAN: "000002",
		FieldTerminalID: "T0001   ", FieldOriginal: Original{MTI: "0200", STAN: "000001", Transmission: "0315123045", AcquirerID: "48020000"}.String()} {
		set(reversal, id, v)
	}
	return map[string]*iso8583.Message{"0200": sale, "0210": benchAnswer(t, sale), "0800": echo, "0400": reversal}
}

// frameOf returns the frame the codec writes for m.
func frameOf(t *testing.T, m *iso8583.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := benchCodec.WriteMessage(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reframe puts a new length header on body.
func reframe(body []byte) []byte {
	return append([]byte{byte(len(body) >> 8), byte(len(body))}, body...)
}

func TestCodecWritesWhatSignPacks(t *testing.T) {
	for name, m := range codecMessages(t) {
		t.Run(name, func(t *testing.T) {
			frame := frameOf(t, m)
			written := m.GetField(macField(m))
			if written == nil {
				t.Fatal("the written message carries no MAC")
			}
			writtenMAC, _ := written.Bytes()
			if err := Sign(m, benchKey); err != nil {
				t.Fatal(err)
			}
			signed, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			signedMAC, _ := m.GetBytes(macField(m))
			if !bytes.Equal(frame[2:], signed) || !bytes.Equal(writtenMAC, signedMAC) {
				t.Fatalf("codec wrote %x (MAC %x), Sign and Pack give %x (MAC %x)", frame[2:], writtenMAC, signed, signedMAC)
			}
			if n := int(frame[0])<<8 | int(frame[1]); n != len(signed) {
				t.Fatalf("length header %d for %d bytes", n, len(signed))
			}
			// Writing again (a repeated reversal) gives the same bytes.
			if again := frameOf(t, m); !bytes.Equal(again, frame) {
				t.Fatal("a second write differs")
			}
		})
	}
}

func TestCodecReadChecksTheBytesRead(t *testing.T) {
	other, _ := NewMACKey([]byte("0123456789abcdef"))
	for name, m := range codecMessages(t) {
		t.Run(name, func(t *testing.T) {
			frame := frameOf(t, m)
			body := frame[2:]
			read := func(frame []byte) (*iso8583.Message, error) {
				t.Helper()
				got, err := benchCodec.ReadMessage(bytes.NewReader(frame))
				if err != nil {
					return nil, err
				}
				return got, benchMAC.Verify(got)
			}
			if _, err := read(frame); err != nil {
				t.Fatalf("a good message: %v", err)
			}
			// One bit anywhere after the MTI: in the MAC, the bitmap or a field.
			for i := 4; i < len(body); i++ {
				bad := bytes.Clone(body)
				bad[i] ^= 0x01
				got, err := read(reframe(bad))
				var unpackErr *isoerrors.UnpackError
				switch {
				case errors.As(err, &unpackErr):
					// no longer a message: dropped, as before
				case !errors.Is(err, ErrBadMAC) || got == nil:
					t.Fatalf("bit flipped in byte %d of %d: %v", i, len(body), err)
				}
			}
			for what, bad := range map[string][]byte{
				"one trailing byte":     append(bytes.Clone(body), 0),
				"the MAC twice":         append(bytes.Clone(body), body[len(body)-8:]...),
				"a second copy":         append(bytes.Clone(body), body...),
				"signed with other key": signedWith(t, other, m),
			} {
				if got, err := read(reframe(bad)); !errors.Is(err, ErrBadMAC) || got == nil {
					t.Errorf("%s: %v", what, err)
				}
			}
			var unpackErr *isoerrors.UnpackError
			for _, cut := range []int{1, 7, 8} {
				if _, err := read(reframe(body[:len(body)-cut])); cut < 8 && !errors.As(err, &unpackErr) {
					t.Errorf("MAC cut by %d: %v, want an unpack error", cut, err)
				} else if cut == 8 && err == nil {
					t.Errorf("MAC cut off: accepted")
				}
			}
		})
	}
}

// signedWith returns m packed and signed under k.
func signedWith(t *testing.T, k *MACKey, m *iso8583.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := NewCodec(k).WriteMessage(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[2:]
}

func TestCodecMisplacedMAC(t *testing.T) {
	for _, tc := range []struct {
		name, mti string
		misplace  func(m *iso8583.Message, mac []byte)
	}{
		{"no MAC", "0210", func(m *iso8583.Message, _ []byte) { m.UnsetField(FieldMAC) }},
		{"MAC in 64 with field 70", "0800", func(m *iso8583.Message, mac []byte) {
			m.UnsetField(FieldMAC2)
			_ = m.BinaryField(FieldMAC, mac)
		}},
		{"MAC in both fields", "0210", func(m *iso8583.Message, mac []byte) { _ = m.BinaryField(FieldMAC2, mac) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := codecMessages(t)[tc.mti]
			if err := benchMAC.Sign(m); err != nil {
				t.Fatal(err)
			}
			mac, _ := m.GetBytes(macField(m))
			tc.misplace(m, mac)
			body, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			got, err := benchCodec.ReadMessage(bytes.NewReader(reframe(body)))
			if err != nil {
				t.Fatal(err)
			}
			if err := benchMAC.Verify(got); !errors.Is(err, ErrBadMAC) {
				t.Fatalf("verified: %v", err)
			}
		})
	}
}

func TestCodecVerdictFollowsTheMessage(t *testing.T) {
	m := codecMessages(t)["0210"]
	frame := frameOf(t, m)
	got, err := benchCodec.ReadMessage(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	// Another key object holding the same key checks by packing again.
	same, _ := NewMACKey(benchKey)
	if err := same.Verify(got); err != nil {
		t.Fatal(err)
	}
	if err := Verify(got, benchKey); err != nil {
		t.Fatal(err)
	}
	// A MAC set since it was read is no longer the one the codec checked.
	_ = got.BinaryField(FieldMAC, make([]byte, 8))
	if err := benchMAC.Verify(got); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("a replaced MAC verified: %v", err)
	}
	if err := benchMAC.Sign(got); err != nil {
		t.Fatal(err)
	}
	if err := benchMAC.Verify(got); err != nil {
		t.Fatalf("signed again: %v", err)
	}
}

func TestCodecPackErrorFailsTheMessageOnly(t *testing.T) {
	m := NewMessage(MTIFinancial)
	set(m, FieldSTAN, "000001")
	set(m, FieldPAN, "62220212345678901234567") // longer than field 2 allows
	err := benchCodec.WriteMessage(&bytes.Buffer{}, m)
	var packErr *isoerrors.PackError
	if !errors.As(err, &packErr) {
		t.Fatalf("err = %v, want a pack error", err)
	}
	if m.GetField(FieldMAC) != nil || m.GetField(FieldMAC2) != nil {
		t.Fatal("a message that was not sent carries a MAC")
	}
}
