package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

func newSpecCommand(g *globalOpts) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Create a new specification file (config.json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(p); err == nil {
				return g.Fail(errors.New("File config.json exists. Remove it first"))
			}
			if rootless {
				// Better no spec than a rootful one under this name.
				return g.Fail(errors.New("spec --rootless: rootless specs are not supported"))
			}
			b, err := json.MarshalIndent(rt.DefaultSpec(), "", "\t")
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, append(b, '\n'), 0o666); err != nil {
				return g.Fail(fmt.Errorf("spec: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "not supported (refused)")
	return cmd
}
