package paygate

import "time"

// Clock returns the current time; components take one so that expiry,
// cutoffs and retry schedules are testable without sleeping.
type Clock func() time.Time
