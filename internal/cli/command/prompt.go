package command

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Confirm prints warning and docker's "Are you sure you want to continue?
// [y/N]" and reports whether the user answered y or yes.
func Confirm(cmd *cobra.Command, warning string) bool {
	fmt.Fprintf(cmd.OutOrStdout(), "%s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
