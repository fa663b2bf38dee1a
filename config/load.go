package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the configuration. With path "" it uses $PAYGATE_CONFIG, and
// with neither it starts from Default (the sandbox). A file is decoded
// strictly: an unknown key is an error naming its line and field path.
// Then the PAYGATE_* environment overrides apply (getenv, usually
// os.Getenv), secret indirections (env:NAME, file:PATH) are resolved,
// defaults are filled, and the result is validated. All problems are
// reported at once, each naming the field.
func Load(path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if path == "" {
		path = getenv(EnvConfig)
	}
	if path == "" {
		return finish(base(), "", getenv)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := decode(data, path)
	if err != nil {
		return nil, err
	}
	return finish(c, filepath.Dir(path), getenv)
}

// Parse is Load for YAML already in memory; file: indirections with a
// relative path are resolved against the working directory.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c, err := decode(data, "config")
	if err != nil {
		return nil, err
	}
	return finish(c, "", getenv)
}

// decode reads one YAML document strictly. name prefixes error messages.
func decode(data []byte, name string) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); errors.Is(err, io.EOF) {
		return &Config{}, nil // an empty file: every default
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: line %d: only one YAML document is allowed", name, extra.Line)
	}
	// Unknown keys and malformed scalars, reported with line and path.
	if errs := checkNode(&root, fileType, ""); len(errs) > 0 {
		for i := range errs {
			errs[i] = fmt.Errorf("%s: %w", name, errs[i])
		}
		return nil, errors.Join(errs...)
	}
	var f file
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true) // a backstop: checkNode should have caught it
	if err := strict.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f.config(), nil
}

// finish applies the environment, resolves secrets, fills defaults and
// validates.
func finish(c *Config, dir string, getenv func(string) string) (*Config, error) {
	var errs []error
	if err := c.applyEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.resolveSecrets(dir, getenv); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.fill()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyEnv overrides file values with the PAYGATE_* variables that are set.
func (c *Config) applyEnv(getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	str(EnvAddr, &c.Addr)
	str(EnvPublicURL, &c.PublicURL)
	str(EnvECNYUAMarker, &c.Cashier.ECNYUAMarker)
	str(EnvDataDir, &c.DataDir)
	str(EnvDatabaseURL, &c.DatabaseURL)
	str(EnvRedisURL, &c.RedisURL)
	str(EnvRedisPrefix, &c.RedisPrefix)
	str(EnvLogLevel, &c.LogLevel)
	str(EnvSandboxKeyID, &c.Sandbox.KeyID)
	str(EnvSandboxSecret, &c.Sandbox.Secret)
	str(EnvSandboxWebhookSecret, &c.Sandbox.WebhookSecret)
	str(EnvSandboxWebhookURL, &c.Sandbox.WebhookURL)

	var errs []error
	if v := getenv(EnvTrustedProxies); v != "" {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
	}
	if v := strings.TrimSpace(getenv(EnvWebhooksAllowedNetworks)); v != "" {
		c.Webhooks.AllowedNetworks = []string{}
		if v != "none" {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					c.Webhooks.AllowedNetworks = append(c.Webhooks.AllowedNetworks, p)
				}
			}
		}
	}
	if v := getenv(EnvWebhooksAllowHTTP); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", EnvWebhooksAllowHTTP, v))
		} else {
			c.Webhooks.AllowHTTP = &b
		}
	}
	if v := getenv(EnvMaxBodyBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", EnvMaxBodyBytes, v))
		} else {
			c.MaxBodyBytes = n
		}
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{EnvServerReadHeaderTimeout, &c.Server.ReadHeaderTimeout},
		{EnvServerReadTimeout, &c.Server.ReadTimeout},
		{EnvServerWriteTimeout, &c.Server.WriteTimeout},
		{EnvServerIdleTimeout, &c.Server.IdleTimeout},
	}
	for _, d := range durations {
		if v := getenv(d.name); v != "" {
			n, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (like 30s)", d.name, v))
			} else {
				*d.dst = n
			}
		}
	}
	if v := getenv(EnvRateLimitDisabled); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", EnvRateLimitDisabled, v))
		} else {
			c.RateLimit.Disabled = b
		}
	}
	if v := getenv(EnvSandbox); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", EnvSandbox, v))
		} else {
			c.Sandbox.Enabled = b
		}
	}
	return errors.Join(errs...)
}

// Secret indirections. A secret written as "env:NAME" is read from the
// environment variable NAME; "file:PATH" from the file PATH (relative to
// the config file's directory), without its trailing newline.
const (
	secretEnv  = "env:"
	secretFile = "file:"
	// maxSecretFile bounds what a file: indirection reads.
	maxSecretFile = 1 << 20
)

// resolveSecrets replaces every indirection in the fields that may hold
// secrets: provider credentials, key secrets, webhook secrets, the sandbox
// secrets, and the database and Redis URLs (which carry passwords).
func (c *Config) resolveSecrets(dir string, getenv func(string) string) error {
	var errs []error
	res := func(field string, s *string) {
		v, err := resolveSecret(*s, dir, getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			return
		}
		*s = v
	}
	res("database_url", &c.DatabaseURL)
	res("redis_url", &c.RedisURL)
	res("sandbox.secret", &c.Sandbox.Secret)
	res("sandbox.webhook_secret", &c.Sandbox.WebhookSecret)
	for i := range c.Providers {
		p := &c.Providers[i]
		for _, k := range sortedKeys(p.Credentials) {
			v := p.Credentials[k]
			res(fmt.Sprintf("providers[%d].credentials.%s", i, k), &v)
			p.Credentials[k] = v
		}
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		for j := range m.WebhookSecrets {
			res(fmt.Sprintf("merchants[%d].webhook_secrets[%d]", i, j), &m.WebhookSecrets[j])
		}
		for j := range m.Keys {
			res(fmt.Sprintf("merchants[%d].keys[%d].secret", i, j), &m.Keys[j].Secret)
		}
	}
	return errors.Join(errs...)
}

func resolveSecret(s, dir string, getenv func(string) string) (string, error) {
	switch {
	case strings.HasPrefix(s, secretEnv):
		name := strings.TrimPrefix(s, secretEnv)
		if name == "" {
			return "", errors.New(`"env:" names no environment variable`)
		}
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return v, nil
	case strings.HasPrefix(s, secretFile):
		path := strings.TrimPrefix(s, secretFile)
		if path == "" {
			return "", errors.New(`"file:" names no file`)
		}
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return readSecretFile(path)
	}
	return s, nil
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("secret file %s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("secret file %s is larger than %d bytes", path, maxSecretFile)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return v, nil
}

// defaultPublicURL is http://127.0.0.1 with the port of addr, or "" when
// the port is not known before listening (":0") or addr is malformed.
func defaultPublicURL(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	return "http://127.0.0.1:" + port
}
