// Package paygate holds the domain of the payment gateway: orders, refunds,
// merchants, routes, channels and the interfaces the outer packages implement.
//
// The root package does no I/O. The payments (the payment flow), gateway
// (HTTP), channels (one package per payment channel), routing, callbacks,
// reconcile and store packages depend on it; it depends on none of them.
// cmd/paygate wires them together.
package paygate
