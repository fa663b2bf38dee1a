package main

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

func dropSchema(t *testing.T, schema string) {
	db, err := sql.Open("pgx", postgresURL())
	if err != nil {
		t.Log(err)
		return
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
		t.Log(err)
	}
}
