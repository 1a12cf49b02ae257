package container

import (
	"io"
	"strings"

	"github.com/distribution/reference"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// IndexServer is Docker Hub's key in config.json, as docker writes it.
const IndexServer = "https://index.docker.io/v1/"

// RegistryKey is the config.json key of a registry host (Docker Hub's
// hosts all map to IndexServer).
func RegistryKey(host string) string {
	switch host {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", IndexServer:
		return IndexServer
	}
	h := strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	return h
}

// RegistryAuth is the X-Registry-Auth value for ref's registry from the
// client's config.json ($DOCKER_CONFIG or ~/.docker, credential helpers
// included). Like docker it is always set, to an empty config when no
// credentials are stored.
func RegistryAuth(ref string) string {
	var key string
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		key = RegistryKey(reference.Domain(named))
	}
	cf := dockerconfig.LoadDefaultConfigFile(io.Discard)
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		ac.ServerAddress = key
	}
	enc, err := authconfig.Encode(registry.AuthConfig{Username: ac.Username, Password: ac.Password, ServerAddress: ac.ServerAddress,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken})
	if err != nil {
		return ""
	}
	return enc
}
