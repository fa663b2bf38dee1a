package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/internal/apiclient"
	"github.com/paygate-cn/paygate/store"
)

// api sends one signed request: paygate api POST /v1/orders -d '{...}'.
func api(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: paygate api METHOD PATH [-d JSON|@file] [-i IDEMPOTENCY_KEY]")
	}
	method, path := strings.ToUpper(args[0]), args[1]
	var body []byte
	var idem string
	for i := 2; i < len(args); i++ {
		switch args[i] {
		case "-d", "--data":
			if i+1 >= len(args) {
				return fmt.Errorf("-d needs a JSON body")
			}
			i++
			body = []byte(args[i])
		case "-i", "--idempotency-key":
			if i+1 >= len(args) {
				return fmt.Errorf("-i needs a key")
			}
			i++
			idem = args[i]
		default:
			return fmt.Errorf("unknown argument %q", args[i])
		}
	}
	base := getenv("PAYGATE_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	keyID, secret := getenv("PAYGATE_KEY_ID"), getenv("PAYGATE_SECRET")
	if keyID == "" {
		keyID, secret = getenv("PAYGATE_SANDBOX_KEY_ID"), getenv("PAYGATE_SANDBOX_SECRET")
	}
	if keyID == "" || secret == "" {
		return fmt.Errorf("set PAYGATE_KEY_ID and PAYGATE_SECRET (serve prints the sandbox ones)")
	}
	resp, err := apiclient.Do(ctx, http.DefaultClient, base, keyID, secret, method, path, body, idem)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = append(pretty.Bytes(), '\n')
	}
	stdout.Write(out)
	if resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func migrate(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := config.Load(getenv("PAYGATE_CONFIG"), getenv)
	if err != nil {
		return err
	}
	dsn := cfg.DatabaseURL
	if dsn == "" {
		dsn = "sqlite:" + cfg.DataDir + "/paygate.db"
	}
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "migrations applied (%s)\n", db.Dialect())
	return nil
}

func configCmd(args []string, out io.Writer) error {
	if len(args) == 1 && args[0] == "example" {
		_, err := out.Write(config.Example())
		return err
	}
	return fmt.Errorf("usage: paygate config example")
}
