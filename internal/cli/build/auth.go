package build

import (
	"io"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/moby/moby/api/types/registry"
)

// registryAuths are the credentials of config.json ($DOCKER_CONFIG or
// ~/.docker, credential helpers included) for POST /build's
// X-Registry-Config, as the docker CLI sends them: the daemon uses them
// to pull base images and COPY --from images.
func registryAuths(stderr io.Writer) map[string]registry.AuthConfig {
	creds, err := dockerconfig.LoadDefaultConfigFile(stderr).GetAllCredentials()
	if err != nil || len(creds) == 0 {
		return nil
	}
	out := make(map[string]registry.AuthConfig, len(creds))
	for k, c := range creds {
		out[k] = registry.AuthConfig{Username: c.Username, Password: c.Password, Auth: c.Auth, ServerAddress: c.ServerAddress,
			IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}
	}
	return out
}
