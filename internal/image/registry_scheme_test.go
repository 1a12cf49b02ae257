package image

import (
	"errors"
	"net/http"
	"testing"
)

type recordScheme struct{ got []string }

func (r *recordScheme) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req.URL.Scheme+"://"+req.URL.Host)
	return nil, errors.New("recorded")
}

// Plain HTTP goes to loopback and insecure-registries (by name or CIDR)
// only, as with dockerd; go-containerregistry's own choice of HTTP for
// private addresses is turned back to HTTPS. Nothing leaves the process.
func TestSchemeGuard(t *testing.T) {
	s := &Service{reg: RegistryConfig{Insecure: []string{"reg.example:5000", "172.20.0.0/16"}}}
	rec := &recordScheme{}
	g := &schemeGuard{inner: rec, insecure: s.insecure}
	for host, want := range map[string]string{
		"127.0.0.1:5000":   "http",
		"localhost:5000":   "http",
		"[::1]:5000":       "http",
		"10.1.2.3:5000":    "https",
		"192.168.1.9":      "https",
		"reg.example:5000": "http",
		"172.20.3.4:5000":  "http",
		"172.21.0.1:5000":  "https",
		"registry.invalid": "https",
	} {
		rec.got = nil
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
		_, _ = g.RoundTrip(req)
		if len(rec.got) != 1 || rec.got[0] != want+"://"+host {
			t.Errorf("http://%s went out as %v, want %s", host, rec.got, want)
		}
	}
}
