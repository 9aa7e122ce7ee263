package cli

import (
	"testing"

	"github.com/spf13/cobra"
)

// Every command a user can run shows how in an Examples section.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		// Groups (deploy, destroy, ...) run only to report an unknown
		// subcommand; their subcommands carry the examples.
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" {
			t.Errorf("%q has no Examples section (cobra.Command.Example)", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRootCmd(&IO{})
	if root.Example == "" {
		t.Error("keyage has no Examples section")
	}
	walk(root)
}
