package gateway

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
)

var listEventParams = map[string]bool{"order_id": true, "type": true, "cursor": true, "limit": true}

func (s *Server) listEvents(c *gin.Context) {
	key := apiKey(c)
	if key.TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot read events"))
		return
	}
	q, ok := s.query(c, listEventParams)
	if !ok {
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	events, next, err := s.deps.Events.Events(c.Request.Context(), paygate.EventFilter{
		MerchantID: key.MerchantID, OrderID: q.Get("order_id"), Type: q.Get("type"), Cursor: q.Get("cursor"), Limit: limit,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	data := make([]apijson.Event, len(events))
	for i, e := range events {
		data[i] = apijson.Event{Event: e}
	}
	c.JSON(http.StatusOK, newList(data, next))
}

func (s *Server) getEvent(c *gin.Context) {
	key := apiKey(c)
	if key.TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot read events"))
		return
	}
	ctx := c.Request.Context()
	e, err := s.deps.Events.Event(ctx, key.MerchantID, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.answerEvent(c, ctx, key.MerchantID, e)
}

// redeliverEvent schedules an immediate new delivery of an event. Its body
// is empty or {}; anything else is refused before anything is scheduled.
func (s *Server) redeliverEvent(c *gin.Context) {
	if !s.emptyBody(c) {
		return
	}
	key := apiKey(c)
	if key.TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot redeliver events"))
		return
	}
	outbox, ok := s.deps.Events.(paygate.Outbox)
	if !ok {
		s.writeError(c, paygate.Errorf(paygate.EUNAVAILABLE, "webhook delivery is not available"))
		return
	}
	ctx := c.Request.Context()
	e, err := outbox.Redeliver(ctx, key.MerchantID, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.answerEvent(c, ctx, key.MerchantID, e)
}

func (s *Server) answerEvent(c *gin.Context, ctx context.Context, merchantID string, e *paygate.Event) {
	out := apijson.EventDelivery{Event: e, Status: paygate.DeliveryPending, Attempts: []paygate.DeliveryAttempt{}}
	if outbox, ok := s.deps.Events.(paygate.Outbox); ok {
		d, err := outbox.EventDelivery(ctx, merchantID, e.ID)
		if err != nil {
			s.writeError(c, err)
			return
		}
		out.Status, out.Attempts = d.Status, d.Log
	}
	c.JSON(http.StatusOK, out)
}
