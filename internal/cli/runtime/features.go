package runtime

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

func newFeaturesCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "Show the enabled features",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := json.MarshalIndent(rt.Features(), "", "    ")
			if err != nil {
				return err
			}
			fmt.Printf("%s\n", b)
			return nil
		},
	}
}
