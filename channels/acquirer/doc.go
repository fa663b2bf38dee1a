// Package acquirer is the card acquirer channel: ISO 8583:1987 (CUP style)
// over TCP, built on moov-io/iso8583 (the declared Spec) and
// moov-io/iso8583-connection (framing, STAN matching, keep-alive, pool).
//
// Protocol decisions (docs/channels/acquirer.md has the full layout):
//   - Framing: 2-byte big-endian binary length header; ASCII fields, binary
//     bitmap, binary field 55 and MAC.
//   - MAC: ANSI X9.19 retail MAC, double-length 3DES key, over the packed
//     message up to the MAC field, which is the last field: 64, or 128 when
//     a field above 64 is present. Every message, 0800 included, is MACed,
//     by the connections' Codec: over the bytes sent, and checked against
//     the bytes received.
//     A request with a bad MAC is answered A0; an answer with a bad MAC is
//     an unknown outcome (*paygate.ChannelError, Code "bad_mac").
//   - Sign-on 0800 (field 70 = 001) on every connection before use; echo
//     0800 (301) after idle time; a failed echo closes the connection and
//     the pool reconnects and signs on again.
//   - Sale 0200/000000; pre-auth 0100/030000 (field 25 = 06); completion
//     0220/000000 (25 = 06); pre-auth cancel 0100/200000 (25 = 06); void
//     0200/020000 (same day); refund 0200/200000; reversal 0400, repeats
//     0401 with the same STAN; settlement totals 0500/920000.
//   - Referrals carry the original's RRN in field 37 and, when this client
//     made the original, field 90 (original MTI, STAN, field 7, acquirer).
//   - Query is unsupported (ISO 8583 has no reliable query): a sale whose
//     answer never came, or came unverifiable, is reversed automatically
//     in the background and retried until the host acknowledges (00, or 25
//     when it never saw the sale). Reverse is idempotent and waits for that
//     same reversal; ReversalStatus reports it.
//   - The client keeps, per order id and in memory only, the masked PAN,
//     STAN, field 7, RRN and auth code; never the PAN.
package acquirer
