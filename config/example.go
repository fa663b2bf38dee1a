package config

import _ "embed"

//go:embed paygate.example.yaml
var example []byte

// Example returns the commented example configuration
// (`paygate config example` prints it).
func Example() []byte {
	return append([]byte(nil), example...)
}
