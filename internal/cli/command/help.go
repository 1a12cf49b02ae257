package command

import "github.com/spf13/cobra"

// usageTemplate is docker's help layout: "Usage:  berth version [OPTIONS]",
// the description, then Commands/Options sections.
const usageTemplate = `Usage:  {{if .HasParent}}{{.Parent.CommandPath}} {{end}}{{.Use}}{{if .HasAvailableSubCommands}} COMMAND{{end}}
{{if .HasAvailableSubCommands}}{{else}}{{end}}{{with (or .Long .Short)}}
{{.}}
{{end}}{{if gt (len .Aliases) 0}}
Aliases:
  {{.NameAndAliases}}
{{end}}{{if .HasAvailableSubCommands}}
Commands:{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding}} {{.Short}}{{end}}{{end}}
{{end}}{{if .HasAvailableLocalFlags}}
Options:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableInheritedFlags}}
Global Options:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableSubCommands}}
Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{end}}`

// DockerHelp gives cmd (and its subcommands) docker's help layout and
// exit-125 flag errors.
func DockerHelp(cmd *cobra.Command) {
	cmd.SetUsageTemplate(usageTemplate)
	cmd.SetHelpTemplate("{{.UsageString}}")
	cmd.SetFlagErrorFunc(FlagError)
}

// ShowHelp is the RunE of a command group (network, volume, ...) run
// without a subcommand: its help, on standard error, as docker's.
func ShowHelp(cmd *cobra.Command, args []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	return cmd.Help()
}
