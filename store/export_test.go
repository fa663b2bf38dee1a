package store

import (
	"context"

	"github.com/paygate-cn/paygate"
)

// PipeStmt is one statement for PipelineBatch.
type PipeStmt struct {
	Key, SQL string
	Args     []any
}

// PipelineBatch runs stmts as one pipeline batch, the way a flusher runs
// what it took from the queue, and returns each statement's affected rows
// and error. It returns nil slices on a store without a pipeline (SQLite).
func PipelineBatch(db *DB, stmts []PipeStmt) ([]int64, []error) {
	if db.pipe == nil {
		return nil, nil
	}
	items := make([]*pipeItem, len(stmts))
	for i, s := range stmts {
		items[i] = &pipeItem{ctx: context.Background(), sql: db.rebind(s.SQL), args: s.Args, key: s.Key,
			done: make(chan struct{})}
	}
	db.pipe.run(items)
	rows := make([]int64, len(items))
	errs := make([]error, len(items))
	for i, it := range items {
		<-it.done
		rows[i], errs[i] = it.rows, it.err
	}
	return rows, errs
}

// ForceStatus sets an order's status without any check, to build states
// the compare-and-sets refuse (what older versions could leave behind).
func (db *DB) ForceStatus(ctx context.Context, orderID string, status paygate.OrderStatus) error {
	_, err := db.w.ExecContext(ctx, db.rebind("UPDATE orders SET status = ? WHERE id = ?"), string(status), orderID)
	return err
}
