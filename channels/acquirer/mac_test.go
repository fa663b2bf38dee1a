package acquirer

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// referenceMAC is the retail MAC computed the textbook way: pad, CBC,
// then D(K2), E(K1) of the last block.
func referenceMAC(t *testing.T, key, data []byte) []byte {
	t.Helper()
	k1, err := des.NewCipher(key[:8])
	if err != nil {
		t.Fatal(err)
	}
	k2, err := des.NewCipher(key[8:])
	if err != nil {
		t.Fatal(err)
	}
	padded := make([]byte, max(8, (len(data)+7)/8*8))
	copy(padded, data)
	out := make([]byte, len(padded))
	cipher.NewCBCEncrypter(k1, make([]byte, 8)).CryptBlocks(out, padded)
	mac := out[len(out)-8:]
	k2.Decrypt(mac, mac)
	k1.Encrypt(mac, mac)
	return mac
}

func TestRetailMACVector(t *testing.T) {
	// ANSI X9.19's example: K1 0123456789ABCDEF, K2 FEDCBA9876543210.
	key, _ := hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")
	mac, err := RetailMAC(key, []byte("Now is the time for all "))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(mac); got != "a1c72e74ea3fa9b6" {
		t.Fatalf("MAC = %s, want a1c72e74ea3fa9b6", got)
	}
	if _, err := RetailMAC(key[:15], nil); err == nil {
		t.Fatal("a 15-byte key was accepted")
	}
}

func TestMACKeyMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		key := make([]byte, 16)
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		k, err := NewMACKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 70; n++ {
			data := make([]byte, n)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			want := referenceMAC(t, key, data)
			if got := k.MAC(data); !bytes.Equal(got, want) {
				t.Fatalf("key %x, %d bytes: MAC %x, want %x", key, n, got, want)
			}
			if got, _ := RetailMAC(key, data); !bytes.Equal(got, want) {
				t.Fatalf("key %x, %d bytes: RetailMAC %x, want %x", key, n, got, want)
			}
		}
	}
}

func TestMACKeyDoesNotAllocate(t *testing.T) {
	k, err := NewMACKey(benchKey)
	if err != nil {
		t.Fatal(err)
	}
	data, mac := make([]byte, 203), make([]byte, 8)
	if n := testing.AllocsPerRun(100, func() { k.put(mac, data) }); n != 0 {
		t.Fatalf("%v allocations per MAC", n)
	}
}

func TestSignVerifyWithPreparedKey(t *testing.T) {
	k, _ := NewMACKey(benchKey)
	m := NewMessage(MTINetwork)
	set(m, FieldSTAN, "000001")
	set(m, FieldNetworkCode, NetworkEcho)
	if err := k.Sign(m); err != nil {
		t.Fatal(err)
	}
	viaKey, _ := m.GetBytes(FieldMAC2)
	if err := Sign(m, benchKey); err != nil {
		t.Fatal(err)
	}
	viaBytes, _ := m.GetBytes(FieldMAC2)
	if len(viaKey) != 8 || !bytes.Equal(viaKey, viaBytes) {
		t.Fatalf("MACs %x and %x differ", viaKey, viaBytes)
	}
	if m.GetField(FieldMAC) != nil {
		t.Fatal("a message with field 70 carries its MAC in 64")
	}
	if err := k.Verify(m); err != nil {
		t.Fatal(err)
	}
	if err := Verify(m, benchKey); err != nil {
		t.Fatal(err)
	}
	set(m, FieldSTAN, "000002")
	if err := k.Verify(m); err != ErrBadMAC {
		t.Fatalf("a changed message verified: %v", err)
	}
}
