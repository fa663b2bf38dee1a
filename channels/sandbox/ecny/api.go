package ecny

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"time"

	api "github.com/paygate-cn/paygate/channels/ecny"
)

// reply is an operation's answer.
type reply struct {
	status  int
	code    string
	message string
	body    any
	// hang drops the connection without an answer (4444's first call).
	hang bool
}

func ok(body any) reply {
	return reply{status: http.StatusOK, code: api.CodeOK, message: "success", body: body}
}

func fail(status int, code, message string) reply {
	return reply{status: status, code: code, message: message}
}

func business(code, message string, body any) reply {
	return reply{status: http.StatusOK, code: code, message: message, body: body}
}

func malformed(message string) reply { return fail(http.StatusBadRequest, api.CodeMalformed, message) }

type operation func(s *Server, body json.RawMessage) reply

var requestIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{8,64}$`)

// maxRequest is the largest request accepted (docs §1).
const maxRequest = 64 << 10

// timestampWindow is how far a request's timestamp may be from the bank's clock.
const timestampWindow = 300 * time.Second

// serveAPI checks the envelope and the merchant's signature, runs op and
// signs its answer.
func (s *Server) serveAPI(path string, op operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
		if err != nil {
			return
		}
		var env api.Envelope
		if len(raw) > maxRequest {
			s.write(w, path, "", malformed("request larger than 64 KiB"))
			return
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			s.write(w, path, "", malformed("request is not a JSON envelope"))
			return
		}
		h := env.Head
		if !api.Verify(&s.merchantKey.PublicKey, api.SigningBytes(api.LabelRequest, path, raw), r.Header.Get(api.SignatureHeader)) {
			s.write(w, path, h.RequestID, fail(http.StatusUnauthorized, api.CodeBadSignature, "request signature missing or invalid"))
			return
		}
		if h.Version != api.Version || h.SignType != api.SignType || !requestIDPattern.MatchString(h.RequestID) || len(env.Body) == 0 {
			s.write(w, path, h.RequestID, malformed("head.version, head.sign_type, head.request_id or body missing or invalid"))
			return
		}
		if h.MerchantNo != s.opts.MerchantNo {
			s.write(w, path, h.RequestID, fail(http.StatusForbidden, api.CodeUnknownMerchant, "unknown merchant"))
			return
		}
		ts, err := time.Parse(api.TimeLayout, h.Timestamp)
		if err != nil {
			s.write(w, path, h.RequestID, malformed("head.timestamp is not RFC 3339"))
			return
		}
		if d := s.wall().Sub(ts); d > timestampWindow || d < -timestampWindow {
			s.write(w, path, h.RequestID, fail(http.StatusBadRequest, api.CodeStaleTimestamp, "timestamp outside the allowed window"))
			return
		}
		rep := op(s, env.Body)
		if rep.hang {
			s.hang(r)
			panic(http.ErrAbortHandler)
		}
		s.write(w, path, h.RequestID, rep)
	})
}

// hang waits for HangFor, for the client to give up, or for Close.
func (s *Server) hang(r *http.Request) {
	var after <-chan time.Time
	if s.opts.HangFor > 0 {
		t := time.NewTimer(s.opts.HangFor)
		defer t.Stop()
		after = t.C
	}
	select {
	case <-after:
	case <-r.Context().Done():
	case <-s.done:
	}
}

// write signs and sends an answer.
func (s *Server) write(w http.ResponseWriter, path, requestID string, rep reply) {
	env := api.Envelope{Head: api.Head{
		Version: api.Version, MerchantNo: s.opts.MerchantNo, RequestID: requestID,
		Timestamp: api.BankTime(s.wall()), SignType: api.SignType, Code: rep.code, Message: rep.message,
	}}
	if rep.body != nil {
		b, err := json.Marshal(rep.body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		env.Body = b
	}
	raw, err := json.Marshal(env)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sig, err := api.Sign(s.bankKey, api.SigningBytes(api.LabelResponse, path, raw))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set(api.SignatureHeader, sig)
	w.WriteHeader(rep.status)
	w.Write(raw)
}
