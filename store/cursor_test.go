package store

import (
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

func TestCursorRoundTrip(t *testing.T) {
	id := paygate.NewID(paygate.PrefixOrder, time.Now())
	got, err := decodeCursor(encodeCursor(id), paygate.PrefixOrder)
	if err != nil || got != id {
		t.Fatalf("decode(encode(%s)) = %s, %v", id, got, err)
	}
	if _, err := decodeCursor(encodeCursor(id), paygate.PrefixEvent); paygate.ErrorCode(err) != paygate.EPARAMINVALID {
		t.Fatalf("an order cursor for events: %v", err)
	}
}

// FuzzDecodeCursor: any text from a client either decodes to an id of the
// asked kind that encodes back to the same cursor, or is EPARAMINVALID.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor("ord_01m7xvjzhv6g4hswvgnxgj68"))
	f.Add("")
	f.Add("!!!")
	f.Add("b3JkXw")
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := decodeCursor(cursor, paygate.PrefixOrder)
		if err != nil {
			if paygate.ErrorCode(err) != paygate.EPARAMINVALID {
				t.Fatalf("error %v is not EPARAMINVALID", err)
			}
			return
		}
		if encodeCursor(id) != cursor {
			t.Fatalf("cursor %q decodes to %q which encodes to %q", cursor, id, encodeCursor(id))
		}
	})
}
