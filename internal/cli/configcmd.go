package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/output"
)

// runConfigValidate checks the file at path; explicit says the user named
// it (the default file may be missing, but then there is nothing to check).
func runConfigValidate(ios *IO, path string, explicit bool) error {
	if _, err := os.Stat(path); os.IsNotExist(err) && !explicit {
		return usageError(fmt.Errorf("no %s in the current directory: give the file to check", defaultConfigPath))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return usageError(err)
	}
	fmt.Fprintf(ios.ErrOut, "%s: valid (%s, %s)\n", path, output.Count(len(cfg.Receivers), "receiver"), output.Count(len(cfg.Routes), "route"))
	return nil
}

// newConfigCmd is the config group: validate, schema and example.
func newConfigCmd(ios *IO) *cobra.Command {
	validate := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a configuration file and report every problem at once",
		Long: `Check FILE (default ./keyage.yaml) as every command reads it: unknown keys,
values of the wrong type, bad values and the rules between fields. Every
problem is reported, each with its file, line and YAML path; the exit code is
2 when there is any.`,
		Example: `  keyage config validate
  keyage config validate /etc/keyage/keyage.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := defaultConfigPath
			if len(args) == 1 {
				path = args[0]
			}
			return runConfigValidate(ios, path, len(args) == 1)
		},
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of keyage.yaml, for editor completion",
		Long: `Print the JSON Schema of keyage.yaml, generated from keyage's own types.
Editors with the YAML language server (VS Code's YAML extension, neovim,
JetBrains) complete and check keys when the file's first line is:

  # yaml-language-server: $schema=` + config.SchemaID + `

The schema checks shapes; keyage config validate also checks values and the
rules between fields.`,
		Example: `  keyage config schema > keyage.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := config.Schema()
			if err != nil {
				return err
			}
			_, err = ios.Out.Write(b)
			return err
		},
	}
	example := &cobra.Command{
		Use:   "example",
		Short: "Print a commented keyage.yaml that sets every section",
		Example: `  keyage config example > keyage.yaml
  keyage config example | keyage config validate /dev/stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := ios.Out.Write(config.Example())
			return err
		},
	}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check keyage.yaml, print its JSON Schema or a complete example",
		Example: `  keyage config validate keyage.yaml
  keyage config schema > keyage.schema.json
  keyage config example > keyage.yaml`,
	}
	cmd.AddCommand(validate, schema, example)
	return cmd
}
