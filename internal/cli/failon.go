package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/scan"
)

// failOn is what --fail-on looks for in a scan's result; the zero value
// looks for nothing.
type failOn struct {
	nonCompliant, warning, rootKeys bool
}

// addFailOnFlag declares --fail-on, for scan and run only: the commands
// whose exit code a pipeline gates on. serve runs until stopped, enforce's
// scan predates what it changes, and remediate acts on one resource, so
// they do not offer it rather than accept and ignore it.
func addFailOnFlag(cmd *cobra.Command, o *scanOptions) {
	cmd.Flags().StringVar(&o.failOn, "fail-on", "", "exit 3 when the scan finds any of a comma list: non-compliant (a user), warning (a key), root-keys (an active root key), any")
}

// failOnChoices are --fail-on's values, in the order of its help.
var failOnChoices = []string{"non-compliant", "warning", "root-keys", "any"}

// parseFailOn reads --fail-on's comma list.
func parseFailOn(s string) (failOn, error) {
	var f failOn
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, v := range strings.Split(s, ",") {
		switch v = strings.TrimSpace(v); v {
		case "non-compliant":
			f.nonCompliant = true
		case "warning":
			f.warning = true
		case "root-keys":
			f.rootKeys = true
		case "any":
			f = failOn{true, true, true}
		default:
			return failOn{}, fmt.Errorf("--fail-on %q: %q is not one of %s (a comma list)", s, v, strings.Join(failOnChoices, ", "))
		}
	}
	return f, nil
}

// matched lists what f looks for and res has, in failOnChoices' order.
func (f failOn) matched(res *scan.Result) []string {
	var out []string
	if f.nonCompliant && res.Summary.NonCompliant > 0 {
		out = append(out, "non-compliant")
	}
	if f.warning && res.Summary.Keys["warning"] > 0 {
		out = append(out, "warning")
	}
	if f.rootKeys && res.Summary.ActiveRootKeys > 0 {
		out = append(out, "root-keys")
	}
	return slices.Clip(out)
}
