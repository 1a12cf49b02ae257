package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"
)

// tlsHTTPClient returns an HTTP client whose transport speaks TLS as the
// docker CLI does: --tlsverify checks the server against CACert, plain
// --tls encrypts without checking; Cert and Key, when given, authenticate
// the client.
func tlsHTTPClient(opts Options) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSVerify {
		if opts.CACert != "" {
			pem, err := os.ReadFile(opts.CACert)
			if err != nil {
				return nil, fmt.Errorf("tlscacert: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tlscacert %s: no PEM certificate in it", opts.CACert)
			}
			cfg.RootCAs = pool
		}
	} else {
		cfg.InsecureSkipVerify = true
	}
	if opts.Cert != "" || opts.Key != "" {
		if opts.Cert == "" || opts.Key == "" {
			return nil, fmt.Errorf("tlscert and tlskey: give both or neither")
		}
		pair, err := tls.LoadX509KeyPair(opts.Cert, opts.Key)
		if err != nil {
			return nil, fmt.Errorf("tlscert %s, tlskey %s: %w", opts.Cert, opts.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:       cfg,
		MaxIdleConns:          6,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: ExpectContinueTimeout,
	}}, nil
}
