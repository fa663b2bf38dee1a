// Package paygate holds the domain of the payment gateway: orders, refunds,
// merchants, routes, channels and the interfaces the outer packages implement.
//
// The root package does no I/O and holds no wire format: the API's JSON form
// of its objects is written by internal/apijson, and the configuration
// file's form of providers, fee rules, auth code rules and risk rules is
// config's, which maps them onto these types. The payments (the payment
// flow), gateway (HTTP), channels (one package per payment channel),
// routing, callbacks, reconcile, store and config packages depend on it; it
// depends on none of them. cmd/paygate wires them together.
package paygate
