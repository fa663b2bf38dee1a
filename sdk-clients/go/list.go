package paygate

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

// List is one page of a list answer.
type List[T any] struct {
	Object     string  `json:"object"`
	Data       []*T    `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// page fetches one page of path with the filters in q.
func page[T any](ctx context.Context, c *Client, path string, q url.Values) (*List[T], error) {
	p := path
	if enc := q.Encode(); enc != "" {
		p += "?" + enc
	}
	var l List[T]
	if err := c.do(ctx, call{method: "GET", path: p}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// all iterates over every item of a list, fetching pages as needed. An
// error ends the iteration after being yielded.
func all[T any](ctx context.Context, c *Client, path string, q url.Values) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		q := cloneValues(q)
		for {
			l, err := page[T](ctx, c, path, q)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, it := range l.Data {
				if !yield(it, nil) {
					return
				}
			}
			if l.NextCursor == nil || *l.NextCursor == "" || len(l.Data) == 0 {
				return
			}
			q.Set("cursor", *l.NextCursor)
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// values builds query values from name/value pairs, leaving out empty ones.
func values(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// Int returns a pointer to v, for optional integer parameters such as
// OrderParams.WaitSeconds where 0 means something.
func Int(v int) *int { return &v }

// Int64 returns a pointer to v.
func Int64(v int64) *int64 { return &v }

// String returns a pointer to v.
func String(v string) *string { return &v }
