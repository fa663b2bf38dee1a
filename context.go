package paygate

import "context"

type contextKey int

const (
	keyContextKey contextKey = iota + 1
	requestIDContextKey
)

// NewContextWithKey returns a context carrying the authenticated API key.
func NewContextWithKey(ctx context.Context, k *APIKey) context.Context {
	return context.WithValue(ctx, keyContextKey, k)
}

// KeyFromContext returns the authenticated API key, or nil.
func KeyFromContext(ctx context.Context) *APIKey {
	k, _ := ctx.Value(keyContextKey).(*APIKey)
	return k
}

// NewContextWithRequestID returns a context carrying the request id.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDContextKey, id)
}

// RequestIDFromContext returns the request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDContextKey).(string)
	return id
}
