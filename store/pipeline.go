package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The pipeline is PostgreSQL group commit done by the client. Single
// statements that stand alone — an order insert, an order transition with
// its outbox event, the read of one order, an idempotency claim — are
// queued by their callers; a few flushers each take whatever is queued
// and send it to the server as one pgx batch: one network round trip, one
// implicit transaction, one commit (one WAL flush) for all of them.
//
// Nothing waits for a batch to fill: a flusher sends as soon as it has one
// statement, so a lone request costs what it did before, and batches only
// grow when requests arrive while the flushers are busy — under load,
// exactly when sharing a commit pays.
//
// Atomicity is unchanged for each caller: each statement is atomic on its
// own (a transition and its event are one statement), and a batch commits
// all of its statements or none. If the server rejects any statement of a
// batch (a duplicate key, a deadlock, anything), the implicit transaction
// is rolled back whole and every statement of it is run again on its own,
// so each caller gets exactly the answer a lone statement would have got.
// A connection lost mid-batch is reported to every caller as an error, as
// it would be for a lone statement: such a batch may or may not have
// committed, and is not run again.
//
// Statements of one batch come from concurrent callers and are independent,
// so the flusher orders them by the row they touch: two batches that touch
// the same rows lock them in the same order and cannot deadlock each other.

const (
	// pipelineFlushers is how many batches may be at the server at once.
	pipelineFlushers = 2
	// pipelineMaxBatch caps the statements of one batch.
	pipelineMaxBatch = 64
	// pipelineTimeout bounds one batch at the server.
	pipelineTimeout = 30 * time.Second
)

// pipeItem is one queued statement and, once done is closed, its outcome.
type pipeItem struct {
	ctx  context.Context
	sql  string
	args []any
	// key orders statements within a batch (the row they lock).
	key string
	// scan reads the one row a query returns; nil for statements run with
	// Exec. A scan that returns pgx.ErrNoRows is an answer, not a failure.
	scan func(pgx.Row) error

	rows int64
	err  error
	done chan struct{}
}

type pipeline struct {
	db *sql.DB
	// Reads and writes queue apart: a read-only batch commits without a
	// WAL flush, so a read is never kept waiting behind writes' commits.
	reads, writes chan *pipeItem
	stop          chan struct{}
	wg            chan struct{}
	// mu orders enqueueing before closing: senders hold it shared, close
	// takes it exclusively, so nothing is queued after the flushers' drain.
	mu     sync.RWMutex
	closed bool
}

func newPipeline(db *sql.DB) *pipeline {
	p := &pipeline{db: db, reads: make(chan *pipeItem, 4*pipelineMaxBatch),
		writes: make(chan *pipeItem, 4*pipelineMaxBatch),
		stop:   make(chan struct{}), wg: make(chan struct{}, 2*pipelineFlushers)}
	for range pipelineFlushers {
		go p.flusher(p.reads)
		go p.flusher(p.writes)
	}
	return p
}

// close stops the flushers after they have finished what is queued.
func (p *pipeline) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	for range 2 * pipelineFlushers {
		<-p.wg
	}
}

var errPipelineClosed = errors.New("store: closed")

// do queues it and waits for its outcome. Once queued it waits even if
// ctx ends, so that the caller never reports a failure for a statement
// that committed; a statement whose ctx has ended before it is sent is not
// sent, and fails with ctx's error.
func (p *pipeline) do(ctx context.Context, it *pipeItem) error {
	it.ctx, it.done = ctx, make(chan struct{})
	queue := p.writes
	if it.scan != nil {
		queue = p.reads
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return errPipelineClosed
	}
	select {
	case queue <- it:
	case <-ctx.Done():
		p.mu.RUnlock()
		return ctx.Err()
	}
	p.mu.RUnlock()
	<-it.done
	return it.err
}

func (p *pipeline) flusher(queue chan *pipeItem) {
	defer func() { p.wg <- struct{}{} }()
	batch := make([]*pipeItem, 0, pipelineMaxBatch)
	for {
		var first *pipeItem
		select {
		case first = <-queue:
		case <-p.stop:
			// Drain what callers managed to queue before the stop.
			for {
				select {
				case it := <-queue:
					p.run([]*pipeItem{it})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < pipelineMaxBatch {
			select {
			case it := <-queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		p.run(batch)
	}
}

// run executes a batch and completes every item of it.
func (p *pipeline) run(batch []*pipeItem) {
	live := batch[:0:0]
	for _, it := range batch {
		if it.err = it.ctx.Err(); it.err != nil {
			close(it.done)
			continue
		}
		live = append(live, it)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pipelineTimeout)
	defer cancel()
	if len(live) > 1 {
		slices.SortStableFunc(live, func(a, b *pipeItem) int { return cmp.Compare(a.key, b.key) })
		if !p.runBatch(ctx, live) {
			for _, it := range live {
				p.runBatch(ctx, []*pipeItem{it})
			}
		}
	} else if len(live) == 1 {
		p.runBatch(ctx, live)
	}
	for _, it := range live {
		close(it.done)
	}
}

// runBatch sends items as one batch. It reports false, leaving the items'
// outcomes unset, when the server rejected a statement and so rolled the
// whole batch back (only for batches of more than one); otherwise every
// item has its outcome.
func (p *pipeline) runBatch(ctx context.Context, items []*pipeItem) bool {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		for _, it := range items {
			it.err = fmt.Errorf("store: connect: %w", err)
		}
		return true
	}
	defer conn.Close()
	rolledBack := false
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		for _, it := range items {
			b.Queue(it.sql, it.args...)
		}
		br := pc.SendBatch(ctx, b)
		for _, it := range items {
			if it.scan != nil {
				it.err = it.scan(br.QueryRow())
			} else {
				var tag pgconn.CommandTag
				tag, it.err = br.Exec()
				it.rows = tag.RowsAffected()
			}
		}
		cerr := br.Close()
		var pgErr *pgconn.PgError
		for _, it := range items {
			if errors.As(it.err, &pgErr) {
				rolledBack = true
			}
		}
		if errors.As(cerr, &pgErr) {
			rolledBack = true
		}
		if cerr != nil && !rolledBack {
			// The connection failed: the outcome is unknown for all.
			for _, it := range items {
				if it.err == nil || errors.Is(it.err, pgx.ErrNoRows) {
					it.err = fmt.Errorf("store: %w", cerr)
				}
			}
		}
		if rolledBack && len(items) == 1 && items[0].err == nil {
			items[0].err = cerr
		}
		return nil
	})
	if err != nil {
		for _, it := range items {
			it.err = fmt.Errorf("store: %w", err)
		}
		return true
	}
	return !rolledBack || len(items) == 1
}

// execOne runs one stand-alone write statement and returns the rows it
// affected: through the pipeline on PostgreSQL, directly on SQLite. key
// names the row it locks.
func (db *DB) execOne(ctx context.Context, key, query string, args ...any) (int64, error) {
	if db.pipe == nil {
		res, err := db.w.ExecContext(ctx, db.rebind(query), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	it := &pipeItem{sql: db.rebind(query), args: args, key: key}
	err := db.pipe.do(ctx, it)
	return it.rows, err
}

// queryOne reads one row with scan, through the pipeline on PostgreSQL
// (where it sees what the pipeline committed before) and from the read
// pool on SQLite. No row is sql.ErrNoRows from either.
func (db *DB) queryOne(ctx context.Context, key, query string, args []any, scan func(scanner) error) error {
	if db.pipe == nil {
		return scan(db.queryRow(ctx, query, args...))
	}
	it := &pipeItem{sql: db.rebind(query), args: args, key: key,
		scan: func(r pgx.Row) error { return scan(r) }}
	err := db.pipe.do(ctx, it)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}
