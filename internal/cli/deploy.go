package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/deploy"
)

// newDeployCmd is the parent of the commands that deploy keyage's AWS-native
// architecture (the seed's master stack and target StackSet).
func newDeployCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the AWS-native architecture: Config rule, SSM remediation, central SNS topic",
		Long: `The AWS-native deployment runs the seed's architecture inside AWS: in every
target account the AWS Config rule access-keys-rotated with an automatic SSM
remediation that publishes each non-compliant user to an SNS topic in the
master account, rolled out with a CloudFormation StackSet, plus the read-only
role "keyage scan" assumes. See docs/deployment.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDeployRenderCmd(ios))
	return cmd
}

type deployRenderOptions struct {
	out      string
	format   string
	template string
}

func newDeployRenderCmd(ios *IO) *cobra.Command {
	o := &deployRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the CloudFormation templates: master.yaml (master stack) and target.yaml (StackSet)",
		Args:  cobra.NoArgs,
		Example: `  keyage deploy render --out cfn/
  keyage deploy render --out cfn/ --format json
  keyage deploy render --template target > target.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeployRender(cmd.Context(), ios, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "directory to write the templates to (created if missing)")
	f.StringVar(&o.format, "format", "yaml", "yaml or json")
	f.StringVar(&o.template, "template", "", "only this template: master or target; without --out it goes to stdout")
	return cmd
}

func runDeployRender(_ context.Context, ios *IO, o *deployRenderOptions) error {
	format, err := deploy.ParseFormat(o.format)
	if err != nil {
		return usageError(fmt.Errorf("--format: %w", err))
	}
	if o.template != "" && o.template != "master" && o.template != "target" {
		return usageError(fmt.Errorf("--template %q: want master or target", o.template))
	}
	if o.out == "" && o.template == "" {
		return usageError(errors.New("give --out DIR, or --template master|target to print one template"))
	}
	files, err := deploy.Render(format)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
	}
	for _, file := range files {
		if o.template != "" && file.Name != o.template+"."+string(format) {
			continue
		}
		if o.out == "" {
			if _, err := ios.Out.Write(file.Data); err != nil {
				return err
			}
			continue
		}
		path := filepath.Join(o.out, file.Name)
		if err := os.WriteFile(path, file.Data, 0o644); err != nil {
			return fmt.Errorf("write template: %w", err)
		}
		ios.Logger.Info("wrote template", "path", path)
	}
	return nil
}
