package acquirer

import (
	"strings"

	"github.com/moov-io/iso8583"
)

// NewReference allocates the STAN (field 11) and transmission time (field
// 7, UTC MMDDhhmmss) of a payment before it is sent, as "STAN/MMDDhhmmss".
// The gateway stores it with the order first, so that a process that never
// saw the sale (a restart while its answer was outstanding) can still
// reverse it: field 90 of the reversal names exactly these.
func (c *Client) NewReference() string {
	return c.nextSTAN() + "/" + c.now().UTC().Format("0102150405")
}

// parseReference splits a reference made by NewReference; ok is false for
// "" and anything else malformed.
func parseReference(ref string) (stan, transmission string, ok bool) {
	stan, transmission, found := strings.Cut(ref, "/")
	if !found || len(stan) != 6 || !digits(stan) || len(transmission) != 10 || !digits(transmission) {
		return "", "", false
	}
	return stan, transmission, true
}

// stampRef sets fields 7, 11, 12 and 13 from a reference allocated
// beforehand, or from a fresh one; it returns the STAN and field 7.
func (c *Client) stampRef(m *iso8583.Message, ref string) (stan, transmission string) {
	stan, transmission, ok := parseReference(ref)
	if !ok {
		stan = c.nextSTAN()
		return stan, c.stamp(m, stan)
	}
	setStamp(m, stan, transmission, c.now())
	return stan, transmission
}
