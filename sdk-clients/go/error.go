package paygate

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is an answer of the API other than 2xx. Code is the stable error
// code (docs/errors.md of the gateway), Param the request parameter at
// fault, if any, and RequestID the gateway's id of the request (give it to
// support).
type Error struct {
	Status    int    `json:"-"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("paygate: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.RequestID != "" {
		s += " [" + e.RequestID + "]"
	}
	return s
}

// newAPIError reads the error body; an answer that is not the API's error
// shape (a proxy's page, say) keeps its status with code "http_<status>".
func newAPIError(resp *http.Response, body []byte) *Error {
	var wire struct {
		Error *Error `json:"error"`
	}
	e := &Error{}
	if json.Unmarshal(body, &wire) == nil && wire.Error != nil && wire.Error.Code != "" {
		e = wire.Error
	} else {
		e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.Status = resp.StatusCode
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("Request-Id")
	}
	return e
}
