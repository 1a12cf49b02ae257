// Package version owns berth's build identity: the version, git commit and
// build time that `berth version`, the daemon's /version and its Server
// header report. Release builds set them at link time:
//
//	go build -ldflags "-X github.com/berth/berth/internal/cli/version.Version=1.0.0 \
//	  -X github.com/berth/berth/internal/cli/version.GitCommit=$(git rev-parse --short HEAD)"
package version

import "runtime/debug"

// Set at link time; see the package doc.
var (
	Version   = "0.1.0-dev"
	GitCommit = ""
	BuildTime = ""
)

func init() {
	if GitCommit != "" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if len(s.Value) > 7 {
					GitCommit = s.Value[:7]
				} else {
					GitCommit = s.Value
				}
			case "vcs.time":
				if BuildTime == "" {
					BuildTime = s.Value
				}
			}
		}
	}
}
