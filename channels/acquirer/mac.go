package acquirer

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/moov-io/iso8583"
)

// ErrBadMAC reports a message whose MAC is missing or wrong.
var ErrBadMAC = errors.New("acquirer: bad MAC")

// ParseMACKey checks a double-length (16-byte) 3DES key.
func ParseMACKey(key []byte) error {
	if len(key) != 16 {
		return fmt.Errorf("acquirer: MAC key must be 16 bytes (double-length 3DES), got %d", len(key))
	}
	return nil
}

// MACKey is a double-length key K1||K2 made ready for the retail MAC: the
// two DES key schedules are built once, by NewMACKey, instead of for
// every message. It is safe for concurrent use.
type MACKey struct {
	k1, k2 cipher.Block
}

// NewMACKey prepares a double-length (16-byte) key.
func NewMACKey(key []byte) (*MACKey, error) {
	if err := ParseMACKey(key); err != nil {
		return nil, err
	}
	k1, err := des.NewCipher(key[:8])
	if err != nil {
		return nil, err
	}
	k2, err := des.NewCipher(key[8:16])
	if err != nil {
		return nil, err
	}
	return &MACKey{k1: k1, k2: k2}, nil
}

// MAC returns the retail MAC of data (see RetailMAC).
func (k *MACKey) MAC(data []byte) []byte {
	mac := make([]byte, 8)
	k.put(mac, data)
	return mac
}

// put writes the retail MAC of data to mac[:8], which must not overlap
// data. The data is read block by block, never copied: the zero padding
// of the last block is folded into the chaining value.
func (k *MACKey) put(mac, data []byte) {
	mac = mac[:8]
	var x uint64 // the CBC chaining value
	empty := len(data) == 0
	for ; len(data) >= 8; data = data[8:] {
		binary.BigEndian.PutUint64(mac, x^binary.BigEndian.Uint64(data))
		k.k1.Encrypt(mac, mac)
		x = binary.BigEndian.Uint64(mac)
	}
	if len(data) > 0 || empty { // the last block, zero padded
		for i, b := range data {
			x ^= uint64(b) << (56 - 8*i)
		}
		binary.BigEndian.PutUint64(mac, x)
		k.k1.Encrypt(mac, mac)
	}
	k.k2.Decrypt(mac, mac)
	k.k1.Encrypt(mac, mac)
}

// RetailMAC computes the ANSI X9.19 retail MAC (ISO 9797-1 MAC algorithm
// 3) of data under a double-length key K1||K2: zero padding to a multiple
// of 8 bytes (ISO 9797-1 method 1; no data is one block of zeros),
// single-DES CBC under K1 with a zero IV, then the last block is
// decrypted under K2 and encrypted again under K1. Callers that MAC more
// than once under a key keep a MACKey instead.
func RetailMAC(key, data []byte) ([]byte, error) {
	k, err := NewMACKey(key)
	if err != nil {
		return nil, err
	}
	return k.MAC(data), nil
}

// highFields are the fields of Spec above 64 other than the secondary MAC.
var highFields = func() []int {
	var ids []int
	for id := range Spec.Fields {
		if id > 64 && id != FieldMAC2 {
			ids = append(ids, id)
		}
	}
	return ids
}()

// macField is the field carrying the MAC: the last field of the message,
// 64 with a primary bitmap only, 128 when any field above 64 is present.
func macField(m *iso8583.Message) int {
	for _, id := range highFields {
		if m.GetField(id) != nil {
			return FieldMAC2
		}
	}
	return FieldMAC
}

// packForMAC sets the MAC field f of m to placeholder (8 bytes) and packs
// m. The MAC field being the last one, the MAC covers all but the last 8
// bytes of the result.
func packForMAC(m *iso8583.Message, f int, placeholder []byte) ([]byte, error) {
	if err := m.BinaryField(f, placeholder); err != nil {
		return nil, err
	}
	packed, err := m.Pack()
	if err != nil {
		return nil, err
	}
	if len(packed) < 8 {
		return nil, errors.New("acquirer: packed message shorter than its MAC")
	}
	return packed, nil
}

// Sign sets the MAC field of m (64 or 128, see macField).
func Sign(m *iso8583.Message, key []byte) error {
	k, err := NewMACKey(key)
	if err != nil {
		return err
	}
	return k.Sign(m)
}

// Sign sets the MAC field of m (64 or 128, see macField).
func (k *MACKey) Sign(m *iso8583.Message) error {
	m.UnsetField(FieldMAC)
	m.UnsetField(FieldMAC2)
	f := macField(m)
	mac := make([]byte, 8) // zeros while packing, then the field's value
	packed, err := packForMAC(m, f, mac)
	if err != nil {
		return err
	}
	k.put(mac, packed[:len(packed)-8])
	return nil
}

// Verify checks the MAC of m. The MAC is recomputed over m packed again,
// so it authenticates exactly the field values the receiver acts on.
// Returns ErrBadMAC when the MAC is missing, misplaced or wrong.
func Verify(m *iso8583.Message, key []byte) error {
	k, err := NewMACKey(key)
	if err != nil {
		return ErrBadMAC
	}
	return k.Verify(m)
}

// Verify checks the MAC of m. A message read by a Codec of k is judged by
// the check the codec made against the bytes it read (see ReadMessage),
// so it must not be changed between reading and verifying; any other
// message is checked as by the function Verify.
func (k *MACKey) Verify(m *iso8583.Message) error {
	if valid, known := k.verdict(m); known {
		if !valid {
			return ErrBadMAC
		}
		return nil
	}
	f := macField(m)
	other := FieldMAC
	if f == FieldMAC {
		other = FieldMAC2
	}
	if m.GetField(other) != nil {
		return ErrBadMAC
	}
	got, err := m.GetBytes(f)
	if err != nil || len(got) != 8 {
		return ErrBadMAC
	}
	packed, err := packForMAC(m, f, make([]byte, 8))
	if restore := m.BinaryField(f, got); err != nil || restore != nil {
		return ErrBadMAC
	}
	var want [8]byte
	k.put(want[:], packed[:len(packed)-8])
	if subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return ErrBadMAC
	}
	return nil
}
