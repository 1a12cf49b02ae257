package command

import (
	"github.com/berth/berth/internal/client"
)

// Connect returns a client for the daemon the global flags (or
// BERTH_HOST/DOCKER_HOST) select. It does not dial yet; a bad -H value is a
// usage error.
func Connect(opts *client.Options) (*client.Client, error) {
	c, err := client.New(*opts)
	if err != nil {
		return nil, UsageError("%v", err)
	}
	return c, nil
}
