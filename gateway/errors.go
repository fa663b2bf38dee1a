package gateway

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// statusOf is the one table mapping error codes to HTTP statuses.
var statusOf = map[string]int{
	paygate.EINVALID:        http.StatusBadRequest,
	paygate.EINVALIDJSON:    http.StatusBadRequest,
	paygate.EUNKNOWNPARAM:   http.StatusBadRequest,
	paygate.EPARAMMISSING:   http.StatusBadRequest,
	paygate.EPARAMINVALID:   http.StatusBadRequest,
	paygate.EAMOUNTINVALID:  http.StatusBadRequest,
	paygate.ESTRINGTOOLONG:  http.StatusBadRequest,
	paygate.EBODYTOOLARGE:   http.StatusRequestEntityTooLarge,
	paygate.EUNSUPPORTED:    http.StatusBadRequest,
	paygate.EUNKNOWNCHANNEL: http.StatusBadRequest,
	paygate.EDUPPARAM:       http.StatusBadRequest,
	paygate.ECHARSINVALID:   http.StatusBadRequest,
	paygate.EQUERYINVALID:   http.StatusBadRequest,

	paygate.EAUTHMISSING:       http.StatusUnauthorized,
	paygate.EINVALIDKEY:        http.StatusUnauthorized,
	paygate.EINVALIDSIG:        http.StatusUnauthorized,
	paygate.ESTALETIMESTAMP:    http.StatusUnauthorized,
	paygate.EREPLAYEDNONCE:     http.StatusUnauthorized,
	paygate.EAUTHREPEATED:      http.StatusUnauthorized,
	paygate.EACTIVATIONEXPIRED: http.StatusUnauthorized,

	paygate.EFORBIDDEN:            http.StatusForbidden,
	paygate.ETERMINALKEYFORBIDDEN: http.StatusForbidden,
	paygate.ENOTFOUND:             http.StatusNotFound,

	paygate.EMETHODNOTALLOWED: http.StatusMethodNotAllowed,

	paygate.EIDEMPOTENCYINUSE:  http.StatusConflict,
	paygate.EIDEMPOTENCYREUSED: http.StatusConflict,
	paygate.EDUPORDERNO:        http.StatusConflict,
	paygate.EDUPREFUNDNO:       http.StatusConflict,
	paygate.EINVALIDSTATE:      http.StatusConflict,
	paygate.ECONFLICT:          http.StatusConflict,
	paygate.EBILLNOTREADY:      http.StatusConflict,

	paygate.EAMOUNTTOOLARGE:       http.StatusUnprocessableEntity,
	paygate.EREFUNDEXCEEDS:        http.StatusUnprocessableEntity,
	paygate.ERISKDECLINED:         http.StatusUnprocessableEntity,
	paygate.EUNSUPPORTEDAUTH:      http.StatusUnprocessableEntity,
	paygate.ENOROUTE:              http.StatusUnprocessableEntity,
	paygate.ELOCATIONMISMATCH:     http.StatusUnprocessableEntity,
	paygate.ECAPTUREEXCEEDS:       http.StatusUnprocessableEntity,
	paygate.EINSECUREURL:          http.StatusUnprocessableEntity,
	paygate.EFORBIDDENDESTINATION: http.StatusUnprocessableEntity,
	paygate.ECHANNELUNAVAILABLE:   http.StatusServiceUnavailable,
	paygate.ETERMINALUNKNOWN:      http.StatusUnprocessableEntity,
	paygate.ETERMINALINACTIVE:     http.StatusUnprocessableEntity,

	paygate.ERATELIMITED:    http.StatusTooManyRequests,
	paygate.ECHANNEL:        http.StatusBadGateway,
	paygate.ECHANNELTIMEOUT: http.StatusGatewayTimeout,
	paygate.EUNAVAILABLE:    http.StatusServiceUnavailable,
	paygate.EINTERNAL:       http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of an error code.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	RequestID string `json:"request_id"`
}

// writeError answers err in the API's error shape. Only internal errors are
// logged with their detail; their message is replaced by a generic one.
func (s *Server) writeError(c *gin.Context, err error) {
	code := paygate.ErrorCode(err)
	if code == paygate.EINTERNAL && s.deps.Unavailable != nil && s.deps.Unavailable(err) {
		s.log.Error("dependency unavailable", "request_id", requestID(c), "path", c.FullPath(), "err", err)
		err = paygate.Errorf(paygate.EUNAVAILABLE, "the service is temporarily unavailable; retry shortly")
		code = paygate.EUNAVAILABLE
	}
	d := errorDetail{Code: code, Message: paygate.ErrorMessage(err), RequestID: requestID(c)}
	if pe := (*paygate.Error)(nil); errors.As(err, &pe) {
		d.Param = pe.Param
	}
	if code == paygate.EINTERNAL {
		s.log.Error("internal error", "request_id", d.RequestID, "path", c.FullPath(), "err", err)
	}
	s.metrics.countError(code)
	c.AbortWithStatusJSON(StatusOf(code), errorBody{d})
}
