package registry

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/registry"
	"github.com/berth/berth/internal/registry/storage"
)

type gcOptions struct {
	config string
	root   string
	dryRun bool
	grace  time.Duration
}

func newGCCommand() *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs no manifest references",
		Long: "Delete blobs no manifest references. It may run while `berth registry serve` serves the same root:\n" +
			"blobs used within --grace are kept, which protects pushes in progress.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := registry.LoadConfig(o.config)
			if err != nil {
				return err
			}
			root := o.root
			if root == "" {
				root = cfg.Root
			}
			if root == "" {
				root = DefaultRoot
			}
			grace := time.Duration(cfg.GC.Grace)
			if cmd.Flags().Changed("grace") {
				grace = o.grace
			}
			drv, err := storage.NewFilesystem(root)
			if err != nil {
				return err
			}
			store := registry.NewStore(drv)
			res, err := store.GC(cmd.Context(), registry.GCOptions{DryRun: o.dryRun, Grace: grace, UploadTTL: time.Duration(cfg.Uploads.TTL)})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			verb := "deleted"
			if o.dryRun {
				verb = "would delete"
			}
			for _, d := range res.Deleted {
				fmt.Fprintf(out, "%s %s\n", verb, d)
			}
			fmt.Fprintf(out, "%d manifests, %d blobs referenced, %s %d blobs (%d bytes)\n", res.Manifests, res.Marked, verb, len(res.Deleted), res.BytesFreed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "configuration file (JSON)")
	f.StringVar(&o.root, "root", "", "data directory (default "+DefaultRoot+")")
	f.BoolVar(&o.dryRun, "dry-run", false, "only print what would be deleted")
	f.DurationVar(&o.grace, "grace", registry.DefaultGCGrace, "keep blobs used this recently")
	return cmd
}
