package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Config is the registry's configuration file (JSON). Flags of `berth
// registry serve` override Addr, Root and the TLS files.
type Config struct {
	Addr string `json:"addr,omitempty"`
	Root string `json:"root,omitempty"`
	TLS  struct {
		Cert string `json:"cert,omitempty"`
		Key  string `json:"key,omitempty"`
	} `json:"tls"`
	Auth *AuthConfig `json:"auth,omitempty"`
	GC   struct {
		// Interval runs GC in the server that often (0: never).
		Interval Duration `json:"interval,omitempty"`
		// Grace protects recently used blobs (default 10m).
		Grace Duration `json:"grace,omitempty"`
	} `json:"gc"`
	Uploads struct {
		// TTL removes uploads not finished after this long (default 24h).
		TTL Duration `json:"ttl,omitempty"`
	} `json:"uploads"`
}

// Default values.
const (
	DefaultAddr      = "127.0.0.1:5000"
	DefaultGCGrace   = 10 * time.Minute
	DefaultUploadTTL = 24 * time.Hour
)

// LoadConfig reads a configuration file; unknown fields are errors.
func LoadConfig(path string) (*Config, error) {
	var c Config
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("registry config: %w", err)
		}
		defer f.Close()
		dec := json.NewDecoder(f)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("registry config %s: %w", path, err)
		}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.GC.Grace == 0 {
		c.GC.Grace = Duration(DefaultGCGrace)
	}
	if c.Uploads.TTL == 0 {
		c.Uploads.TTL = Duration(DefaultUploadTTL)
	}
	return &c, nil
}
