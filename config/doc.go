// Package config loads paygate's configuration: one YAML file plus PAYGATE_*
// environment overrides (docs/configuration.md lists every key).
//
// Decisions:
//
//   - Without a file (no path, PAYGATE_CONFIG unset) the configuration is
//     Default: the sandbox, with the demo merchant m_demo. The environment
//     still applies, so PAYGATE_SANDBOX_KEY_ID and PAYGATE_SANDBOX_SECRET
//     make the demo key predictable.
//   - The file is decoded strictly. Before decoding, the YAML tree is walked
//     beside the Go types so that every unknown key, and every value a
//     decimal or duration field cannot take, is reported with its line and
//     field path ("line 12: merchants[0].terminls: unknown key").
//     Durations need a unit ("10s"); rates are decimals, quoted or not.
//   - Order of work: decode, environment overrides, secret indirections
//     (env:NAME, file:PATH), defaults, Validate. Defaults come after the
//     environment so that PAYGATE_DATA_DIR also moves the default SQLite
//     file.
//   - Validate reports every problem at once (errors.Join), each starting
//     with the field path. Overlapping fee rules are left to routing.
//   - In sandbox mode the binary adds one provider per channel kind, named
//     by its kind (AddProvider), after loading; merchant provider lists and
//     contracts may therefore name a kind as a provider id when the sandbox
//     is enabled. The sandbox key and webhook settings belong to
//     Sandbox.Merchant (m_demo, created when absent) and are attached by
//     Directory, so they are validated as sandbox.* fields.
package config
