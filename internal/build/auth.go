package build

import (
	"net/url"
	"strings"

	"github.com/distribution/reference"

	"github.com/berth/berth/internal/image"
)

// dockerHubKeys are the names docker clients give Docker Hub's credentials
// in a registry config.
var dockerHubKeys = []string{"https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "https://registry-1.docker.io"}

// registryAuthFor returns the credentials auths holds for the registry of
// ref, as dockerd matches X-Registry-Config's keys: the registry's host
// name with or without a scheme and path; Docker Hub's under its index
// address. Nil when there are none.
func registryAuthFor(auths map[string]image.AuthConfig, ref string) *image.AuthConfig {
	if len(auths) == 0 {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil
	}
	host := reference.Domain(named)
	if host == "docker.io" {
		for _, k := range dockerHubKeys {
			if a, ok := auths[k]; ok {
				return &a
			}
		}
	}
	for k, a := range auths {
		if keyHost(k) == host {
			return &a
		}
	}
	return nil
}

// keyHost is the host[:port] of a registry config key ("host:5000",
// "https://host:5000/v1/").
func keyHost(k string) string {
	if strings.Contains(k, "://") {
		if u, err := url.Parse(k); err == nil {
			return u.Host
		}
	}
	h, _, _ := strings.Cut(k, "/")
	return h
}
