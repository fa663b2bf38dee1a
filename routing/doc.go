// Package routing chooses the provider of each payment by fee, explains the
// choice, breaks circuits of failing providers and applies the risk rules
// (docs/routing.md).
//
// Fees. A provider's schedule is its configured rules, or DefaultFees of its
// kind when it configures none; a merchant's contract for that provider is
// tried first. The first rule whose conditions all hold prices the payment
// (paygate.Fee's rounding: half up to the fen, then the minimum, then the
// cap). Card conditions (entry modes, card types, networks) never match a
// payment without a card; an MCC condition sees only the merchant's
// registered MCC, which routing never alters (跳码 is prohibited).
// ValidateFees rejects a schedule with an impossible or contradictory rule;
// its documentation defines "contradictory".
//
// Selection. A provider may take a payment when it is enabled, of the
// requested channel kind (if any), able by kind to take the method (UnionPay
// takes cards only as contactless QuickPass taps; acquirers take every entry
// mode), configured for the method, accepting the card's network (default
// unionpay; an empty card network is taken as unionpay), within its amount
// bounds, enabled for the merchant, priced by some rule, and its circuit is
// not open. Eligible providers are ranked by fee, then recent success rate
// (higher first), then priority (lower first), then id. Every candidate is
// returned with its fee, rule and reason.
//
// Health. Circuits are per process: consecutive *paygate.ChannelError
// outcomes open one; after a cool-down one payment goes through as a probe;
// any classified answer closes it. Health.Wrap decorates a channel; while the
// circuit is open Pay returns ECHANNELUNAVAILABLE without sending, and the
// caller moves to the next candidate with Fallback.
//
// Risk. Stateless rules (per-payment limit, region policy) run first; the
// stateful ones (split payments, per-payer, per-terminal and static QR daily
// totals) are one call to Options.Risk (paygate.RiskCounters, implemented
// over Redis by the redisstore package in one Lua script: one round trip
// that checks and records atomically). Routing computes the typed check
// (amounts, windows, ceilings, the day) and explains the tally. A declined
// payment records nothing. Days are China Standard Time days. A quote runs
// the same check read-only. When the state cannot be reached, Route and
// Quote fail with EUNAVAILABLE rather than skip the regulatory limits.
//
// Split payments: a payment of at most the threshold by a payer who paid at
// the same merchant within the window is caught when the window's payments
// at or under the threshold plus this one sum above the threshold, or when
// it is the MinCount-th payment within Tolerance fen of each other. The
// caught payment gets the rule's action: standard_rate prices it as if it
// were above QuickPassLimit (the provider's rule for larger amounts), decline
// refuses it with ERISKDECLINED.
package routing
