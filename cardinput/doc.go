// Package cardinput turns a card-present payment's card input — EMV TLV as
// the terminal read it, or a sandbox token — into the card data a channel
// needs (in memory only) and the card information an order keeps: entry
// mode, type, network, BIN, last 4 and a keyed fingerprint
// (docs/terminals.md, "Card orders").
//
// Every error is a *paygate.Error naming the parameter at fault
// (card.entry_mode, card.type, card.network, card.emv, card.token), and no
// error or String carries the card number.
package cardinput
