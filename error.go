package paygate

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the API contract: stable, documented in
// docs/errors.md, and mapped to an HTTP status in one place (gateway).
const (
	// 400: the request is malformed.
	EINVALID        = "invalid_request"   // generic malformed request
	EINVALIDJSON    = "invalid_json"      // body is not valid JSON
	EUNKNOWNPARAM   = "unknown_parameter" // a JSON field the API does not know
	EPARAMMISSING   = "parameter_missing" // a required field is absent
	EPARAMINVALID   = "parameter_invalid" // a field has the wrong type, format or value
	EAMOUNTINVALID  = "amount_invalid"    // amount is not a positive integer of fen
	ESTRINGTOOLONG  = "string_too_long"   // a string field exceeds its maximum length
	EBODYTOOLARGE   = "body_too_large"    // the request body exceeds the limit
	EUNSUPPORTED    = "unsupported_method"
	EUNKNOWNCHANNEL = "unknown_channel"
	EDUPPARAM       = "duplicate_parameter" // a JSON key twice in one object, a query parameter twice
	ECHARSINVALID   = "invalid_characters"  // a string that is not UTF-8 or holds a control character
	EQUERYINVALID   = "invalid_query"       // a query string that does not parse

	// 401: authentication.
	EAUTHMISSING    = "missing_authorization"
	EINVALIDKEY     = "invalid_key"
	EINVALIDSIG     = "invalid_signature"
	ESTALETIMESTAMP = "stale_timestamp"
	EREPLAYEDNONCE  = "replayed_nonce"
	// EAUTHREPEATED: a parameter given twice in the Authorization header
	// (or the header given twice).
	EAUTHREPEATED = "repeated_authorization_parameter"
	// EACTIVATIONEXPIRED: a terminal activation code past its expiry.
	EACTIVATIONEXPIRED = "activation_code_expired"

	// 403, 404, 405.
	EFORBIDDEN = "forbidden"
	// ETERMINALKEYFORBIDDEN: a field a terminal key may not set (notify_url).
	ETERMINALKEYFORBIDDEN = "terminal_key_forbidden"
	ENOTFOUND             = "not_found"
	EMETHODNOTALLOWED     = "method_not_allowed" // a known path, another HTTP method

	// 409: conflicts.
	EIDEMPOTENCYINUSE  = "idempotency_key_in_use"
	EIDEMPOTENCYREUSED = "idempotency_key_reused"
	EDUPORDERNO        = "duplicate_merchant_order_no"
	EDUPREFUNDNO       = "duplicate_merchant_refund_no"
	EINVALIDSTATE      = "invalid_state"
	ECONFLICT          = "conflict" // a store-level uniqueness conflict not covered above
	// EBILLNOTREADY: the channel has not made the day's bill yet.
	EBILLNOTREADY = "bill_not_ready"

	// 422: business rules.
	EAMOUNTTOOLARGE     = "amount_too_large"
	EREFUNDEXCEEDS      = "refund_exceeds_amount"
	ERISKDECLINED       = "risk_declined"
	EUNSUPPORTEDAUTH    = "unsupported_auth_code"
	ENOROUTE            = "no_route"
	ELOCATIONMISMATCH   = "terminal_location_mismatch"
	ECAPTUREEXCEEDS     = "capture_exceeds_authorized"
	ECHANNELUNAVAILABLE = "channel_unavailable"
	// EINSECUREURL: a webhook URL that is not https where https is required.
	EINSECUREURL = "insecure_url"
	// EFORBIDDENDESTINATION: a webhook URL whose address is loopback,
	// private, link-local or otherwise internal (docs/webhooks.md).
	EFORBIDDENDESTINATION = "forbidden_destination"
	// ETERMINALUNKNOWN: terminal_id names no terminal of the merchant;
	// ETERMINALINACTIVE: one pending activation or deactivated.
	ETERMINALUNKNOWN  = "terminal_unknown"
	ETERMINALINACTIVE = "terminal_inactive"

	// 429, 5xx.
	ERATELIMITED    = "rate_limited"
	ECHANNEL        = "channel_error"   // 502: the channel answered with an error we cannot classify
	ECHANNELTIMEOUT = "channel_timeout" // 504: the channel did not answer in time
	EUNAVAILABLE    = "service_unavailable"
	EINTERNAL       = "internal"
)

// Error is the one error type the gateway shows to API users. Anything that
// is not an *Error is reported as EINTERNAL with a generic message.
type Error struct {
	Code    string
	Message string
	Param   string // the request field at fault, if any
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("paygate error: code=%s param=%s message=%s", e.Code, e.Param, e.Message)
	}
	return fmt.Sprintf("paygate error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamErrorf returns an *Error naming the request parameter at fault.
func ParamErrorf(code, param, format string, args ...any) *Error {
	return &Error{Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error,
// EINTERNAL otherwise, and "" for a nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of err if it is an *Error, and a generic
// message otherwise, so that internal details never reach an API user.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
