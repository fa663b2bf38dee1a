package acquirer

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/moov-io/iso8583/encoding"
	isoerrors "github.com/moov-io/iso8583/errors"
	"github.com/moov-io/iso8583/field"
	"github.com/moov-io/iso8583/prefix"
)

// macBinary is the type of the MAC fields 64 and 128: a field.Binary that
// also keeps what was found when its message was read off the wire.
type macBinary struct {
	field.Binary
	// last is set by Unpack when the field took the last bytes of the
	// message: nothing was left after it.
	last bool
	// readBy is the key of the Codec that read the message (nil for a
	// message built in memory) and valid says whether the MAC matched the
	// bytes before it, exactly as they were read.
	readBy *MACKey
	valid  bool
}

var _ field.Field = (*macBinary)(nil)

func newMACField(desc string) *macBinary {
	return &macBinary{Binary: *field.NewBinary(&field.Spec{Length: 8, Description: desc,
		Enc: encoding.Binary, Pref: prefix.Binary.Fixed})}
}

// NewInstance gives each message a MAC field of its own.
func (f *macBinary) NewInstance() field.Field {
	return &macBinary{Binary: *field.NewBinary(f.Spec())}
}

// Unpack reads the MAC and notes whether it ended the message.
func (f *macBinary) Unpack(data []byte) (int, error) {
	n, err := f.Binary.Unpack(data)
	f.last = err == nil && n == len(data)
	return n, err
}

// SetBytes sets a new MAC, which no longer is the one read.
func (f *macBinary) SetBytes(b []byte) error {
	f.readBy, f.valid = nil, false
	return f.Binary.SetBytes(b)
}

// Marshal sets a new MAC, which no longer is the one read.
func (f *macBinary) Marshal(v any) error {
	f.readBy, f.valid = nil, false
	return f.Binary.Marshal(v)
}

// Codec reads and writes the messages of a connection (its MessageReader
// and MessageWriter): a 2-byte length header, then the message, whose MAC
// is computed over the bytes just packed when writing and checked against
// the bytes just read when reading. Each message is packed or unpacked
// once. It is safe for concurrent use.
type Codec struct {
	key *MACKey
}

var (
	_ connection.MessageReader = (*Codec)(nil)
	_ connection.MessageWriter = (*Codec)(nil)
)

// NewCodec returns the codec of connections whose messages are MACed
// under key.
func NewCodec(key *MACKey) *Codec { return &Codec{key: key} }

// Options are the connection options that make a connection (or every
// connection of a server) read and write through c.
func (c *Codec) Options() []connection.Option {
	return []connection.Option{connection.SetMessageReader(c), connection.SetMessageWriter(c)}
}

// WriteMessage signs m and writes it with its length header: m is packed
// once, with zeros in its MAC field (64, or 128 when a field above 64 is
// present: the last field either way), and the MAC of the bytes before
// them is put in their place. On return m carries its MAC, as after Sign.
// A message that cannot be packed returns an *errors.PackError, which
// fails that message only, not the connection.
func (c *Codec) WriteMessage(w io.Writer, m *iso8583.Message) error {
	m.UnsetField(FieldMAC)
	m.UnsetField(FieldMAC2)
	f := macField(m)
	packed, err := packForMAC(m, f, zeroMAC[:])
	if err != nil {
		m.UnsetField(f)
		var packErr *isoerrors.PackError
		if !errors.As(err, &packErr) {
			err = &isoerrors.PackError{Err: err}
		}
		return err
	}
	n := len(packed)
	if n > MaxMessageLength {
		m.UnsetField(f)
		return fmt.Errorf("acquirer: message length %d does not fit the 2-byte header", n)
	}
	mac := make([]byte, 8)
	c.key.put(mac, packed[:n-8])
	if err := m.BinaryField(f, mac); err != nil {
		return &isoerrors.PackError{Err: err}
	}
	frame := make([]byte, 2+n)
	binary.BigEndian.PutUint16(frame, uint16(n))
	copy(frame[2:], packed[:n-8])
	copy(frame[2+n-8:], mac)
	_, err = w.Write(frame)
	return err
}

// zeroMAC is what the MAC field holds while a message is packed for its
// MAC. It is never written to.
var zeroMAC [8]byte

// ReadMessage reads one message with its length header and checks its
// MAC against the bytes read: the MAC field (64 or 128, see Sign) must be
// the message's last 8 bytes and the MAC of everything before them, so
// that the MAC authenticates exactly the bytes every field value was
// unpacked from. The outcome stays with the message for MACKey.Verify; a
// message with a bad MAC is returned like any other, for the code acting
// on it to refuse. A message that cannot be unpacked returns an
// *errors.UnpackError, which drops that message only.
func (c *Codec) ReadMessage(r io.Reader) (*iso8583.Message, error) {
	n, err := ReadLength(r)
	if err != nil {
		return nil, fmt.Errorf("failed to read message length: %w", err)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("failed to read message from connection: %w", err)
	}
	m, err := Unpack(raw)
	if err != nil {
		var unpackErr *isoerrors.UnpackError
		if !errors.As(err, &unpackErr) { // a recovered decoder panic
			err = &isoerrors.UnpackError{Err: err, RawMessage: raw}
		}
		return nil, err
	}
	c.key.check(m, raw)
	return m, nil
}

// check verifies the MAC of m, just unpacked from raw, over raw itself and
// records the outcome in m's MAC field. A message without a MAC field
// records nothing: Verify finds it bad anyway.
func (k *MACKey) check(m *iso8583.Message, raw []byte) {
	f := macField(m)
	mf, ok := m.GetField(f).(*macBinary)
	if !ok {
		return
	}
	mf.readBy, mf.valid = k, false
	other := FieldMAC
	if f == FieldMAC {
		other = FieldMAC2
	}
	got, _ := mf.Bytes()
	n := len(raw)
	if m.GetField(other) != nil || !mf.last || len(got) != 8 || n < 8 || !bytes.Equal(raw[n-8:], got) {
		return
	}
	var want [8]byte
	k.put(want[:], raw[:n-8])
	mf.valid = subtle.ConstantTimeCompare(want[:], got) == 1
}

// verdict returns what a Codec of k found of m's MAC when it read m, and
// false when m was not read by such a codec (or its MAC was set since).
func (k *MACKey) verdict(m *iso8583.Message) (valid, known bool) {
	mf, ok := m.GetField(macField(m)).(*macBinary)
	if !ok || mf.readBy != k {
		return false, false
	}
	return mf.valid, true
}
