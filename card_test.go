package paygate_test

import (
	"testing"

	"github.com/paygate-cn/paygate"
)

func TestValidPAN(t *testing.T) {
	for pan, want := range map[string]bool{
		"4111111111111111":     true, // 16 digits
		"6222020000000007":     true,
		"4222222222222":        true,  // 13 digits, the shortest
		"9000000000000000001":  true,  // 19 digits, the longest
		"4111111111111112":     false, // check digit off by one
		"411111111111":         false, // 12 digits
		"90000000000000000001": false, // 20 digits
		"41111111111111a1":     false,
		"4111 1111 1111 1111":  false,
		"":                     false,
	} {
		if got := paygate.ValidPAN(pan); got != want {
			t.Errorf("ValidPAN(%q) = %v, want %v", pan, got, want)
		}
	}
}
