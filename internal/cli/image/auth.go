package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	mobyclient "github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

const indexServer = container.IndexServer

// configFile loads $DOCKER_CONFIG/config.json (or ~/.docker/config.json).
func configFile(stderr io.Writer) *configfile.ConfigFile {
	return dockerconfig.LoadDefaultConfigFile(stderr)
}

func serverKey(host string) string { return container.RegistryKey(host) }

func platforms(p string) []ocispec.Platform {
	if p == "" {
		return nil
	}
	os_, arch, _ := strings.Cut(p, "/")
	arch, variant, _ := strings.Cut(arch, "/")
	return []ocispec.Platform{{OS: os_, Architecture: arch, Variant: variant}}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func newLoginCommand(copts *client.Options) *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Args:  container.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := indexServer
			if len(args) == 1 {
				server = serverKey(args[0])
			}
			errOut := cmd.ErrOrStderr()
			if password != "" {
				fmt.Fprintln(errOut, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
				if passwordStdin {
					return &command.StatusError{Code: 1, Err: errors.New("--password and --password-stdin are mutually exclusive")}
				}
			}
			in := bufio.NewReader(cmd.InOrStdin())
			if passwordStdin {
				if user == "" {
					return &command.StatusError{Code: 1, Err: errors.New("Must provide --username with --password-stdin")}
				}
				b, err := io.ReadAll(in)
				if err != nil {
					return &command.StatusError{Code: 1, Err: err}
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			cf := configFile(errOut)
			stored, _ := cf.GetAuthConfig(server)
			if user == "" {
				def := stored.Username
				if def != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "Username (%s): ", def)
				} else {
					fmt.Fprint(cmd.OutOrStdout(), "Username: ")
				}
				line, _ := in.ReadString('\n')
				user = strings.TrimSpace(line)
				if user == "" {
					user = def
				}
				if user == "" {
					return &command.StatusError{Code: 1, Err: errors.New("Error: Non-null Username Required")}
				}
			}
			if password == "" {
				fmt.Fprint(cmd.OutOrStdout(), "Password: ")
				if f, ok := cmd.InOrStdin().(*os.File); ok && isTerminal(f) {
					b, err := term.ReadPassword(int(f.Fd()))
					fmt.Fprintln(cmd.OutOrStdout())
					if err != nil {
						return &command.StatusError{Code: 1, Err: err}
					}
					password = string(b)
				} else {
					line, _ := in.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
				if password == "" {
					return &command.StatusError{Code: 1, Err: errors.New("Error: Password Required")}
				}
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.RegistryLogin(cmd.Context(), mobyclient.RegistryLoginOptions{Username: user, Password: password, ServerAddress: server})
				if err != nil {
					return err
				}
				ac := types.AuthConfig{Username: user, Password: password, ServerAddress: server}
				if res.Auth.IdentityToken != "" {
					ac.Password, ac.IdentityToken = "", res.Auth.IdentityToken
				}
				store := cf.GetCredentialsStore(server)
				if err := store.Store(ac); err != nil {
					return &command.StatusError{Code: 1, Err: fmt.Errorf("Error saving credentials: %w", err)}
				}
				fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "Username")
	cmd.Flags().StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func newLogoutCommand(_ *client.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  container.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := indexServer
			if len(args) == 1 {
				server = serverKey(args[0])
			}
			cf := configFile(cmd.ErrOrStderr())
			// Like docker 28: always "Removing", and a warning when the
			// store could not erase anything.
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", server)
			if err := cf.GetCredentialsStore(server).Erase(server); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: could not erase credentials:\n%s: %v\n", server, err)
			}
			return nil
		},
	}
}
